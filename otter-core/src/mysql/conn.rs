//! Connections to a MySQL/MariaDB source: options from the URL and TLS settings, a connect with a
//! timeout, what the server is (flavor, version, ids), and the translation of driver errors into
//! otter errors that say what to do.
//!
//! Invariants: TCP only (no silent switch to a unix socket), TLS certificates are verified unless
//! the configuration explicitly says otherwise, and passwords never appear in messages.

use std::path::PathBuf;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};
use serde::{Deserialize, Serialize};

use crate::error::{redact_url, Error, ErrorKind, Result};
use crate::schema::Flavor;

/// TLS settings of a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// `disabled` (default), or `required`: connect over TLS and verify the server certificate
    /// against the system roots and `ca_file`.
    #[serde(default)]
    pub mode: TlsMode,
    /// A PEM file with the CA certificate(s) to trust (e.g. the server's own CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate and host name. Dangerous: only for testing.
    #[serde(default)]
    pub danger_skip_verify: bool,
}

/// Whether to use TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain TCP.
    #[default]
    Disabled,
    /// TLS with certificate verification.
    Required,
}

/// How to reach a server.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    url: String,
    opts: Opts,
    /// Connect timeout.
    pub connect_timeout: Duration,
}

impl ConnectOptions {
    /// Options from a `mysql://user:password@host:port[/db]` URL and TLS settings.
    pub fn new(url: &str, tls: &TlsConfig) -> Result<ConnectOptions> {
        let opts = Opts::from_url(url)
            .map_err(|e| Error::config(format!("invalid connection URL {}: {e}", redact_url(url))))?;
        let mut b = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            .tcp_keepalive(Some(Duration::from_secs(30)))
            .stmt_cache_size(64);
        if tls.mode == TlsMode::Required {
            let mut ssl = SslOpts::default();
            if let Some(ca) = &tls.ca_file {
                if !ca.is_file() {
                    return Err(Error::config(format!("TLS ca_file {} does not exist", ca.display())));
                }
                ssl = ssl.with_root_certs(vec![ca.clone().into()]);
            }
            if tls.danger_skip_verify {
                ssl = ssl.with_danger_accept_invalid_certs(true).with_danger_skip_domain_validation(true);
            }
            b = b.ssl_opts(Some(ssl));
        }
        Ok(ConnectOptions { url: url.to_owned(), opts: b.into(), connect_timeout: Duration::from_secs(10) })
    }

    /// The URL without its password, for messages.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }

    /// The driver options.
    pub fn opts(&self) -> &Opts {
        &self.opts
    }

    /// The user name in the URL.
    pub fn user(&self) -> String {
        self.opts.user().unwrap_or("").to_owned()
    }

    /// Opens a connection. A plain login refused as "access denied" by a server that accepts it
    /// over TLS (`require_secure_transport`, an account `REQUIRE SSL`) is a [`ErrorKind::Tls`]
    /// error that says to turn TLS on, not an authentication error (see
    /// [`super::tls::login_works_over_tls`]).
    pub async fn connect(&self) -> Result<Conn> {
        match tokio::time::timeout(self.connect_timeout, Conn::new(self.opts.clone())).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => {
                let denied = server_code(&e) == Some(codes::ACCESS_DENIED) && self.opts.ssl_opts().is_none();
                if denied && super::tls::login_works_over_tls(&self.opts, self.connect_timeout).await {
                    return Err(super::tls::required(&self.display_url()));
                }
                Err(translate(e, &self.display_url()))
            }
            Err(_) => Err(Error::new(
                ErrorKind::Connection,
                format!("timed out after {:?} connecting to {}", self.connect_timeout, self.display_url()),
            )),
        }
    }
}

/// What the source server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// MySQL or MariaDB.
    pub flavor: Flavor,
    /// `@@version`.
    pub version: String,
    /// Version as `MMmmpp`.
    pub version_number: u32,
    /// `@@server_id`.
    pub server_id: u32,
    /// `@@server_uuid` (MySQL).
    pub server_uuid: Option<String>,
}

