//! [`JsonlSink`]: JSON lines to stdout or a file, one object per row change and per DDL (see
//! [`super::format`] for the formats).
//!
//! Delivery: to a **file**, exactly once — after each batch the lines are appended and flushed
//! (fsynced when `sync`), then the offset sidecar `PATH.otter-offset` is atomically replaced with
//! the file length and the batch's position (`sink::offset`); [`Sink::stored_position`] returns
//! that position and the file is cut back to the recorded length before anything is appended (in
//! [`JsonlSink::open`] and again in `stored_position`), so lines of a batch that was written but
//! not recorded disappear and are written again. A crash at any instant loses nothing and repeats
//! nothing, provided the pipeline resumes from `stored_position` (as
//! [`crate::pipeline::resume_position`] does). To **stdout** (`path = "-"`) there is no sidecar:
//! the pipeline's checkpoint store decides where to resume, so lines after the last checkpoint
//! may be printed again after a crash (at least once).
//!
//! Acknowledgements: each batch is rendered and written in `send` (on tokio's blocking pool) and
//! its ack completed before `send` returns, so [`Sink::flush`] has nothing to wait for. A failed
//! write fails the ack, returns the error and leaves the sink unusable (the pipeline stops; a
//! restart repairs the file).
//!
//! Invariants: lines appear in batch order; the sidecar is only ever replaced after the lines it
//! covers were written (and synced with `sync`); the sidecar's length always ends right after the
//! lines of the event whose position it records — the lines of chunks of a transaction not yet
//! complete (no position) are written but not covered, so a crash inside a transaction rewinds
//! to its start; one sink per file (two writers would break the accounting): a second sink on
//! the same file fails at once, naming the process that writes it (`PATH.otter-lock`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::format::{now_ms, render_event, Context, Format};
use super::offset::{self, Offset};
use crate::error::{Error, ErrorKind, Result};
use crate::instance::InstanceLock;
use crate::position::Position;
use crate::traits::{Ack, Batch, Sink};

/// Configuration of the JSON-lines sink.
///
/// ```toml
/// [pipeline.sink]
/// kind = "jsonl"            # the CLI's tag
/// path = "/var/lib/otter/shop.jsonl"   # "-" = stdout (default)
/// format = "canal"          # otter (default) | canal | debezium
/// sync = true               # fsync after each batch (default true)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlSinkConfig {
    /// Output file, appended to; `-` for stdout (default `-`).
    #[serde(default = "default_path")]
    pub path: String,
    /// Line format (default `otter`).
    #[serde(default)]
    pub format: Format,
    /// Fsync the file and the offset record after each batch (default `true`). Without it, a
    /// process crash still loses and repeats nothing, but an OS crash or power loss may.
    #[serde(default = "default_sync")]
    pub sync: bool,
}

fn default_path() -> String {
    "-".into()
}
fn default_sync() -> bool {
    true
}

impl Default for JsonlSinkConfig {
    fn default() -> Self {
        JsonlSinkConfig { path: default_path(), format: Format::default(), sync: default_sync() }
    }
}

impl JsonlSinkConfig {
    /// A configuration writing `format` lines to `path` (`-` = stdout), synced.
    pub fn new(path: impl Into<String>, format: Format) -> JsonlSinkConfig {
        JsonlSinkConfig { path: path.into(), format, sync: true }
    }

    /// True when writing to stdout.
    pub fn is_stdout(&self) -> bool {
        self.path == "-"
    }
}

/// Where lines go.
#[derive(Debug)]
enum Output {
    Stdout,
    File(FileOut),
}

#[derive(Debug)]
struct FileOut {
    path: PathBuf,
    file: File,
    /// `PATH.otter-lock`: one sink per file, on this machine.
    _lock: InstanceLock,
    /// Current length of the file (what we appended included).
    len: u64,
    /// The last record written to the sidecar.
    recorded: Offset,
    sync: bool,
}

impl FileOut {
    fn open(path: PathBuf, sync: bool) -> Result<FileOut> {
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".otter-lock");
        let lock = InstanceLock::acquire(&PathBuf::from(lock_path), &format!("output file {}", path.display()))?;
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::new(ErrorKind::Sink, format!("cannot open {}", path.display())).with_source(e))?;
        let recorded = offset::repair(&path, &file, sync)?;
        Ok(FileOut { path, file, _lock: lock, len: recorded.len, recorded, sync })
    }

    /// Appends `bytes`; then, when `record` is `(n, position)`, records that the first `n` of
    /// them end exactly at `position`.
    fn write(&mut self, bytes: &[u8], record: Option<(usize, &Position)>) -> Result<()> {
        let io = |what: &str, e: std::io::Error| Error::new(ErrorKind::Sink, format!("cannot {what} {}", self.path.display())).with_source(e);
        let start = self.len;
        if !bytes.is_empty() {
            self.file.write_all(bytes).map_err(|e| io("append to", e))?;
            self.file.flush().map_err(|e| io("flush", e))?;
            if self.sync {
                self.file.sync_data().map_err(|e| io("sync", e))?;
            }
            self.len += bytes.len() as u64;
        }
        if let Some((upto, p)) = record {
            let record = Offset { len: start + upto as u64, position: Some(p.clone()) };
            offset::write(&self.path, &record, self.sync)?;
            self.recorded = record;
        }
        Ok(())
    }
}

