//! Table resolution for the capture: which schema each TABLE_MAP's table has at this position,
//! whether it is captured at all, how its row images become [`Row`]s, and how DDL moves the
//! schema history forward.
//!
//! Sources of truth, in order: the schema history (DDL applied to the catalog as the stream
//! passes it); the server's `SHOW CREATE TABLE` for a table the history does not know yet (created
//! before the captured binlog, or after an unparsable DDL), checked against the binlog; and the
//! TABLE_MAP's own column names when the server writes full metadata. The history starts at the
//! capture's start position, not at the creation of every database: a DDL that needs the defaults
//! of a database it does not know takes them from the server (the server's own defaults when the
//! database is gone), recorded in the history with the DDL's own changes.
//!
//! Invariants: a rows event is decoded only with a schema whose column count and column types
//! match its TABLE_MAP (and its names, when the TABLE_MAP carries them) — otherwise the table
//! stops with an error showing both shapes; filtered tables are never decoded; every schema
//! change is recorded in the history before rows that depend on it are handed out.

use std::collections::HashMap;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_binlog::column::Kind;
use otter_binlog::{TableMap, Value};

use crate::mysql::conn::{show_create_table, translate, ConnectOptions};
use crate::change::Row;
use crate::error::{Error, ErrorKind, Result};
use crate::table_filter::TableFilter;
use crate::history::{self, Op, SchemaHistory};
use crate::position::BinlogCoord;
use crate::schema::{names_equal, Catalog, DdlError, TableChange, TableSchema};

/// How rows of one table id are handled.
#[derive(Debug, Clone)]
pub enum Binding {
    /// Filtered out: rows are skipped undecoded.
    Skip,
    /// Captured with this schema.
    Bound(Arc<Bound>),
}

/// A captured table as of a TABLE_MAP.
#[derive(Debug)]
pub struct Bound {
    /// The schema.
    pub schema: Arc<TableSchema>,
    /// Per column: the integer width to reinterpret as unsigned, when the binlog does not say.
    unsigned_width: Vec<Option<u8>>,
}

/// Loads table definitions from the live server.
pub struct LiveSchema {
    opts: ConnectOptions,
    conn: Option<Conn>,
}

impl LiveSchema {
    /// A loader that connects on first use.
    pub fn new(opts: ConnectOptions) -> LiveSchema {
        LiveSchema { opts, conn: None }
    }

    async fn conn(&mut self) -> Result<&mut Conn> {
        if self.conn.is_none() {
            self.conn = Some(self.opts.connect().await?);
        }
        self.conn.as_mut().ok_or_else(|| Error::new(ErrorKind::Connection, "no schema connection"))
    }

    /// `SHOW CREATE TABLE`, or `None` when the table does not exist (any more).
    pub async fn show_create(&mut self, db: &str, table: &str) -> Result<Option<String>> {
        match show_create_table(self.conn().await?, db, table).await {
            Ok(ddl) => Ok(ddl),
            Err(e) => {
                self.conn = None;
                Err(translate(e, "reading the table definition from the source"))
            }
        }
    }

    /// A database's default character set and collation.
    pub async fn database_defaults(&mut self, db: &str) -> Result<Option<(String, String)>> {
        let res = self
            .conn()
            .await?
            .exec_first(
                "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                (db,),
            )
            .await;
        res.map_err(|e| {
            self.conn = None;
            translate(e, "reading database defaults from the source")
        })
    }
}


/// What to do when a table's rows do not fit its known schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaErrorPolicy {
    /// Stop the whole source with the error (default: nothing is lost, fix and restart).
    #[default]
    Fail,
    /// Stop capturing only that table (its later rows are dropped and counted) and go on.
    StopTable,
}

/// The capture's view of every table.
pub struct Tables {
    catalog: Catalog,
    history: SchemaHistory,
    filter: TableFilter,
    live: LiveSchema,
    policy: SchemaErrorPolicy,
    arcs: HashMap<(String, String), Arc<TableSchema>>,
    bound: HashMap<u64, Binding>,
    stopped: HashMap<(String, String), String>,
}