impl ServerInfo {
    /// Reads it from a connection.
    pub async fn query(conn: &mut Conn) -> Result<ServerInfo> {
        let (version, server_id): (String, u32) = conn
            .query_first("SELECT @@version, @@server_id")
            .await
            .map_err(|e| translate(e, "source"))?
            .ok_or_else(|| Error::new(ErrorKind::Server, "SELECT @@version returned no row"))?;
        let flavor = if version.to_ascii_lowercase().contains("mariadb") { Flavor::MariaDb } else { Flavor::MySql };
        let server_uuid = if flavor == Flavor::MySql {
            conn.query_first::<String, _>("SELECT @@server_uuid").await.ok().flatten()
        } else {
            None
        };
        let version_number = version_number(&version);
        Ok(ServerInfo { flavor, version, version_number, server_id, server_uuid })
    }
}

/// `10.11.19-MariaDB-log` → 101119.
pub fn version_number(v: &str) -> u32 {
    let mut parts = v.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    a * 10_000 + b * 100 + c
}

/// MySQL error codes otter reacts to.
pub mod codes {
    /// ER_ACCESS_DENIED_ERROR.
    pub const ACCESS_DENIED: u16 = 1045;
    /// ER_DBACCESS_DENIED_ERROR.
    pub const DB_ACCESS_DENIED: u16 = 1044;
    /// ER_SPECIFIC_ACCESS_DENIED_ERROR (missing global privilege).
    pub const SPECIFIC_ACCESS_DENIED: u16 = 1227;
    /// ER_MASTER_FATAL_ERROR_READING_BINLOG (purged, unknown file, same server id...).
    pub const FATAL_READING_BINLOG: u16 = 1236;
    /// ER_LOCK_DEADLOCK.
    pub const DEADLOCK: u16 = 1213;
    /// ER_LOCK_WAIT_TIMEOUT.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// ER_SERVER_SHUTDOWN.
    pub const SERVER_SHUTDOWN: u16 = 1053;
    /// ER_CONNECTION_KILLED / ER_QUERY_INTERRUPTED.
    pub const CONNECTION_KILLED: u16 = 1927;
    /// ER_QUERY_INTERRUPTED.
    pub const QUERY_INTERRUPTED: u16 = 1317;
    /// ER_TABLEACCESS_DENIED_ERROR.
    pub const TABLE_ACCESS_DENIED: u16 = 1142;
    /// ER_SECURE_TRANSPORT_REQUIRED (MySQL; MariaDB answers 1045 instead).
    pub const SECURE_TRANSPORT_REQUIRED: u16 = 3159;
}

/// Turns a driver error into an otter error that names `what` (a redacted URL or a role). TLS
/// failures (certificate, handshake, no TLS on the server) become definite
/// [`ErrorKind::Tls`] errors (see [`super::tls`]), other I/O errors transient connection errors.
pub fn translate(e: mysql_async::Error, what: &str) -> Error {
    use mysql_async::Error as E;
    if let Some(tls) = super::tls::failure(&e, what) {
        return tls;
    }
    match &e {
        E::Server(s) => {
            let (kind, hint) = match s.code {
                codes::ACCESS_DENIED => (ErrorKind::Auth, "check the user and password in the URL"),
                codes::SECURE_TRANSPORT_REQUIRED => (ErrorKind::Tls, super::tls::SET_TLS),
                codes::DB_ACCESS_DENIED | codes::SPECIFIC_ACCESS_DENIED | codes::TABLE_ACCESS_DENIED => {
                    (ErrorKind::Privilege, "grant the privilege the message names to the account")
                }
                codes::DEADLOCK | codes::LOCK_WAIT_TIMEOUT => (ErrorKind::Conflict, "retrying"),
                codes::SERVER_SHUTDOWN | codes::CONNECTION_KILLED | codes::QUERY_INTERRUPTED => {
                    (ErrorKind::Connection, "the server is restarting or the session was killed; retrying")
                }
                _ => (ErrorKind::Server, ""),
            };
            let msg = if hint.is_empty() {
                format!("{what}: server error {} ({})", s.code, s.message)
            } else {
                format!("{what}: server error {} ({}): {hint}", s.code, s.message)
            };
            Error::new(kind, msg)
        }
        E::Io(_) => Error::new(ErrorKind::Connection, format!("{what}: connection failed")).with_source(e),
        E::Driver(_) => Error::new(ErrorKind::Connection, format!("{what}: driver error")).with_source(e),
        E::Url(_) => Error::config(format!("{what}: invalid URL")).with_source(e),
        E::Other(_) => Error::new(ErrorKind::Other, format!("{what}: error")).with_source(e),
    }
}

