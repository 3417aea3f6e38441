//! Applying ALTER TABLE specifications to a table, in the server's order
//! (`mysql_prepare_alter_table`), not the written one.
//!
//! Invariants (checked against MariaDB 10.11):
//! - DROP, CHANGE/MODIFY, RENAME COLUMN and ALTER COLUMN name columns of the *old* table, so
//!   `CHANGE a b .., CHANGE b a ..` swaps two columns; each old column takes at most one of them;
//! - old columns keep their order; a redefined column without FIRST/AFTER stays in place; added
//!   columns, then redefined columns with FIRST/AFTER, are placed in written order, and AFTER
//!   names a column of the new table;
//! - an old key follows its columns through renames; a key column matches the first new column
//!   that was that old column or, failing that, a *new* column of the same name; a key losing
//!   all its columns disappears, a UNIQUE key losing some is an error on MariaDB and shrinks on
//!   MySQL;
//! - CONVERT TO CHARACTER SET converts every column with a non-binary character set and resizes
//!   old TEXT columns to hold as many characters as before;
//! - anything the server would have rejected (unknown or duplicate column, ...) is an error: the
//!   catalog no longer matches the server.

use crate::schema::ddl::ast::{
    AlterSpec, ColumnAction, ColumnDef, KeyDef, KeyKind, ObjectName, Position,
};
use crate::schema::ddl::build::{build, normalize_prefix, TableParts, WorkKey};
use crate::schema::ddl::resolve::{self, Charset};
use crate::schema::ddl::settings::Settings;
use crate::schema::ddl::DdlError;
use crate::schema::model::{names_equal, Column, Generated, IndexKind, TableSchema};

/// The result of an ALTER TABLE.
pub(crate) struct Altered {
    pub table: TableSchema,
    /// RENAME TO, if any.
    pub rename: Option<ObjectName>,
    /// Tables created with this table's structure (MariaDB CONVERT PARTITION ... TO TABLE).
    pub copies: Vec<ObjectName>,
    /// Tables that became partitions of this one (MariaDB CONVERT TABLE ... TO PARTITION).
    pub absorbed: Vec<ObjectName>,
}

/// A column added (`old` is `None`) or redefined by CHANGE/MODIFY, waiting for its place.
struct PendingDef {
    old: Option<String>,
    def: ColumnDef,
    position: Option<Position>,
    bound: Option<usize>,
}

/// RENAME COLUMN (from, to) or ALTER COLUMN (name, action) on an old column.
enum ColumnOp {
    Rename(String, String),
    Alter(String, ColumnAction),
}

/// A column of the new table: where it came from and the name keys match it by.
struct WorkColumn {
    column: Column,
    origin: Option<usize>,
    match_name: String,
    redefined: bool,
}

/// The specifications sorted by what they act on.
#[derive(Default)]
struct Plan {
    defs: Vec<PendingDef>,
    drops: Vec<String>,
    ops: Vec<ColumnOp>,
    new_keys: Vec<KeyDef>,
    key_drops: Vec<String>,
    constraint_drops: Vec<String>,
    key_renames: Vec<(String, String)>,
    convert: Option<Charset>,
    engine: Option<String>,
    rename: Option<ObjectName>,
    copies: Vec<ObjectName>,
    absorbed: Vec<ObjectName>,
}

fn unknown_column(old: &TableSchema, column: &str) -> DdlError {
    DdlError::UnknownColumn {
        db: old.db.clone(),
        table: old.name.clone(),
        column: column.to_owned(),
    }
}

/// Applies `specs` to `old`; `db_charset` is the database default (for `CHARACTER SET DEFAULT`).
pub(crate) fn alter_table(
    old: &TableSchema,
    specs: Vec<AlterSpec>,
    db_charset: Option<&Charset>,
    settings: &Settings,
) -> Result<Altered, DdlError> {
    let mut table_cs = match (&old.charset, &old.collation) {
        (Some(charset), Some(collation)) => Some(Charset {
            charset: charset.clone(),
            collation: collation.clone(),
        }),
        _ => None,
    };
    let mut plan = plan(old, specs, &mut table_cs, db_charset, settings)?;
    let defs = std::mem::take(&mut plan.defs);
    let columns = columns(old, defs, &plan, table_cs.as_ref(), settings)?;
    let keys = keys(old, &plan, &columns, settings)?;
    let engine = plan.engine.clone().or_else(|| old.engine.clone());
    let table = build(
        TableParts {
            db: old.db.clone(),
            name: old.name.clone(),
            columns: columns.into_iter().map(|w| w.column).collect(),
            keys,
            charset: table_cs
                .as_ref()
                .map(|c| c.charset.clone())
                .or_else(|| old.charset.clone()),
            collation: table_cs
                .map(|c| c.collation)
                .or_else(|| old.collation.clone()),
            engine,
            long_unique_last: !plan.new_keys.is_empty(),
        },
        settings,
    )?;
    Ok(Altered {
        table,
        rename: plan.rename,
        copies: plan.copies,
        absorbed: plan.absorbed,
    })
}

