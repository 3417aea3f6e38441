//! Re-sync on demand: copy a table again — whole, the rows a `WHERE` selects, or a list of
//! keys — through the snapshot's chunk path while the pipeline runs, and delete on the target
//! the rows of each copied range that the source no longer has (a re-sync also repairs).
//!
//! Requests are rows of `<otter schema>.resync_request` on the source (`otter resync` writes
//! one; an application or a person may too). The capture sees the insert in the binlog, in
//! order with the live changes, reads the request and adds its table to the running gate
//! ([`super::gate`]), so every chunk goes out at its own snapshot's place in the stream. Before
//! a chunk's rows go a *purge*: `DELETE FROM t WHERE <the chunk's key range or keys>
//! [AND (<where>)] AND <key> NOT IN (<the keys the chunk has>)` — exactly the target's rows in
//! the range that the source's snapshot lacks; the chunk's rows then replace the rest. A table
//! without a usable key is copied again whole (or the rows `WHERE` selects), after a purge of
//! all of it (or of what `WHERE` selects) on the target.
//!
//! Invariants:
//! - a wrong request never stops the pipeline: an unknown table, one the pipeline does not
//!   capture, a key list on a table without a key or with the wrong number of values, a `WHERE`
//!   the source refuses or that is not self-contained (unbalanced parentheses, `;`) is refused
//!   with an error log naming the request;
//! - the `WHERE` text is run on the source (reads) and on the target (the purge), always inside
//!   its own parentheses and lines, so it can only narrow what a chunk covers;
//! - progress rides in positions like the snapshot's, with the request's id: a restart reads the
//!   request again by id, and a request deleted meanwhile is withdrawn (with a log line).

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value as Wire};
use serde_json::Value as Json;

use crate::change::portable::PortableValue;
use crate::change::Row;
use crate::error::{Error, ErrorKind, Result};
use crate::mysql::chunk::key::{compare_with, in_list, Binds};
use crate::mysql::chunk::KeyRange;
use crate::mysql::conn::translate;
use crate::mysql::quote::{ident, text};
use crate::schema::{Column, TableSchema};

/// The signal table's name (in otter's own schema on the source).
pub const SIGNAL_TABLE: &str = "resync_request";

/// Keys of a key list read (and purged) per chunk.
pub const KEY_BATCH: usize = 1_000;

/// Most rows of one re-sync chunk (its purge lists every key it read).
pub const MAX_ROWS: usize = 2_000;

/// `CREATE DATABASE` and `CREATE TABLE` of the signal table in `schema`.
pub fn signal_table_sql(schema: &str) -> [String; 2] {
    [
        format!("CREATE DATABASE IF NOT EXISTS {}", ident(schema)),
        format!(
            "CREATE TABLE IF NOT EXISTS {}.{} (\n  \
             id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,\n  \
             pipeline VARCHAR(128) NULL COMMENT 'NULL: every pipeline that captures the table from this server',\n  \
             table_schema VARCHAR(64) NOT NULL,\n  \
             table_name VARCHAR(64) NOT NULL,\n  \
             where_clause TEXT NULL COMMENT 'rows to copy again: a condition on the table''s columns',\n  \
             key_list LONGTEXT NULL COMMENT 'keys to copy again, JSON: [[k1, k2], ...], or [k, ...] for a one-column key',\n  \
             requested_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)\n\
             ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            ident(schema),
            ident(SIGNAL_TABLE)
        ),
    ]
}

/// One re-sync request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The signal row's id.
    pub id: u64,
    /// The pipeline it is for (`None`: every pipeline capturing the table from this server).
    pub pipeline: Option<String>,
    /// Database.
    pub db: String,
    /// Table.
    pub table: String,
    /// Only the rows this condition selects (SQL on the table's columns).
    pub where_clause: Option<String>,
    /// Only these keys, one value per key column.
    pub keys: Option<Vec<Vec<Json>>>,
}

