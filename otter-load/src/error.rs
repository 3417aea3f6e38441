//! Error helpers: otter-load uses [`otter_core::Error`]; these build the kinds it needs, with the
//! table, key and statement in the message where they are known.

use otter_core::{Error, ErrorKind};

/// An internal inconsistency (a bug, reported rather than panicking).
pub(crate) fn internal(msg: impl Into<String>) -> Error {
    Error::internal(msg)
}

/// A value that the target cannot be given losslessly.
pub(crate) fn unsupported(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Sink, msg.into())
}