/// The checks of a JSON-lines output, read-only: its directory exists (stdout always passes).
pub fn preflight(config: &JsonlSinkConfig) -> Vec<crate::preflight::Check> {
    use crate::preflight::Check;
    if config.is_stdout() {
        return vec![Check::pass("output", "stdout")];
    }
    let path = PathBuf::from(&config.path);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if dir.is_dir() {
        vec![Check::pass("output", format!("{} (directory exists)", config.path))]
    } else {
        vec![Check::fail("output", ErrorKind::Config, format!("directory {} does not exist: create it, or change path", dir.display()))]
    }
}

/// The position recorded with the output file, read without repairing or locking anything
/// (`None` for stdout and for a file no batch was recorded in).
pub fn peek_position(config: &JsonlSinkConfig) -> Result<Option<Position>> {
    if config.is_stdout() {
        return Ok(None);
    }
    Ok(offset::read(std::path::Path::new(&config.path))?.and_then(|o| o.position))
}

/// The JSON-lines sink.
#[derive(Debug)]
pub struct JsonlSink {
    config: JsonlSinkConfig,
    pipeline: Arc<str>,
    /// `None` while a write runs on the blocking pool, and for good after a failure.
    out: Option<Output>,
}

impl JsonlSink {
    /// Opens the output: for a file, creates it when missing and cuts lines beyond its offset
    /// record (blocking file I/O). `pipeline` names the pipeline (Debezium's `source.name`).
    pub fn open(config: JsonlSinkConfig, pipeline: &str) -> Result<JsonlSink> {
        let out = if config.is_stdout() { Output::Stdout } else { Output::File(FileOut::open(PathBuf::from(&config.path), config.sync)?) };
        Ok(JsonlSink { config, pipeline: Arc::from(pipeline), out: Some(out) })
    }

    /// The configuration.
    pub fn config(&self) -> &JsonlSinkConfig {
        &self.config
    }

    /// Runs `f` on the output on tokio's blocking pool. The output is lost (the sink unusable)
    /// when `f` fails.
    async fn blocking<R: Send + 'static>(&mut self, f: impl FnOnce(&mut Output) -> Result<R> + Send + 'static) -> Result<R> {
        let mut out = self.out.take().ok_or_else(|| Error::new(ErrorKind::Sink, "the JSON-lines sink failed earlier; restart the pipeline"))?;
        let (out, result) = tokio::task::spawn_blocking(move || {
            let r = f(&mut out);
            (out, r)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Sink, "the JSON-lines writer task failed").with_source(e))?;
        if result.is_ok() {
            self.out = Some(out);
        }
        result
    }
}

/// Renders and writes a batch. For a file, the record covers the lines up to the last event that
/// carries a position (a trailing chunk of an unfinished transaction is written but not covered).
fn write_batch(out: &mut Output, format: Format, pipeline: &str, batch: &Batch) -> Result<()> {
    let mut bytes = Vec::with_capacity(batch.row_count() * 256);
    let ctx = Context { pipeline, seq: batch.seq, now_ms: now_ms() };
    let mut record = None;
    for event in &batch.events {
        render_event(format, event, &ctx, &mut bytes)?;
        if let Some(p) = event.position() {
            record = Some((bytes.len(), p));
        }
    }
    match out {
        Output::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&bytes).and_then(|()| stdout.flush()).map_err(|e| Error::new(ErrorKind::Sink, "cannot write to stdout").with_source(e))
        }
        Output::File(f) => f.write(&bytes, record),
    }
}

#[async_trait]
impl Sink for JsonlSink {
    fn name(&self) -> &str {
        "jsonl"
    }

    async fn send(&mut self, batch: Arc<Batch>, ack: Ack) -> Result<()> {
        let format = self.config.format;
        let pipeline = Arc::clone(&self.pipeline);
        match self.blocking(move |out| write_batch(out, format, &pipeline, &batch)).await {
            Ok(()) => {
                ack.done();
                Ok(())
            }
            Err(e) => {
                ack.fail(Error::new(e.kind(), e.to_string()));
                Err(e)
            }
        }
    }