/// Sorts the specifications by kind, dropping those whose IF [NOT] EXISTS condition fails.
fn plan(
    old: &TableSchema,
    specs: Vec<AlterSpec>,
    table_cs: &mut Option<Charset>,
    db_charset: Option<&Charset>,
    settings: &Settings,
) -> Result<Plan, DdlError> {
    let has = |name: &str| old.visible_columns().any(|c| names_equal(&c.name, name));
    let has_key = |name: &str| {
        old_keys(old)
            .iter()
            .any(|k| k.name.as_deref().is_some_and(|n| names_equal(n, name)))
    };
    let unknown_table_charset = || {
        DdlError::Unsupported(format!(
            "default character set of {}.{} unknown",
            old.db, old.name
        ))
    };
    let mut plan = Plan::default();
    for spec in specs {
        match spec {
            AlterSpec::AddColumn {
                def,
                position,
                if_not_exists,
            } => {
                let added = plan
                    .defs
                    .iter()
                    .any(|d| d.old.is_none() && names_equal(&d.def.name, &def.name));
                if !(if_not_exists && (has(&def.name) || added)) {
                    plan.defs.push(PendingDef {
                        old: None,
                        def,
                        position,
                        bound: None,
                    });
                }
            }
            AlterSpec::Change {
                old: name,
                def,
                position,
                if_exists,
            } => {
                if !if_exists || has(&name) {
                    plan.defs.push(PendingDef {
                        old: Some(name),
                        def,
                        position,
                        bound: None,
                    });
                }
            }
            AlterSpec::DropColumn { name, if_exists } if !if_exists || has(&name) => {
                plan.drops.push(name)
            }
            AlterSpec::RenameColumn {
                from,
                to,
                if_exists,
            } if !if_exists || has(&from) => plan.ops.push(ColumnOp::Rename(from, to)),
            AlterSpec::AlterColumn {
                name,
                action,
                if_exists,
            } if !if_exists || has(&name) => plan.ops.push(ColumnOp::Alter(name, action)),
            AlterSpec::DropColumn { .. }
            | AlterSpec::RenameColumn { .. }
            | AlterSpec::AlterColumn { .. } => {}
            AlterSpec::AddKey(key) => plan.new_keys.push(key),
            AlterSpec::DropIndex { name, if_exists } => {
                if !has_key(&name) && !if_exists {
                    // The server had it, so it is an index the catalog was not told about.
                    tracing::warn!(db = %old.db, table = %old.name, index = %name, "DROP INDEX of an unknown index");
                }
                plan.key_drops.push(name);
            }
            AlterSpec::DropConstraint { name } => plan.constraint_drops.push(name),
            AlterSpec::RenameIndex { from, to } => plan.key_renames.push((from, to)),
            AlterSpec::RenameTable(name) => plan.rename = Some(name),
            AlterSpec::PartitionToTable(name) => plan.copies.push(name),
            AlterSpec::TableToPartition(name) => plan.absorbed.push(name),
            AlterSpec::ConvertCharset { charset, collation } => {
                let opts = crate::schema::ddl::ast::CharsetOptions {
                    charset: Some(charset),
                    collation,
                };
                let cs =
                    resolve::table_charset(&opts, db_charset, settings, unknown_table_charset)?;
                *table_cs = Some(cs.clone());
                plan.convert = Some(cs);
            }
            AlterSpec::Options(options) => {
                if options.charset.charset.is_some() || options.charset.collation.is_some() {
                    let inherited = if options.charset.charset.is_some() {
                        db_charset
                    } else {
                        table_cs.as_ref()
                    };
                    *table_cs = Some(resolve::table_charset(
                        &options.charset,
                        inherited,
                        settings,
                        unknown_table_charset,
                    )?);
                }
                if options.engine.is_some() {
                    plan.engine = options.engine;
                }
            }
        }
    }
    Ok(plan)
}

