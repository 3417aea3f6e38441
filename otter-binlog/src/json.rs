//! Placeholder: replaced by the MySQL binary JSON decoder.
use crate::error::{ErrorKind, ParseError, Result};

/// Renders MySQL binary JSON as text.
pub fn json_text(_bin: &[u8]) -> Result<String> {
    Err(ParseError::new(ErrorKind::Unsupported("json")))
}