impl Request {
    /// Builds a request, checking what can be checked without the server.
    pub fn new(id: u64, pipeline: Option<String>, db: String, table: String, where_clause: Option<String>, key_list: Option<&str>) -> Result<Request> {
        let where_clause = where_clause.map(|w| w.trim().to_owned()).filter(|w| !w.is_empty());
        if let Some(w) = &where_clause {
            check_where(w)?;
        }
        let keys = key_list.map(str::trim).filter(|k| !k.is_empty()).map(parse_keys).transpose()?;
        Ok(Request { id, pipeline: pipeline.filter(|p| !p.is_empty()), db, table, where_clause, keys })
    }

    /// The request `id` in `schema`'s signal table (`None` when there is no such row).
    pub async fn fetch(conn: &mut Conn, schema: &str, id: u64) -> Result<Option<Request>> {
        let sql = format!(
            "SELECT pipeline, table_schema, table_name, where_clause, key_list FROM {}.{} WHERE id = ?",
            ident(schema),
            ident(SIGNAL_TABLE)
        );
        type Fields = (Option<String>, String, String, Option<String>, Option<String>);
        let row: Option<Fields> = conn.exec_first(sql, (id,)).await.map_err(|e| translate(e, "reading a re-sync request"))?;
        row.map(|(pipeline, db, table, w, keys)| Request::new(id, pipeline, db, table, w, keys.as_deref())).transpose()
    }

    /// `db.table` as shown to people.
    pub fn name(&self) -> String {
        format!("{}.{}", self.db, self.table)
    }

    /// Number of chunks a key list is read in (`None` without a key list).
    pub fn batches(&self) -> Option<u64> {
        self.keys.as_ref().map(|k| k.len().div_ceil(KEY_BATCH).max(1) as u64)
    }

    fn batch(&self, index: u64) -> Option<&[Vec<Json>]> {
        let keys = self.keys.as_ref()?;
        let start = (index as usize).saturating_mul(KEY_BATCH).min(keys.len());
        keys.get(start..(start + KEY_BATCH).min(keys.len()))
    }

    /// Checks the request against the table's definition (`schema`): a key list needs a key
    /// and as many values per key as it has columns.
    pub fn check_against(&self, schema: &TableSchema) -> Result<()> {
        let Some(keys) = &self.keys else { return Ok(()) };
        let cols = key_columns(schema).ok_or_else(|| {
            Error::config(format!("{} has no primary key and no unique key of NOT NULL columns: re-sync it whole or with a WHERE instead of keys", self.name()))
        })?;
        if let Some(bad) = keys.iter().find(|k| k.len() != cols.len()) {
            let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::config(format!(
                "key {} has {} values but the key of {} is ({}): give one value per key column",
                Json::Array(bad.clone()),
                bad.len(),
                self.name(),
                names.join(", ")
            )));
        }
        Ok(())
    }

    /// The extra condition (and its parameters) of the source read of chunk `index`.
    pub fn read_filter(&self, schema: &TableSchema, index: u64) -> Result<Option<(String, Vec<Wire>)>> {
        let mut conds = Vec::new();
        let mut params = Vec::new();
        if let Some(batch) = self.batch(index) {
            let cols = self.key_cols(schema)?;
            conds.push(json_in_list(&cols, batch, &mut |v| {
                params.push(json_param(v));
                "?".to_owned()
            }));
        }
        if let Some(w) = &self.where_clause {
            conds.push(format!("(\n{w}\n)"));
        }
        Ok((!conds.is_empty()).then(|| (conds.join(" AND "), params)))
    }

    fn key_cols<'a>(&self, schema: &'a TableSchema) -> Result<Vec<&'a Column>> {
        key_columns(schema).ok_or_else(|| Error::new(ErrorKind::SchemaMismatch, format!("{} lost its key: the re-sync by keys cannot go on", self.name())))
    }

    /// The purge going out before chunk `index` (covering `range`, or the chunk's batch of the key
    /// list) whose rows are `rows`: the target's rows there that the source lacks. Keys in `keep`
    /// stay too (rows the stream wrote after the chunk's snapshot, already on the target). For a
    /// table without a key, the purge of everything the request covers (before its first piece).
    pub fn purge(&self, schema: &TableSchema, index: u64, range: &KeyRange, rows: &[Row], keep: &[Vec<PortableValue>]) -> Result<String> {
        let mut sql = format!("DELETE FROM {}.{}", ident(&schema.db), ident(&schema.name));
        let mut conds = Vec::new();
        if let Some(cols) = key_columns(schema) {
            let key_idx = schema.key_columns().unwrap_or_default();
            match self.batch(index) {
                Some(batch) => conds.push(json_in_list(&cols, batch, &mut json_literal)),
                None => {
                    if let Some(after) = &range.after {
                        conds.push(compare_with(&cols, after, true, &mut Binds::Inline)?);
                    }
                    if let Some(upto) = &range.upto {
                        conds.push(compare_with(&cols, upto, false, &mut Binds::Inline)?);
                    }
                }
            }
            if let Some(w) = &self.where_clause {
                conds.push(format!("(\n{w}\n)"));
            }
            let mut found: Vec<Vec<PortableValue>> = rows.iter().map(|r| crate::mysql::chunk::key_of(r, key_idx)).collect();
            found.extend(keep.iter().cloned());
            if let Some(not_in) = in_list(&cols, &found, true, &mut Binds::Inline)? {
                conds.push(not_in);
            }
        } else if let Some(w) = &self.where_clause {
            conds.push(format!("(\n{w}\n)"));
        }
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        Ok(sql)
    }
}

