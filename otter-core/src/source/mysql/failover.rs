//! Source failover: when the source is gone, continue from a promoted replica — by GTID, and only
//! from one that holds every transaction otter already read.
//!
//! The source may list `failover` servers (replicas writing their own binlog, `log_slave_updates`,
//! which a person or a failover tool promotes). A server is taken as the new source only when it
//! - answers,
//! - is promoted: no replication thread of it runs (a replica still following the old primary is
//!   left alone, so a primary that is briefly down never makes otter switch to its replica), and
//!   it is writable (`read_only` off),
//! - holds every transaction of otter's position in its binlog: for MariaDB, per GTID domain, its
//!   `@@gtid_binlog_pos` reaches otter's sequence number; for MySQL, its `@@gtid_executed`
//!   contains otter's GTID set. One that lacks some is **refused, naming the missing GTIDs**: it
//!   would make otter skip what it already applied or apply a history the target never had.
//!
//! Invariants: the switch happens only after the source stayed unreachable for
//! `failover_after_secs`; the new source is read from the position's GTID (file positions of two
//! servers mean nothing to each other), with the strict GTID mode, so the server itself refuses a
//! GTID it does not have; nothing of this decides on this machine's clock or guesses.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::error::{Error, ErrorKind, Result};
use crate::mysql::conn::{variable, ConnectOptions, ServerInfo};
use crate::schema::Flavor;
use crate::position::{GtidSet, GtidState, MariadbGtidPos, Position};

use super::MysqlSourceConfig;

/// What a failover server is, now.
#[derive(Debug)]
pub enum Verdict {
    /// It can be the source.
    Ready,
    /// It cannot now (unreachable, still a replica, read-only): why.
    NotNow(String),
    /// It is promoted but lacks transactions otter already read: the missing GTIDs.
    Behind(Vec<String>),
}

/// Looks at one failover server; `ours` is otter's GTID position (`None`: unknown, then any
/// promoted server is taken — there is nothing to compare).
pub async fn assess(opts: &ConnectOptions, ours: Option<&GtidState>) -> Verdict {
    let mut conn = match tokio::time::timeout(Duration::from_secs(10), opts.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Verdict::NotNow(format!("unreachable: {e}")),
        Err(_) => return Verdict::NotNow("unreachable: no answer within 10 s".into()),
    };
    match judge(&mut conn, ours).await {
        Ok(v) => v,
        Err(e) => Verdict::NotNow(format!("cannot be read: {e}")),
    }
}

async fn judge(conn: &mut Conn, ours: Option<&GtidState>) -> Result<Verdict> {
    let server = ServerInfo::query(conn).await?;
    if let Some(running) = replicating(conn).await? {
        return Ok(Verdict::NotNow(format!("still a replica ({running}): not promoted")));
    }
    if variable(conn, "global.read_only").await?.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("on")) {
        return Ok(Verdict::NotNow("read_only is on: not promoted".into()));
    }
    let missing = match (ours, server.flavor) {
        (None, _) => Vec::new(),
        (Some(GtidState::Mariadb(pos)), Flavor::MariaDb) => {
            let theirs: MariadbGtidPos = variable(conn, "global.gtid_binlog_pos").await?.unwrap_or_default().parse()?;
            missing_mariadb(pos, &theirs)
        }
        (Some(GtidState::Mysql(set)), Flavor::MySql) => {
            let theirs: GtidSet = variable(conn, "global.gtid_executed").await?.unwrap_or_default().replace('\n', "").parse()?;
            missing_mysql(set, &theirs)
        }
        (Some(_), _) => return Ok(Verdict::NotNow("another server kind than the source (MySQL and MariaDB GTIDs do not compare)".into())),
    };
    Ok(if missing.is_empty() { Verdict::Ready } else { Verdict::Behind(missing) })
}

