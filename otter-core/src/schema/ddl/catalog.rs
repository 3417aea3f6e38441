//! The catalog: every known database and table, and applying DDL to it.
//!
//! Invariants:
//! - database and table names are case-sensitive map keys (`lower_case_table_names=0`), and a
//!   table's `db`/`name` always equal its keys;
//! - [`Catalog::apply`] is atomic: a statement is executed against an [`Overlay`] that records
//!   its changes, and the changes are written back only when the whole statement succeeded;
//! - a database's default character set and collation are either both known or both `None`
//!   (for databases the catalog learnt of only through their tables).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::ddl::lexer::{self, LexOptions};
use crate::schema::ddl::parser::Parser;
use crate::schema::ddl::resolve::Charset;
use crate::schema::ddl::settings::Settings;
use crate::schema::ddl::{classify_tokens, exec, statement, DdlError, QueryKind};
use crate::schema::model::TableSchema;

/// What a statement did to the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableChange {
    /// A table was created (CREATE TABLE, CREATE TABLE LIKE, CREATE SEQUENCE, ...).
    Created {
        /// Database.
        db: String,
        /// Table.
        table: String,
    },
    /// A table's columns, keys or defaults changed.
    Altered {
        /// Database.
        db: String,
        /// Table (its name after the statement).
        table: String,
    },
    /// A table was dropped.
    Dropped {
        /// Database.
        db: String,
        /// Table.
        table: String,
    },
    /// A table was renamed (possibly into another database).
    Renamed {
        /// Old database.
        from_db: String,
        /// Old name.
        from_table: String,
        /// New database.
        db: String,
        /// New name.
        table: String,
    },
    /// A table was truncated (reported whether or not the catalog knows it).
    Truncated {
        /// Database.
        db: String,
        /// Table.
        table: String,
    },
    /// A database was created.
    DatabaseCreated(String),
    /// A database (and every table in it) was dropped.
    DatabaseDropped(String),
}

/// One database: its defaults and its tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// Default character set, if known.
    pub charset: Option<String>,
    /// Default collation, if known.
    pub collation: Option<String>,
    /// Tables by (case-sensitive) name.
    pub tables: BTreeMap<String, TableSchema>,
}

impl Database {
    fn defaults(&self) -> Option<Charset> {
        match (&self.charset, &self.collation) {
            (Some(charset), Some(collation)) => Some(Charset {
                charset: charset.clone(),
                collation: collation.clone(),
            }),
            _ => None,
        }
    }
}

/// Every known database and table as of some binlog position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    settings: Settings,
    databases: BTreeMap<String, Database>,
}

impl Catalog {
    /// An empty catalog for a server with these settings.
    pub fn new(settings: Settings) -> Catalog {
        Catalog {
            settings,
            databases: BTreeMap::new(),
        }
    }

    /// The server settings DDL is applied with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The server settings, to update (e.g. `sql_mode` from a QUERY event).
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// A table, if known.
    pub fn table(&self, db: &str, name: &str) -> Option<&TableSchema> {
        self.databases.get(db).and_then(|d| d.tables.get(name))
    }

    /// A database, if known.
    pub fn database(&self, db: &str) -> Option<&Database> {
        self.databases.get(db)
    }

    /// All known databases by name.
    pub fn databases(&self) -> &BTreeMap<String, Database> {
        &self.databases
    }

    /// Every known table, ordered by database then name.
    pub fn tables(&self) -> impl Iterator<Item = &TableSchema> {
        self.databases.values().flat_map(|d| d.tables.values())
    }

    /// Adds or replaces a table (e.g. read from `information_schema` at startup). Its hidden
    /// long-unique hash columns are re-derived from its keys
    /// ([`TableSchema::sync_long_unique_hash_columns`]); its database is created if unknown.
    pub fn put_table(&mut self, mut table: TableSchema) {
        table.sync_long_unique_hash_columns();
        let db = self.databases.entry(table.db.clone()).or_default();
        db.tables.insert(table.name.clone(), table);
    }

    /// Removes a table; returns it if it was known.
    pub fn drop_table(&mut self, db: &str, name: &str) -> Option<TableSchema> {
        self.databases
            .get_mut(db)
            .and_then(|d| d.tables.remove(name))
    }

    /// Adds a database or sets its default character set and collation, keeping its tables.
    pub fn put_database(&mut self, db: &str, charset: &str, collation: &str) {
        let entry = self.databases.entry(db.to_owned()).or_default();
        entry.charset = Some(crate::schema::charset::normalize_charset(charset));
        entry.collation = Some(crate::schema::charset::normalize_collation(collation));
    }

    /// Removes a database and its tables; returns it if it was known.
    pub fn drop_database(&mut self, db: &str) -> Option<Database> {
        self.databases.remove(db)
    }

    fn lex_options(&self) -> LexOptions {
        LexOptions {
            ansi_quotes: self.settings.sql_mode.ansi_quotes(),
            no_backslash_escapes: self.settings.sql_mode.no_backslash_escapes(),
            mariadb: self.settings.is_mariadb(),
            server_version: self.settings.server_version,
        }
    }

