//! TLS to the source against a real MariaDB that requires secure transport: with the CA trusted
//! the capture works; certificates are verified by default, so an untrusted CA is refused; and a
//! plain connection is refused by the server, with an error that says to turn TLS on.

mod common;

use common::{collect_until, config, expect_error, images, txn_count};
use otter_core::mysql::conn::{TlsConfig, TlsMode};
use otter_core::source::mysql::{MysqlSource, SourceOptions};
use otter_testkit::{Certs, MariaDb, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verifies_certificates() {
    let certs = Certs::generate().unwrap();
    let db = MariaDb::start(
        ServerConfig::new(1).tls(&certs).arg("--require-secure-transport=ON"),
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