/// `Some(which)` while a replication thread of the server runs (MariaDB: any connection).
async fn replicating(conn: &mut Conn) -> Result<Option<String>> {
    let rows: Vec<mysql_async::Row> = match conn.query("SHOW ALL SLAVES STATUS").await {
        Ok(r) => r,
        // MySQL: one channel set.
        Err(_) => conn.query("SHOW SLAVE STATUS").await.map_err(|e| crate::mysql::conn::translate(e, "SHOW SLAVE STATUS"))?,
    };
    for row in rows {
        let get = |name: &str| -> String {
            row.columns_ref().iter().position(|c| c.name_str() == name).and_then(|i| row.get::<Option<String>, _>(i).flatten()).unwrap_or_default()
        };
        let (io, sql) = (get("Slave_IO_Running"), get("Slave_SQL_Running"));
        if io.eq_ignore_ascii_case("yes") || io.eq_ignore_ascii_case("connecting") || sql.eq_ignore_ascii_case("yes") {
            return Ok(Some(format!("IO thread {io}, SQL thread {sql}")));
        }
    }
    Ok(None)
}

/// The GTIDs of `ours` a server at `theirs` lacks, per domain as a range of sequence numbers.
pub fn missing_mariadb(ours: &MariadbGtidPos, theirs: &MariadbGtidPos) -> Vec<String> {
    let mut out = Vec::new();
    for g in ours.gtids() {
        let have = theirs.get(g.domain_id).map_or(0, |t| t.seq_no);
        if have < g.seq_no {
            let first = have + 1;
            out.push(if first == g.seq_no {
                format!("{}-{}-{}", g.domain_id, g.server_id, g.seq_no)
            } else {
                format!("{}-?-{first} .. {}-{}-{} ({} transactions of domain {})", g.domain_id, g.domain_id, g.server_id, g.seq_no, g.seq_no - have, g.domain_id)
            });
        }
    }
    out
}

/// The GTIDs of `ours` a server with `theirs` executed lacks.
pub fn missing_mysql(ours: &GtidSet, theirs: &GtidSet) -> Vec<String> {
    let lacking = ours.difference(theirs);
    if lacking.is_empty() {
        Vec::new()
    } else {
        vec![lacking.to_string()]
    }
}

/// The error of a failover that found only servers lacking transactions otter read.
fn behind_error(url: &str, missing: &[String]) -> Error {
    Error::new(
        ErrorKind::SourceBehind,
        format!(
            "the promoted server {url} lacks transactions otter already read and applied: {}. Continuing from it would lose them \
             on the target or fork its history. Promote the replica that has them (or bring the old primary back), or \
             re-sync the target from this server (`otter resync`) and start again",
            missing.join(", ")
        ),
    )
}

