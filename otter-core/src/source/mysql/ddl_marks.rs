//! DDL marks matched by session: the origin marks a loader wrote to `<marks schema>.ddl_mark`
//! right before a DDL statement, kept until that session's DDL arrives in the binlog.
//!
//! Servers log some statements rewritten, without their leading comments (`CREATE VIEW`,
//! `CREATE TRIGGER/PROCEDURE/FUNCTION/EVENT` get a `DEFINER` clause), so their comment mark is
//! lost. The loader therefore also writes a row `(conn_id = CONNECTION_ID(), origin, via, at)`
//! in the same session just before the statement; the capture remembers it per session and gives
//! it to the next DDL QUERY event whose `thread_id` is that session.
//!
//! Invariants:
//! - a pending mark belongs to one session (the binlog's 32-bit thread id) and marks at most one
//!   DDL: the next DDL QUERY event of that session takes it, whether or not that DDL needed it (a
//!   leading comment mark wins over it);
//! - it is forgotten when the session's next transaction or statement is not a DDL (a DDL the
//!   target refused is never logged, so its mark must not stick to a later statement) — as far as
//!   the binlog names sessions: QUERY events do (MySQL's `BEGIN`, statements), MariaDB's row
//!   transactions do not — when the session writes a newer mark, when the DDL comes more than
//!   [`MAX_AGE_SECS`] after it (binlog event times: a loader writes the mark and runs the DDL back
//!   to back, under one session timestamp) and when the server stops or starts (a STOP event, or
//!   the format description of a binlog file begun at the server's start: thread ids start again);
//! - a row is read by column position (`conn_id, origin, via`); a row that does not hold a valid
//!   mark is ignored.

use std::collections::HashMap;

use otter_binlog::Value;

use crate::two_way::{valid_site, Mark};

/// Seconds a pending mark stays valid (between its row event and the DDL event).
pub const MAX_AGE_SECS: u32 = 60;

/// Above this many pending marks, expired ones are pruned (sessions that died after a failed DDL).
const PRUNE_ABOVE: usize = 256;

/// Pending DDL marks per session.
#[derive(Debug, Default)]
pub struct PendingDdlMarks {
    /// Thread id -> (mark, binlog time of its row event).
    by_thread: HashMap<u32, (Mark, u32)>,
}

impl PendingDdlMarks {
    /// Remembers the mark of a `ddl_mark` row (its after image) written at binlog time `at`;
    /// returns the session it belongs to, or `None` when the row holds no valid mark.
    pub fn remember(&mut self, row: &[Value<'_>], at: u32) -> Option<u32> {
        let thread = match row.first()? {
            // The binlog's thread id is 32 bits wide: compare the low 32 bits.
            Value::Int(i) => (*i as u64 & u64::from(u32::MAX)) as u32,
            Value::UInt(u) => (*u & u64::from(u32::MAX)) as u32,
            _ => return None,
        };
        let text = |i: usize| match row.get(i) {
            Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        };
        let mark = Mark { origin: text(1)?, via: text(2)?, drop: false };
        if !valid_site(&mark.origin) || !valid_site(&mark.via) {
            return None;
        }
        if self.by_thread.len() >= PRUNE_ABOVE {
            self.by_thread.retain(|_, (_, t)| !expired(*t, at));
        }
        self.by_thread.insert(thread, (mark, at));
        Some(thread)
    }

    /// The mark for a DDL statement of session `thread` logged at binlog time `at`, consumed
    /// (`None` when the session has none, or only an expired one).
    pub fn take(&mut self, thread: u32, at: u32) -> Option<Mark> {
        let (mark, written) = self.by_thread.remove(&thread)?;
        if expired(written, at) {
            tracing::debug!(thread, written, at, "Ignoring an expired DDL mark.");
            return None;
        }
        Some(mark)
    }

    /// Session `thread` ran something other than a DDL statement: its pending mark is void.
    pub fn forget(&mut self, thread: u32) {
        self.by_thread.remove(&thread);
    }

    /// The server stopped: no session's pending mark survives.
    pub fn clear(&mut self) {
        self.by_thread.clear();
    }

    /// Number of pending marks.
    pub fn len(&self) -> usize {
        self.by_thread.len()
    }

    /// True when no mark is pending.
    pub fn is_empty(&self) -> bool {
        self.by_thread.is_empty()
    }
}

fn expired(written: u32, at: u32) -> bool {
    at.saturating_sub(written) > MAX_AGE_SECS
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn row(conn: i64, origin: &str, via: &str) -> Vec<Value<'static>> {
        vec![Value::Int(conn), Value::Bytes(Cow::Owned(origin.as_bytes().to_vec())), Value::Bytes(Cow::Owned(via.as_bytes().to_vec())), Value::Null]
    }

