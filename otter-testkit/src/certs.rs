//! A throwaway certificate authority and a server certificate for `127.0.0.1`/`localhost` signed
//! by it (rcgen), for tests of TLS against a harness server (see [`crate::ServerConfig::tls`]).
//!
//! Invariant: the PEM files live in a temporary directory removed with the [`Certs`] value.

use std::io;
use std::path::PathBuf;

/// The PEM files of a test CA and a server certificate.
#[derive(Debug)]
pub struct Certs {
    _dir: tempfile::TempDir,
    /// The CA certificate (what a client's `ca_file` must name).
    pub ca: PathBuf,
    /// The server certificate.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

impl Certs {
    /// A new CA and a server certificate for `127.0.0.1` and `localhost`.
    pub fn generate() -> io::Result<Certs> {
        let tls = |e: rcgen::Error| io::Error::other(format!("making test certificates: {e}"));
        let dir = tempfile::tempdir()?;
        let ca_key = rcgen::KeyPair::generate().map_err(tls)?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "otter test CA");
        let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().map_err(tls)?;
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).map_err(tls)?;
        let cert = params.signed_by(&key, &issuer).map_err(tls)?;
        let (ca, cert_path, key_path) = (dir.path().join("ca.pem"), dir.path().join("server.pem"), dir.path().join("server-key.pem"));
        std::fs::write(&ca, ca_cert.pem())?;
        std::fs::write(&cert_path, cert.pem())?;
        std::fs::write(&key_path, key.serialize_pem())?;
        Ok(Certs { _dir: dir, ca, cert: cert_path, key: key_path })
    }
}
