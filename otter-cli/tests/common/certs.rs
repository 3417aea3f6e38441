//! A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it (rcgen), and the
//! server options that make a test MariaDB offer TLS with them. Included by the TLS tests with
//! `#[path = "common/certs.rs"] mod certs;`.
#![allow(dead_code)]

use std::path::PathBuf;

use otter_testkit::ServerConfig;

/// The PEM files; removed with the value.
pub struct Certs {
    _dir: tempfile::TempDir,
    /// The CA certificate (what `tls.ca_file` must name).
    pub ca: PathBuf,
    /// The server certificate.
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
}

/// A new CA and a server certificate for 127.0.0.1 and localhost.
pub fn make() -> Certs {
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
    let (ca, cert_path, key_path) = (dir.path().join("ca.pem"), dir.path().join("server.pem"), dir.path().join("server-key.pem"));
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    Certs { _dir: dir, ca, cert: cert_path, key: key_path }
}

/// `config` with TLS offered by the server (clients choose; nothing is required).
pub fn tls_server(config: ServerConfig, certs: &Certs) -> ServerConfig {
    config
        .arg(format!("--ssl-ca={}", certs.ca.display()))
        .arg(format!("--ssl-cert={}", certs.cert.display()))
        .arg(format!("--ssl-key={}", certs.key.display()))
}
