//! The one error type of otter's upper crates: opaque, with a [`ErrorKind`] to branch on and
//! [`Error::is_transient`] to decide between retrying and stopping.
//!
//! Invariants: messages say what is wrong and how to fix it; they never contain a password
//! (connection URLs are redacted before they reach a message); context is attached once, at the
//! layer that knows it (table, position); [`ErrorKind::Auth`] and [`ErrorKind::Tls`] errors are
//! never transient (no retry can change credentials, a certificate or a setting).

use std::fmt;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A configuration value is wrong or missing.
    Config,
    /// The server could not be reached or the connection broke.
    Connection,
    /// The server refused the credentials.
    Auth,
    /// TLS cannot work as configured: the server certificate does not verify, the handshake
    /// failed, the server does not offer TLS, or it requires TLS and the configuration has it off.
    Tls,
    /// The account lacks a privilege.
    Privilege,
    /// A preflight check failed (binlog off, wrong format, ...).
    Preflight,
    /// The requested start position is no longer on the server (binlog purged).
    PositionPurged,
    /// Another replica uses our server id.
    ServerIdConflict,
    /// Another running instance holds the pipeline (its state directory, output file or the
    /// target's lease); stop it first.
    AlreadyRunning,
    /// Another instance took the pipeline over (a newer fencing epoch on the target): this
    /// instance's writes are rejected and it stops.
    Fenced,
    /// The source failed over to another server: the capture restarts there from the last
    /// applied position (by GTID).
    SourceMoved,
    /// A source transaction applied in parts (too big to hold) was interrupted on the target and
    /// rolled back: the pipeline restarts from its checkpoint and reads it again.
    Replay,
    /// The only promoted failover server lacks transactions otter already read (the missing GTIDs
    /// are in the message): continuing would lose or fork data, so otter stops.
    SourceBehind,
    /// The binlog stream held bytes that do not decode.
    Parse,
    /// A row event does not fit the known schema of its table.
    SchemaMismatch,
    /// A DDL statement could not be understood or applied to the schema history.
    Ddl,
    /// A sink or loader failed to write.
    Sink,
    /// Reading or writing local state (checkpoints, schema history) failed.
    State,
    /// The server returned an error for a statement.
    Server,
    /// A deadlock or lock wait timeout (worth retrying).
    Conflict,
    /// The pipeline is shutting down.
    Shutdown,
    /// Anything else.
    Other,
}

/// An otter error.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: String,
    transient: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        let transient = matches!(kind, ErrorKind::Connection | ErrorKind::Conflict | ErrorKind::Replay);
        Error(Box::new(Inner { kind, message: message.into(), transient, source: None }))
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.0.source = Some(Box::new(source));
        self
    }

    /// Overrides whether retrying may help. [`ErrorKind::Auth`] and [`ErrorKind::Tls`] errors
    /// stay definite whatever is asked: a retry cannot fix credentials or a certificate.
    #[must_use]
    pub fn transient(mut self, transient: bool) -> Error {
        self.0.transient = transient && !matches!(self.0.kind, ErrorKind::Auth | ErrorKind::Tls);
        self
    }

    /// Prefixes the message with context (e.g. the table or position).
    #[must_use]
    pub fn context(mut self, ctx: impl fmt::Display) -> Error {
        self.0.message = format!("{ctx}: {}", self.0.message);
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message (without the cause).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// True when retrying later may succeed (lost connection, deadlock, server restarting).
    pub fn is_transient(&self) -> bool {
        self.0.transient
    }

    /// An internal inconsistency (a bug), reported rather than panicking.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Other, format!("internal error: {}", message.into()))
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("message", &self.0.message)
            .field("transient", &self.0.transient)
            .field("source", &self.0.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)?;
        if let Some(s) = &self.0.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<otter_binlog::ParseError> for Error {
    fn from(e: otter_binlog::ParseError) -> Self {
        Error::new(ErrorKind::Parse, "cannot decode the binlog stream").with_source(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::State, "I/O error").with_source(e)
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Replaces the password of a `mysql://user:password@host` URL with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((creds, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        assert_eq!(redact_url("mysql://repl:s3cr@t@10.0.0.1:3306/db"), "mysql://repl:***@10.0.0.1:3306/db");
        assert_eq!(redact_url("mysql://root@127.0.0.1:3306"), "mysql://root@127.0.0.1:3306");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn transient_kinds() {
        assert!(Error::new(ErrorKind::Connection, "x").is_transient());
        assert!(!Error::new(ErrorKind::SchemaMismatch, "x").is_transient());
        assert!(Error::new(ErrorKind::Server, "x").transient(true).is_transient());
        for definite in [ErrorKind::Auth, ErrorKind::Tls] {
            assert!(!Error::new(definite, "x").is_transient());
            assert!(!Error::new(definite, "x").transient(true).is_transient());
        }
        let e = Error::new(ErrorKind::Ddl, "cannot parse").context("at mysql-bin.000001:4");
        assert_eq!(e.to_string(), "at mysql-bin.000001:4: cannot parse");
    }
}
