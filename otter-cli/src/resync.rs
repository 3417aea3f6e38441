//! `otter resync --config FILE --table db.t [--where ...] [--keys JSON]`: asks a running pipeline
//! to copy a table (or the rows a condition selects, or a list of keys) again, and waits until
//! the copy is applied.
//!
//! It writes one row into the signal table on the pipeline's source
//! (`otter_core::source::mysql::snapshot::resync`); the capture sees it in the binlog, in order
//! with the live changes, and copies through the snapshot path, deleting on the target the rows
//! of each re-copied range that the source no longer has. Everything that can be checked first
//! is (the table, its key, the condition on the source, transforms that rename columns): a
//! wrong request exits 2 without writing anything.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use otter_core::checkpoint::FileCheckpointStore;
use otter_core::mysql::conn::{translate, ConnectOptions};
use otter_core::position::BinlogCoord;
use otter_core::source::mysql::snapshot::resync::{signal_table_sql, Request, SIGNAL_TABLE};
use otter_core::table_filter::TableFilter;
use otter_core::{Error, ErrorKind, Result};

use crate::config::{Config, PipelineConfig};
use crate::signals::Shutdown;

/// Arguments of `otter resync`.
#[derive(Debug, clap::Args)]
pub struct ResyncArgs {
    /// The pipelines file (TOML).
    #[arg(short, long)]
    pub config: PathBuf,
    /// The source table to copy again, `db.table`.
    #[arg(long)]
    pub table: String,
    /// Only the rows this condition selects (SQL on the table's columns, run on the source and,
    /// for the rows to delete, on the target).
    #[arg(long = "where")]
    pub where_clause: Option<String>,
    /// Only these keys, as JSON: `[[1, "a"], [2, "b"]]`, or `[1, 2, 3]` for a one-column key.
    #[arg(long, conflicts_with = "keys_file")]
    pub keys: Option<String>,
    /// Read the keys (same JSON) from this file.
    #[arg(long)]
    pub keys_file: Option<PathBuf>,
    /// The pipeline (needed when several capture the table).
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Return once the request is written, without waiting for the copy.
    #[arg(long)]
    pub no_wait: bool,
}

/// Writes the request and waits for it to be applied.
pub async fn run(args: ResyncArgs) -> Result<()> {
    let shutdown = Shutdown::install();
    let cfg = Config::load(&args.config)?;
    let (db, table) = args
        .table
        .split_once('.')
        .filter(|(d, t)| !d.is_empty() && !t.is_empty())
        .ok_or_else(|| Error::config(format!("--table {:?}: write it as db.table", args.table)))?;
    let p = pipeline(&cfg, args.pipeline.as_deref(), db, table)?;
    let keys = match (&args.keys, &args.keys_file) {
        (Some(k), _) => Some(k.clone()),
        (None, Some(f)) => Some(std::fs::read_to_string(f).map_err(|e| Error::config(format!("cannot read --keys-file {}: {e}", f.display())))?),
        (None, None) => None,
    };
    let (id, written) = submit(p, db, table, args.where_clause.clone(), keys.as_deref()).await?;
    println!("re-sync request {id} written for pipeline {} ({db}.{table}); the running pipeline copies it", p.name);
    if args.no_wait {
        return Ok(());
    }
    let Some(after) = written else {
        println!("the source does not show its binlog position: not waiting (see `otter status`)");
        return Ok(());
    };
    tokio::select! {
        r = wait(&cfg, &p.name, id, &after) => r,
        () = shutdown.wait() => {
            println!("stopped waiting; the re-sync goes on in the pipeline (request {id})");
            Ok(())
        }
    }
}

