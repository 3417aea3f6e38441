//! Turning a [`StartFrom`] (or a stored checkpoint) into a concrete dump request and the
//! position the capture starts at.
//!
//! Invariant: a timestamp start never skips a transaction committed at or after the timestamp:
//! the dump starts in the last binlog created at or before it, and earlier transactions are only
//! dropped by the assembler once their commit time is known to be older.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_binlog::{EventData, Parser};

use crate::mysql::conn::{translate, variable, ConnectOptions, ServerInfo};
use super::preflight::binary_logs;
use super::stream::{BinlogConn, StreamStart};
use crate::error::{Error, ErrorKind, Result};
use crate::position::{BinlogCoord, GtidState, MariadbGtidPos, Position, StartFrom};
use crate::schema::Flavor;

/// A resolved start.
#[derive(Debug, Clone)]
pub struct ResolvedStart {
    /// The dump request.
    pub stream: StreamStart,
    /// The position before the first event read (file may be refined by the dump's first ROTATE).
    pub position: Position,
    /// Transactions committed before this Unix time are skipped (timestamp starts).
    pub not_before: Option<i64>,
}

/// The GTID position of MariaDB at a file position (`BINLOG_GTID_POS`), if the server knows it.
async fn mariadb_gtid_at(conn: &mut Conn, c: &BinlogCoord) -> Result<Option<GtidState>> {
    let pos: Option<Option<String>> = conn
        .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (c.file.as_str(), c.offset))
        .await
        .map_err(|e| translate(e, "BINLOG_GTID_POS"))?;
    match pos.flatten() {
        Some(text) => Ok(Some(GtidState::Mariadb(text.parse()?))),
        None => Ok(None),
    }
}

/// The source's current end of binlog.
pub async fn current_end(conn: &mut Conn, server: &ServerInfo) -> Result<Position> {
    let row: Option<mysql_async::Row> = conn.query_first("SHOW MASTER STATUS").await.map_err(|e| translate(e, "SHOW MASTER STATUS"))?;
    let row = row.ok_or_else(|| {
        Error::new(ErrorKind::Preflight, "SHOW MASTER STATUS returned nothing: binary logging is off on the source")
    })?;
    let file: String = row.get(0).unwrap_or_default();
    let offset: u64 = row.get(1).unwrap_or(4);
    let gtid = match server.flavor {
        Flavor::MariaDb => match variable(conn, "global.gtid_binlog_pos").await? {
            Some(t) => Some(GtidState::Mariadb(t.parse()?)),
            None => None,
        },
        Flavor::MySql => match variable(conn, "global.gtid_executed").await? {
            Some(t) if !t.trim().is_empty() => Some(GtidState::Mysql(t.replace('\n', "").parse()?)),
            _ => None,
        },
    };
    Ok(Position { coord: BinlogCoord::new(file, offset), gtid, skip_rows: 0, snapshot: None, applied: None })
}

/// Resolves where to start when no checkpoint exists.
pub async fn resolve(
    conn: &mut Conn,
    opts: &ConnectOptions,
    server: &ServerInfo,
    server_id: u32,
    from: &StartFrom,
) -> Result<ResolvedStart> {
    let at_coord = |c: BinlogCoord, gtid: Option<GtidState>| ResolvedStart {
        stream: StreamStart::Coord(c.clone()),
        position: Position { coord: c, gtid, skip_rows: 0, snapshot: None, applied: None },
        not_before: None,
    };
    match from {
        StartFrom::Latest => {
            let p = current_end(conn, server).await?;
            Ok(at_coord(p.coord, p.gtid))
        }
        StartFrom::Earliest => {
            let logs = binary_logs(conn).await?;
            let (first, _) = logs.first().ok_or_else(|| Error::new(ErrorKind::Preflight, "the source has no binary logs"))?;
            let c = BinlogCoord::new(first.clone(), 4);
            let gtid = if server.flavor == Flavor::MariaDb { mariadb_gtid_at(conn, &c).await? } else { None };
            Ok(at_coord(c, gtid))
        }
        StartFrom::Coord(c) => {
            let gtid = if server.flavor == Flavor::MariaDb { mariadb_gtid_at(conn, c).await.unwrap_or(None) } else { None };
            Ok(at_coord(c.clone(), gtid))
        }
        StartFrom::Gtid(GtidState::Mariadb(pos)) => Ok(ResolvedStart {
            stream: StreamStart::MariadbGtid(pos.clone()),
            position: Position { coord: BinlogCoord::new("", 4), gtid: Some(GtidState::Mariadb(pos.clone())), skip_rows: 0, snapshot: None, applied: None },
            not_before: None,
        }),
        StartFrom::Gtid(GtidState::Mysql(set)) => Ok(ResolvedStart {
            stream: StreamStart::MysqlGtid(set.clone()),
            position: Position { coord: BinlogCoord::new("", 4), gtid: Some(GtidState::Mysql(set.clone())), skip_rows: 0, snapshot: None, applied: None },
            not_before: None,
        }),
        StartFrom::Timestamp(t) => {
            let logs = binary_logs(conn).await?;
            let mut start = logs.first().map(|(f, _)| f.clone()).ok_or_else(|| Error::new(ErrorKind::Preflight, "the source has no binary logs"))?;
            for (file, _) in &logs {
                match file_created(opts, server, server_id, file).await? {
                    Some(created) if i64::from(created) <= *t => start = file.clone(),
                    _ => break,
                }
            }
            let c = BinlogCoord::new(start, 4);
            let gtid = if server.flavor == Flavor::MariaDb { mariadb_gtid_at(conn, &c).await.unwrap_or(None) } else { None };
            Ok(ResolvedStart { not_before: Some(*t), ..at_coord(c, gtid) })
        }
    }
}

