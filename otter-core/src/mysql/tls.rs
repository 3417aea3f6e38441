//! What a TLS failure means for the user: the driver's TLS errors turned into
//! [`ErrorKind::Tls`] errors that say what to set, and the probe that tells a server or account
//! that requires TLS apart from a wrong password.
//!
//! How mysql_async 0.37 (`default-rustls-ring`) reports them:
//! - a certificate that does not verify, or any other handshake failure, as
//!   `Error::Io(IoError::Io(io::Error))` whose payload is the `rustls::Error` (tokio-rustls wraps
//!   it with `io::Error::new(InvalidData, ..)`). `io::Error::source()` skips its payload, so the
//!   payload is read with `io::Error::get_ref`;
//! - unusable settings (a `ca_file` that is not PEM, a host name that is not a valid server
//!   name) as `Error::Io(IoError::Tls(TlsError))`;
//! - a server that offers no TLS while the configuration requires it as
//!   `Error::Driver(DriverError::NoClientSslFlagFromServer)`.
//!
//! Invariants: every error built here is of kind Tls, so it is never retried; messages name the
//! connection as given (a redacted URL or a role) and hold no password; the probe connection is
//! used for nothing but the login and closed at once.

use std::error::Error as StdError;
use std::time::Duration;

use mysql_async::{Conn, DriverError, Opts, OptsBuilder, SslOpts, TlsError};
use rustls::CertificateError;

use crate::error::{Error, ErrorKind};

/// The Tls error `e` stands for, if it is a TLS failure; `what` names the connection.
pub fn failure(e: &mysql_async::Error, what: &str) -> Option<Error> {
    if let mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer) = e {
        return Some(Error::new(
            ErrorKind::Tls,
            format!(
                "{what}: TLS is required by the configuration but the server does not offer it: \
                 enable TLS on the server (ssl_cert and ssl_key), or set tls.mode = \"disabled\""
            ),
        ));
    }
    if let Some(r) = find(e, rustls_error) {
        return Some(Error::new(ErrorKind::Tls, handshake(r, what)));
    }
    find(e, |err| err.downcast_ref::<TlsError>()).map(|t| {
        Error::new(
            ErrorKind::Tls,
            format!(
                "{what}: the TLS settings cannot be used ({t}): tls.ca_file must be a PEM file of CA certificates, \
                 and the URL's host a valid server name"
            ),
        )
    })
}

/// What to set when the server requires TLS of this login (see [`login_works_over_tls`]).
pub const SET_TLS: &str = "set mode = \"required\" and ca_file = <the CA that signed the server certificate> in this \
     connection's TLS table ([pipeline.source.tls] for a source, [pipeline.sink.tls] for a target)";

/// The error for a login the server refused in plain text and accepts over TLS.
pub fn required(what: &str) -> Error {
    Error::new(
        ErrorKind::Tls,
        format!("{what}: the server requires TLS for this account (it refused the plain login and accepted the same credentials over TLS): {SET_TLS}"),
    )
}

/// Whether the server accepts the login of `opts` (TLS off) over TLS.
///
/// Why: MariaDB 10.11 answers a plain login to a server running with
/// `require_secure_transport=ON`, and to an account created `REQUIRE SSL`, with the same
/// `ER_ACCESS_DENIED_ERROR` (1045, SQLSTATE 28000, "Access denied for user 'u'@'h' (using
/// password: YES)") as a wrong password, so the answer alone cannot tell them apart.
///
/// How: after such a refusal the same login is tried once over TLS, without certificate
/// verification — only to learn whether the credentials work; the connection is closed at once
/// and carries nothing else. The driver asks for TLS only when the server's handshake advertises
/// it (`CLIENT_SSL`) and otherwise fails before sending any credentials, so a server without TLS
/// keeps the authentication error; the credentials go to the host and port the plain attempt
/// already sent them to. Any failure of the probe (wrong password, timeout) answers `false`.
///
/// Security: an unverified TLS session adds no exposure over the plain attempt that preceded it —
/// a man in the middle able to answer that attempt can already obtain the password from it (it can
/// demand `caching_sha2_password` and hand the client its own RSA key), and it sees the session's
/// data anyway, which is what configuring TLS off accepts.
pub async fn login_works_over_tls(opts: &Opts, timeout: Duration) -> bool {
    let ssl = SslOpts::default().with_danger_accept_invalid_certs(true).with_danger_skip_domain_validation(true);
    let probe = OptsBuilder::from_opts(opts.clone()).ssl_opts(Some(ssl));
    match tokio::time::timeout(timeout, Conn::new(probe)).await {
        Ok(Ok(conn)) => {
            let _ = conn.disconnect().await;
            true
        }
        _ => false,
    }
}

/// The first error in `e`'s source chain (`e` included) for which `pick` finds something.
fn find<'a, T: ?Sized>(
    e: &'a (dyn StdError + 'static),
    pick: impl Fn(&'a (dyn StdError + 'static)) -> Option<&'a T>,
) -> Option<&'a T> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(found) = pick(err) {
            return Some(found);
        }
        cur = err.source();
    }
    None
}

/// `err` as a rustls error, itself or as the payload of an `io::Error`.
fn rustls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(r) = err.downcast_ref::<rustls::Error>() {
        return Some(r);
    }
    err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// The message for a failed handshake.
fn handshake(r: &rustls::Error, what: &str) -> String {
    let skip = "(or, for a test server only, tls.danger_skip_verify = true)";
    match r {
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }) => format!(
            "{what}: the server's TLS certificate is not valid for the host in the URL ({r}): connect with a host name \
             the certificate names, or reissue it with this host among its subject alternative names {skip}"
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        ) => format!("{what}: the server's TLS certificate is outside its validity period ({r}): renew it (and check the clocks)"),
        rustls::Error::InvalidCertificate(_) => format!(
            "{what}: the server's TLS certificate does not verify ({r}): set tls.ca_file to the CA that signed the \
             server certificate {skip}"
        ),
        _ => format!(
            "{what}: the TLS handshake with the server failed ({r}): the server must offer TLS 1.2 or 1.3 with a \
             certificate that tls.ca_file (or the system roots) can verify"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapped(r: rustls::Error) -> mysql_async::Error {
        // As tokio-rustls reports a failed handshake.
        std::io::Error::new(std::io::ErrorKind::InvalidData, r).into()
    }

    #[test]
    fn certificate_failures_are_tls_errors_with_the_fix() {
        let e = failure(&wrapped(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)), "mysql://u:***@h:3306").unwrap();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(!e.is_transient());
        assert_eq!(
            e.to_string(),
            "mysql://u:***@h:3306: the server's TLS certificate does not verify (invalid peer certificate: UnknownIssuer): \
             set tls.ca_file to the CA that signed the server certificate (or, for a test server only, tls.danger_skip_verify = true)"
        );
        let e = failure(&wrapped(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)), "target").unwrap();
        assert!(e.to_string().contains("not valid for the host in the URL"), "{e}");
        let e = failure(&mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer), "source").unwrap();
        assert!(e.to_string().contains("the server does not offer it"), "{e}");
    }

    #[test]
    fn other_io_errors_are_not_tls_errors() {
        let reset: mysql_async::Error = std::io::Error::from(std::io::ErrorKind::ConnectionReset).into();
        assert!(failure(&reset, "x").is_none());
        let eof: mysql_async::Error = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "tls handshake eof").into();
        assert!(failure(&eof, "x").is_none());
    }
}