/// The new column list.
fn columns(
    old: &TableSchema,
    mut defs: Vec<PendingDef>,
    plan: &Plan,
    table_cs: Option<&Charset>,
    settings: &Settings,
) -> Result<Vec<WorkColumn>, DdlError> {
    let resolve_def = |def: &ColumnDef| resolve::column(def, table_cs, settings);
    let mut drops_used = vec![false; plan.drops.len()];
    let mut ops_used = vec![false; plan.ops.len()];
    let mut out: Vec<WorkColumn> = Vec::new();
    for (i, col) in old
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.generated != Some(Generated::LongUniqueHash))
    {
        if let Some(d) = plan.drops.iter().enumerate().position(|(k, d)| {
            !drops_used.get(k).copied().unwrap_or(true) && names_equal(d, &col.name)
        }) {
            if let Some(used) = drops_used.get_mut(d) {
                *used = true;
            }
            continue;
        }
        let changed = defs.iter().position(|d| {
            d.bound.is_none() && d.old.as_deref().is_some_and(|o| names_equal(o, &col.name))
        });
        if let Some(k) = changed {
            let stays_in_place = defs.get(k).is_some_and(|d| d.position.is_none());
            if stays_in_place {
                let d = defs.remove(k);
                out.push(WorkColumn {
                    column: resolve_def(&d.def)?,
                    origin: Some(i),
                    match_name: col.name.clone(),
                    redefined: true,
                });
            } else if let Some(d) = defs.get_mut(k) {
                d.bound = Some(i);
            }
            continue;
        }
        let mut work = WorkColumn {
            column: col.clone(),
            origin: Some(i),
            match_name: col.name.clone(),
            redefined: false,
        };
        let op = plan.ops.iter().enumerate().position(|(k, op)| {
            !ops_used.get(k).copied().unwrap_or(true) && names_equal(op_target(op), &col.name)
        });
        if let Some(k) = op {
            if let (Some(op), Some(used)) = (plan.ops.get(k), ops_used.get_mut(k)) {
                apply_op(&mut work.column, op);
                *used = true;
            }
        }
        out.push(work);
    }
    for d in defs {
        if let (Some(name), None) = (&d.old, d.bound) {
            let added = out
                .iter()
                .position(|w| w.origin.is_none() && names_equal(&w.column.name, &d.def.name));
            match added {
                Some(k) => {
                    out.remove(k);
                }
                None => return Err(unknown_column(old, name)),
            }
        }
        let match_name = d.old.clone().unwrap_or_else(|| d.def.name.clone());
        let work = WorkColumn {
            column: resolve_def(&d.def)?,
            origin: d.bound,
            match_name,
            redefined: true,
        };
        place(old, &mut out, work, d.position.as_ref())?;
    }
    if let Some((k, _)) = plan
        .drops
        .iter()
        .enumerate()
        .find(|(k, _)| !drops_used.get(*k).copied().unwrap_or(true))
    {
        return Err(unknown_column(
            old,
            plan.drops.get(k).map(String::as_str).unwrap_or_default(),
        ));
    }
    for (op, used) in plan.ops.iter().zip(ops_used) {
        if used {
            continue;
        }
        let target = out
            .iter_mut()
            .find(|w| w.origin.is_none() && names_equal(&w.column.name, op_target(op)));
        match (op, target) {
            (ColumnOp::Alter(..), Some(w)) => apply_op(&mut w.column, op),
            _ => return Err(unknown_column(old, op_target(op))),
        }
    }
    if let Some(cs) = &plan.convert {
        for w in &mut out {
            if w.origin.is_some()
                && !w.redefined
                && w.column.charset.as_deref().is_some_and(|c| c != "binary")
            {
                resolve::convert_kept_column(&mut w.column, cs, settings)?;
            } else {
                resolve::convert_column(&mut w.column, cs, settings)?;
            }
        }
    }
    check_names(&out)?;
    Ok(out)
}

fn check_names(out: &[WorkColumn]) -> Result<(), DdlError> {
    if out.is_empty() {
        return Err(DdlError::Conflict(
            "ALTER TABLE would drop every column".into(),
        ));
    }
    for (i, w) in out.iter().enumerate() {
        if out
            .iter()
            .skip(i + 1)
            .any(|o| names_equal(&o.column.name, &w.column.name))
        {
            return Err(DdlError::Conflict(format!(
                "duplicate column name {}",
                w.column.name
            )));
        }
    }
    Ok(())
}

fn place(
    old: &TableSchema,
    out: &mut Vec<WorkColumn>,
    work: WorkColumn,
    position: Option<&Position>,
) -> Result<(), DdlError> {
    match position {
        None => out.push(work),
        Some(Position::First) => out.insert(0, work),
        Some(Position::After(name)) => {
            let k = out
                .iter()
                .position(|w| names_equal(&w.column.name, name))
                .ok_or_else(|| unknown_column(old, name))?;
            out.insert(k + 1, work);
        }
    }
    Ok(())
}

