//! `MysqlSource`: capture from a live MySQL or MariaDB server as a replica.
//!
//! A background task runs preflight checks, resolves the start (a checkpoint, else the configured
//! `from`), reads the binlog through [`stream::BinlogConn`], turns events into transactions with
//! [`assemble::Assembler`] and sends them through a bounded channel (backpressure reaches the
//! server through TCP). When the connection drops, the server restarts or the dump thread is
//! killed, it reconnects with exponential backoff and resumes right after the last transaction it
//! handed out (inside a big transaction: after the rows already handed out).
//!
//! Invariants: nothing is handed out twice or skipped across reconnects; a failure that retrying
//! cannot fix (bad credentials, TLS that cannot work, purged position, schema mismatch) ends the source with an error.

pub mod assemble;
mod config;
pub mod ddl_marks;
pub mod failover;
pub mod preflight;
pub mod replica_lock;
pub mod snapshot;
pub mod start;
pub mod stream;
pub mod tables;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use otter_binlog::{ChecksumAlg, Parser, Status};
use tokio::sync::mpsc;

pub use self::config::MysqlSourceConfig;
use self::assemble::{Assembler, ChunkLimits};
use self::snapshot::resync::{self, Request};
use self::snapshot::{Snapshot, SnapshotConfig, SnapshotMode};
use crate::mysql::conn::{variable, ConnectOptions, ServerInfo};
use self::stream::{BinlogConn, StreamStart};
use self::tables::{LiveSchema, Tables};
use crate::change::{Event, Progress};
use crate::error::{Error, ErrorKind, Result};
use crate::table_filter::TableFilter;
use crate::history::SchemaHistory;
use crate::position::snapshot::SnapshotProgress;
use crate::position::{GtidState, Position, StartFrom};
use crate::schema::{Catalog, Settings};
use crate::source::Source;

/// A running capture. Dropping it stops the background task.
pub struct MysqlSource {
    rx: mpsc::Receiver<Result<Option<Event>>>,
    task: tokio::task::JoinHandle<()>,
    acked: tokio::sync::watch::Sender<Option<Position>>,
}

impl Drop for MysqlSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Options beyond the configuration file.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Where the schema history lives (in memory when `None`).
    pub state_dir: Option<PathBuf>,
    /// Resume here instead of the configured start.
    pub resume: Option<Position>,
    /// Who captures: the default server id is derived from it, and it tells this instance's
    /// leftover dump sessions from other replicas' ([`replica_lock`]). Two instances must not
    /// share one: the CLI uses the pipeline name with this host and the state directory (or the
    /// process id when there is no state).
    pub name: String,
    /// Skip the preflight checks (they still run for `otter check`).
    pub skip_preflight: bool,
    /// Who owns this capture exclusively (default: `name`). A binlog dump on the source that
    /// holds the same owner's lock is a leftover of this owner and is ended when this capture
    /// claims its server id ([`replica_lock`]). For a pipeline whose target lease makes it
    /// exclusive across machines, the pipeline and its target: the new holder then ends the
    /// dump of an old holder that was paused or cut off.
    pub owner: Option<String>,
    /// Which transactions marked by otter's loader (or by applications as "do not replicate")
    /// are sent on: a two-way pipeline's rules ([`crate::two_way::TwoWayConfig::rules`]).
    /// Default: one-way — everything but "do not replicate" transactions is sent.
    pub marks: crate::two_way::MarkRules,
    /// The pipeline this capture feeds: re-sync requests naming another pipeline are left to it
    /// (empty: every request for the captured tables is served).
    pub pipeline: String,
    /// For `snapshot = "when_needed"`: the included tables (source names) the target lacks, found
    /// by whoever composes the pipeline with its sink; `None`: the sink has no tables to lack, and
    /// nothing is copied.
    pub missing_on_target: Option<Vec<(String, String)>>,
}

impl MysqlSource {
    /// Starts capturing in the background. Failures (including preflight) arrive through
    /// [`Source::next`].
    pub fn start(config: MysqlSourceConfig, options: SourceOptions) -> MysqlSource {
        Self::launch(config, options, false)
    }

