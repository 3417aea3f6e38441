//! Executing parsed statements against an [`Overlay`] of the catalog.
//!
//! Invariants:
//! - unqualified names resolve to the default database, and an unqualified name without one is
//!   [`DdlError::NoDatabase`];
//! - a statement that must find a table the catalog does not know (ALTER, RENAME, CREATE ... LIKE)
//!   is [`DdlError::UnknownTable`], even with IF EXISTS (the catalog cannot tell whether the server
//!   had the table, the caller can); DROP of an unknown table succeeds and reports nothing, since it
//!   happened on the server;
//! - CREATE TABLE of a table the catalog already has (without IF NOT EXISTS) replaces it: the
//!   server executed it, so the server did not have the table and the catalog was out of date.

use crate::schema::ddl::alter_exec::alter_table;
use crate::schema::ddl::ast::{CharsetOptions, CreateTable, ObjectName, Statement, TableElement};
use crate::schema::ddl::build::{build, normalize_prefix, TableParts, WorkKey};
use crate::schema::ddl::catalog::{Overlay, TableChange};
use crate::schema::ddl::resolve::{self, Charset};
use crate::schema::ddl::settings::Settings;
use crate::schema::ddl::{ast, DdlError};
use crate::schema::model::{names_equal, Column, TableSchema};
use crate::schema::sql_type::SqlType;

/// Executes `stmt`, recording its effect in `ov`, and reports what changed.
pub(crate) fn execute(
    stmt: Statement,
    default_db: Option<&str>,
    settings: &Settings,
    ov: &mut Overlay,
) -> Result<Vec<TableChange>, DdlError> {
    let resolve = |name: &ObjectName| resolve_name(name, default_db);
    match stmt {
        Statement::CreateTable(ct) => {
            let target = resolve(&ct.table)?;
            create_table(ct, target, settings, ov)
        }
        Statement::CreateTableLike {
            table,
            like,
            if_not_exists,
            or_replace,
        } => {
            let (db, name) = resolve(&table)?;
            let (src_db, src_name) = resolve(&like)?;
            let mut copy = ov
                .table(&src_db, &src_name)
                .cloned()
                .ok_or(DdlError::UnknownTable {
                    db: src_db,
                    table: src_name,
                })?;
            copy.db = db;
            copy.name = name;
            Ok(create(ov, copy, if_not_exists, or_replace))
        }
        Statement::AlterTable { table, specs } => {
            alter(resolve(&table)?, specs, default_db, settings, ov)
        }
        Statement::RenameTables(pairs) => {
            let mut changes = Vec::new();
            for (from, to) in pairs {
                let (from_db, from_table) = resolve(&from)?;
                changes.push(rename(ov, from_db, from_table, resolve(&to)?)?);
            }
            Ok(changes)
        }
        Statement::DropTables(names) => {
            let mut changes = Vec::new();
            for name in names {
                let (db, table) = resolve(&name)?;
                if ov.remove_table(&db, &table) {
                    changes.push(TableChange::Dropped { db, table });
                }
            }
            Ok(changes)
        }
        Statement::Truncate(name) => {
            let (db, table) = resolve(&name)?;
            Ok(vec![TableChange::Truncated { db, table }])
        }
        Statement::CreateDatabase {
            name,
            if_not_exists,
            or_replace,
            options,
        } => create_database(ov, name, if_not_exists, or_replace, &options, settings),
        Statement::DropDatabase(name) => Ok(drop_database(ov, &name)),
        Statement::AlterDatabase { name, options } => {
            let db = name
                .or_else(|| default_db.map(str::to_owned))
                .ok_or_else(|| DdlError::NoDatabase(String::new()))?;
            if options != CharsetOptions::default() {
                let current = ov.db_charset(&db);
                let inherited = if options.charset.is_some() {
                    Some(server_charset(settings))
                } else {
                    current
                };
                let cs = resolve::table_charset(&options, inherited.as_ref(), settings, || {
                    DdlError::UnknownDatabase(db.clone())
                })?;
                ov.put_db(&db, cs);
            }
            Ok(Vec::new())
        }
        Statement::CreateSequence {
            name,
            if_not_exists,
            or_replace,
            engine,
        } => {
            let (db, table) = resolve(&name)?;
            let engine = engine.unwrap_or_else(|| settings.default_storage_engine.clone());
            let defaults = ov.db_charset(&db);
            Ok(create(
                ov,
                sequence_table(db, table, engine, defaults),
                if_not_exists,
                or_replace,
            ))
        }
        Statement::NoOp => Ok(Vec::new()),
    }
}