/// True for a statement made by [`Request::purge`] (the loader applies it as rows, not as DDL).
pub fn is_purge(statement: &str) -> bool {
    statement.starts_with("DELETE FROM ")
}

fn key_columns(schema: &TableSchema) -> Option<Vec<&Column>> {
    schema.key_columns().map(|k| k.iter().filter_map(|&i| schema.columns.get(i)).collect())
}

/// `(cols) IN ((v, …), …)` with each value written by `bind`; one key of several columns as
/// `(a = v AND b = w)` (MariaDB runs a `DELETE` by a one-row `(a, b) IN ((v, w))` as a scan of
/// the whole table).
fn json_in_list(cols: &[&Column], keys: &[Vec<Json>], bind: &mut dyn FnMut(&Json) -> String) -> String {
    let names: Vec<String> = cols.iter().map(|c| ident(&c.name)).collect();
    if let [key] = keys {
        if names.len() > 1 {
            let ands: Vec<String> = names.iter().zip(key).map(|(n, v)| format!("{n} = {}", bind(v))).collect();
            return format!("({})", ands.join(" AND "));
        }
    }
    let tuples: Vec<String> = keys.iter().map(|k| format!("({})", k.iter().map(&mut *bind).collect::<Vec<_>>().join(", "))).collect();
    format!("(({}) IN ({}))", names.join(", "), tuples.join(", "))
}

/// A key value of a key list as a parameter: text as text (the server converts it to the
/// column's character set), numbers as typed (or as their text when not integers).
fn json_param(v: &Json) -> Wire {
    match v {
        Json::String(s) => Wire::Bytes(s.as_bytes().to_vec()),
        Json::Number(n) => n.as_i64().map(Wire::Int).or_else(|| n.as_u64().map(Wire::UInt)).unwrap_or_else(|| Wire::Bytes(n.to_string().into_bytes())),
        Json::Bool(b) => Wire::Int(i64::from(*b)),
        _ => Wire::NULL,
    }
}

/// A key value of a key list as a literal (see [`json_param`]).
fn json_literal(v: &Json) -> String {
    match v {
        Json::String(s) => text(s),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => i64::from(*b).to_string(),
        _ => "NULL".into(),
    }
}

/// A key list: `[[k1, k2], …]`, or `[k, …]` for a one-column key; values are strings, numbers or
/// booleans.
fn parse_keys(text: &str) -> Result<Vec<Vec<Json>>> {
    let bad = |why: &str| Error::config(format!("the key list {why}: write a JSON array of keys, e.g. [[1, \"a\"], [2, \"b\"]] or [1, 2, 3] for a one-column key"));
    let list: Vec<Json> = serde_json::from_str(text).map_err(|e| bad(&format!("is not JSON ({e})")))?;
    if list.is_empty() {
        return Err(bad("is empty"));
    }
    let keys: Vec<Vec<Json>> = list.into_iter().map(|k| if let Json::Array(a) = k { a } else { vec![k] }).collect();
    for k in &keys {
        if k.is_empty() || k.iter().any(|v| !matches!(v, Json::String(_) | Json::Number(_) | Json::Bool(_))) {
            return Err(bad(&format!("holds {} (key values are strings, numbers or booleans, never null)", Json::Array(k.clone()))));
        }
    }
    Ok(keys)
}