/// The server error code of a driver error, if it is one.
pub fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

/// `SHOW CREATE TABLE db.table`; `None` when the table (or its database) does not exist. The
/// driver's error is returned as is, for the caller to translate in its own terms.
pub async fn show_create_table(conn: &mut Conn, db: &str, table: &str) -> std::result::Result<Option<String>, mysql_async::Error> {
    let sql = format!("SHOW CREATE TABLE {}.{}", super::quote::ident(db), super::quote::ident(table));
    match conn.query_first::<(String, String), _>(sql).await {
        Ok(row) => Ok(row.map(|(_, ddl)| ddl)),
        Err(e) if matches!(server_code(&e), Some(NO_SUCH_TABLE | BAD_DB)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `SHOW CREATE DATABASE db`; `None` when it does not exist.
pub async fn show_create_database(conn: &mut Conn, db: &str) -> std::result::Result<Option<String>, mysql_async::Error> {
    match conn.query_first::<(String, String), _>(format!("SHOW CREATE DATABASE {}", super::quote::ident(db))).await {
        Ok(row) => Ok(row.map(|(_, ddl)| ddl)),
        Err(e) if server_code(&e) == Some(BAD_DB) => Ok(None),
        Err(e) => Err(e),
    }
}

/// ER_NO_SUCH_TABLE.
const NO_SUCH_TABLE: u16 = 1146;
/// ER_BAD_DB_ERROR.
const BAD_DB: u16 = 1049;

/// Runs a query returning one string column per row.
pub async fn query_strings(conn: &mut Conn, sql: &str) -> Result<Vec<String>> {
    conn.query::<Option<String>, _>(sql)
        .await
        .map(|v| v.into_iter().map(|s| s.unwrap_or_default()).collect())
        .map_err(|e| translate(e, "source"))
}

/// Reads one global or session variable as text (`None` when the server does not have it).
pub async fn variable(conn: &mut Conn, name: &str) -> Result<Option<String>> {
    let sql = format!("SELECT @@{name}");
    match conn.query_first::<Option<String>, _>(sql).await {
        Ok(v) => Ok(v.flatten()),
        // ER_UNKNOWN_SYSTEM_VARIABLE
        Err(e) if server_code(&e) == Some(1193) => Ok(None),
        Err(e) => Err(translate(e, "source")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_number("10.11.19-MariaDB-0+deb12u1-log"), 101_119);
        assert_eq!(version_number("8.0.36"), 80_036);
    }

    #[test]
    fn mysql_secure_transport_refusals_ask_for_tls() {
        let refused = mysql_async::ServerError {
            code: codes::SECURE_TRANSPORT_REQUIRED,
            message: "Connections using insecure transport are prohibited while --require_secure_transport=ON.".into(),
            state: "HY000".into(),
        };
        let e = translate(mysql_async::Error::Server(refused), "source");
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(!e.is_transient());
        assert!(e.to_string().contains("mode = \"required\" and ca_file"), "{e}");
    }

    #[test]
    fn bad_urls_are_config_errors_without_passwords() {
        let e = ConnectOptions::new("postgres://u:secret@h/db", &TlsConfig::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
