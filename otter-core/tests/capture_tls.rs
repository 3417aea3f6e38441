//! TLS to the source against a real MariaDB that requires secure transport: with the CA trusted
//! the capture works; certificates are verified by default, so an untrusted CA is refused; and a
//! plain connection is refused by the server, with an error that says to turn TLS on.

mod common;

use common::{collect_until, config, expect_error, images, txn_count};
use otter_core::source::mysql::conn::{TlsConfig, TlsMode};
use otter_core::source::mysql::{MysqlSource, SourceOptions};
use otter_testkit::{MariaDb, ServerConfig};

struct Certs {
    _dir: tempfile::TempDir,
    ca: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

fn make_certs() -> Certs {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "otter test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (dir.path().join("ca.pem"), dir.path().join("server.pem"), dir.path().join("server-key.pem"));
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    Certs { _dir: dir, ca: paths.0, cert: paths.1, key: paths.2 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verifies_certificates() {
    let certs = make_certs();
    let db = MariaDb::start(
        ServerConfig::new(1)
            .arg(format!("--ssl-ca={}", certs.ca.display()))
            .arg(format!("--ssl-cert={}", certs.cert.display()))
            .arg(format!("--ssl-key={}", certs.key.display()))
            .arg("--require-secure-transport=ON"),
    )
    .unwrap();
    db.sql("CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY)").unwrap();

    let mut trusted = config(&db.url(), "latest");
    trusted.tls = TlsConfig { mode: TlsMode::Required, ca_file: Some(certs.ca.clone()), danger_skip_verify: false };
    let mut source = MysqlSource::start(trusted, SourceOptions::default());
    collect_until(&mut source, 30, |e| !e.is_empty()).await;
    db.sql("INSERT INTO s.t VALUES (1)").unwrap();
    let events = collect_until(&mut source, 30, |e| txn_count(e) == 1).await;
    assert_eq!(images(&events), [serde_json::json!({"id": 1})]);

    let mut untrusted = config(&db.url(), "latest");
    untrusted.tls = TlsConfig { mode: TlsMode::Required, ca_file: None, danger_skip_verify: false };
    let mut s = MysqlSource::start(untrusted, SourceOptions::default());
    let e = expect_error(&mut s, 30).await;
    let chain = format!("{e} {:?}", e);
    assert!(chain.to_lowercase().contains("certificate") || chain.to_lowercase().contains("unknownissuer"), "{chain}");

    let mut s = MysqlSource::start(config(&db.url(), "latest"), SourceOptions::default());
    let e = expect_error(&mut s, 30).await;
    // MariaDB answers a plain connection under require_secure_transport with "access denied";
    // the same login over TLS works, so the error says to turn TLS on.
    assert_eq!(e.kind(), otter_core::ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("the server requires TLS for this account"), "{e}");
}
