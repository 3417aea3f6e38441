//! MySQL/MariaDB plumbing shared by the capture and the loader: connections (URL and TLS
//! options, what the server is, the translation of driver errors into otter errors that say what
//! to do), TLS failures, and the one place where names and values become SQL text ([`quote`]).
//! Neither the capture (`crate::source::mysql`) nor the loader (`otter-load`) reaches into the
//! other: both use this.
pub mod chunk;
pub mod conn;
pub mod quote;
pub mod tls;
