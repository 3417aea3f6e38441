//! Placeholder: replaced by the partial JSON diff decoder.
use crate::error::{ErrorKind, ParseError, Result};

/// Renders diffs as text.
pub fn write_json_diffs_text(_bytes: &[u8], _out: &mut String) -> Result<()> {
    Err(ParseError::new(ErrorKind::Unsupported("json diff")))
}
