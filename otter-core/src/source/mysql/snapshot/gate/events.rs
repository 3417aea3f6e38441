//! Events the gate reads and makes: where a stream event begins, its position, and the
//! snapshot's own statements (table definitions, `TRUNCATE`, re-sync purges).

use crate::change::{DdlEvent, Event, TxnMeta};
use crate::position::{BinlogCoord, Position};

/// Where a stream event's transaction begins (`None` for progress marks, which carry no data).
pub fn begin(e: &Event) -> Option<&BinlogCoord> {
    match e {
        Event::Rows(c) => Some(&c.meta.begin),
        Event::Ddl(d) => Some(&d.meta.begin),
        Event::Progress(_) => None,
    }
}

pub(super) fn position_mut(e: &mut Event) -> Option<&mut Position> {
    match e {
        Event::Rows(c) => c.position.as_mut(),
        Event::Ddl(d) => Some(&mut d.position),
        Event::Progress(p) => Some(&mut p.position),
    }
}

/// A statement the snapshot makes (`DdlEvent::snapshot`), run in database `db` at `position`.
pub(super) fn statement_event(meta: &TxnMeta, db: &str, statement: String, tables: Vec<(String, String)>, position: &Position) -> Event {
    Event::Ddl(DdlEvent {
        meta: meta.clone(),
        schema: db.to_owned(),
        statement,
        sql_mode: Default::default(),
        collation_server: None,
        time_zone: None,
        tables,
        position: position.clone(),
        snapshot: true,
    })
}

/// `CREATE TABLE x` → `CREATE TABLE IF NOT EXISTS x` (same for databases).
pub(super) fn if_not_exists(stmt: &str, what: &str) -> String {
    let head = format!("CREATE {what} ");
    match stmt.strip_prefix(&head) {
        Some(rest) if !rest.starts_with("IF NOT EXISTS") => format!("{head}IF NOT EXISTS {rest}"),
        _ => stmt.to_owned(),
    }
}

