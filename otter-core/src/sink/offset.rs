//! The offset sidecar of a JSON-lines file, `PATH.otter-offset`: the file's length after the last
//! batch that ended at a resumable position, and that position.
//!
//! Protocol (exactly once across crashes): a batch's lines are appended and flushed (fsynced with
//! `sync`) *before* the sidecar is replaced — written to `PATH.otter-offset.tmp`, fsynced,
//! renamed over the sidecar, the directory fsynced. On open the data file is cut back to the
//! recorded length, removing lines that were written but whose batch was never recorded. So the
//! file always holds exactly the changes before the recorded position.
//!
//! Invariants: the sidecar is always either the old or the new record (atomic rename); the
//! recorded length never exceeds the file's length (a file shorter than its record was damaged
//! outside otter and is reported, never silently accepted).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::position::Position;

/// The sidecar's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Offset {
    /// Length of the data file covering exactly the changes before `position`.
    pub len: u64,
    /// Where to resume; `None` before the first recorded batch.
    pub position: Option<Position>,
}

/// `PATH.otter-offset`.
pub(crate) fn sidecar_path(data: &Path) -> PathBuf {
    let mut s = data.as_os_str().to_owned();
    s.push(".otter-offset");
    PathBuf::from(s)
}

fn state_err(what: String, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::State, what).with_source(e)
}

/// Reads the sidecar of `data`; `None` when there is none.
pub(crate) fn read(data: &Path) -> Result<Option<Offset>> {
    let path = sidecar_path(data);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            state_err(format!("offset file {} is unreadable; move it and {} aside to start a new file", path.display(), data.display()), e)
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(state_err(format!("cannot read {}", path.display()), e)),
    }
}

/// Atomically replaces the sidecar of `data` (durably when `sync`).
pub(crate) fn write(data: &Path, offset: &Offset, sync: bool) -> Result<()> {
    let path = sidecar_path(data);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let bytes = serde_json::to_vec(offset).map_err(|e| state_err("cannot encode the offset record".into(), e))?;
    {
        let mut f = File::create(&tmp).map_err(|e| state_err(format!("cannot create {}", tmp.display()), e))?;
        f.write_all(&bytes).map_err(|e| state_err(format!("cannot write {}", tmp.display()), e))?;
        if sync {
            f.sync_all().map_err(|e| state_err(format!("cannot sync {}", tmp.display()), e))?;
        }
    }
    std::fs::rename(&tmp, &path).map_err(|e| state_err(format!("cannot replace {}", path.display()), e))?;
    if sync {
        sync_dir(&path);
    }
    Ok(())
}

/// Fsyncs the directory holding `path` (best effort: not every platform allows it).
pub(crate) fn sync_dir(path: &Path) {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Brings `file` (the data file at `data`) in line with its sidecar: cuts what lies beyond the
/// recorded length, or, without a sidecar, records the current length (with no position). Returns
/// the record.
pub(crate) fn repair(data: &Path, file: &File, sync: bool) -> Result<Offset> {
    let len = file.metadata().map_err(|e| state_err(format!("cannot stat {}", data.display()), e))?.len();
    let Some(offset) = read(data)? else {
        let offset = Offset { len, position: None };
        write(data, &offset, sync)?;
        return Ok(offset);
    };
    if len < offset.len {
        return Err(Error::new(
            ErrorKind::State,
            format!(
                "{} has {len} bytes but its offset file records {}: it was truncated or replaced outside otter; \
                 move both files aside to start a new one",
                data.display(),
                offset.len
            ),
        ));
    }
    if len > offset.len {
        tracing::warn!(file = %data.display(), recorded = offset.len, found = len, "Cutting lines written after the last recorded position (an interrupted batch); they will be written again.");
        file.set_len(offset.len).map_err(|e| state_err(format!("cannot truncate {}", data.display()), e))?;
        if sync {
            file.sync_all().map_err(|e| state_err(format!("cannot sync {}", data.display()), e))?;
        }
    }
    Ok(offset)
}