/// A `WHERE` must be one self-contained condition: it lexes, its parentheses balance without
/// ever closing one it did not open, and it has no `;`.
pub fn check_where(w: &str) -> Result<()> {
    use crate::schema::ddl::lexer::{tokens, LexOptions};
    let toks = tokens(w, LexOptions::DEFAULT).map_err(|e| Error::config(format!("the WHERE condition does not read as SQL ({e}): {w}")))?;
    let mut depth = 0i64;
    for t in &toks {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth -= 1;
        } else if t.is_punct(";") {
            depth = -1;
        }
        if depth < 0 {
            break;
        }
    }
    if depth != 0 {
        return Err(Error::config(format!("the WHERE condition must be one condition (balanced parentheses, no ';'): {w}")));
    }
    Ok(())
}

impl Request {
    /// Checks the request on the source (`conn` prepared for reading): the table exists, a key
    /// list fits its key, the condition reads. Refusals are [`ErrorKind::Config`] errors saying
    /// what to change; an unreachable source gives a transient error.
    pub async fn check_on_source(&self, conn: &mut Conn, settings: &crate::schema::Settings) -> Result<()> {
        let create = crate::mysql::conn::show_create_table(conn, &self.db, &self.table).await.map_err(|e| translate(e, "reading a re-sync request's table"))?;
        let Some(create) = create else {
            return Err(Error::config(format!("{} does not exist on the source", self.name())));
        };
        let parsed = crate::source::mysql::tables::parse_create(settings, None, &self.db, &self.table, &create)?
            .ok_or_else(|| Error::config(format!("the definition of {} does not parse", self.name())))?;
        self.check_against(&parsed)?;
        // The source reads the condition first: a typo is refused here, not in the middle of a copy.
        if let Some((cond, params)) = self.read_filter(&parsed, 0)? {
            let probe = format!("SELECT 1 FROM {}.{} WHERE {cond} LIMIT 0", ident(&self.db), ident(&self.table));
            let params = if params.is_empty() { mysql_async::Params::Empty } else { mysql_async::Params::Positional(params) };
            if let Err(e) = conn.exec_drop(probe, params).await {
                let e = translate(e, "checking the re-sync condition on the source");
                if e.is_transient() {
                    return Err(e);
                }
                return Err(Error::config(format!("the source refuses the re-sync condition: {e}")));
            }
        }
        Ok(())
    }
}