fn resolve_name(name: &ObjectName, default_db: Option<&str>) -> Result<(String, String), DdlError> {
    match (&name.db, default_db) {
        (Some(db), _) => Ok((db.clone(), name.name.clone())),
        (None, Some(db)) => Ok((db.to_owned(), name.name.clone())),
        (None, None) => Err(DdlError::NoDatabase(name.name.clone())),
    }
}

fn server_charset(settings: &Settings) -> Charset {
    Charset {
        charset: settings.charset.clone(),
        collation: settings.collation.clone(),
    }
}

/// Puts a new table, honouring IF NOT EXISTS and OR REPLACE.
fn create(
    ov: &mut Overlay,
    table: TableSchema,
    if_not_exists: bool,
    or_replace: bool,
) -> Vec<TableChange> {
    let (db, name) = (table.db.clone(), table.name.clone());
    let exists = ov.table(&db, &name).is_some();
    if exists && if_not_exists && !or_replace {
        return Vec::new();
    }
    if exists && !or_replace {
        tracing::warn!(db = %db, table = %name, "CREATE TABLE of a table the catalog has: replacing it");
    }
    let mut changes = Vec::new();
    if exists {
        changes.push(TableChange::Dropped {
            db: db.clone(),
            table: name.clone(),
        });
    }
    ov.put_table(table);
    changes.push(TableChange::Created { db, table: name });
    changes
}

fn create_table(
    ct: CreateTable,
    (db, name): (String, String),
    settings: &Settings,
    ov: &mut Overlay,
) -> Result<Vec<TableChange>, DdlError> {
    if ct.if_not_exists && !ct.or_replace && ov.table(&db, &name).is_some() {
        return Ok(Vec::new());
    }
    let db_cs = ov.db_charset(&db);
    let table_cs = resolve::table_charset(&ct.options.charset, db_cs.as_ref(), settings, || {
        DdlError::UnknownDatabase(db.clone())
    })?;
    let mut columns: Vec<Column> = Vec::new();
    for element in &ct.elements {
        if let TableElement::Column(def) = element {
            if columns.iter().any(|c| names_equal(&c.name, &def.name)) {
                return Err(DdlError::Conflict(format!(
                    "duplicate column name {}",
                    def.name
                )));
            }
            columns.push(resolve::column(def, Some(&table_cs), settings)?);
        }
    }
    let mut keys = Vec::new();
    for element in &ct.elements {
        if let TableElement::Key(key) = element {
            keys.push(work_key(key, &columns, &db, &name)?);
        }
    }
    let engine = ct
        .options
        .engine
        .clone()
        .unwrap_or_else(|| settings.default_storage_engine.clone());
    let parts = TableParts {
        db,
        name,
        columns,
        keys,
        charset: Some(table_cs.charset),
        collation: Some(table_cs.collation),
        engine: Some(engine),
        long_unique_last: true,
    };
    let table = build(parts, settings)?;
    Ok(create(ov, table, ct.if_not_exists, ct.or_replace))
}

/// A written key with its parts resolved against `columns`.
fn work_key(
    key: &ast::KeyDef,
    columns: &[Column],
    db: &str,
    table: &str,
) -> Result<WorkKey, DdlError> {
    let mut parts = Vec::new();
    for part in &key.parts {
        let unknown = || DdlError::UnknownColumn {
            db: db.to_owned(),
            table: table.to_owned(),
            column: part.column.clone(),
        };
        let i = columns
            .iter()
            .position(|c| names_equal(&c.name, &part.column))
            .ok_or_else(unknown)?;
        let column = columns.get(i).ok_or_else(unknown)?;
        parts.push((i, normalize_prefix(part.prefix, column, false)?));
    }
    Ok(WorkKey {
        kind: key.kind,
        name: key.name.clone(),
        parts,
        using_hash: key.using_hash,
        if_not_exists: key.if_not_exists,
    })
}

