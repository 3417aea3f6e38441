//! Waiting for a transaction's commit turn on a MySQL/MariaDB target (transaction mode).
//!
//! A transaction whose statements ran holds its locks while it waits for every earlier one to
//! commit ([`crate::order`]). If an earlier transaction waits for one of those locks, neither
//! would ever go on: the server sees one lock wait, the other wait is in otter. While it waits,
//! the transaction asks the server every [`POLL`] which of the pipeline's transactions wait for
//! which (`information_schema.INNODB_LOCK_WAITS`); when an earlier one waits for a later one, it
//! rolls back and runs again once its turn came ([`yielded`]). Without that view (no `PROCESS`
//! privilege, or a MySQL 8 server without the table), it yields when the earliest transaction
//! has run its statements for longer than [`PATIENCE`].
//!
//! Invariant: the wait ends with the transaction's turn (then `COMMIT` follows), with an earlier
//! transaction's final failure, or with a rollback (`Err`, the transaction is not committed).

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::{Error, ErrorKind, Result};

use crate::order::Turn;

/// How often a waiting transaction looks at the target's lock waits.
pub const POLL: Duration = Duration::from_millis(40);

/// Without a view of the lock waits: how long the earliest transaction may run its statements
/// before the later ones waiting for their turn yield to it.
pub const PATIENCE: Duration = Duration::from_secs(1);

/// The server's lock waits (requesting and blocking connection ids).
pub(crate) const LOCK_WAITS: &str = "SELECT r.trx_mysql_thread_id, b.trx_mysql_thread_id FROM information_schema.INNODB_LOCK_WAITS w \
     JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
     JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id";

/// The error of a transaction that rolled back to let an earlier one go on (retried at once).
pub fn yielded() -> Error {
    Error::new(
        ErrorKind::Sink,
        "rolled back to let an earlier transaction take a lock it held; running it again",
    )
    .transient(true)
}

/// Waits on `conn` (a transaction open, its statements run) until `turn` may commit; rolls back
/// and returns [`yielded`] when it must give way, or the earlier failure.
pub async fn wait(conn: &mut Conn, turn: &Turn) -> Result<()> {
    turn.waiting();
    let mut view = true;
    loop {
        if let Ok(r) = tokio::time::timeout(POLL, turn.my_turn()).await {
            if r.is_err() {
                let _ = conn.query_drop("ROLLBACK").await;
            }
            return r;
        }
        let give_way = if view {
            match conn.query::<(u64, u64), _>(LOCK_WAITS).await {
                Ok(waits) => turn.must_yield(&turn.bad_waits(&waits)),
                Err(e) => {
                    tracing::info!(error = %e, "Cannot read the target's lock waits (PROCESS privilege?); a transaction waiting for its commit turn gives way after a second instead.");
                    view = false;
                    false
                }
            }
        } else {
            turn.earliest_stuck(PATIENCE)
        };
        if give_way {
            let _ = conn.query_drop("ROLLBACK").await;
            return Err(yielded());
        }
    }
}
