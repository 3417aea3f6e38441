//! The assembler's handling of a QUERY event: transaction boundaries written as statements
//! (`BEGIN`, `COMMIT`, XA), DDL (applied to the schema history, marked, passed over or emitted)
//! and statement-format DML (an error for captured tables). The module's invariants are the
//! parent's.

use otter_binlog::event::query::QueryEvent;
use otter_binlog::EventHeader;

use super::{gtid_text, Assembler};
use crate::change::{DdlEvent, Event, TxnMeta};
use crate::error::{Error, ErrorKind, Result};
use crate::position::BinlogCoord;
use crate::schema::{classify, QueryKind};
use crate::two_way;

impl Assembler {
    /// Handles the QUERY event `q` (header `h`, starting at `start`), emitting into `out`.
    pub(super) async fn on_query(&mut self, h: &EventHeader, q: &QueryEvent<'_>, start: BinlogCoord, out: &mut Vec<Event>) -> Result<()> {
        let sql = q.query_text();
        let kind = classify(&sql);
        if matches!(kind, QueryKind::Begin | QueryKind::Xa | QueryKind::Dml | QueryKind::Other) {
            // The session went on with something else: a DDL mark it wrote is void.
            self.ddl_marks.forget(q.thread_id);
        }
        match kind {
            QueryKind::Begin | QueryKind::Xa => {
                if self.txn.is_none() {
                    self.open(h, start);
                }
            }
            QueryKind::Commit | QueryKind::Rollback => {
                if self.txn.is_some() {
                    self.commit(h, out)?;
                } else {
                    self.pending_gtid = None;
                }
            }
            QueryKind::Savepoint => {}
            QueryKind::Ddl => {
                self.close_if_open(h, out)?;
                let schema = String::from_utf8_lossy(q.schema).into_owned();
                let end = if h.log_pos != 0 { self.coord(u64::from(h.log_pos)) } else { self.next.clone() };
                // The session the statement ran in (decoded once).
                let status = q.status();
                let collation_server = status.charset.map(|(_, _, server)| server);
                let time_zone = status.time_zone.map(|tz| String::from_utf8_lossy(tz).into_owned());
                // The statement's start time to the microsecond, when the server logged it.
                let started_micros = status.microseconds.map(|us| u64::from(h.timestamp) * 1_000_000 + u64::from(us));
                if let Some(mode) = status.sql_mode {
                    self.tables.catalog_mut().settings_mut().sql_mode = crate::schema::SqlMode(mode);
                }
                let default_db = (!schema.is_empty()).then_some(schema.as_str());
                let affected = self.tables.apply_ddl(default_db, &sql, &end).await?;
                let gtid_value = self.pending_gtid.take();
                self.fold_gtid(gtid_value.as_ref().map(|(g, _)| g));
                self.next = end.clone();
                let pending = self.ddl_marks.take(q.thread_id, h.timestamp);
                if let Some(t) = self.not_before {
                    if i64::from(h.timestamp) < t {
                        // Before the requested start time: the history has it, the output not.
                        self.progress_due = true;
                        return Ok(());
                    }
                    self.not_before = None;
                }
                // The leading comment wins; otherwise the mark the session wrote just before.
                let mark = two_way::ddl_mark(&sql).or_else(|| {
                    let m = pending?;
                    tracing::debug!(thread = q.thread_id, origin = %m.origin, via = %m.via, at = %end, "DDL marked by its session's ddl_mark row.");
                    Some(m)
                });
                let forward = self.marks.forwards(mark.as_ref());
                let own = |d: &str| d.eq_ignore_ascii_case(&self.marks.schema);
                let own_trigger = two_way::is_own_trigger(&sql);
                let only_own = own_trigger || if affected.is_empty() { own(&schema) } else { affected.iter().all(|(d, _)| own(d)) };
                // Statements without tables (views, triggers, routines...) go by their database.
                let captured = affected.iter().any(|(d, t)| {
                    if t.is_empty() {
                        self.tables.filter().allows_database(d)
                    } else {
                        self.tables.filter().allows(d, t)
                    }
                }) || (affected.is_empty() && self.tables.filter().allows_database(&schema));
                let allowed = !own_trigger && forward && captured;
                if allowed {
                    let statement = match &mark {
                        // A DROP TABLE the loader applied as a rename into the marks schema.
                        Some(m) if m.drop => drop_statement(&affected, &self.marks.schema).unwrap_or_else(|| sql.clone().into_owned()),
                        _ => sql.into_owned(),
                    };
                    out.push(Event::Ddl(DdlEvent {
                        meta: TxnMeta {
                            gtid: gtid_value.as_ref().map(|(g, _)| gtid_text(g)),
                            server_id: h.server_id,
                            begin: gtid_value.map(|(_, at)| at).unwrap_or(start),
                            end: Some(end),
                            commit_ts: h.timestamp,
                            commit_ts_micros: started_micros,
                            origin: mark.filter(|m| !m.is_nosync()).map(|m| m.origin),
                        },
                        schema,
                        statement,
                        sql_mode: self.tables.catalog_mut().settings().sql_mode,
                        collation_server,
                        time_zone,
                        tables: affected.into_iter().filter(|(d, t)| !t.is_empty() && !own(d)).collect(),
                        position: self.position(),
                        snapshot: false,
                    }));
                } else if !only_own {
                    self.progress_due = true;
                }
            }
            QueryKind::Dml => {
                let schema = String::from_utf8_lossy(q.schema).into_owned();
                if self.tables.filter().allows_database(&schema) {
                    return Err(Error::new(
                        ErrorKind::Preflight,
                        format!(
                            "statement-format DML at {start} in database {schema:?} ({}): some session writes \
                             binlog_format=STATEMENT; otter can only capture row events — set binlog_format=ROW \
                             globally and make clients reconnect",
                            truncate(&sql, 200)
                        ),
                    ));
                }
            }
            QueryKind::Other => {
                if self.txn.is_none() {
                    let g = self.pending_gtid.take();
                    self.fold_gtid(g.as_ref().map(|(g, _)| g));
                    self.progress_due = true;
                }
            }
        }
        Ok(())
    }
}

/// `DROP TABLE` of the tables a marked rename moved into the marks schema.
fn drop_statement(affected: &[(String, String)], marks_schema: &str) -> Option<String> {
    let names: Vec<String> = affected
        .iter()
        .filter(|(d, t)| !t.is_empty() && !d.eq_ignore_ascii_case(marks_schema))
        .map(|(d, t)| format!("{}.{}", crate::mysql::quote::ident(d), crate::mysql::quote::ident(t)))
        .collect();
    (!names.is_empty()).then(|| format!("DROP TABLE {}", names.join(", ")))
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}
