//! One replica per server id: before a binlog dump starts, its connection takes a named lock for
//! its server id on the source, held for as long as the dump runs.
//!
//! Why: MariaDB and MySQL end the *older* dump when a second replica registers with the same
//! server id, so a second otter started by mistake (or two configs with one `server_id`) would
//! silently kill the first one's stream. With the lock, the second one learns that the id is in
//! use and fails with a clear error instead, and the first keeps running.
//!
//! Invariants: the lock `otter.server_id.<id>` lives and dies with the dump's session (a dead
//! process frees it as soon as the server notices); next to it the session holds
//! `otter.replica.<hash of the capture's owner>`. When the id's lock is held by a session that
//! also holds *our* owner lock, that session is a leftover of this owner (a previous connection,
//! the process before a kill -9 and restart, or a holder that lost the pipeline — the owner is
//! exclusive: a state directory's lock on one machine, the target's lease across machines) and is
//! killed instead of waited for. A replica that is not an otter takes no lock; the server's own
//! "same server id" error covers it.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::mysql::conn::{server_code, translate};
use crate::error::{Error, ErrorKind, Result};

/// How long a server id in use by another session is waited for before it is reported.
const WAIT: Duration = Duration::from_secs(2);

/// The lock an otter dump holds for `server_id`.
pub fn server_id_lock(server_id: u32) -> String {
    format!("otter.server_id.{server_id}")
}

fn names(server_id: u32, identity: &str) -> (String, String) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in identity.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (server_id_lock(server_id), format!("otter.replica.{h:016x}"))
}

fn err(e: mysql_async::Error) -> Error {
    translate(e, "claiming the server id on the source")
}

/// Takes the server-id lock on `conn` (the connection about to start the dump), killing a
/// leftover session of this instance; fails with [`ErrorKind::ServerIdConflict`] when another
/// session streams with `server_id`.
pub async fn claim(conn: &mut Conn, server_id: u32, identity: &str) -> Result<()> {
    let (id_lock, me_lock) = names(server_id, identity);
    let got: Option<Option<i64>> = conn.exec_first("SELECT GET_LOCK(?, 0)", (id_lock.as_str(),)).await.map_err(err)?;
    if got.flatten() != Some(1) {
        let holders: Option<(Option<u64>, Option<u64>)> =
            conn.exec_first("SELECT IS_USED_LOCK(?), IS_USED_LOCK(?)", (id_lock.as_str(), me_lock.as_str())).await.map_err(err)?;
        let (holder, leftover) = holders.unwrap_or((None, None));
        if let Some(h) = holder.filter(|h| Some(*h) == leftover) {
            tracing::info!(server_id, connection = h, "Ending a leftover binlog dump of this instance on the source.");
            match conn.query_drop(format!("KILL CONNECTION {h}")).await {
                Ok(()) => {}
                Err(e) if server_code(&e) == Some(1094) => {}
                Err(e) => tracing::warn!(server_id, connection = h, error = %translate(e, "source"), "Cannot end the leftover dump; waiting for it."),
            }
        }
        let got: Option<Option<i64>> = conn.exec_first("SELECT GET_LOCK(?, ?)", (id_lock.as_str(), WAIT.as_secs())).await.map_err(err)?;
        if got.flatten() != Some(1) {
            let host: Option<Option<String>> = match holder {
                Some(h) => conn.exec_first("SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = ?", (h,)).await.map_err(err)?,
                None => None,
            };
            let from = host.flatten().map_or_else(String::new, |h| format!(", from {h}"));
            return Err(Error::new(
                ErrorKind::ServerIdConflict,
                format!(
                    "server id {server_id} is already streaming from this server (another otter: connection {}{from}); \
                     give each pipeline its own server_id, or leave server_id unset (the default differs per instance)",
                    holder.map_or_else(|| "?".into(), |h| h.to_string())
                ),
            ));
        }
    }
    conn.exec_drop("DO GET_LOCK(?, 0)", (me_lock.as_str(),)).await.map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_fit_the_server_limit() {
        let (a, b) = names(u32::MAX, &"x".repeat(500));
        assert!(a.len() <= 64 && b.len() <= 64, "{a} {b}");
        assert_ne!(names(1, "a").1, names(1, "b").1);
    }
}