/// Reads and checks request `id` on the source for `pipeline` capturing with `allows`: `None`
/// (after an error log naming the reason) when it is not for this pipeline or cannot be done.
/// Transient errors (the source is unreachable) are returned: the signal is read again after
/// the reconnect.
pub async fn accept(
    opts: &crate::mysql::conn::ConnectOptions,
    settings: &crate::schema::Settings,
    schema: &str,
    pipeline: &str,
    allows: &(dyn Fn(&str, &str) -> bool + Sync),
    id: u64,
) -> Result<Option<Arc<Request>>> {
    let mut conn = opts.connect().await?;
    crate::mysql::chunk::prepare_session(&mut conn).await?;
    let refused = |why: String| {
        tracing::error!(request = id, reason = %why, "Re-sync request refused.");
        Ok(None)
    };
    // The server publishes a transaction's binlog events a moment before its rows become
    // visible to other sessions: a row not there yet is read again for a little while.
    let mut tries = 0;
    let req = loop {
        match Request::fetch(&mut conn, schema, id).await {
            Ok(Some(r)) => break r,
            Ok(None) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            }
            Ok(None) => return refused(format!("no row with id {id} in {schema}.{SIGNAL_TABLE} (deleted before it was read)")),
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => return refused(e.to_string()),
        }
    };
    if req.pipeline.as_deref().is_some_and(|p| !pipeline.is_empty() && p != pipeline) {
        return Ok(None);
    }
    if !allows(&req.db, &req.table) || req.db.eq_ignore_ascii_case(schema) {
        return refused(format!("pipeline {pipeline} does not capture {}", req.name()));
    }
    match req.check_on_source(&mut conn, settings).await {
        Ok(()) => {}
        Err(e) if e.is_transient() => return Err(e),
        Err(e) => return refused(e.to_string()),
    }
    let _ = conn.disconnect().await;
    tracing::info!(
        request = id,
        table = %req.name(),
        condition = req.where_clause.as_deref().unwrap_or("-"),
        keys = req.keys.as_ref().map_or(0, Vec::len),
        "Re-sync requested: copying again through the snapshot path."
    );
    Ok(Some(Arc::new(req)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SqlType;
    use otter_binlog::Value;

    fn table() -> TableSchema {
        TableSchema::new(
            "s",
            "t",
            vec![Column::new("id", SqlType::Int), Column { charset: Some("utf8mb4".into()), collation: Some("utf8mb4_general_ci".into()), ..Column::new("k", SqlType::VarChar(9)) }, Column::new("v", SqlType::Int)],
            vec![0, 1],
        )
    }

    #[test]
    fn range_purges_keep_the_chunks_keys_and_the_condition_stays_in_its_own_lines() {
        let r = Request::new(7, None, "s".into(), "t".into(), Some("v > 3".into()), None).unwrap();
        let range = KeyRange { after: Some(vec![PortableValue::Int(1), PortableValue::Bytes(b"a".to_vec())]), upto: None };
        let rows = vec![vec![Value::Int(2), Value::Bytes(b"B".as_slice().into()), Value::Int(9)]];
        let sql = r.purge(&table(), 0, &range, &rows, &[]).unwrap();
        assert!(sql.starts_with("DELETE FROM `s`.`t` WHERE ((`id` > 1) OR (`id` = 1 AND `k` > CAST(CAST(X'61' AS BINARY)"), "{sql}");
        assert!(sql.contains(" AND (\nv > 3\n) AND (`id`, `k`) NOT IN ((2, CAST(CAST(X'42' AS BINARY)"), "{sql}");
        assert!(is_purge(&sql));
        // No rows left in the range: everything there goes.
        let empty = Request::new(8, None, "s".into(), "t".into(), None, None).unwrap().purge(&table(), 3, &KeyRange::default(), &[], &[]).unwrap();
        assert_eq!(empty, "DELETE FROM `s`.`t`");
    }

    #[test]
    fn key_lists_read_and_purge_by_batch() {
        let keys: Vec<String> = (0..KEY_BATCH + 1).map(|i| format!("[{i}, \"k{i}\"]")).collect();
        let r = Request::new(1, Some("p".into()), "s".into(), "t".into(), None, Some(&format!("[{}]", keys.join(",")))).unwrap();
        assert_eq!(r.batches(), Some(2));
        r.check_against(&table()).unwrap();
        let (cond, params) = r.read_filter(&table(), 1).unwrap().unwrap();
        assert_eq!(cond, "(`id` = ? AND `k` = ?)");
        assert_eq!(params, vec![Wire::Int(KEY_BATCH as i64), Wire::Bytes(format!("k{KEY_BATCH}").into_bytes())]);
        let sql = r.purge(&table(), 1, &KeyRange::default(), &[], &[]).unwrap();
        assert_eq!(sql, format!("DELETE FROM `s`.`t` WHERE (`id` = {KEY_BATCH} AND `k` = 'k{KEY_BATCH}')"));
        let short = Request::new(2, None, "s".into(), "t".into(), None, Some("[1, 2]")).unwrap();
        assert!(short.check_against(&table()).unwrap_err().to_string().contains("one value per key column"));
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        for (w, keys) in [(Some("a = 1) OR (1 = 1"), None), (Some("a = 1; DROP TABLE x"), None), (Some("a = 'open"), None), (None, Some("[]")), (None, Some("[[null]]")), (None, Some("{"))] {
            let e = Request::new(1, None, "s".into(), "t".into(), w.map(str::to_owned), keys).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        }
        assert!(Request::new(1, None, "s".into(), "t".into(), Some("(a = 1) OR (b IN (1, 2)) -- note".into()), None).is_ok());
    }
}
