//! Placeholder: replaced by the MySQL binary JSON decoder.
use crate::error::{ErrorKind, ParseError, Result};

/// Renders MySQL binary JSON as text.
pub fn json_text(bin: &[u8]) -> Result<String> {
    let mut s = String::new();
    write_json_text(bin, &mut s)?;
    Ok(s)
}

/// Appends the text of MySQL binary JSON to `out`.
pub fn write_json_text(_bin: &[u8], _out: &mut String) -> Result<()> {
    Err(ParseError::new(ErrorKind::Unsupported("json")))
}