    /// Applies one statement from a QUERY event, executed with `default_db` as the current
    /// database. Statements that are not DDL, or DDL that cannot change tables, return no
    /// changes. Atomic: on error the catalog is unchanged.
    pub fn apply(
        &mut self,
        default_db: Option<&str>,
        sql: &str,
    ) -> Result<Vec<TableChange>, DdlError> {
        let opts = self.lex_options();
        let (tokens, lex_error) = lexer::tokenize(sql, opts);
        if classify_tokens(&tokens) != QueryKind::Ddl {
            return Ok(Vec::new());
        }
        if let Some(e) = lex_error {
            return Err(e);
        }
        if let Some(mode) = self.settings.sql_mode.unsupported(self.settings.flavor) {
            return Err(DdlError::Unsupported(mode.into()));
        }
        let mut parser = Parser::new(
            sql,
            tokens,
            self.settings.is_mariadb(),
            self.settings.sql_mode.real_as_float(),
        );
        let stmt = statement::parse(&mut parser)?;
        let mut overlay = Overlay::new(&self.databases);
        let changes = exec::execute(stmt, default_db, &self.settings, &mut overlay)?;
        let (dbs, tables) = overlay.into_parts();
        self.commit(dbs, tables);
        Ok(changes)
    }

    fn commit(&mut self, dbs: StagedDatabases, tables: StagedTables) {
        for (name, defaults) in dbs {
            match defaults {
                Some(cs) => {
                    let db = self.databases.entry(name).or_default();
                    db.charset = Some(cs.charset);
                    db.collation = Some(cs.collation);
                }
                None => {
                    self.databases.remove(&name);
                }
            }
        }
        for ((db, name), table) in tables {
            match table {
                Some(t) => {
                    self.databases.entry(db).or_default().tables.insert(name, t);
                }
                None => {
                    if let Some(d) = self.databases.get_mut(&db) {
                        d.tables.remove(&name);
                    }
                }
            }
        }
    }
}

/// Database defaults set (`Some`) or databases dropped (`None`) by a statement.
type StagedDatabases = BTreeMap<String, Option<Charset>>;
/// Tables put (`Some`) or removed (`None`) by a statement, by `(db, name)`.
type StagedTables = BTreeMap<(String, String), Option<TableSchema>>;

/// The changes of one statement on top of the catalog's databases, written back on success.
pub(crate) struct Overlay<'a> {
    base: &'a BTreeMap<String, Database>,
    dbs: StagedDatabases,
    tables: StagedTables,
}

impl<'a> Overlay<'a> {
    fn new(base: &'a BTreeMap<String, Database>) -> Self {
        Overlay {
            base,
            dbs: BTreeMap::new(),
            tables: BTreeMap::new(),
        }
    }

    fn into_parts(self) -> (StagedDatabases, StagedTables) {
        (self.dbs, self.tables)
    }

    pub fn table(&self, db: &str, name: &str) -> Option<&TableSchema> {
        match self.tables.get(&(db.to_owned(), name.to_owned())) {
            Some(staged) => staged.as_ref(),
            None if self.dbs.get(db) == Some(&None) => None,
            None => self.base.get(db).and_then(|d| d.tables.get(name)),
        }
    }

    pub fn put_table(&mut self, table: TableSchema) {
        self.tables
            .insert((table.db.clone(), table.name.clone()), Some(table));
    }

    /// Removes a table; true if it existed.
    pub fn remove_table(&mut self, db: &str, name: &str) -> bool {
        let existed = self.table(db, name).is_some();
        if existed {
            self.tables.insert((db.to_owned(), name.to_owned()), None);
        }
        existed
    }

    pub fn db_exists(&self, db: &str) -> bool {
        match self.dbs.get(db) {
            Some(staged) => staged.is_some(),
            None => self.base.contains_key(db),
        }
    }

    /// A database's defaults, `None` if the database or its defaults are unknown.
    pub fn db_charset(&self, db: &str) -> Option<Charset> {
        match self.dbs.get(db) {
            Some(staged) => staged.clone(),
            None => self.base.get(db).and_then(Database::defaults),
        }
    }

    pub fn put_db(&mut self, db: &str, cs: Charset) {
        self.dbs.insert(db.to_owned(), Some(cs));
    }

    /// The names of a database's tables.
    pub fn table_names(&self, db: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .base
            .get(db)
            .map(|d| d.tables.keys().cloned().collect())
            .unwrap_or_default();
        names.extend(
            self.tables
                .keys()
                .filter(|(d, _)| d == db)
                .map(|(_, n)| n.clone()),
        );
        names.sort();
        names.dedup();
        names.retain(|n| self.table(db, n).is_some());
        names
    }

    /// Drops a database and its tables; returns the names of the tables it had.
    pub fn drop_db(&mut self, db: &str) -> Vec<String> {
        let names = self.table_names(db);
        for name in &names {
            self.remove_table(db, name);
        }
        self.dbs.insert(db.to_owned(), None);
        names
    }
}
