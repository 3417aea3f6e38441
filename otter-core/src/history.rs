//! Schema history: every change to the captured tables' schemas, keyed by the binlog position
//! where it took effect, persisted so that a restart — or a replay from an old position — sees
//! each table exactly as it was at each event.
//!
//! Storage is an append-only JSON-lines file (`schema-history.jsonl` in the state directory); each
//! line is one [`Entry`]. A catalog as of position `P` is rebuilt by applying, in order, every
//! entry whose coordinate is at or before `P`.
//!
//! Invariants:
//! - entries are appended (and fsync'ed) before the events they describe are handed out;
//! - entries of one coordinate are written together and replayed together; a DDL met again
//!   during a replay is not re-parsed: its recorded entries are applied instead, so history never
//!   forks;
//! - a torn last line (crash while appending) is ignored on load: its DDL is simply met again.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::position::BinlogCoord;
use crate::schema::{Catalog, TableSchema};

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A table's schema from this point on.
    Put {
        /// The schema.
        table: Box<TableSchema>,
    },
    /// A table no longer exists (dropped or renamed away).
    Drop {
        /// Database.
        db: String,
        /// Table.
        table: String,
    },
    /// A database exists with these defaults.
    PutDatabase {
        /// Database.
        db: String,
        /// Default character set.
        charset: String,
        /// Default collation.
        collation: String,
    },
    /// A database and its tables are gone.
    DropDatabase {
        /// Database.
        db: String,
    },
    /// Everything known so far is unreliable (an unparsable DDL): reload tables from the server.
    Reset,
}

/// An entry: a change and where it took effect (the end of the event that caused it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position after the event that caused the change.
    pub at: String,
    /// The change.
    #[serde(flatten)]
    pub op: Op,
}

/// The persisted history of one source.
#[derive(Debug)]
pub struct SchemaHistory {
    path: Option<PathBuf>,
    file: Option<File>,
    entries: BTreeMap<BinlogCoord, Vec<Op>>,
}

impl SchemaHistory {
    /// An in-memory history (nothing persisted).
    pub fn in_memory() -> SchemaHistory {
        SchemaHistory { path: None, file: None, entries: BTreeMap::new() }
    }

    /// Opens (or creates) the history file in `dir`.
    pub fn open(dir: &Path) -> Result<SchemaHistory> {
        std::fs::create_dir_all(dir).map_err(|e| state_err(dir, e))?;
        let path = dir.join("schema-history.jsonl");
        let mut entries: BTreeMap<BinlogCoord, Vec<Op>> = BTreeMap::new();
        if path.exists() {
            let f = File::open(&path).map_err(|e| state_err(&path, e))?;
            for (n, line) in BufReader::new(f).lines().enumerate() {
                let line = line.map_err(|e| state_err(&path, e))?;
                match serde_json::from_str::<Entry>(&line) {
                    Ok(e) => {
                        let at: BinlogCoord = e.at.parse()?;
                        entries.entry(at).or_default().push(e.op);
                    }
                    // A torn last line from a crash while appending: its DDL will be met again.
                    Err(_) if line.trim().is_empty() => {}
                    Err(e) => {
                        tracing::warn!(path = %path.display(), line = n + 1, error = %e, "Ignoring an unreadable schema history line.");
                    }
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| state_err(&path, e))?;
        Ok(SchemaHistory { path: Some(path), file: Some(file), entries })
    }

    /// Opens the history in `dir` recorded from the server named `server` (its server id or
    /// uuid). A history recorded from another server (the source failed over, or the URL now
    /// names another server) is keyed by that server's binlog coordinates, which mean nothing
    /// here: it is set aside (renamed, kept for a person) and a new one starts; tables are then
    /// read from the server as their first rows arrive.
    pub fn open_for_server(dir: &Path, server: &str) -> Result<SchemaHistory> {
        std::fs::create_dir_all(dir).map_err(|e| state_err(dir, e))?;
        let marker = dir.join("source-server");
        let recorded = std::fs::read_to_string(&marker).ok().map(|s| s.trim().to_owned());
        let path = dir.join("schema-history.jsonl");
        if let Some(old) = recorded.filter(|old| old != server) {
            if path.exists() {
                let aside = dir.join(format!("schema-history.server-{}.{}.jsonl", old.replace(['/', '.'], "_"), crate::checkpoint::unix_now()));
                std::fs::rename(&path, &aside).map_err(|e| state_err(&path, e))?;
                tracing::warn!(old_server = %old, new_server = %server, kept_in = %aside.display(), "The schema history was recorded from another source server; starting a new one (tables are read from this server).");
            }
        }
        std::fs::write(&marker, server).map_err(|e| state_err(&marker, e))?;
        SchemaHistory::open(dir)
    }

    /// Number of coordinates with recorded changes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The changes recorded at exactly `at`, if any (a DDL seen before).
    pub fn at(&self, at: &BinlogCoord) -> Option<&[Op]> {
        self.entries.get(at).map(Vec::as_slice)
    }

    /// Records the changes caused at `at` (durably, before returning).
    pub fn record(&mut self, at: &BinlogCoord, ops: Vec<Op>) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        if let Some(f) = self.file.as_mut() {
            let mut buf = Vec::new();
            for op in &ops {
                serde_json::to_writer(&mut buf, &Entry { at: at.to_string(), op: op.clone() })
                    .map_err(|e| Error::new(ErrorKind::State, "cannot encode schema history").with_source(e))?;
                buf.push(b'\n');
            }
            let path = self.path.clone().unwrap_or_default();
            f.write_all(&buf).map_err(|e| state_err(&path, e))?;
            f.sync_data().map_err(|e| state_err(&path, e))?;
        }
        self.entries.entry(at.clone()).or_default().extend(ops);
        Ok(())
    }

    /// Applies every change at or before `upto` to `catalog` (which should start empty).
    pub fn rebuild(&self, catalog: &mut Catalog, upto: &BinlogCoord) {
        for (_, ops) in self.entries.range(..=upto.clone()) {
            for op in ops {
                apply(catalog, op);
            }
        }
    }
}

/// Applies one recorded change to a catalog.
pub fn apply(catalog: &mut Catalog, op: &Op) {
    match op {
        Op::Put { table } => catalog.put_table((**table).clone()),
        Op::Drop { db, table } => {
            catalog.drop_table(db, table);
        }
        Op::PutDatabase { db, charset, collation } => catalog.put_database(db, charset, collation),
        Op::DropDatabase { db } => {
            catalog.drop_database(db);
        }
        Op::Reset => {
            let tables: Vec<(String, String)> = catalog.tables().map(|t| (t.db.clone(), t.name.clone())).collect();
            for (db, t) in tables {
                catalog.drop_table(&db, &t);
            }
        }
    }
}

fn state_err(path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::State, format!("schema history {}", path.display())).with_source(e)
}