    fn m(origin: &str, via: &str) -> Mark {
        Mark { origin: origin.into(), via: via.into(), drop: false }
    }

    #[test]
    fn two_way_a_mark_goes_to_the_next_ddl_of_its_session_only() {
        let mut p = PendingDdlMarks::default();
        assert_eq!(p.remember(&row(7, "A", "A"), 100), Some(7));
        assert_eq!(p.remember(&row(8, "C", "B"), 100), Some(8));
        assert_eq!(p.take(9, 100), None, "another session's DDL");
        assert_eq!(p.take(7, 101), Some(m("A", "A")));
        assert_eq!(p.take(7, 101), None, "consumed by one DDL");
        assert_eq!(p.take(8, 100), Some(m("C", "B")));
        assert!(p.is_empty());
    }

    #[test]
    fn two_way_a_newer_mark_replaces_the_sessions_previous_one() {
        let mut p = PendingDdlMarks::default();
        p.remember(&row(7, "A", "A"), 100);
        p.remember(&row(7, "B", "A"), 102);
        assert_eq!(p.len(), 1);
        assert_eq!(p.take(7, 102), Some(m("B", "A")));
    }

    #[test]
    fn two_way_other_statements_of_the_session_void_its_mark() {
        let mut p = PendingDdlMarks::default();
        p.remember(&row(7, "A", "A"), 100);
        p.remember(&row(8, "A", "A"), 100);
        p.forget(7); // e.g. the session's next BEGIN: the marked DDL failed and was never logged
        assert_eq!(p.take(7, 100), None);
        assert_eq!(p.take(8, 100), Some(m("A", "A")), "other sessions keep theirs");
    }

    #[test]
    fn two_way_expired_and_pre_restart_marks_are_not_used() {
        let mut p = PendingDdlMarks::default();
        p.remember(&row(7, "A", "A"), 100);
        assert_eq!(p.take(7, 100 + MAX_AGE_SECS + 1), None);
        p.remember(&row(7, "A", "A"), 100);
        assert_eq!(p.take(7, 100 + MAX_AGE_SECS), Some(m("A", "A")));
        p.remember(&row(7, "A", "A"), 100);
        assert_eq!(p.take(7, 90), Some(m("A", "A")), "a clock that stepped back is not an expiry");
        p.remember(&row(7, "A", "A"), 100);
        p.clear();
        assert_eq!(p.take(7, 100), None);
    }

    #[test]
    fn two_way_thread_ids_compare_on_32_bits_and_bad_rows_are_ignored() {
        let mut p = PendingDdlMarks::default();
        assert_eq!(p.remember(&[Value::UInt((1 << 32) + 5), Value::Bytes(Cow::Borrowed(b"A")), Value::Bytes(Cow::Borrowed(b"B"))], 1), Some(5));
        assert_eq!(p.take(5, 1), Some(m("A", "B")));
        assert_eq!(p.remember(&row(-1, "A", "B"), 1), Some(u32::MAX));
        assert_eq!(p.remember(&row(3, "", "B"), 1), None);
        assert_eq!(p.remember(&row(3, "A", "b c"), 1), None);
        assert_eq!(p.remember(&[Value::Null, Value::Null, Value::Null], 1), None);
        assert_eq!(p.remember(&row(3, "A", "B")[..2], 1), None);
        assert_eq!(p.take(3, 1), None);
    }

    #[test]
    fn two_way_expired_marks_of_dead_sessions_are_pruned() {
        let mut p = PendingDdlMarks::default();
        for conn in 0..PRUNE_ABOVE as i64 {
            p.remember(&row(conn, "A", "A"), 100);
        }
        p.remember(&row(10_000, "A", "A"), 100 + MAX_AGE_SECS + 1);
        assert_eq!(p.len(), 1);
        assert_eq!(p.take(10_000, 100 + MAX_AGE_SECS + 1), Some(m("A", "A")));
    }
}