fn op_target(op: &ColumnOp) -> &str {
    match op {
        ColumnOp::Rename(from, _) => from,
        ColumnOp::Alter(name, _) => name,
    }
}

fn apply_op(column: &mut Column, op: &ColumnOp) {
    match op {
        ColumnOp::Rename(_, to) => column.name = to.clone(),
        ColumnOp::Alter(_, ColumnAction::SetDefault(v)) => column.default = Some(v.clone()),
        ColumnOp::Alter(_, ColumnAction::DropDefault) => column.default = None,
        ColumnOp::Alter(_, ColumnAction::Invisible(on)) => column.invisible = *on,
    }
}

/// Old keys carried over (or dropped), then the new keys, all with parts mapped to `columns`.
fn keys(
    old: &TableSchema,
    plan: &Plan,
    columns: &[WorkColumn],
    settings: &Settings,
) -> Result<Vec<WorkKey>, DdlError> {
    let mut keys = Vec::new();
    for WorkKey {
        kind, name, parts, ..
    } in old_keys(old)
    {
        let name = name.unwrap_or_default();
        let dropped = plan.key_drops.iter().any(|d| names_equal(d, &name))
            || (kind.is_unique() && plan.constraint_drops.iter().any(|d| names_equal(d, &name)));
        if dropped {
            continue;
        }
        let mut mapped = Vec::new();
        for (pos, prefix) in &parts {
            let old_name = old
                .columns
                .get(*pos)
                .map(|c| c.name.as_str())
                .unwrap_or_default();
            if let Some(j) = columns
                .iter()
                .position(|w| names_equal(&w.match_name, old_name))
            {
                let column = columns
                    .get(j)
                    .map(|w| &w.column)
                    .ok_or_else(|| unknown_column(old, old_name))?;
                mapped.push((j, normalize_prefix(*prefix, column, true)?));
            }
        }
        if mapped.is_empty() {
            continue;
        }
        if mapped.len() < parts.len() && kind.is_unique() && settings.is_mariadb() {
            return Err(DdlError::Conflict(format!(
                "a column of key {name} is dropped (MariaDB rejects this)"
            )));
        }
        let renamed = plan
            .key_renames
            .iter()
            .find(|(from, _)| names_equal(from, &name))
            .map(|(_, to)| to.clone());
        keys.push(WorkKey {
            kind,
            name: Some(renamed.unwrap_or(name)),
            parts: mapped,
            using_hash: false,
            if_not_exists: false,
        });
    }
    for key in &plan.new_keys {
        let mut parts = Vec::new();
        for part in &key.parts {
            let j = columns
                .iter()
                .position(|w| names_equal(&w.column.name, &part.column))
                .ok_or_else(|| unknown_column(old, &part.column))?;
            let column = columns
                .get(j)
                .map(|w| &w.column)
                .ok_or_else(|| unknown_column(old, &part.column))?;
            parts.push((j, normalize_prefix(part.prefix, column, false)?));
        }
        keys.push(WorkKey {
            kind: key.kind,
            name: key.name.clone(),
            parts,
            using_hash: key.using_hash,
            if_not_exists: key.if_not_exists,
        });
    }
    Ok(keys)
}

/// The old table's keys in stored order (primary, unique, then the other indexes), named.
fn old_keys(old: &TableSchema) -> Vec<WorkKey> {
    let key = |kind: KeyKind, name: &str, cols: &[usize], prefixes: &[Option<u32>]| WorkKey {
        kind,
        name: Some(name.to_owned()),
        parts: cols
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, prefixes.get(i).copied().flatten()))
            .collect(),
        using_hash: false,
        if_not_exists: false,
    };
    let mut keys = Vec::new();
    if !old.primary_key.is_empty() {
        keys.push(key(KeyKind::Primary, "PRIMARY", &old.primary_key, &[]));
    }
    for k in &old.unique_keys {
        keys.push(key(KeyKind::Unique, &k.name, &k.columns, &k.prefix_lengths));
    }
    for k in &old.indexes {
        let kind = match k.kind {
            IndexKind::Plain => KeyKind::Plain,
            IndexKind::FullText => KeyKind::FullText,
            IndexKind::Spatial => KeyKind::Spatial,
            IndexKind::Vector => KeyKind::Vector,
            IndexKind::ForeignKey => KeyKind::ForeignKey,
        };
        keys.push(key(kind, &k.name, &k.columns, &k.prefix_lengths));
    }
    keys
}
