//! Who runs a pipeline: the identity of this process ([`Holder`]) and an exclusive lock on a local
//! resource ([`InstanceLock`]: a state directory, an output file) so that a second process started
//! by mistake fails at once, naming the first, instead of writing into the same files.
//!
//! Invariants: the lock is an OS file lock (`flock`) held by an open file of this process, so it
//! is released by the kernel the instant the process ends for any reason (kill -9 included) and
//! can never be left behind by a dead process; the lock file only *describes* the holder (for the
//! message) — it is never what decides. Locks are per machine: between machines, the target's
//! lease and fencing epoch decide (see `otter_load::mysql::fence`).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::checkpoint::unix_now;
use crate::error::{Error, ErrorKind, Result};
use crate::position::format_rfc3339;

/// This process, as other instances and operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The machine's host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// When the process took the resource (Unix seconds).
    pub since: u64,
}

impl Holder {
    /// This process, now.
    pub fn current() -> Holder {
        Holder { host: host_name(), pid: std::process::id(), since: unix_now() }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = i64::try_from(self.since).unwrap_or(i64::MAX);
        write!(f, "pid {} on host {} since {}", self.pid, self.host, format_rfc3339(since))
    }
}

/// The machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `localhost`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// An exclusive lock on a local resource, held until dropped (or the process ends).
#[derive(Debug)]
pub struct InstanceLock {
    path: PathBuf,
    _file: File,
}

impl InstanceLock {
    /// Takes the lock file `path` (created when missing), or fails with
    /// [`ErrorKind::AlreadyRunning`] naming the process that holds it. `what` says what the lock
    /// protects, for the message (e.g. `pipeline a_to_b (state directory ./otter-state/a_to_b)`).
    pub fn acquire(path: &Path, what: &str) -> Result<InstanceLock> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::new(ErrorKind::State, format!("cannot create {}", dir.display())).with_source(e))?;
        }
        let io = |e: std::io::Error| Error::new(ErrorKind::State, format!("lock file {}", path.display())).with_source(e);
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = text.trim();
                let holder = if holder.is_empty() { "another process" } else { holder };
                return Err(Error::new(
                    ErrorKind::AlreadyRunning,
                    format!(
                        "{what} is already in use by {holder} (lock {}): another otter runs it; stop that one first \
                         (two processes must not write the same state)",
                        path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let me = Holder::current().to_string();
        file.set_len(0).and_then(|_| file.seek(SeekFrom::Start(0))).and_then(|_| file.write_all(me.as_bytes())).map_err(io)?;
        Ok(InstanceLock { path: path.to_owned(), _file: file })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_a_dropped_one_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p").join("lock");
        let first = InstanceLock::acquire(&path, "pipeline p").unwrap();
        let e = InstanceLock::acquire(&path, "pipeline p").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyRunning);
        let me = format!("pid {} on host {}", std::process::id(), host_name());
        assert!(e.to_string().contains(&me) && e.to_string().contains("pipeline p is already in use"), "{e}");
        drop(first);
        let again = InstanceLock::acquire(&path, "pipeline p").unwrap();
        assert_eq!(again.path(), path);
    }
}
