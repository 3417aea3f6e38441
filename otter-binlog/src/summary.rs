//! `summarize`: read a whole binlog, decode every event, every row and every value (DECIMAL and
//! JSON rendered to text), and count what was seen. Used by `otter dump --stats`, the corpus tests
//! and the fuzz targets, so all three exercise exactly the same decoding.
//!
//! Invariant: the counts cover only what decoded; the first failure stops the walk and is
//! returned with its file offset.

use std::collections::BTreeMap;
use std::io::Read;

use crate::error::ParseError;
use crate::event::EventData;
use crate::file::{FileReader, ReadError};
use crate::json::write_json_text;
use crate::parser::Parser;
use crate::rows::RowsEvent;
use crate::table_map::TableMap;
use crate::value::Value;
use crate::RowsKind;

/// What a walk over a binlog saw.
#[derive(Debug, Default)]
pub struct Summary {
    /// Events decoded (including events inside TRANSACTION_PAYLOAD events).
    pub events: u64,
    /// Events per type code.
    pub by_code: BTreeMap<u8, u64>,
    /// Rows inserted, updated, deleted.
    pub rows: RowCounts,
    /// The error that stopped the walk, if any.
    pub error: Option<ReadError>,
}

/// Row counts by change kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RowCounts {
    /// Rows of WRITE_ROWS events.
    pub insert: u64,
    /// Rows of UPDATE_ROWS events.
    pub update: u64,
    /// Rows of DELETE_ROWS events.
    pub delete: u64,
}

impl RowCounts {
    /// All rows.
    pub fn total(&self) -> u64 {
        self.insert + self.update + self.delete
    }
}

/// Reads `src` as a binlog file with `parser` and decodes everything in it.
pub fn summarize<R: Read>(src: R, parser: Parser) -> Summary {
    let mut s = Summary::default();
    let mut reader = match FileReader::with_parser(src, parser) {
        Ok(r) => r,
        Err(e) => {
            s.error = Some(e);
            return s;
        }
    };
    loop {
        match reader.next_event() {
            Ok(None) => return s,
            Err(e) => {
                s.error = Some(e);
                return s;
            }
            Ok(Some(frame)) => {
                s.events += 1;
                *s.by_code.entry(frame.event.header.type_code).or_default() += 1;
                if let EventData::Rows(rows) = &frame.event.data {
                    let counted = frame.parser.table_for(rows).and_then(|t| decode_rows_deep(rows, t));
                    match counted {
                        Ok(n) => match rows.kind {
                            RowsKind::Write => s.rows.insert += n,
                            RowsKind::Update => s.rows.update += n,
                            RowsKind::Delete => s.rows.delete += n,
                        },
                        Err(e) => {
                            s.error = Some(ReadError::Parse(e.in_event(frame.event.header.type_code).at(frame.offset)));
                            return s;
                        }
                    }
                }
            }
        }
    }
}

/// Decodes every row of `rows` and renders its DECIMAL and JSON values; returns the row count.
pub fn decode_rows_deep(rows: &RowsEvent<'_>, table: &TableMap) -> Result<u64, ParseError> {
    let mut it = rows.rows(table)?;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let mut text = String::new();
    let mut n = 0u64;
    while it.next_into(&mut before, &mut after)? {
        for v in before.iter().chain(after.iter()) {
            render(v, &mut text)?;
        }
        n += 1;
    }
    Ok(n)
}

fn render(v: &Value<'_>, text: &mut String) -> Result<(), ParseError> {
    use std::fmt::Write;
    text.clear();
    match v {
        Value::Decimal(d) => {
            let _ = write!(text, "{d}");
        }
        Value::Json(b) if !b.is_empty() => write_json_text(b, text)?,
        Value::JsonDiff(b) => crate::json_diff::write_json_diffs_text(b, text)?,
        _ => {}
    }
    Ok(())
}