impl Tables {
    /// Resolution with the catalog rebuilt from `history` up to `at`.
    pub fn new(
        mut catalog: Catalog,
        history: SchemaHistory,
        at: &BinlogCoord,
        filter: TableFilter,
        live: LiveSchema,
        policy: SchemaErrorPolicy,
    ) -> Tables {
        history.rebuild(&mut catalog, at);
        Tables {
            catalog,
            history,
            filter,
            live,
            policy,
            arcs: HashMap::new(),
            bound: HashMap::new(),
            stopped: HashMap::new(),
        }
    }

    /// The filter in force.
    pub fn filter(&self) -> &TableFilter {
        &self.filter
    }

    /// The catalog (current position).
    pub fn catalog_mut(&mut self) -> &mut Catalog {
        &mut self.catalog
    }

    /// Tables stopped by schema errors, with the reason.
    pub fn stopped(&self) -> &HashMap<(String, String), String> {
        &self.stopped
    }

    /// Forgets table-id bindings (a new connection: ids are re-sent).
    pub fn reset_bindings(&mut self) {
        self.bound.clear();
    }

    /// The binding of a table id seen in a TABLE_MAP.
    pub fn binding(&self, table_id: u64) -> Option<&Binding> {
        self.bound.get(&table_id)
    }

    /// Resolves a TABLE_MAP event at `at`.
    pub async fn bind(&mut self, tm: &TableMap, at: &BinlogCoord) -> Result<()> {
        let db = String::from_utf8_lossy(&tm.schema).into_owned();
        let table = String::from_utf8_lossy(&tm.table).into_owned();
        let key = (db.clone(), table.clone());
        if !self.filter.allows(&db, &table) || self.stopped.contains_key(&key) {
            self.bound.insert(tm.table_id, Binding::Skip);
            return Ok(());
        }
        if let Some(Binding::Bound(b)) = self.bound.get(&tm.table_id) {
            if self.arcs.get(&key).is_some_and(|a| Arc::ptr_eq(a, &b.schema)) && b.schema.db == db && b.schema.name == table {
                return Ok(());
            }
        }
        match self.resolve(tm, &db, &table, at).await {
            Ok(schema) => {
                let bound = Bound { unsigned_width: unsigned_widths(tm, &schema), schema };
                self.bound.insert(tm.table_id, Binding::Bound(Arc::new(bound)));
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::SchemaMismatch && self.policy == SchemaErrorPolicy::StopTable => {
                tracing::error!(table = %format!("{db}.{table}"), error = %e, "Stopping capture of this table.");
                self.stopped.insert(key, e.to_string());
                self.bound.insert(tm.table_id, Binding::Skip);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn resolve(&mut self, tm: &TableMap, db: &str, table: &str, at: &BinlogCoord) -> Result<Arc<TableSchema>> {
        let key = (db.to_owned(), table.to_owned());
        if let Some(a) = self.arcs.get(&key) {
            if shape_mismatch(tm, a).is_none() {
                return Ok(Arc::clone(a));
            }
        }
        let known = self.catalog.table(db, table).cloned();
        if let Some(schema) = &known {
            if shape_mismatch(tm, schema).is_none() {
                return Ok(self.cache(schema.clone()));
            }
        }
        // Unknown, or known with another shape: ask the server what the table is now.
        let live = self.load_live(db, table).await?;
        if let Some(schema) = &live {
            if shape_mismatch(tm, schema).is_none() {
                if known.is_some() {
                    tracing::warn!(table = %format!("{db}.{table}"), position = %at, "Schema history disagreed with the binlog; using the server's current definition, which matches it.");
                }
                self.catalog.put_table(schema.clone());
                self.history.record(at, vec![Op::Put { table: Box::new(schema.clone()) }])?;
                return Ok(self.cache(schema.clone()));
            }
        }
        let ours = known.as_ref().or(live.as_ref());
        Err(Error::new(
            ErrorKind::SchemaMismatch,
            format!(
                "rows of {db}.{table} at {at} do not fit its known schema: the binlog has {} but the schema is {}; \
                 refusing to map values to the wrong columns (the table changed in a way the history \
                 did not follow — set binlog_row_metadata=FULL on the source, or restart from a position \
                 after the change and resync the table)",
                binlog_shape(tm),
                ours.map(schema_shape).unwrap_or_else(|| "unknown (the table no longer exists on the server)".into())
            ),
        ))
    }

    fn cache(&mut self, schema: TableSchema) -> Arc<TableSchema> {
        let key = (schema.db.clone(), schema.name.clone());
        let a = Arc::new(schema);
        self.arcs.insert(key, Arc::clone(&a));
        a
    }

    /// The table as the server defines it now, parsed with the catalog's DDL parser.
    async fn load_live(&mut self, db: &str, table: &str) -> Result<Option<TableSchema>> {
        let Some(ddl) = self.live.show_create(db, table).await? else { return Ok(None) };
        let known = self.catalog.database(db).and_then(|d| Some((d.charset.clone()?, d.collation.clone()?)));
        let defaults = match known {
            Some(d) => Some(d),
            None => self.live.database_defaults(db).await?,
        };
        parse_create(self.catalog.settings(), defaults, db, table, &ddl)
    }

    /// The schema rows of `db.table` handed out at `at` are decoded with, given the one a
    /// snapshot read them with (`read`, from the server's definition at that point): the
    /// history's when it has the same columns, else `read`, recorded in the history at `at`
    /// (the history did not know the table, or disagreed with the server).
    pub fn snapshot_schema(&mut self, read: &TableSchema, at: &BinlogCoord) -> Result<Arc<TableSchema>> {
        let key = (read.db.clone(), read.name.clone());
        let same = |a: &TableSchema| {
            a.columns.len() == read.columns.len()
                && a.columns.iter().zip(&read.columns).all(|(x, y)| names_equal(&x.name, &y.name) && x.sql_type == y.sql_type && x.unsigned == y.unsigned)
        };
        if let Some(a) = self.arcs.get(&key) {
            if same(a) {
                return Ok(Arc::clone(a));
            }
        }
        if let Some(known) = self.catalog.table(&read.db, &read.name).cloned() {
            if same(&known) {
                return Ok(self.cache(known));
            }
            tracing::warn!(table = %format!("{}.{}", read.db, read.name), position = %at, "Schema history disagreed with the server's definition at a snapshot read; using the server's.");
        }
        self.catalog.put_table(read.clone());
        self.history.record(at, vec![Op::Put { table: Box::new(read.clone()) }])?;
        Ok(self.cache(read.clone()))
    }
}

/// Parses a `SHOW CREATE TABLE` text of `db.table` with `settings` and the database's default
/// character set and collation (when known).
pub fn parse_create(settings: &crate::schema::Settings, defaults: Option<(String, String)>, db: &str, table: &str, ddl: &str) -> Result<Option<TableSchema>> {
    let mut scratch = Catalog::new(settings.clone());
    if let Some((cs, co)) = defaults {
        scratch.put_database(db, &cs, &co);
    }
    scratch
        .apply(Some(db), ddl)
        .map_err(|e| Error::new(ErrorKind::Ddl, format!("cannot read the definition of {db}.{table}: {e}\n{ddl}")))?;
    Ok(scratch.table(db, table).cloned())
}

impl Tables {

    /// Applies a DDL statement met at `at` (the position after it). Returns the tables it
    /// affected (`(db, "")` for database-level statements).
    pub async fn apply_ddl(&mut self, default_db: Option<&str>, sql: &str, at: &BinlogCoord) -> Result<Vec<(String, String)>> {
        if let Some(ops) = self.history.at(at).map(<[Op]>::to_vec) {
            let mut affected = Vec::new();
            for op in &ops {
                history::apply(&mut self.catalog, op);
                affected.extend(op_tables(op));
            }
            self.invalidate(&affected);
            return Ok(affected);
        }
        let mut result = self.catalog.apply(default_db, sql);
        let mut learnt = Vec::new();
        if let Err(DdlError::UnknownDatabase(db)) = &result {
            // A database created before the start position: learn it and try once more (a second
            // failure goes to the fallbacks below).
            let db = db.clone();
            learnt.push(self.learn_database(&db).await?);
            result = self.catalog.apply(default_db, sql);
        }
        let (mut ops, affected) = match result {
            Ok(changes) => self.ops_for(&changes),
            Err(DdlError::UnknownTable { db, table }) => {
                // The table will be read from the server when its rows arrive.
                (vec![Op::Drop { db: db.clone(), table: table.clone() }], vec![(db, table)])
            }
            Err(e) => {
                tracing::warn!(position = %at, error = %e, statement = %truncate(sql, 500), "Could not apply a DDL statement to the schema history; every table will be re-read from the server and checked against the binlog.");
                (vec![Op::Reset], Vec::new())
            }
        };
        if ops.contains(&Op::Reset) {
            history::apply(&mut self.catalog, &Op::Reset);
            self.arcs.clear();
            self.bound.clear();
        }
        if !learnt.is_empty() {
            learnt.append(&mut ops);
            ops = learnt;
        }
        self.history.record(at, ops)?;
        self.invalidate(&affected);
        Ok(affected)
    }

    /// Puts a database the catalog does not know into it, with its default character set and
    /// collation as the server has them now (the server's defaults when the server does not show
    /// it). Returns the change, for the history.
    async fn learn_database(&mut self, db: &str) -> Result<Op> {
        let (charset, collation) = match self.live.database_defaults(db).await? {
            Some(defaults) => defaults,
            None => {
                let s = self.catalog.settings();
                tracing::info!(database = %db, charset = %s.charset, collation = %s.collation, "A DDL statement needs a database the source does not show (dropped since, or hidden from this account); assuming the server's default character set for it.");
                (s.charset.clone(), s.collation.clone())
            }
        };
        let op = Op::PutDatabase { db: db.to_owned(), charset, collation };
        history::apply(&mut self.catalog, &op);
        Ok(op)
    }

    fn ops_for(&self, changes: &[TableChange]) -> (Vec<Op>, Vec<(String, String)>) {
        let mut ops = Vec::new();
        let mut affected = Vec::new();
        let put = |ops: &mut Vec<Op>, db: &str, table: &str| match self.catalog.table(db, table) {
            Some(t) => ops.push(Op::Put { table: Box::new(t.clone()) }),
            None => ops.push(Op::Drop { db: db.to_owned(), table: table.to_owned() }),
        };
        for c in changes {
            match c {
                TableChange::Created { db, table } | TableChange::Altered { db, table } => {
                    put(&mut ops, db, table);
                    affected.push((db.clone(), table.clone()));
                }
                TableChange::Dropped { db, table } => {
                    ops.push(Op::Drop { db: db.clone(), table: table.clone() });
                    affected.push((db.clone(), table.clone()));
                }
                TableChange::Renamed { from_db, from_table, db, table } => {
                    ops.push(Op::Drop { db: from_db.clone(), table: from_table.clone() });
                    put(&mut ops, db, table);
                    affected.push((from_db.clone(), from_table.clone()));
                    affected.push((db.clone(), table.clone()));
                }
                TableChange::Truncated { db, table } => affected.push((db.clone(), table.clone())),
                TableChange::DatabaseCreated(db) => {
                    if let Some(d) = self.catalog.database(db) {
                        if let (Some(cs), Some(co)) = (&d.charset, &d.collation) {
                            ops.push(Op::PutDatabase { db: db.clone(), charset: cs.clone(), collation: co.clone() });
                        }
                    }
                    affected.push((db.clone(), String::new()));
                }
                TableChange::DatabaseDropped(db) => {
                    ops.push(Op::DropDatabase { db: db.clone() });
                    affected.push((db.clone(), String::new()));
                }
            }
        }
        (ops, affected)
    }

    fn invalidate(&mut self, affected: &[(String, String)]) {
        for (db, table) in affected {
            if table.is_empty() {
                self.arcs.retain(|(d, _), _| d != db);
            } else {
                self.arcs.remove(&(db.clone(), table.clone()));
            }
        }
        // Table ids are re-bound at their next TABLE_MAP (servers send one before every statement).
        self.bound.clear();
    }
}

fn op_tables(op: &Op) -> Vec<(String, String)> {
    match op {
        Op::Put { table } => vec![(table.db.clone(), table.name.clone())],
        Op::Drop { db, table } => vec![(db.clone(), table.clone())],
        Op::PutDatabase { db, .. } | Op::DropDatabase { db } => vec![(db.clone(), String::new())],
        Op::Reset => Vec::new(),
    }
}

/// Converts a decoded row image to a captured row: owned values, unsigned integers fixed up.
pub fn convert(bound: &Bound, image: Vec<Value<'_>>) -> Row {
    image
        .into_iter()
        .zip(bound.unsigned_width.iter().chain(std::iter::repeat(&None)))
        .map(|(v, w)| match (v, w) {
            (Value::Int(i), Some(width)) => Value::UInt(Value::Int(i).to_unsigned(*width).unwrap_or(i as u64)),
            (v, _) => v.into_owned(),
        })
        .collect()
}

fn unsigned_widths(tm: &TableMap, schema: &TableSchema) -> Vec<Option<u8>> {
    tm.columns
        .iter()
        .zip(&schema.columns)
        .map(|(c, s)| match c.kind {
            Kind::Int(n) if s.unsigned && c.unsigned.is_none() => Some(n),
            _ => None,
        })
        .collect()
}

/// Type families the binlog may write for one SQL type (old and new temporal formats, ...).
fn family(code: u8) -> u8 {
    match code {
        7 | 17 => 17,
        11 | 19 => 19,
        12 | 18 => 18,
        10 | 14 => 10,
        15 | 253 | 141 => 15,
        249..=252 | 140 => 252,
        247 | 248 | 254 => 254,
        0 | 246 => 246,
        c => c,
    }
}

/// Why `schema` does not fit the TABLE_MAP, if it does not.
fn shape_mismatch(tm: &TableMap, schema: &TableSchema) -> Option<String> {
    if tm.columns.len() != schema.columns.len() {
        return Some(format!("{} columns vs {}", tm.columns.len(), schema.columns.len()));
    }
    for (i, (c, s)) in tm.columns.iter().zip(&schema.columns).enumerate() {
        if let Some(code) = s.sql_type.binlog_type_code() {
            if family(code) != family(c.column_type.code()) {
                return Some(format!("column {} ({}) type", i + 1, s.name));
            }
        }
        if let Some(name) = &c.name {
            if !names_equal(name, &s.name) {
                return Some(format!("column {} is named {name} in the binlog, {} in the schema", i + 1, s.name));
            }
        }
    }
    None
}

fn binlog_shape(tm: &TableMap) -> String {
    let cols: Vec<String> = tm
        .columns
        .iter()
        .map(|c| match &c.name {
            Some(n) => format!("{n} {}", c.column_type.name()),
            None => c.column_type.name().to_owned(),
        })
        .collect();
    format!("{} columns ({})", cols.len(), cols.join(", "))
}

fn schema_shape(s: &TableSchema) -> String {
    let cols: Vec<String> = s.columns.iter().map(|c| format!("{} {:?}", c.name, c.sql_type)).collect();
    format!("{} columns ({})", cols.len(), cols.join(", "))
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}