    /// `bounded`: the consumer reports what it made durable ([`Source::acknowledged`], as a
    /// pipeline does), so a snapshot hands a reader's next chunk out only after its previous one
    /// was acknowledged — what a restart reads again stays within a few chunks per reader.
    fn launch(config: MysqlSourceConfig, options: SourceOptions, bounded: bool) -> MysqlSource {
        let (tx, rx) = mpsc::channel(8);
        let (acked, acked_rx) = tokio::sync::watch::channel(None);
        let task = tokio::spawn(async move {
            if let Err(e) = run(config, options, tx.clone(), acked_rx, bounded).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        MysqlSource { rx, task, acked }
    }
}

/// A MySQL/MariaDB capture to be started by a pipeline at its resume point
/// ([`crate::pipeline::Pipeline::starting`]); `options.resume` is ignored (the pipeline's wins).
#[derive(Debug, Clone)]
pub struct MysqlCapture {
    /// The source configuration.
    pub config: MysqlSourceConfig,
    /// Options beyond it (state directory, identity).
    pub options: SourceOptions,
}

#[async_trait]
impl super::SourceStart for MysqlCapture {
    async fn start(self: Box<Self>, resume: Option<Position>) -> Result<Box<dyn Source>> {
        let MysqlCapture { config, options } = *self;
        Ok(Box::new(MysqlSource::launch(config, SourceOptions { resume, ..options }, true)))
    }
}

#[async_trait]
impl Source for MysqlSource {
    async fn next(&mut self) -> Result<Option<Event>> {
        match self.rx.recv().await {
            Some(r) => r,
            None => Err(Error::new(ErrorKind::Other, "the capture task ended unexpectedly")),
        }
    }

    fn acknowledged(&mut self, position: &Position) {
        self.acked.send_replace(Some(position.clone()));
    }
}

/// A connection prepared for reading tables (see [`crate::mysql::chunk::prepare_session`]) and
/// the server's catalog settings (how its definitions parse): what re-sync checks and verify use.
pub async fn reading_session(opts: &ConnectOptions) -> Result<(mysql_async::Conn, Settings)> {
    let mut conn = opts.connect().await?;
    let server = ServerInfo::query(&mut conn).await?;
    let settings = settings(&mut conn, &server).await?;
    crate::mysql::chunk::prepare_session(&mut conn).await?;
    Ok((conn, settings))
}

/// Catalog settings from the live server (how its definitions are read).
pub async fn settings(conn: &mut mysql_async::Conn, server: &ServerInfo) -> Result<Settings> {
    let charset = variable(conn, "global.character_set_server").await?.unwrap_or_else(|| "latin1".into());
    let collation = variable(conn, "global.collation_server").await?.unwrap_or_else(|| "latin1_swedish_ci".into());
    let mut s = Settings::new(server.flavor, &charset, &collation);
    s.server_version = Some(server.version_number);
    if let Some(v) = variable(conn, "global.explicit_defaults_for_timestamp").await? {
        s.explicit_defaults_for_timestamp = v == "1" || v.eq_ignore_ascii_case("on");
    }
    if let Some(e) = variable(conn, "global.default_storage_engine").await? {
        s.default_storage_engine = e;
    }
    // MariaDB 11.2+: per-charset default collations (e.g. utf8mb4=utf8mb4_uca1400_ai_ci).
    if let Some(map) = variable(conn, "global.character_set_collations").await? {
        for pair in map.split(',') {
            if let Some((cs, co)) = pair.split_once('=') {
                s.default_collations.insert(cs.trim().to_ascii_lowercase(), co.trim().to_ascii_lowercase());
            }
        }
    }
    Ok(s)
}

async fn run(
    config: MysqlSourceConfig,
    options: SourceOptions,
    tx: mpsc::Sender<Result<Option<Event>>>,
    mut acked: tokio::sync::watch::Receiver<Option<Position>>,
    bounded: bool,
) -> Result<()> {
    config.validate()?;
    // Everything the target may hold: the resume point and what was applied beyond it.
    let held = options.resume.as_ref().and_then(|p| GtidState::merged(p.gtid.as_ref(), p.applied.as_ref()));
    let (opts, mut control) = failover::connect(&config, held.as_ref()).await?;
    let server = ServerInfo::query(&mut control).await?;
    let server_id = config.effective_server_id(&options.name);
    let from = config.start_from()?;
    if !options.skip_preflight {
        let checks = preflight::run_all(&mut control, &server, server_id, &from).await?;
        preflight::first_failure(checks)?;
    }
    let resolved = match &options.resume {
        Some(p) => start::ResolvedStart { stream: start::from_checkpoint(&mut control, p).await?, position: p.clone(), not_before: None },
        None => start::resolve(&mut control, &opts, &server, server_id, &from).await?,
    };
    tracing::info!(source = %opts.display_url(), position = %resolved.position, server_id, "Starting capture.");
    let catalog_settings = settings(&mut control, &server).await?;
    let catalog = Catalog::new(catalog_settings.clone());
    // An unfinished copy in the stored position: its re-syncs resume whatever the mode (their
    // requests read again by id), the initial copy's tables unless the mode is `never`.
    let mut requests: HashMap<u64, Arc<Request>> = HashMap::new();
    let stored = options.resume.as_ref().and_then(|p| p.snapshot.clone());
    if let Some(p) = &stored {
        for id in p.tables.iter().filter_map(|t| t.request) {
            match Request::fetch(&mut control, &options.marks.schema, id).await {
                Ok(Some(r)) => {
                    requests.insert(id, Arc::new(r));
                }
                Ok(None) => tracing::warn!(request = id, "A re-sync under way was withdrawn (its request row is gone): it stops here."),
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => tracing::error!(request = id, error = %e, "A re-sync under way cannot go on: it stops here."),
            }
        }
    }
    let snapshot_tables = match (stored, config.snapshot) {
        (Some(p), SnapshotMode::Never) => {
            let mut p = (*p).clone();
            if p.tables.iter().any(|t| t.request.is_none()) {
                tracing::warn!("The stored position holds an unfinished snapshot but snapshot = \"never\": the copy is abandoned (tables not copied completely stay incomplete on the target).");
            }
            p.tables.retain(|t| t.request.is_some());
            (!p.tables.is_empty()).then_some(p)
        }
        (Some(p), _) => {
            tracing::info!(tables = p.tables.len(), rows = p.copied(), "Resuming the online snapshot.");
            Some((*p).clone())
        }
        (None, SnapshotMode::InitialOnly) if options.resume.is_some() => {
            tracing::info!(position = %resolved.position, "The snapshot finished in an earlier run (snapshot = \"initial_only\"): nothing to do.");
            let _ = tx.send(Ok(None)).await;
            return Ok(());
        }
        (None, SnapshotMode::Initial | SnapshotMode::InitialOnly) if options.resume.is_none() => {
            let filter = TableFilter::new(&config.include, &config.exclude)?;
            let tables = snapshot::plan(&mut control, &filter, &options.marks.schema).await?;
            Some(SnapshotProgress::of(snapshot::split::split(&mut control, tables, if config.snapshot_split { config.snapshot_readers } else { 1 }).await?))
        }
        (None, SnapshotMode::WhenNeeded) if options.resume.is_none() && from == StartFrom::Latest => match &options.missing_on_target {
            Some(missing) if !missing.is_empty() => {
                let filter = TableFilter::new(&config.include, &config.exclude)?;
                let mut tables = snapshot::plan(&mut control, &filter, &options.marks.schema).await?;
                tables.retain(|t| missing.iter().any(|(d, n)| *d == t.db && *n == t.table));
                tracing::info!(tables = tables.len(), "snapshot = \"when_needed\": creating and copying the included tables the target lacks.");
                if tables.is_empty() {
                    None
                } else {
                    Some(SnapshotProgress::of(snapshot::split::split(&mut control, tables, if config.snapshot_split { config.snapshot_readers } else { 1 }).await?))
                }
            }
            _ => None,
        },
        _ => None,
    };
    drop(control);
    // The only schema work at startup: replaying the recorded history (DDL met in the stream) up
    // to the start position. Tables the history does not know are read lazily, one `SHOW CREATE
    // TABLE` when their first rows arrive, so no startup step grows with the number of tables on
    // the server.
    let loading = std::time::Instant::now();
    let history = match &options.state_dir {
        Some(dir) => SchemaHistory::open_for_server(dir, &server.server_uuid.clone().unwrap_or_else(|| server.server_id.to_string()))?,
        None => SchemaHistory::in_memory(),
    };
    let ddl_positions = history.len();
    let filter = TableFilter::new(&config.include, &config.exclude)?;
    let filter_for_signals = filter.clone();
    let mut tables = Tables::new(catalog, history, &resolved.position.coord, filter, LiveSchema::new(opts.clone()), config.on_schema_error);
    if ddl_positions > 0 {
        let known = tables.catalog_mut().tables().count();
        tracing::info!(ddl_positions, tables = known, position = %resolved.position.coord, elapsed_ms = loading.elapsed().as_millis() as u64, "Schema history loaded.");
    }
    let limits = ChunkLimits { rows: config.chunk_rows, bytes: config.chunk_bytes };
    let mut asm = Assembler::new(tables, &resolved.position, resolved.not_before, limits).with_marks(options.marks.clone());
    if matches!(resolved.stream, StreamStart::MariadbGtid(_) | StreamStart::MysqlGtid(_)) {
        asm.skip_in_first_transaction();
    }
    let heartbeat = Duration::from_secs(config.heartbeat_secs.max(1));
    let mut max_backoff = Duration::from_secs(config.max_reconnect_backoff_secs.max(1));
    if !config.failover.is_empty() {
        // Look at the failover servers on time.
        max_backoff = max_backoff.min(Duration::from_secs(2));
    }
    // Announce where this run starts before any change: a sink that applies the first changes
    // before any batch is acknowledged records this as the resume point with them.
    let announce = Event::Progress(Progress { position: resolved.position.clone(), timestamp: 0, passed_over: false });
    if tx.send(Ok(Some(announce))).await.is_err() {
        return Ok(());
    }
    let definitions = match &snapshot_tables {
        Some(p) => {
            let initial: Vec<_> = p.tables.iter().filter(|t| t.request.is_none()).cloned().collect();
            snapshot::definitions(&opts, &initial).await?
        }
        None => Vec::new(),
    };
    let snap_cfg = SnapshotConfig {
        opts: opts.clone(),
        settings: catalog_settings.clone(),
        readers: config.snapshot_readers,
        piece_rows: config.chunk_rows,
        chunk_time: Duration::from_millis(config.snapshot_chunk_ms),
        max_rows_per_sec: config.snapshot_max_rows_per_sec,
        bounded,
    };
    let mut snap = snapshot_tables.map(|p| Snapshot::start(&snap_cfg, definitions, p, &requests, resolved.position.clone()));
    let signals = Signals { cfg: &snap_cfg, schema: &options.marks.schema, pipeline: &options.pipeline, filter: &filter_for_signals };
    let stop_after_snapshot = config.snapshot == SnapshotMode::InitialOnly;
    let mut stream_start = resolved.stream.clone();
    let mut backoff = Duration::from_millis(100);
    let mut down = failover::Down::new(&config, held);
    loop {
        let mut delivered = false;
        let owner = options.owner.clone().unwrap_or_else(|| options.name.clone());
        let link = Link { opts: &opts, server: &server, server_id, identity: &owner, start: &stream_start, heartbeat };
        let end = session(link, &signals, &mut asm, &tx, &mut delivered, &mut snap, stop_after_snapshot, &mut acked).await;
        match end {
            Ok(true) => return Ok(()), // the consumer went away, or the snapshot-only run is done
            Ok(false) => tracing::warn!(position = %asm.resume_position(), "The source ended the binlog stream; reconnecting."),
            Err(e) if e.is_transient() => tracing::warn!(error = %e, position = %asm.resume_position(), "Capture connection lost; reconnecting."),
            Err(e) => return Err(e),
        }
        if delivered {
            backoff = Duration::from_millis(100);
        }
        down.failed(delivered, &config, &opts, &asm.resume_position()).await?;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(max_backoff);
        asm.restart();
        let resume = asm.resume_position();
        if !resume.coord.file.is_empty() {
            stream_start = StreamStart::Coord(resume.coord);
        }
    }
}

/// Where and how a replication connection reads.
struct Link<'a> {
    opts: &'a ConnectOptions,
    server: &'a ServerInfo,
    server_id: u32,
    identity: &'a str,
    start: &'a StreamStart,
    heartbeat: Duration,
}

/// What re-sync requests met in the stream need.
struct Signals<'a> {
    cfg: &'a SnapshotConfig,
    schema: &'a str,
    pipeline: &'a str,
    filter: &'a TableFilter,
}