/// Checks a re-sync request for pipeline `p` and writes it into the signal table on its source;
/// returns its id and the source's binlog position after it (when the server shows one).
pub async fn submit(p: &PipelineConfig, db: &str, table: &str, where_clause: Option<String>, keys: Option<&str>) -> Result<(u64, Option<BinlogCoord>)> {
    let renamed = otter_core::transform::column_changes(&p.transforms, db, table)?;
    if !renamed.is_empty() {
        return Err(Error::config(format!(
            "pipeline {} changes the columns of {db}.{table} (columns transform {}): a re-sync's deletes name the source's columns, \
             so it cannot re-sync this table; copy it by hand or remove the transform",
            p.name,
            renamed.join(", ")
        )));
    }
    let request = Request::new(0, Some(p.name.clone()), db.to_owned(), table.to_owned(), where_clause, keys)?;
    let schema = p.two_way.as_ref().map(|tw| tw.rules()).unwrap_or_default().schema;

    let (mut conn, settings) = otter_core::source::mysql::reading_session(&ConnectOptions::new(&p.source.url, &p.source.tls)?).await?;
    request.check_on_source(&mut conn, &settings).await?;

    // Written in the source's binlog, where the capture meets it in order with the changes.
    let denied = |e: mysql_async::Error| {
        let e = translate(e, "writing the re-sync request on the source");
        if matches!(e.kind(), ErrorKind::Privilege | ErrorKind::Auth) {
            Error::new(
                ErrorKind::Privilege,
                format!(
                    "{e}. The source account needs CREATE and INSERT on {schema}.*: GRANT CREATE, INSERT ON `{schema}`.* TO <otter's account>; \
                     or create the table as an administrator:\n{};\n{};",
                    signal_table_sql(&schema)[0],
                    signal_table_sql(&schema)[1]
                ),
            )
        } else {
            e
        }
    };
    for sql in signal_table_sql(&schema) {
        conn.query_drop(sql).await.map_err(denied)?;
    }
    conn.exec_drop(
        format!(
            "INSERT INTO `{}`.`{SIGNAL_TABLE}` (pipeline, table_schema, table_name, where_clause, key_list) VALUES (?, ?, ?, ?, ?)",
            schema.replace('`', "``")
        ),
        (&p.name, db, table, &request.where_clause, keys.map(str::trim)),
    )
    .await
    .map_err(denied)?;
    let id: u64 = conn.query_first("SELECT LAST_INSERT_ID()").await.map_err(|e| translate(e, "reading the request's id"))?.unwrap_or(0);
    let written: Option<(String, u64)> = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .ok()
        .flatten()
        .map(|row: mysql_async::Row| (row.get::<String, _>(0).unwrap_or_default(), row.get::<u64, _>(1).unwrap_or(0)));
    let _ = conn.disconnect().await;
    Ok((id, written.filter(|(f, _)| !f.is_empty()).map(|(f, o)| BinlogCoord::new(f, o))))
}

/// The pipeline that captures `db.table` (the one named, else the only one).
fn pipeline<'a>(cfg: &'a Config, name: Option<&str>, db: &str, table: &str) -> Result<&'a PipelineConfig> {
    if let Some(name) = name {
        let p = cfg.pipelines.iter().find(|p| p.name == name).ok_or_else(|| {
            let names: Vec<&str> = cfg.pipelines.iter().map(|p| p.name.as_str()).collect();
            Error::config(format!("no pipeline {name:?} in the config (it has: {})", names.join(", ")))
        })?;
        if !TableFilter::new(&p.source.include, &p.source.exclude)?.allows(db, table) {
            return Err(Error::config(format!("pipeline {name} does not capture {db}.{table} (see its include/exclude)")));
        }
        return Ok(p);
    }
    let mut found = Vec::new();
    for p in &cfg.pipelines {
        if TableFilter::new(&p.source.include, &p.source.exclude)?.allows(db, table) {
            found.push(p);
        }
    }
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::config(format!("no pipeline of the config captures {db}.{table}"))),
        many => Err(Error::config(format!(
            "pipelines {} all capture {db}.{table}: choose one with --pipeline",
            many.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Waits until the pipeline's committed position is past the request and holds no copy of it.
pub async fn wait(cfg: &Config, pipeline: &str, id: u64, after: &BinlogCoord) -> Result<()> {
    let store = FileCheckpointStore::new(&cfg.pipeline_dir(pipeline));
    let started = Instant::now();
    let mut said = Instant::now();
    let mut seen = false;
    loop {
        let stored = store.load_sync()?.map(|c| c.position);
        let copy = stored.as_ref().and_then(|p| p.snapshot.as_ref()).and_then(|s| s.tables.iter().find(|t| t.request == Some(id)).cloned());
        seen |= copy.is_some();
        if let (Some(p), None) = (&stored, &copy) {
            if p.coord >= *after {
                println!("re-sync request {id} applied ({:.1}s)", started.elapsed().as_secs_f64());
                return Ok(());
            }
        }
        if said.elapsed() >= Duration::from_secs(5) {
            said = Instant::now();
            match &copy {
                Some(t) => println!("re-sync request {id}: {} rows copied so far", t.rows),
                None if !seen => println!("waiting for pipeline {pipeline} to reach request {id} (is `otter run` running with this config?)"),
                None => println!("re-sync request {id}: finishing"),
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
