//! The pipeline's local checkpoint store: where a pipeline resumes when its sink does not store
//! its progress with its data. The embedded default is a crash-safe file in the state directory
//! ([`FileCheckpointStore`]). Sinks that do store their progress (the MySQL loader writes it in
//! the same target transaction as the data; the JSON-lines file sink in its offset record) report
//! it through [`crate::traits::Sink::stored_position`] instead, which the pipeline asks first.
//!
//! Invariants: a saved checkpoint is either the old one or the new one after any crash (write to
//! a temporary file, fsync, rename, fsync the directory); a checkpoint is only ever saved for a
//! position whose data the sink reported durable (the pipeline's ordered acknowledgement).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::position::Position;

/// Where a pipeline's progress is stored.
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// The stored checkpoint, if any.
    async fn load(&self) -> Result<Option<Checkpoint>>;
    /// Replaces the stored checkpoint (durably before returning).
    async fn save(&self, checkpoint: &Checkpoint) -> Result<()>;
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Where to resume.
    pub position: Position,
    /// The source time (Unix seconds) the covered events bring the target up to — the commit
    /// time of the last transaction, or the receipt time of an idle heartbeat — for lag.
    #[serde(default)]
    pub source_time: u32,
    /// When the checkpoint was saved (Unix seconds).
    #[serde(default)]
    pub saved_at: u64,
}

/// A checkpoint in a JSON file, replaced atomically.
#[derive(Debug, Clone)]
pub struct FileCheckpointStore {
    path: PathBuf,
}

impl FileCheckpointStore {
    /// A store at `dir/checkpoint.json` (the directory is created when needed).
    pub fn new(dir: &Path) -> FileCheckpointStore {
        FileCheckpointStore { path: dir.join("checkpoint.json") }
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the checkpoint synchronously.
    pub fn load_sync(&self) -> Result<Option<Checkpoint>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::new(ErrorKind::State, format!("checkpoint file {} is unreadable; remove it to start from the configured position", self.path.display()))
                    .with_source(e)
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::new(ErrorKind::State, format!("cannot read {}", self.path.display())).with_source(e)),
        }
    }

    /// Writes the checkpoint synchronously and durably.
    pub fn save_sync(&self, c: &Checkpoint) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(c).map_err(|e| Error::new(ErrorKind::State, "cannot encode checkpoint").with_source(e))?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
            f.write_all(&bytes).map_err(|e| io_err(&tmp, e))?;
            f.sync_all().map_err(|e| io_err(&tmp, e))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| io_err(&self.path, e))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn io_err(p: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::State, format!("checkpoint {}", p.display())).with_source(e)
}

#[async_trait]
impl CheckpointStore for FileCheckpointStore {
    async fn load(&self) -> Result<Option<Checkpoint>> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.load_sync())
            .await
            .map_err(|e| Error::new(ErrorKind::State, "checkpoint task failed").with_source(e))?
    }

    async fn save(&self, checkpoint: &Checkpoint) -> Result<()> {
        let me = self.clone();
        let c = checkpoint.clone();
        tokio::task::spawn_blocking(move || me.save_sync(&c))
            .await
            .map_err(|e| Error::new(ErrorKind::State, "checkpoint task failed").with_source(e))?
    }
}

/// Unix time now, seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::BinlogCoord;

    #[test]
    fn round_trip_and_atomic_replace() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileCheckpointStore::new(&dir.path().join("p1"));
        assert_eq!(store.load_sync().unwrap(), None);
        let c = Checkpoint {
            position: Position { coord: BinlogCoord::new("mysql-bin.000001", 400), gtid: None, skip_rows: 0, snapshot: None, applied: None },
            source_time: 10,
            saved_at: 11,
        };
        store.save_sync(&c).unwrap();
        assert_eq!(store.load_sync().unwrap(), Some(c.clone()));
        let c2 = Checkpoint { source_time: 12, ..c };
        store.save_sync(&c2).unwrap();
        assert_eq!(store.load_sync().unwrap(), Some(c2));
        assert!(!store.path().with_extension("json.tmp").exists());
        std::fs::write(store.path(), b"{broken").unwrap();
        assert_eq!(store.load_sync().unwrap_err().kind(), ErrorKind::State);
    }
}