    async fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// The position recorded with the file (after cutting unrecorded lines); `None` for stdout
    /// and for a file no batch was recorded in yet.
    async fn stored_position(&mut self) -> Result<Option<Position>> {
        self.blocking(|out| match out {
            Output::Stdout => Ok(None),
            Output::File(f) => {
                let recorded = offset::repair(&f.path, &f.file, f.sync)?;
                f.len = recorded.len;
                let position = recorded.position.clone();
                f.recorded = recorded;
                Ok(position)
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ChangeKind;
    use crate::transform::test_util::{batch, change, table, txn};

    fn sample(offset: u64, rows: usize) -> Batch {
        let t = table("shop", "t");
        let changes = (0..rows).map(|i| change(&t, ChangeKind::Insert, i as i64, offset, i as u64)).collect();
        batch(vec![txn(offset, changes)])
    }

    /// The first chunk of a transaction still open: no position.
    fn open_chunk(offset: u64, rows: usize) -> Batch {
        let mut b = sample(offset, rows);
        for e in &mut b.events {
            if let crate::change::Event::Rows(c) = e {
                c.last = false;
                c.position = None;
            }
        }
        b.position = None;
        b
    }

    async fn send(sink: &mut JsonlSink, b: Batch) -> Result<()> {
        let (ack, rx) = Ack::new(b.seq);
        sink.send(Arc::new(b), ack).await?;
        rx.await.map_err(|_| Error::new(ErrorKind::Sink, "ack dropped"))?
    }

    #[tokio::test]
    async fn records_and_repairs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let cfg = JsonlSinkConfig::new(path.to_string_lossy(), Format::Otter);
        let mut sink = JsonlSink::open(cfg.clone(), "p").unwrap();
        assert_eq!(sink.stored_position().await.unwrap(), None);
        send(&mut sink, sample(100, 2)).await.unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
        // A batch inside a transaction (no position) is written but not recorded.
        send(&mut sink, open_chunk(300, 1)).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
        drop(sink);

        let mut again = JsonlSink::open(cfg.clone(), "p").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len, "the unrecorded batch is cut on open");
        assert_eq!(again.stored_position().await.unwrap().map(|p| p.coord.offset), Some(200));
        // Garbage appended after opening is cut by stored_position too.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"torn").unwrap();
        assert_eq!(again.stored_position().await.unwrap().map(|p| p.coord.offset), Some(200));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        send(&mut again, sample(300, 1)).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
        drop(again);

        // A file shorter than its record was damaged outside otter.
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(10).unwrap();
        let err = JsonlSink::open(cfg, "p").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::State, "{err}");
    }

    #[tokio::test]
    async fn a_trailing_unfinished_transaction_is_not_covered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let cfg = JsonlSinkConfig::new(path.to_string_lossy(), Format::Otter);
        let mut sink = JsonlSink::open(cfg.clone(), "p").unwrap();
        let mut b = sample(100, 2);
        b.events.extend(open_chunk(300, 3).events);
        assert_eq!(b.position.as_ref().map(|p| p.coord.offset), Some(200));
        send(&mut sink, b).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 5);
        drop(sink);
        let mut again = JsonlSink::open(cfg, "p").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2, "the open transaction's lines are cut");
        assert_eq!(again.stored_position().await.unwrap().map(|p| p.coord.offset), Some(200));
    }

    #[tokio::test]
    async fn an_existing_file_without_record_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.jsonl");
        std::fs::write(&path, "{\"kept\":1}\n").unwrap();
        let mut sink = JsonlSink::open(JsonlSinkConfig::new(path.to_string_lossy(), Format::Canal), "p").unwrap();
        assert_eq!(sink.stored_position().await.unwrap(), None);
        send(&mut sink, sample(100, 1)).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\"kept\":1}\n"));
        assert_eq!(text.lines().count(), 2);
        assert!(offset::sidecar_path(&path).exists());
    }

    #[test]
    fn config_defaults() {
        let c: JsonlSinkConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, JsonlSinkConfig::default());
        assert!(c.is_stdout() && c.sync && c.format == Format::Otter);
        let c: JsonlSinkConfig = serde_json::from_str(r#"{"path":"x","format":"debezium","sync":false}"#).unwrap();
        assert_eq!((c.format, c.sync), (Format::Debezium, false));
        assert!(serde_json::from_str::<JsonlSinkConfig>(r#"{"pth":"x"}"#).is_err());
        assert!(serde_json::from_str::<JsonlSinkConfig>(r#"{"format":"avro"}"#).is_err());
    }
}