/// The creation time of a binlog file: the header time of its FORMAT_DESCRIPTION event.
async fn file_created(opts: &ConnectOptions, server: &ServerInfo, server_id: u32, file: &str) -> Result<Option<u32>> {
    let start = StreamStart::Coord(BinlogCoord::new(file, 4));
    // A distinct, temporary replica id so that the probe does not kick the real dump out.
    let probe_id = server_id.wrapping_add(0x4000_0000).max(1);
    let mut conn = BinlogConn::open(opts, server, probe_id, None, &start, Duration::from_secs(30)).await?;
    let mut parser = Parser::new();
    for _ in 0..4 {
        let Some(raw) = conn.next(&start).await? else { return Ok(None) };
        let ev = parser.parse_frame(&raw.frame)?;
        if let EventData::FormatDescription(_) = ev.data {
            return Ok(Some(ev.header.timestamp));
        }
    }
    Ok(None)
}

/// The start for a stored checkpoint: its file position when the source still has that file,
/// otherwise its GTID state.
///
/// A MariaDB checkpoint with a GTID position starts from the file position only when this server
/// has the same GTID position there (`BINLOG_GTID_POS`): after a failover the file names of the new
/// server may be the same while their contents are not, and the GTID is what both agree on.
pub async fn from_checkpoint(conn: &mut Conn, p: &Position) -> Result<StreamStart> {
    let logs = binary_logs(conn).await?;
    if !p.coord.file.is_empty() && logs.iter().any(|(f, _)| *f == p.coord.file) {
        match &p.gtid {
            Some(GtidState::Mariadb(ours)) if !ours.is_empty() => {
                let here = mariadb_gtid_at(conn, &p.coord).await.unwrap_or(None);
                let agrees = match &here {
                    Some(GtidState::Mariadb(h)) => ours.gtids().all(|g| h.get(g.domain_id) == Some(g)),
                    _ => false,
                };
                if agrees {
                    return Ok(StreamStart::Coord(p.coord.clone()));
                }
                tracing::warn!(position = %p.coord, gtid = %ours, "The checkpoint's file position is not where its GTID is on this server (the source changed): starting from the GTID.");
                return Ok(StreamStart::MariadbGtid(ours.clone()));
            }
            _ => return Ok(StreamStart::Coord(p.coord.clone())),
        }
    }
    match &p.gtid {
        Some(GtidState::Mariadb(pos)) if !pos.is_empty() => Ok(StreamStart::MariadbGtid(pos.clone())),
        Some(GtidState::Mysql(set)) if !set.is_empty() => Ok(StreamStart::MysqlGtid(set.clone())),
        _ => Err(Error::new(
            ErrorKind::PositionPurged,
            format!(
                "the checkpoint position {} is no longer on the source (binlog purged); the earliest available is {}:4 — \
                 remove the checkpoint to start again and resync the tables",
                p.coord,
                logs.first().map_or("?", |l| l.0.as_str())
            ),
        )),
    }
}

/// An empty MariaDB position (used when a GTID start has no entries).
pub fn empty_mariadb() -> MariadbGtidPos {
    MariadbGtidPos::new()
}
