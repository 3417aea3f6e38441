//! Commit order for `consistency = "transaction"`: source transactions run on several writers at
//! once but commit one after the other, in source order.
//!
//! Every source transaction gets a sequence number and a [`Turn`]: it may *start* once the
//! transaction it depends on (the newest earlier one sharing a write-set entry, or the one before
//! it for a barrier) has committed, and it may *commit* only once the one right before it has
//! committed. The [`Sequencer`] holds the newest committed number, which only grows by one.
//!
//! Invariants:
//! - commits follow the source order exactly, so what the target has committed is always a prefix
//!   of the source's transactions: the checkpoint stays monotone, and a reader never sees a state
//!   the source never had;
//! - no wait can last for ever: the lowest uncommitted transaction has nothing earlier to wait for,
//!   and a later transaction holding a lock it waits for is made to roll back and run again
//!   after it (see [`Turn::bad_waits`], used by the target while a transaction waits for its turn);
//! - after a transaction fails for good, every waiter fails too ([`Sequencer::fail`]): no writer
//!   is left waiting for a commit that will never come.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use otter_core::{Error, ErrorKind, Result};
use parking_lot::Mutex;
use tokio::sync::watch;

/// What the writers of one pipeline share about the transactions in flight.
#[derive(Debug)]
pub struct Sequencer {
    committed: watch::Sender<u64>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// In-flight transactions by sequence number.
    flight: BTreeMap<u64, Flight>,
    /// The first failure: what it said, its kind and whether retrying may cure it (every waiter
    /// reports it as such, so that the pipeline can tell e.g. [`ErrorKind::Replay`] apart).
    failed: Option<(String, ErrorKind, bool)>,
}

#[derive(Debug, Clone, Copy)]
struct Flight {
    /// The target connection running it (its `CONNECTION_ID()`), once known.
    conn: Option<u64>,
    /// Its statements ran; it waits for its turn to commit.
    waiting: bool,
    since: Instant,
}

impl Sequencer {
    /// A sequencer whose transactions are numbered from `first` on.
    pub fn new(first: u64) -> Arc<Sequencer> {
        let (committed, _) = watch::channel(first.saturating_sub(1));
        Arc::new(Sequencer {
            committed,
            state: Mutex::default(),
        })
    }

    /// The newest committed sequence number.
    pub fn committed(&self) -> u64 {
        *self.committed.borrow()
    }

    /// Wakes every waiter with an error: transaction `seq` failed for good with `e`.
    pub fn fail(&self, seq: u64, e: &Error) {
        let mut s = self.state.lock();
        if s.failed.is_none() {
            s.failed = Some((format!("transaction {seq} failed: {}", e.message()), e.kind(), e.is_transient()));
        }
        drop(s);
        self.committed.send_modify(|_| {});
    }

    /// Waits until transaction `n` (and so every one before it) has committed.
    pub async fn wait_committed(&self, n: u64) -> Result<()> {
        let mut rx = self.committed.subscribe();
        loop {
            if let Some((why, kind, transient)) = &self.state.lock().failed {
                return Err(Error::new(*kind, format!("stopped: an earlier {why}")).transient(*transient));
            }
            if *rx.borrow_and_update() >= n {
                return Ok(());
            }
            if rx.changed().await.is_err() {
                return Err(Error::new(ErrorKind::Sink, "the loader stopped"));
            }
        }
    }
}

/// One transaction's place in the commit order.
#[derive(Debug, Clone)]
pub struct Turn {
    /// Its sequence number (the source order).
    pub seq: u64,
    /// The transaction it must wait for before it starts (`seq - 1` for a barrier).
    pub after: u64,
    seqr: Arc<Sequencer>,
}

/// A wait between two of the pipeline's transactions that the commit order turns into a
/// deadlock: `requester` (earlier) waits for a lock `blocker` (later) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadWait {
    /// The earlier transaction, waiting.
    pub requester: u64,
    /// The later transaction, holding the lock.
    pub blocker: u64,
}

impl Turn {
    /// Transaction `seq`, startable once `after` committed.
    pub fn new(seqr: &Arc<Sequencer>, seq: u64, after: u64) -> Turn {
        Turn {
            seq,
            after: after.min(seq.saturating_sub(1)),
            seqr: Arc::clone(seqr),
        }
    }

    /// The sequencer.
    pub fn sequencer(&self) -> &Arc<Sequencer> {
        &self.seqr
    }

    /// Waits until the transaction may start, and marks it in flight.
    pub async fn start(&self) -> Result<()> {
        self.seqr.wait_committed(self.after).await?;
        self.seqr.state.lock().flight.insert(
            self.seq,
            Flight {
                conn: None,
                waiting: false,
                since: Instant::now(),
            },
        );
        Ok(())
    }

    /// True when every earlier transaction has committed (this one runs alone in the order).
    pub fn is_next(&self) -> bool {
        self.seqr.committed() + 1 >= self.seq
    }

    /// Records the target connection that runs the transaction (for [`Turn::bad_waits`]) and that
    /// its statements are running.
    pub fn running_on(&self, conn: u64) {
        if let Some(f) = self.seqr.state.lock().flight.get_mut(&self.seq) {
            f.conn = Some(conn);
            f.waiting = false;
            f.since = Instant::now();
        }
    }