impl Signals<'_> {
    /// Starts the re-syncs `asm` met (creating the snapshot that carries them when none runs).
    async fn serve(&self, asm: &mut Assembler, snap: &mut Option<Snapshot>) -> Result<()> {
        for (id, at) in asm.take_signals() {
            let allows = |db: &str, t: &str| self.filter.allows(db, t);
            let Some(request) = resync::accept(&self.cfg.opts, &self.cfg.settings, self.schema, self.pipeline, &allows, id).await? else { continue };
            let s = snap.get_or_insert_with(|| Snapshot::start(self.cfg, Vec::new(), SnapshotProgress::default(), &HashMap::new(), asm.resume_position()));
            s.resync(request, at);
        }
        Ok(())
    }
}

/// One replication connection. Returns `Ok(true)` when the receiver is gone (or a snapshot-only
/// run finished), `Ok(false)` when the server ended the stream.
///
/// While a snapshot runs, assembled events wait in `held` until the gate lets them pass (a
/// chunk read whose snapshot they are not part of is under way); no more binlog is read while
/// anything waits, so at most the events of one raw event are held.
#[allow(clippy::too_many_arguments)]
async fn session(
    link: Link<'_>,
    signals: &Signals<'_>,
    asm: &mut Assembler,
    tx: &mpsc::Sender<Result<Option<Event>>>,
    delivered: &mut bool,
    snap: &mut Option<Snapshot>,
    stop_after_snapshot: bool,
    acked: &mut tokio::sync::watch::Receiver<Option<Position>>,
) -> Result<bool> {
    let mut conn = BinlogConn::open(link.opts, link.server, link.server_id, Some(link.identity), link.start, link.heartbeat).await?;
    let mut parser = Parser::with_checksum(ChecksumAlg::Off);
    let mut out = Vec::new();
    let mut held: std::collections::VecDeque<Event> = std::collections::VecDeque::new();
    let mut ready: Vec<Event> = Vec::new();
    let mut acks_open = true;
    loop {
        // Hand out what may go: held events the gate lets pass (with the chunks due before
        // them), then, when the stream is idle between transactions, the chunks due there.
        match snap.as_mut() {
            Some(s) => {
                s.drain()?;
                while let Some(e) = held.front() {
                    // Chunks due before it go out even while it waits (a table read whole
                    // keeps its reservation until its last piece, and its pieces need room).
                    if let Some(b) = snapshot::gate::begin(e).cloned() {
                        let tables = asm.tables_mut();
                        s.gate().release(&b, &mut |read, at| tables.snapshot_schema(read, at), &mut ready)?;
                    }
                    if s.gate().holds(e) {
                        break;
                    }
                    let Some(e) = held.pop_front() else { break };
                    let tables = asm.tables_mut();
                    s.gate().pass(e, &mut |read, at| tables.snapshot_schema(read, at), &mut ready)?;
                }
                if held.is_empty() && !asm.in_transaction() {
                    let point = asm.resume_position().coord;
                    let tables = asm.tables_mut();
                    s.gate().release(&point, &mut |read, at| tables.snapshot_schema(read, at), &mut ready)?;
                }
            }
            None => ready.extend(held.drain(..)),
        }
        if !hand_out(tx, &mut ready, delivered).await {
            return Ok(true);
        }
        if let Some(s) = snap.as_mut() {
            s.report(Duration::from_secs(10));
        }
        if snap.as_mut().is_some_and(|s| s.gate().finished()) {
            let rows = snap.as_mut().map_or(0, |s| s.gate().rows_out());
            let chunks = snap.as_mut().map_or(0, |s| s.gate().chunks());
            if snap.as_mut().is_some_and(|s| s.gate().has_initial()) {
                tracing::info!(rows, chunks, "Online snapshot finished: every included table was copied.");
            }
            *snap = None;
            if stop_after_snapshot {
                let _ = tx.send(Ok(None)).await;
                return Ok(true);
            }
        }
        // Wait for a reader's message, or (when nothing is held) the next binlog event.
        let raw = match snap.as_mut() {
            Some(s) => {
                tokio::select! {
                    biased;
                    changed = acked.changed(), if acks_open => {
                        if changed.is_ok() {
                            let p = acked.borrow_and_update().clone();
                            if let Some(p) = p {
                                s.gate().acknowledged(&p);
                            }
                        } else {
                            // No consumer reports any more: nothing waits for it.
                            acks_open = false;
                            s.gate().bound_by_acks(false);
                        }
                        continue;
                    }
                    m = s.recv() => {
                        match m {
                            Some(m) => s.on_msg(m)?,
                            None => return Err(Error::internal("the snapshot readers stopped")),
                        }
                        continue;
                    }
                    r = conn.next(link.start), if held.is_empty() => r?,
                }
            }
            None => conn.next(link.start).await?,
        };
        let Some(raw) = raw else { return Ok(false) };
        let ev = parser.parse_frame(&raw.frame)?;
        asm.feed(&ev, &parser, &mut out).await?;
        if let Some(payload) = &raw.payload {
            let mut rest = &payload[..];
            while !rest.is_empty() {
                match parser.parse_inner(rest)? {
                    Status::Complete((inner, used)) => {
                        asm.feed(&inner, &parser, &mut out).await?;
                        rest = rest.get(used..).unwrap_or(&[]);
                    }
                    Status::Partial(_) => break,
                }
            }
        }
        if snap.is_none() {
            // No snapshot: straight out, as the stream has always gone.
            if !hand_out(tx, &mut out, delivered).await {
                return Ok(true);
            }
        } else {
            held.extend(out.drain(..));
        }
        signals.serve(asm, snap).await?;
    }
}

/// Sends `events` (drained) to the consumer; false when it is gone.
async fn hand_out(tx: &mpsc::Sender<Result<Option<Event>>>, events: &mut Vec<Event>, delivered: &mut bool) -> bool {
    for e in events.drain(..) {
        if tx.send(Ok(Some(e))).await.is_err() {
            return false;
        }
        *delivered = true;
    }
    true
}
