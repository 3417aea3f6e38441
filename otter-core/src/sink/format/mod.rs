//! Line formats of the JSON-lines sink: one JSON object per row change and one per DDL statement,
//! in batch order. Progress marks produce no line.
//!
//! - [`Format::Otter`] (default): otter's own objects ([`crate::json::change_json`] plus
//!   transaction metadata); see [`otter`].
//! - [`Format::Canal`]: Canal's FlatMessage, one change per message; see [`canal`].
//! - [`Format::Debezium`]: a Debezium-style `before`/`after`/`source`/`op` envelope (payload only,
//!   as with `schemas.enable=false`); see [`debezium`].
//!
//! Values follow otter's JSON mapping ([`crate::json`]) in `otter` and `debezium`; `canal`
//! stringifies them as Canal does (see [`canal`]).
//!
//! Invariants: rendering never fails on data (unknown or undecodable values have a lossless
//! fallback); one line per change, in the order of the batch; a line never contains a newline
//! (JSON escapes them).

pub mod canal;
mod canal_types;
pub mod debezium;
pub mod otter;

use std::io::Write;

use otter_binlog::Value;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::change::{Event, RowChange, TxnMeta};
use crate::error::{Error, ErrorKind, Result};
use crate::schema::{Column, Generated};
use crate::traits::Batch;

/// Which objects the sink writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// otter's own change objects (the default).
    #[default]
    Otter,
    /// Canal's FlatMessage.
    Canal,
    /// A Debezium-style envelope.
    Debezium,
}

/// What a line may need besides the change itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The pipeline's name (Debezium's `source.name`).
    pub pipeline: &'a str,
    /// The batch's sequence number (Canal's message `id`).
    pub seq: u64,
    /// Wall-clock time of rendering, milliseconds since the epoch (`ts` / `ts_ms`).
    pub now_ms: u64,
}

/// Appends the batch's lines to `out`; returns the number of lines.
pub fn render_batch(format: Format, batch: &Batch, ctx: &Context<'_>, out: &mut Vec<u8>) -> Result<usize> {
    let mut lines = 0;
    for event in &batch.events {
        lines += render_event(format, event, ctx, out)?;
    }
    Ok(lines)
}

/// Appends one event's lines to `out` (one per row change, one for a DDL, none for progress);
/// returns the number of lines.
pub fn render_event(format: Format, event: &Event, ctx: &Context<'_>, out: &mut Vec<u8>) -> Result<usize> {
    match event {
        Event::Rows(chunk) => {
            for change in &chunk.changes {
                let line = match format {
                    Format::Otter => otter::change(&chunk.meta, change),
                    Format::Canal => canal::change(ctx, &chunk.meta, change),
                    Format::Debezium => debezium::change(ctx, &chunk.meta, change),
                };
                write_line(out, &line)?;
            }
            Ok(chunk.changes.len())
        }
        Event::Ddl(d) => {
            let line = match format {
                Format::Otter => otter::ddl(d),
                Format::Canal => canal::ddl(ctx, d),
                Format::Debezium => debezium::ddl(ctx, d),
            };
            write_line(out, &line)?;
            Ok(1)
        }
        Event::Progress(_) => Ok(0),
    }
}

fn write_line(out: &mut Vec<u8>, line: &Json) -> Result<()> {
    serde_json::to_writer(&mut *out, line).map_err(|e| Error::new(ErrorKind::Sink, "cannot encode a JSON line").with_source(e))?;
    out.write_all(b"\n").map_err(|e| Error::new(ErrorKind::Sink, "cannot buffer a JSON line").with_source(e))
}

/// Milliseconds since the epoch now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The transaction's commit time in milliseconds (microsecond precision when the server has it).
pub(crate) fn commit_ms(meta: &TxnMeta) -> u64 {
    meta.commit_ts_micros.map_or(u64::from(meta.commit_ts) * 1000, |us| us / 1000)
}

/// The columns of an image worth showing: present (not left out of a MINIMAL image) and not
/// MariaDB's hidden long-unique hash columns. Yields `(position, name, column, value)`.
pub(crate) fn visible<'a>(change: &'a RowChange, image: &'a [Value<'static>]) -> impl Iterator<Item = (usize, String, Option<&'a Column>, &'a Value<'static>)> + 'a {
    image.iter().enumerate().filter_map(move |(i, v)| {
        let col = change.table.columns.get(i);
        let hidden = col.is_some_and(|c| c.generated == Some(Generated::LongUniqueHash));
        if matches!(v, Value::Absent) || hidden {
            return None;
        }
        Some((i, col.map_or_else(|| format!("@{}", i + 1), |c| c.name.clone()), col, v))
    })
}

/// An image as `{column: value}` in otter's value mapping, visible columns only.
pub(crate) fn row_object(change: &RowChange, image: &[Value<'static>]) -> Json {
    Json::Object(visible(change, image).map(|(_, name, col, v)| (name, crate::json::value_json(v, col))).collect::<Map<_, _>>())
}

/// The first words of a DDL statement, upper-cased, with modifiers skipped: the verb (`CREATE`,
/// `ALTER`, `DROP`, `RENAME`, `TRUNCATE`, ...) and the object (`TABLE`, `INDEX`, `DATABASE`...).
pub(crate) fn ddl_verb(statement: &str) -> (String, String) {
    use crate::schema::ddl::lexer::{tokens, word, LexOptions};
    let toks = tokens(statement, LexOptions::DEFAULT).unwrap_or_default();
    let words: Vec<String> = (0..toks.len().min(8)).map(|i| word(&toks, i)).collect();
    let mut it = words.into_iter().filter(|w| {
        !matches!(w.as_str(), "OR" | "REPLACE" | "TEMPORARY" | "UNIQUE" | "FULLTEXT" | "SPATIAL" | "ONLINE" | "OFFLINE" | "IGNORE")
    });
    let verb = it.next().unwrap_or_default();
    let object = it.next().unwrap_or_default();
    (verb, object)
}

#[cfg(test)]
mod tests;