    /// Marks that the statements ran and the transaction waits for its turn to commit.
    pub fn waiting(&self) {
        if let Some(f) = self.seqr.state.lock().flight.get_mut(&self.seq) {
            f.waiting = true;
        }
    }

    /// Waits until every earlier transaction committed (its turn to commit).
    pub async fn my_turn(&self) -> Result<()> {
        self.seqr.wait_committed(self.seq.saturating_sub(1)).await
    }

    /// Records the commit: the next transaction may commit.
    pub fn committed(&self) {
        self.seqr.state.lock().flight.remove(&self.seq);
        self.seqr.committed.send_if_modified(|c| {
            if *c < self.seq {
                *c = self.seq;
                true
            } else {
                false
            }
        });
    }

    /// Takes the transaction out of flight after a failed attempt (it runs again later).
    pub fn rolled_back(&self) {
        if let Some(f) = self.seqr.state.lock().flight.get_mut(&self.seq) {
            f.conn = None;
            f.waiting = false;
        }
    }

    /// Fails every waiter: this transaction failed for good with `e`.
    pub fn fail(&self, e: &Error) {
        self.seqr.fail(self.seq, e);
    }

    /// The sequence number of the in-flight transaction running on target connection `conn`.
    fn seq_of(&self, conn: u64) -> Option<u64> {
        self.seqr
            .state
            .lock()
            .flight
            .iter()
            .find(|(_, f)| f.conn == Some(conn))
            .map(|(s, _)| *s)
    }

    /// Among `waits` (requesting, blocking connection ids, as the target reports its lock waits),
    /// the ones where an earlier transaction of this pipeline waits for a later one; this
    /// transaction must yield (roll back and run again after its turn came) when it is later than
    /// such a requester: the requester cannot go on while a later transaction holds its locks.
    pub fn bad_waits(&self, waits: &[(u64, u64)]) -> Vec<BadWait> {
        waits
            .iter()
            .filter_map(|&(r, b)| {
                Some(BadWait {
                    requester: self.seq_of(r)?,
                    blocker: self.seq_of(b)?,
                })
            })
            .filter(|w| w.requester < w.blocker)
            .collect()
    }

    /// True when this transaction should yield given `bad` waits.
    pub fn must_yield(&self, bad: &[BadWait]) -> bool {
        bad.iter().any(|w| w.requester < self.seq)
    }

    /// Without a view of the target's lock waits: true when the lowest in-flight transaction
    /// has run its statements for longer than `patience` while this one waits for its turn
    /// (it may be waiting for one of this transaction's locks; yielding costs only a re-run).
    pub fn earliest_stuck(&self, patience: std::time::Duration) -> bool {
        let s = self.seqr.state.lock();
        s.flight
            .iter()
            .next()
            .is_some_and(|(&seq, f)| seq < self.seq && !f.waiting && f.since.elapsed() > patience)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commits_in_order_and_waiters_fail_with_an_earlier_failure() {
        let s = Sequencer::new(1);
        let t1 = Turn::new(&s, 1, 0);
        let t2 = Turn::new(&s, 2, 0);
        let t3 = Turn::new(&s, 3, 1);
        t1.start().await.unwrap();
        t2.start().await.unwrap();
        assert!(t1.is_next() && !t2.is_next());
        let waiter = tokio::spawn({
            let t2 = t2.clone();
            async move { t2.my_turn().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        t1.committed();
        waiter.await.unwrap().unwrap();
        assert_eq!(s.committed(), 1);
        // t3 may start (it depends on 1) but not commit before 2.
        t3.start().await.unwrap();
        let w3 = tokio::spawn({
            let t3 = t3.clone();
            async move { t3.my_turn().await }
        });
        t2.fail(&Error::new(ErrorKind::Server, "duplicate key"));
        // Every waiter fails with the failure's kind (the pipeline decides by it).
        assert_eq!(w3.await.unwrap().unwrap_err().kind(), ErrorKind::Server);
        assert!(Turn::new(&s, 4, 3).start().await.is_err());
    }

    #[tokio::test]
    async fn an_earlier_transaction_waiting_for_a_later_one_makes_later_ones_yield() {
        let s = Sequencer::new(10);
        let turns: Vec<Turn> = (10..14).map(|n| Turn::new(&s, n, 0)).collect();
        for (i, t) in turns.iter().enumerate() {
            t.start().await.unwrap();
            t.running_on(100 + i as u64);
        }
        // 11 waits for a lock 13 holds; 10 waits for 12 (later too); 12 waits for 10 is normal.
        let waits = [(101, 103), (102, 100), (999, 103)];
        let bad = turns[0].bad_waits(&waits);
        assert_eq!(
            bad,
            vec![BadWait {
                requester: 11,
                blocker: 13
            }]
        );
        assert!(!turns[0].must_yield(&bad) && !turns[1].must_yield(&bad));
        assert!(turns[2].must_yield(&bad) && turns[3].must_yield(&bad));
        // A commit takes the transaction out of flight.
        turns[0].committed();
        assert!(turns[1].bad_waits(&[(100, 101)]).is_empty());
    }
}
