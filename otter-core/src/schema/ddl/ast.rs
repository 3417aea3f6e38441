//! The parsed form of the DDL statements the catalog applies. Parsing never looks at the catalog;
//! everything here is exactly what the statement text says.

use crate::schema::model::Generated;

/// A possibly qualified object name: `[db.]name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectName {
    pub db: Option<String>,
    pub name: String,
}

/// A character set as written: a name, or `DEFAULT` (the database's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CharsetName {
    Named(String),
    Default,
}

/// `[DEFAULT] CHARACTER SET x` and `[DEFAULT] COLLATE y` of a table or database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CharsetOptions {
    pub charset: Option<CharsetName>,
    pub collation: Option<String>,
}

/// The table options that matter to the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TableOptions {
    pub charset: CharsetOptions,
    pub engine: Option<String>,
}

/// One statement, as far as the catalog cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Statement {
    CreateTable(CreateTable),
    CreateTableLike {
        table: ObjectName,
        like: ObjectName,
        if_not_exists: bool,
        or_replace: bool,
    },
    /// ALTER TABLE (also CREATE INDEX, DROP INDEX). `IF EXISTS` is not kept: a table the
    /// catalog does not know is reported whether or not the server had it.
    AlterTable {
        table: ObjectName,
        specs: Vec<AlterSpec>,
    },
    /// RENAME TABLE pairs, applied in order (`IF EXISTS` is not kept, as for ALTER).
    RenameTables(Vec<(ObjectName, ObjectName)>),
    DropTables(Vec<ObjectName>),
    Truncate(ObjectName),
    CreateDatabase {
        name: String,
        if_not_exists: bool,
        or_replace: bool,
        options: CharsetOptions,
    },
    DropDatabase(String),
    AlterDatabase {
        name: Option<String>,
        options: CharsetOptions,
    },
    CreateSequence {
        name: ObjectName,
        if_not_exists: bool,
        or_replace: bool,
        engine: Option<String>,
    },
    /// A statement that changes no table structure (views, routines, temporary tables, ...).
    NoOp,
}

/// `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] t (elements) options`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreateTable {
    pub table: ObjectName,
    pub if_not_exists: bool,
    pub or_replace: bool,
    pub elements: Vec<TableElement>,
    pub options: TableOptions,
}

/// One entry of a table's element list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TableElement {
    Column(ColumnDef),
    Key(KeyDef),
}

/// The written type of a column before character sets are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeSpec {
    pub sql_type: crate::schema::sql_type::SqlType,
    /// `TEXT(n)` / `BLOB(n)`: the size is chosen from `n` once the character set is known.
    pub text_length: Option<u64>,
    pub unsigned: bool,
    pub zerofill: bool,
    /// The `BINARY` attribute of a character type: the character set's `_bin` collation.
    pub binary: bool,
    pub charset: Option<String>,
    pub collation: Option<String>,
    /// `SERIAL`: BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE.
    pub serial: bool,
}

/// A column definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnDef {
    pub name: String,
    pub ty: TypeSpec,
    /// NOT NULL after applying the attributes in order (AUTO_INCREMENT implies it, a later NULL
    /// undoes it).
    pub not_null: bool,
    /// The NULL keyword was written.
    pub explicit_null: bool,
    pub default: Option<String>,
    pub auto_increment: bool,
    pub generated: Option<Generated>,
    pub invisible: bool,
    /// Keys declared on the column itself, in written order.
    pub keys: Vec<KeyKind>,
}

/// What kind of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Primary,
    Unique,
    Plain,
    FullText,
    Spatial,
    Vector,
    /// The index a FOREIGN KEY creates (dropped again when another index covers it).
    ForeignKey,
}

impl KeyKind {
    pub fn is_unique(self) -> bool {
        matches!(self, KeyKind::Primary | KeyKind::Unique)
    }
}

/// One column of a key, with its prefix length in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPart {
    pub column: String,
    pub prefix: Option<u32>,
}

/// A key definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyDef {
    pub kind: KeyKind,
    pub name: Option<String>,
    pub parts: Vec<KeyPart>,
    pub using_hash: bool,
    pub if_not_exists: bool,
}

/// FIRST / AFTER c.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Position {
    First,
    After(String),
}

/// `ALTER [COLUMN] c ...` actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnAction {
    SetDefault(String),
    DropDefault,
    Invisible(bool),
}

/// One ALTER TABLE specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AlterSpec {
    AddColumn {
        def: ColumnDef,
        position: Option<Position>,
        if_not_exists: bool,
    },
    AddKey(KeyDef),
    Change {
        old: String,
        def: ColumnDef,
        position: Option<Position>,
        if_exists: bool,
    },
    DropColumn {
        name: String,
        if_exists: bool,
    },
    RenameColumn {
        from: String,
        to: String,
        if_exists: bool,
    },
    AlterColumn {
        name: String,
        action: ColumnAction,
        if_exists: bool,
    },
    DropIndex {
        name: String,
        if_exists: bool,
    },
    /// DROP CONSTRAINT: drops a PRIMARY/UNIQUE key of that name; CHECK and FOREIGN KEY
    /// constraints are not modelled.
    DropConstraint {
        name: String,
    },
    RenameIndex {
        from: String,
        to: String,
    },
    RenameTable(ObjectName),
    ConvertCharset {
        charset: CharsetName,
        collation: Option<String>,
    },
    Options(TableOptions),
    /// MariaDB `CONVERT PARTITION p TO TABLE t`: creates `t` with this table's structure.
    PartitionToTable(ObjectName),
    /// MariaDB `CONVERT TABLE t TO PARTITION p`: table `t` disappears.
    TableToPartition(ObjectName),
}