fn alter(
    (db, name): (String, String),
    specs: Vec<ast::AlterSpec>,
    default_db: Option<&str>,
    settings: &Settings,
    ov: &mut Overlay,
) -> Result<Vec<TableChange>, DdlError> {
    let Some(old) = ov.table(&db, &name).cloned() else {
        return Err(DdlError::UnknownTable { db, table: name });
    };
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let db_cs = ov.db_charset(&db);
    let altered = alter_table(&old, specs, db_cs.as_ref(), settings)?;
    let mut table = altered.table;
    let mut changes = Vec::new();
    for absorbed in &altered.absorbed {
        let (adb, aname) = resolve_name(absorbed, default_db)?;
        if ov.remove_table(&adb, &aname) {
            changes.push(TableChange::Dropped {
                db: adb,
                table: aname,
            });
        }
    }
    let structure_changed = table != old;
    if let Some(new_name) = &altered.rename {
        let target = resolve_name(new_name, default_db)?;
        if target != (db.clone(), name.clone()) {
            changes.push(rename(ov, db.clone(), name.clone(), target.clone())?);
            (table.db, table.name) = target;
        }
    }
    if structure_changed {
        changes.push(TableChange::Altered {
            db: table.db.clone(),
            table: table.name.clone(),
        });
    }
    for copy in &altered.copies {
        let (cdb, cname) = resolve_name(copy, default_db)?;
        let mut t = table.clone();
        (t.db, t.name) = (cdb, cname);
        changes.extend(create(ov, t, false, false));
    }
    ov.put_table(table);
    Ok(changes)
}

/// Moves a table; the target must not exist.
fn rename(
    ov: &mut Overlay,
    from_db: String,
    from_table: String,
    (db, table): (String, String),
) -> Result<TableChange, DdlError> {
    let Some(mut t) = ov.table(&from_db, &from_table).cloned() else {
        return Err(DdlError::UnknownTable {
            db: from_db,
            table: from_table,
        });
    };
    if ov.table(&db, &table).is_some() {
        return Err(DdlError::Conflict(format!(
            "rename target {db}.{table} already exists"
        )));
    }
    ov.remove_table(&from_db, &from_table);
    (t.db, t.name) = (db.clone(), table.clone());
    ov.put_table(t);
    Ok(TableChange::Renamed {
        from_db,
        from_table,
        db,
        table,
    })
}

fn create_database(
    ov: &mut Overlay,
    name: String,
    if_not_exists: bool,
    or_replace: bool,
    options: &CharsetOptions,
    settings: &Settings,
) -> Result<Vec<TableChange>, DdlError> {
    let exists = ov.db_exists(&name);
    if exists && if_not_exists && !or_replace {
        return Ok(Vec::new());
    }
    let server = server_charset(settings);
    let cs = resolve::table_charset(options, Some(&server), settings, || {
        DdlError::UnknownDatabase(name.clone())
    })?;
    let mut changes = if exists {
        drop_database(ov, &name)
    } else {
        Vec::new()
    };
    ov.put_db(&name, cs);
    changes.push(TableChange::DatabaseCreated(name));
    Ok(changes)
}

fn drop_database(ov: &mut Overlay, name: &str) -> Vec<TableChange> {
    if !ov.db_exists(name) {
        return Vec::new();
    }
    let mut changes: Vec<TableChange> = ov
        .drop_db(name)
        .into_iter()
        .map(|table| TableChange::Dropped {
            db: name.to_owned(),
            table,
        })
        .collect();
    changes.push(TableChange::DatabaseDropped(name.to_owned()));
    changes
}

/// The table MariaDB stores a sequence in (its row events use these columns); its defaults are
/// the database's.
fn sequence_table(
    db: String,
    name: String,
    engine: String,
    defaults: Option<Charset>,
) -> TableSchema {
    let column = |name: &str, sql_type: SqlType, unsigned: bool| Column { nullable: false, unsigned, ..Column::new(name, sql_type) };
    let columns = vec![
        column("next_not_cached_value", SqlType::BigInt, false),
        column("minimum_value", SqlType::BigInt, false),
        column("maximum_value", SqlType::BigInt, false),
        column("start_value", SqlType::BigInt, false),
        column("increment", SqlType::BigInt, false),
        column("cache_size", SqlType::BigInt, true),
        column("cycle_option", SqlType::TinyInt, true),
        column("cycle_count", SqlType::BigInt, false),
    ];
    TableSchema {
        db,
        name,
        columns,
        primary_key: Vec::new(),
        unique_keys: Vec::new(),
        indexes: Vec::new(),
        charset: defaults.as_ref().map(|d| d.charset.clone()),
        collation: defaults.map(|d| d.collation),
        engine: Some(engine),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_against_the_default_database() {
        let n = |db: Option<&str>| ObjectName {
            db: db.map(str::to_owned),
            name: "t".into(),
        };
        assert_eq!(
            resolve_name(&n(Some("a")), Some("b")).ok(),
            Some(("a".into(), "t".into()))
        );
        assert_eq!(
            resolve_name(&n(None), Some("b")).ok(),
            Some(("b".into(), "t".into()))
        );
        assert_eq!(
            resolve_name(&n(None), None),
            Err(DdlError::NoDatabase("t".into()))
        );
    }
}
