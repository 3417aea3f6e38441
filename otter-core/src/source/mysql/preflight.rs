//! Preflight checks of a source, each a named function returning pass, warning or a failure
//! whose message says how to fix it. The source runs them before it starts; `otter check` prints
//! them as a table.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::mysql::conn::{translate, variable, ServerInfo};
use super::start::from_checkpoint;
use super::stream::StreamStart;
use crate::error::{ErrorKind, Result};
use crate::preflight::{Check, Outcome};
use crate::position::{BinlogCoord, GtidState, Position, StartFrom};
use crate::schema::Flavor;

/// Binary logging must be on.
pub async fn check_binlog_enabled(conn: &mut Conn) -> Result<Check> {
    let on = variable(conn, "log_bin").await?.unwrap_or_default();
    Ok(if on == "1" || on.eq_ignore_ascii_case("on") {
        Check::pass("binlog_enabled", "log_bin=ON")
    } else {
        Check::fail(
            "binlog_enabled",
            ErrorKind::Preflight,
            "binary logging is off on the source: start the server with --log-bin --binlog-format=ROW --server-id=N",
        )
    })
}

/// The binlog must be in ROW format.
pub async fn check_binlog_format(conn: &mut Conn) -> Result<Check> {
    let fmt = variable(conn, "global.binlog_format").await?.unwrap_or_default();
    Ok(if fmt.eq_ignore_ascii_case("ROW") {
        Check::pass("binlog_format", "binlog_format=ROW")
    } else {
        Check::fail(
            "binlog_format",
            ErrorKind::Preflight,
            format!(
                "binlog_format is {fmt}: otter captures row changes and needs binlog_format=ROW; \
                 run SET GLOBAL binlog_format=ROW and set it in the server configuration \
                 (sessions already open keep their format until they reconnect)"
            ),
        )
    })
}

/// FULL row images carry whole rows; the others lose data otter would otherwise forward.
pub async fn check_binlog_row_image(conn: &mut Conn) -> Result<Check> {
    let img = variable(conn, "global.binlog_row_image").await?.unwrap_or_else(|| "FULL".into());
    Ok(match img.to_ascii_uppercase().as_str() {
        "FULL" => Check::pass("binlog_row_image", "binlog_row_image=FULL"),
        other => Check::warn(
            "binlog_row_image",
            format!(
                "binlog_row_image={other}: updates and deletes carry only the key (and the changed \
                 columns{}), so before images are partial and rows of tables without a primary key \
                 cannot be matched; set binlog_row_image=FULL to capture whole rows",
                if other == "NOBLOB" { "; unchanged BLOB/TEXT columns are left out" } else { "" }
            ),
        ),
    })
}

fn grants_include(grants: &[String], privilege: &str) -> bool {
    grants.iter().any(|g| {
        let u = g.to_ascii_uppercase();
        let global = u.contains(" ON *.* ");
        global && (u.contains("ALL PRIVILEGES") || u.contains(privilege))
    })
}

/// The account needs REPLICATION SLAVE, a binlog listing privilege and SELECT.
pub async fn check_privileges(conn: &mut Conn, server: &ServerInfo) -> Result<Check> {
    let grants: Vec<String> = conn.query("SHOW GRANTS").await.map_err(|e| translate(e, "SHOW GRANTS"))?;
    let mut missing = Vec::new();
    if !grants_include(&grants, "REPLICATION SLAVE") && !grants_include(&grants, "REPLICATION REPLICA") {
        missing.push("REPLICATION SLAVE");
    }
    let monitor = if server.flavor == Flavor::MariaDb && server.version_number >= 100_502 {
        "BINLOG MONITOR"
    } else {
        "REPLICATION CLIENT"
    };
    if !grants_include(&grants, monitor) && !grants_include(&grants, "SUPER") {
        missing.push(monitor);
    }
    let select_somewhere = grants.iter().any(|g| {
        let u = g.to_ascii_uppercase();
        u.contains("ALL PRIVILEGES") || u.contains("SELECT")
    });
    if !select_somewhere {
        missing.push("SELECT");
    }
    if missing.is_empty() {
        let global_select = grants_include(&grants, "SELECT");
        return Ok(if global_select {
            Check::pass("privileges", "replication and SELECT privileges granted")
        } else {
            Check::warn(
                "privileges",
                "SELECT is granted on some databases only: otter reads table definitions with SHOW CREATE TABLE, \
                 so grant SELECT on every captured database",
            )
        });
    }
    Ok(Check::fail(
        "privileges",
        ErrorKind::Privilege,
        format!(
            "the replication account lacks {}: run GRANT {} ON *.* TO the account",
            missing.join(", "),
            missing.join(", ")
        ),
    ))
}

