//! `otter tail`: stream a live server's transactions as JSON lines until interrupted.
//!
//! Resume: with `--output FILE`, lines are appended to FILE and a restart continues after the last
//! complete line (its `position`), so the file holds every transaction exactly once even across
//! `kill -9`. With `--state-dir DIR`, the position is also saved in `DIR/checkpoint.json` after
//! each line is written (at-least-once for stdout), and the schema history lives in DIR.

use std::fs::OpenOptions;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::PathBuf;

use otter_core::change::Event;
use otter_core::checkpoint::{unix_now, Checkpoint, FileCheckpointStore};
use otter_core::instance::InstanceLock;
use otter_core::json::{chunk_json, ddl_json};
use otter_core::mysql::conn::{TlsConfig, TlsMode};
use otter_core::source::mysql::{MysqlSource, MysqlSourceConfig, SourceOptions};
use otter_core::source::Source;
use otter_core::{Error, ErrorKind, Result};

/// Arguments of `otter tail`.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// Source server: mysql://user:password@host:port (or env OTTER_SOURCE).
    #[arg(long, env = "OTTER_SOURCE", hide_env_values = true)]
    pub source: String,
    /// Where to start without a saved position: latest, earliest, FILE:OFFSET, a GTID set
    /// (uuid:1-100 or 0-1-100) or @2026-01-01T00:00:00Z.
    #[arg(long, default_value = "latest")]
    pub from: String,
    /// Tables to capture (regex on schema.table, Canal syntax; repeat or comma-separate).
    #[arg(long)]
    pub include: Vec<String>,
    /// Tables to leave out.
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Replica server id (default: derived from the URL, this host and the output file or state
    /// directory — or this process when there is neither — so two tails never share one).
    #[arg(long)]
    pub server_id: Option<u32>,
    /// Directory for the schema history and checkpoint (resume after a restart).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Append to this file instead of stdout and resume after its last complete line.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Connect over TLS, verifying the server certificate.
    #[arg(long)]
    pub tls: bool,
    /// Trust this CA certificate (PEM) for TLS.
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
}

/// Runs the command until SIGINT/SIGTERM (exit 0) or a failure.
pub async fn run(args: TailArgs) -> Result<()> {
    let shutdown = crate::signals::Shutdown::install();
    let mut config = MysqlSourceConfig::new(args.source.clone());
    config.from = Some(args.from.clone());
    config.include = args.include.clone();
    config.exclude = args.exclude.clone();
    config.server_id = args.server_id;
    if args.tls || args.tls_ca.is_some() {
        config.tls = TlsConfig { mode: TlsMode::Required, ca_file: args.tls_ca.clone(), danger_skip_verify: false };
    }
    config.validate()?;
    // One process per output file and state directory: a second `otter tail` on them fails here,
    // naming the first (two writers would interleave lines and checkpoints).
    let mut locks = Vec::new();
    if let Some(p) = &args.output {
        let mut lock = p.clone().into_os_string();
        lock.push(".otter-lock");
        locks.push(InstanceLock::acquire(&PathBuf::from(lock), &format!("output file {}", p.display()))?);
    }
    if let Some(d) = &args.state_dir {
        locks.push(InstanceLock::acquire(&d.join("lock"), &format!("state directory {}", d.display()))?);
    }
    // Who captures: this host and the state it writes, or this process when it writes none (so
    // the default server id differs between instances).
    let host = otter_core::instance::host_name();
    let identity = match args.output.as_ref().or(args.state_dir.as_ref()) {
        Some(p) => format!("tail@{host}:{}", std::path::absolute(p).unwrap_or_else(|_| p.clone()).display()),
        None => format!("tail@{host}:pid {}", std::process::id()),
    };
    let store = args.state_dir.as_ref().map(|d| FileCheckpointStore::new(d));
    let mut resume = match &args.output {
        Some(p) => otter_core::sink::lines::resume_point(p)?,
        None => None,
    };
    if resume.is_none() {
        if let Some(s) = &store {
            resume = s.load_sync()?.map(|c| c.position);
        }
    }
    let options = SourceOptions {
        state_dir: args.state_dir.as_ref().map(|d| d.join("schema")),
        resume,
        name: identity,
        skip_preflight: false,
        ..SourceOptions::default()
    };
    let mut out: Box<dyn Write + Send> = match &args.output {
        Some(p) => {
            let mut f = OpenOptions::new().create(true).append(true).open(p).map_err(|e| {
                Error::new(ErrorKind::Config, format!("cannot open --output {}", p.display())).with_source(e)
            })?;
            f.seek(SeekFrom::End(0)).map_err(|e| Error::new(ErrorKind::State, "seek").with_source(e))?;
            Box::new(f)
        }
        None => Box::new(io::stdout()),
    };
    let mut source = MysqlSource::start(config, options);
    let mut stop = Box::pin(shutdown.wait());
    loop {
        let event = tokio::select! {
            _ = &mut stop => return Ok(()),
            e = source.next() => e?,
        };
        let Some(event) = event else { return Ok(()) };
        let line = match &event {
            Event::Rows(c) => Some(chunk_json(c)),
            Event::Ddl(d) => Some(ddl_json(d)),
            Event::Progress(_) => None,
        };
        if let Some(v) = line {
            let mut text = serde_json::to_vec(&v).map_err(|e| Error::new(ErrorKind::Other, "encode").with_source(e))?;
            text.push(b'\n');
            match out.write_all(&text).and_then(|_| out.flush()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(Error::new(ErrorKind::Sink, "cannot write output").with_source(e)),
            }
        }
        if let (Some(store), Some(p)) = (&store, event.position()) {
            store.save_sync(&Checkpoint { position: p.clone(), source_time: event.source_time(), saved_at: unix_now() })?;
        }
    }
}