/// The first server of `url` and `failover` that can be the source now (`Ok(None)`: none, each one's reason
/// logged); an error when the only promoted ones lack transactions of `ours`.
/// `current` (the server read until now) is not a candidate; the configured `url` is one after a
/// failover (it may be back, promoted again).
pub async fn choose(config: &MysqlSourceConfig, current: &ConnectOptions, ours: Option<&GtidState>) -> Result<Option<(ConnectOptions, String)>> {
    let mut behind: Option<Error> = None;
    for url in std::iter::once(&config.url).chain(&config.failover) {
        let opts = ConnectOptions::new(url, &config.tls)?;
        if opts.display_url() == current.display_url() {
            continue;
        }
        match assess(&opts, ours).await {
            Verdict::Ready => {
                tracing::info!(server = %opts.display_url(), position = %ours.map_or_else(|| "-".to_owned(), ToString::to_string), "Failover server ready: promoted, with every transaction of the position.");
                return Ok(Some((opts.clone(), opts.display_url())));
            }
            Verdict::NotNow(why) => tracing::info!(server = %opts.display_url(), reason = %why, "Failover server not taken."),
            Verdict::Behind(missing) => {
                tracing::error!(server = %opts.display_url(), missing = %missing.join(", "), "A promoted failover server lacks transactions otter already read; not taking it.");
                behind.get_or_insert_with(|| behind_error(&opts.display_url(), &missing));
            }
        }
    }
    match behind {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// Connects to the source; when it cannot be reached and failover servers are configured,
/// to the first of them that can be the source for a capture at `ours` (see [`choose`]).
/// Returns the connection options in use and a control connection.
pub async fn connect(config: &MysqlSourceConfig, ours: Option<&GtidState>) -> Result<(ConnectOptions, Conn)> {
    let primary = ConnectOptions::new(&config.url, &config.tls)?;
    let first = primary.connect().await;
    match first {
        Ok(c) => Ok((primary, c)),
        Err(e) if e.is_transient() && !config.failover.is_empty() => match choose(config, &primary, ours).await? {
            Some((opts, url)) => {
                tracing::warn!(source = %primary.display_url(), error = %e, new_source = %url, "The source is unreachable; continuing from a promoted failover server that holds every transaction already read.");
                let conn = opts.connect().await?;
                Ok((opts, conn))
            }
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// How long the source has been unreachable; decides on failover when that lasted long enough.
#[derive(Debug)]
pub struct Down {
    since: Option<Instant>,
    after: Duration,
    /// GTIDs the target held when the capture started (beyond its resume point).
    held: Option<GtidState>,
}

impl Down {
    /// Nothing failed yet; `held`: the GTIDs the target may hold beyond the capture's start.
    pub fn new(config: &MysqlSourceConfig, held: Option<GtidState>) -> Down {
        Down { since: None, after: Duration::from_secs(config.failover_after_secs.max(1)), held }
    }

    /// After a replication session ended with an error (`delivered`: it read something first,
    /// so the source was there). Once the source stayed unreachable for `failover_after_secs`
    /// and a failover server can be the source for a capture at `at`, fails with
    /// [`ErrorKind::SourceMoved`]: the capture starts again there, from the last applied
    /// position. Fails with [`ErrorKind::SourceBehind`] when the only promoted servers lack
    /// transactions of `at`.
    pub async fn failed(&mut self, delivered: bool, config: &MysqlSourceConfig, current: &ConnectOptions, at: &Position) -> Result<()> {
        if config.failover.is_empty() {
            return Ok(());
        }
        if delivered {
            self.since = None;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() < self.after {
            return Ok(());
        }
        // The source answers again: whatever ended the session, it was not the source's end.
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(5), current.connect()).await {
            self.since = None;
            return Ok(());
        }
        let ours = GtidState::merged(at.gtid.as_ref(), self.held.as_ref());
        match choose(config, current, ours.as_ref()).await? {
            Some((_, url)) => Err(Error::new(
                ErrorKind::SourceMoved,
                format!(
                    "the source {} has been unreachable for {} s and {url} was promoted with every transaction read so far: \
                     the capture continues from {url}",
                    current.display_url(),
                    since.elapsed().as_secs()
                ),
            )),
            None => {
                // Nobody is ready: look again after another stretch.
                self.since = Some(Instant::now());
                tracing::warn!(source = %current.display_url(), "The source is unreachable and no failover server can take over yet; retrying.");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_mariadb_gtids_are_named_per_domain() {
        let ours: MariadbGtidPos = "0-1-105,1-7-20".parse().unwrap();
        let ahead: MariadbGtidPos = "0-3-110,1-7-20".parse().unwrap();
        assert!(missing_mariadb(&ours, &ahead).is_empty());
        let lagging: MariadbGtidPos = "0-1-100,1-7-19".parse().unwrap();
        let m = missing_mariadb(&ours, &lagging);
        assert_eq!(m, vec!["0-?-101 .. 0-1-105 (5 transactions of domain 0)".to_owned(), "1-7-20".to_owned()]);
        let without_domain: MariadbGtidPos = "0-1-105".parse().unwrap();
        assert_eq!(missing_mariadb(&ours, &without_domain), vec!["1-?-1 .. 1-7-20 (20 transactions of domain 1)".to_owned()]);
    }

    #[test]
    fn missing_mysql_gtids_are_the_set_difference() {
        let ours: GtidSet = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10".parse().unwrap();
        let theirs: GtidSet = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7".parse().unwrap();
        assert_eq!(missing_mysql(&ours, &theirs), vec!["3e11fa47-71ca-11e1-9e33-c80aa9429562:8-10".to_owned()]);
        assert!(missing_mysql(&theirs, &ours).is_empty());
    }
}