/// Our replica server id must differ from the source's and from every registered replica's.
///
/// A replica registered with our id may be our own previous process (killed, restarted at once):
/// the server forgets it only when its dump thread next writes (a heartbeat), so the check waits
/// up to `grace` for such a registration to disappear before calling it a conflict — unless it is
/// an otter dump (it holds the server id's lock), which the capture's claim sorts out at once.
pub async fn check_server_id(conn: &mut Conn, server: &ServerInfo, ours: u32) -> Result<Check> {
    check_server_id_within(conn, server, ours, std::time::Duration::from_secs(15)).await
}

/// [`check_server_id`] with an explicit grace period.
pub async fn check_server_id_within(conn: &mut Conn, server: &ServerInfo, ours: u32, grace: std::time::Duration) -> Result<Check> {
    if ours == server.server_id {
        return Ok(Check::fail(
            "server_id",
            ErrorKind::ServerIdConflict,
            format!("the replica server_id {ours} equals the source's own server_id: choose another server_id"),
        ));
    }
    let deadline = std::time::Instant::now() + grace;
    loop {
        let rows: Vec<mysql_async::Row> = conn.query("SHOW SLAVE HOSTS").await.unwrap_or_default();
        let holder = rows.iter().find(|row| row.get::<u32, _>(0) == Some(ours)).map(|row| row.get::<String, _>(1).unwrap_or_default());
        let Some(host) = holder else {
            return Ok(Check::pass("server_id", format!("replica server_id {ours} is free")));
        };
        // An otter dump holds its server id's lock: whether it is a leftover of this instance or
        // another one's is decided when the dump claims the id (super::replica_lock).
        let otter: Option<Option<u64>> =
            conn.exec_first("SELECT IS_USED_LOCK(?)", (super::replica_lock::server_id_lock(ours),)).await.unwrap_or(None);
        if otter.flatten().is_some() {
            return Ok(Check::pass("server_id", format!("replica server_id {ours} is used by an otter dump; the capture claims it")));
        }
        if std::time::Instant::now() >= deadline {
            return Ok(Check::fail(
                "server_id",
                ErrorKind::ServerIdConflict,
                format!(
                    "replica server_id {ours} is already used by a replica registered from {}: \
                     give this source a distinct server_id",
                    if host.is_empty() { "an unnamed host".to_owned() } else { host }
                ),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The binlog files the source has, oldest first, with their sizes.
pub async fn binary_logs(conn: &mut Conn) -> Result<Vec<(String, u64)>> {
    let rows: Vec<mysql_async::Row> =
        conn.query("SHOW BINARY LOGS").await.map_err(|e| translate(e, "SHOW BINARY LOGS"))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let name: Option<String> = r.get(0);
            let size: Option<u64> = r.get(1);
            Some((name?, size.unwrap_or(0)))
        })
        .collect())
}

/// The requested start position must still be on the source.
pub async fn check_start_available(conn: &mut Conn, server: &ServerInfo, start: &StartFrom) -> Result<Check> {
    let logs = binary_logs(conn).await?;
    let Some((first, _)) = logs.first() else {
        return Ok(Check::fail("start_position", ErrorKind::Preflight, "the source lists no binary logs: is log_bin on?"));
    };
    let earliest = BinlogCoord::new(first.clone(), 4);
    match start {
        StartFrom::Coord(c) => match logs.iter().find(|(n, _)| *n == c.file) {
            None => Ok(Check::fail(
                "start_position",
                ErrorKind::PositionPurged,
                format!(
                    "binlog {} is not on the source (purged, or never existed); the earliest available \
                     position is {earliest} — start there (and resync the tables if changes were missed)",
                    c.file
                ),
            )),
            Some((_, size)) if c.offset > *size || c.offset < 4 => Ok(Check::fail(
                "start_position",
                ErrorKind::Config,
                format!("position {c} is outside the file (it has {size} bytes)"),
            )),
            Some(_) => Ok(Check::pass("start_position", format!("{c} is available"))),
        },
        StartFrom::Gtid(GtidState::Mariadb(pos)) if server.flavor == Flavor::MariaDb => {
            let first_pos: Option<String> =
                conn.exec_first("SELECT BINLOG_GTID_POS(?, 4)", (first.as_str(),)).await.map_err(|e| translate(e, "BINLOG_GTID_POS"))?;
            let first_pos: crate::position::MariadbGtidPos = first_pos.unwrap_or_default().parse()?;
            for g in pos.gtids() {
                if let Some(have) = first_pos.get(g.domain_id) {
                    if g.seq_no < have.seq_no {
                        return Ok(Check::fail(
                            "start_position",
                            ErrorKind::PositionPurged,
                            format!(
                                "GTID {g} is older than the oldest binlog on the source, which starts after {have} \
                                 ({earliest}); the transactions in between are purged — start from {have} or {earliest} \
                                 and resync the tables"
                            ),
                        ));
                    }
                }
            }
            Ok(Check::pass("start_position", format!("GTID position {pos} is available")))
        }
        StartFrom::Gtid(GtidState::Mysql(set)) if server.flavor == Flavor::MySql => {
            let purged: crate::position::GtidSet = variable(conn, "global.gtid_purged").await?.unwrap_or_default().parse()?;
            let missing = purged.difference(set);
            if missing.is_empty() {
                Ok(Check::pass("start_position", "no needed GTID is purged"))
            } else {
                Ok(Check::fail(
                    "start_position",
                    ErrorKind::PositionPurged,
                    format!("the source purged GTIDs that come after the requested set: {missing}; resync the tables"),
                ))
            }
        }
        StartFrom::Gtid(_) => Ok(Check::fail(
            "start_position",
            ErrorKind::Config,
            "the start GTID is in the other server family's format (MySQL uuid:N vs MariaDB domain-server-seq)",
        )),
        _ => Ok(Check::pass("start_position", format!("binlogs {first} .. {} available", logs.last().map_or("", |l| &l.0)))),
    }
}

/// A pipeline's stored checkpoint `p` must still be on the source, judged by the rule the capture
/// resumes with ([`from_checkpoint`]): its file position while that file is there, else its GTID
/// position, which must not be older than the oldest binlog (as for a configured GTID start).
/// `kept` says where the checkpoint is stored (what to delete to start again), for the message.
pub async fn check_checkpoint_available(conn: &mut Conn, server: &ServerInfo, p: &Position, kept: &str) -> Result<Check> {
    let logs = binary_logs(conn).await?;
    let earliest = logs.first().map_or_else(|| "no binlog at all".to_owned(), |(f, _)| format!("{f}:4"));
    let purged = |gtid: String| {
        Check::fail(
            "start_position",
            ErrorKind::PositionPurged,
            format!(
                "the stored checkpoint {}{gtid} is no longer on the source (purged); earliest is {earliest}: the changes after \
                 the checkpoint cannot be read any more — resync the tables, then delete the stored checkpoint ({kept}) so that \
                 the pipeline starts from its configured `from`",
                p.coord
            ),
        )
    };
    let gtid = match from_checkpoint(conn, p).await {
        Ok(StreamStart::Coord(c)) => {
            return Ok(Check::pass("start_position", format!("the stored checkpoint {c} is available: the pipeline resumes there")))
        }
        Ok(StreamStart::MariadbGtid(pos)) => GtidState::Mariadb(pos),
        Ok(StreamStart::MysqlGtid(set)) => GtidState::Mysql(set),
        Err(e) if e.kind() == ErrorKind::PositionPurged => return Ok(purged(String::new())),
        Err(e) => return Err(e),
    };
    let by_gtid = check_start_available(conn, server, &StartFrom::Gtid(gtid.clone())).await?;
    Ok(match by_gtid.outcome {
        Outcome::Fail(e) if e.kind() == ErrorKind::PositionPurged => purged(format!(" (GTID {gtid})")),
        Outcome::Fail(e) => Check { name: "start_position", outcome: Outcome::Fail(e) },
        Outcome::Pass(_) | Outcome::Warn(_) => Check::pass(
            "start_position",
            format!(
                "the stored checkpoint {} is in a purged binlog, but its GTID position {gtid} is available: the pipeline resumes there",
                p.coord
            ),
        ),
    })
}

/// GTID starts need GTIDs on the source.
pub async fn check_gtid_mode(conn: &mut Conn, server: &ServerInfo, start: &StartFrom) -> Result<Check> {
    if server.flavor == Flavor::MariaDb {
        return Ok(Check::pass("gtid_mode", "MariaDB always writes GTIDs"));
    }
    let mode = variable(conn, "global.gtid_mode").await?.unwrap_or_else(|| "OFF".into());
    let on = mode.eq_ignore_ascii_case("ON");
    Ok(match (start, on) {
        (StartFrom::Gtid(_), false) => Check::fail(
            "gtid_mode",
            ErrorKind::Preflight,
            format!("a GTID start needs gtid_mode=ON on the source (it is {mode}); start from a file position instead"),
        ),
        (_, true) => Check::pass("gtid_mode", "gtid_mode=ON"),
        (_, false) => Check::warn(
            "gtid_mode",
            format!("gtid_mode={mode}: positions are file:offset only and do not survive a failover to another server"),
        ),
    })
}

/// A check that could not run (e.g. a statement the account may not execute) fails with the
/// error it met.
fn completed(name: &'static str, r: Result<Check>) -> Check {
    r.unwrap_or_else(|e| Check { name, outcome: Outcome::Fail(e) })
}

/// Runs every check; one that cannot run counts as failed. Later checks that depend on an
/// earlier failure (binlog off, missing privileges) are skipped.
pub async fn run_all(conn: &mut Conn, server: &ServerInfo, server_id: u32, start: &StartFrom) -> Result<Vec<Check>> {
    let mut checks = vec![completed("binlog_enabled", check_binlog_enabled(conn).await)];
    if !checks.iter().all(Check::ok) {
        return Ok(checks);
    }
    checks.push(completed("binlog_format", check_binlog_format(conn).await));
    checks.push(completed("binlog_row_image", check_binlog_row_image(conn).await));
    checks.push(completed("privileges", check_privileges(conn, server).await));
    if !checks.iter().all(Check::ok) {
        return Ok(checks);
    }
    checks.push(completed("server_id", check_server_id(conn, server, server_id).await));
    checks.push(completed("gtid_mode", check_gtid_mode(conn, server, start).await));
    checks.push(completed("start_position", check_start_available(conn, server, start).await));
    Ok(checks)
}

/// The first failure of a run, as an error.
pub fn first_failure(checks: Vec<Check>) -> Result<()> {
    for c in checks {
        match c.outcome {
            Outcome::Fail(e) => return Err(e.context(format!("preflight check {} failed", c.name))),
            Outcome::Warn(w) => tracing::warn!(check = c.name, "{w}"),
            Outcome::Pass(_) => {}
        }
    }
    Ok(())
}

/// A resume point a pipeline stored, and where it is kept (what to delete to start over).
#[derive(Debug, Clone)]
pub struct StoredResume {
    /// The position.
    pub position: Position,
    /// Where it is kept, in words.
    pub kept: String,
}

/// Every check of the source `config` for a capture that registers as `server_id` and starts at
/// `stored` (its resume point) or else at the configured `from` — what `otter check` shows:
/// `connect` (the server's version) first; a failure to connect is the only row then. `stored`
/// may be an error (the resume point could not be read): `start_position` then fails with it.
pub async fn check_source(config: &super::MysqlSourceConfig, server_id: u32, stored: Result<Option<StoredResume>>) -> Vec<Check> {
    let attempt = async {
        let opts = crate::mysql::conn::ConnectOptions::new(&config.url, &config.tls)?;
        let mut conn = opts.connect().await?;
        let server = ServerInfo::query(&mut conn).await?;
        let mut checks = run_all(&mut conn, &server, server_id, &config.start_from()?).await?;
        // A resuming run starts at its stored checkpoint: judge that instead of `from`.
        if let Some(slot) = checks.iter_mut().find(|c| c.name == "start_position") {
            let outcome = match &stored {
                Ok(None) => None,
                Ok(Some(s)) => Some(match check_checkpoint_available(&mut conn, &server, &s.position, &s.kept).await {
                    Ok(c) => c.outcome,
                    Err(e) => Outcome::Fail(e),
                }),
                Err(e) => Some(Outcome::Fail(crate::error::Error::new(
                    e.kind(),
                    format!("cannot read the pipeline's stored checkpoint, so where it resumes is unknown: {e}"),
                ))),
            };
            if let Some(outcome) = outcome {
                *slot = Check { name: "start_position", outcome };
            }
        }
        let _ = conn.disconnect().await;
        Ok::<_, crate::error::Error>((server, checks))
    };
    match attempt.await {
        Err(e) => vec![Check { name: "connect", outcome: Outcome::Fail(e) }],
        Ok((server, checks)) => std::iter::once(Check::pass("connect", server.version)).chain(checks).collect(),
    }
}
