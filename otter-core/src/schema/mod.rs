//! Table schemas and their history.
//!
//! Row events in the binlog carry no column names, so the capture layer keeps a [`Catalog`] of
//! every table's columns, types and keys and applies each DDL statement it reads from the binlog
//! (QUERY events) to it, so that the catalog always describes the tables as of the current binlog
//! position.
//!
//! Invariants:
//! - a [`TableSchema`]'s columns are in binlog row-image order, including hidden columns the
//!   server writes but `information_schema` does not show (MariaDB long-unique hashes);
//! - [`Catalog::apply`] is atomic and never guesses: what it does not understand is a
//!   [`DdlError`], and the caller then re-reads the table from the server;
//! - column names compare case-insensitively, database and table names case-sensitively.

mod charset;
pub(crate) mod ddl;
mod model;
mod sql_type;

pub use ddl::{
    alter_outline, classify, trigger_name, AlterOutline, Catalog, Database, DdlError, Flavor, QueryKind, Settings, SqlMode,
    TableChange,
};
pub use model::{names_equal, Column, Generated, Index, IndexKind, TableSchema, UniqueKey};
pub use sql_type::{ColumnType, SqlType};
