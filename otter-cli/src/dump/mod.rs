//! `otter dump FILE...`: one JSON object per event, or with `--stats` one summary object per file.
//!
//! Exit status: 0 when every file parsed to its end, 2 when any stopped on an error (after printing
//! everything that parsed before it).
//!
//! Row values are typed JSON from otter's one value renderer in its `otter dump` style
//! ([`otter_core::json::Style::DUMP`]: the binlog as it is — `{"absent": true}` for a column a
//! MINIMAL/NOBLOB image left out, FLOAT widened exactly, TIMESTAMP in MySQL notation (UTC), text by
//! the table map's collation: a string when valid UTF-8 and not binary, else `{"hex"}`).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use otter_binlog::summary::{summarize, Summary};
use otter_binlog::{EventData, EventType, FileReader, Frame, Parser, ReadError};
use otter_core::json::{render, Style};
use serde_json::{json, Value as Json};

/// Arguments of `otter dump`.
#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// Binlog or relay-log files to read.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print one summary object per file instead of every event.
    #[arg(long)]
    pub stats: bool,
}

/// Runs the command; returns the process exit code.
pub fn run(args: &DumpArgs) -> io::Result<i32> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = false;
    for file in &args.files {
        let ok = if args.stats { stats_file(file, &mut out)? } else { dump_file(file, &mut out)? };
        failed |= !ok;
    }
    out.flush()?;
    Ok(if failed { 2 } else { 0 })
}

fn open(file: &Path) -> Result<FileReader<io::BufReader<std::fs::File>>, ReadError> {
    FileReader::open(file)
}

/// Prints every event of `file`; returns false if it stopped on an error.
fn dump_file(file: &Path, out: &mut impl Write) -> io::Result<bool> {
    let mut reader = match open(file) {
        Ok(r) => r,
        Err(e) => return report_error(file, &e, out),
    };
    loop {
        match reader.next_event() {
            Ok(Some(frame)) => {
                let obj = event_json(&frame);
                serde_json::to_writer(&mut *out, &obj)?;
                out.write_all(b"\n")?;
            }
            Ok(None) => return Ok(true),
            Err(e) => return report_error(file, &e, out),
        }
    }
}

fn report_error(file: &Path, e: &ReadError, out: &mut impl Write) -> io::Result<bool> {
    out.flush()?;
    eprintln!("otter dump: {}: {e}", file.display());
    Ok(false)
}

/// The JSON object for one event.
fn event_json(frame: &Frame<'_>) -> Json {
    let h = &frame.event.header;
    let t = EventType::from_code(h.type_code);
    let mut obj = json!({
        "offset": frame.offset,
        "type_code": h.type_code,
        "type": t.name(),
        "timestamp": h.timestamp,
        "server_id": h.server_id,
        "next_pos": h.log_pos,
    });
    if frame.in_payload {
        obj["in_payload"] = json!(true);
    }
    if let EventData::Rows(rows) = &frame.event.data {
        match frame.parser.table_for(rows) {
            Ok(table) => {
                obj["table"] = json!(table.full_name());
                let mut list = Vec::new();
                let decoded = rows.rows(table).and_then(|it| {
                    for row in it {
                        let row = row?;
                        let img = |img: Option<Vec<otter_binlog::Value<'_>>>| match img {
                            Some(vals) => Json::Array(
                                vals.iter().zip(table.columns.iter()).map(|(v, c)| render(v, Some(c), Style::DUMP)).collect(),
                            ),
                            None => Json::Null,
                        };
                        list.push(json!({"before": img(row.before), "after": img(row.after)}));
                    }
                    Ok(())
                });
                obj["rows"] = Json::Array(list);
                if let Err(e) = decoded {
                    obj["error"] = json!(e.at(frame.offset).to_string());
                }
            }
            Err(e) => obj["error"] = json!(e.at(frame.offset).to_string()),
        }
    }
    if let EventData::Query(q) = &frame.event.data {
        obj["schema"] = json!(String::from_utf8_lossy(q.schema));
        obj["query"] = json!(q.query_str());
    }
    obj
}

/// Prints the summary of `file` (every event, row and value decoded); returns false if it
/// stopped on an error.
fn stats_file(file: &Path, out: &mut impl Write) -> io::Result<bool> {
    let s = match std::fs::File::open(file) {
        Ok(f) => summarize(io::BufReader::with_capacity(256 * 1024, f), Parser::new()),
        Err(e) => Summary { error: Some(ReadError::Io(e)), ..Summary::default() },
    };
    let by_code: serde_json::Map<String, Json> = s.by_code.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let obj = json!({
        "file": file.display().to_string(),
        "events": s.events,
        "by_code": by_code,
        "rows": {"insert": s.rows.insert, "update": s.rows.update, "delete": s.rows.delete},
        "error": s.error.as_ref().map(ToString::to_string),
    });
    serde_json::to_writer(&mut *out, &obj)?;
    out.write_all(b"\n")?;
    Ok(s.error.is_none())
}
