//! Reading DDL from the binlog: classifying QUERY events and applying DDL statements to an
//! in-memory [`Catalog`]; and, with the same parser, naming what an `ALTER TABLE` adds and drops
//! ([`alter_outline`]).
//!
//! Invariants:
//! - nothing here panics, whatever the input (a property test feeds it random text);
//! - [`Catalog::apply`] is atomic: on error the catalog is unchanged;
//! - anything not understood is reported as a [`DdlError`], never guessed: a statement that should
//!   change a table but cannot be parsed is [`DdlError::Syntax`]; one whose effect the model
//!   cannot express is [`DdlError::Unsupported`]; one that would have failed on the server against
//!   the catalog's view of the table is [`DdlError::Conflict`] (the catalog is out of date);
//! - statements that cannot change table structure (GRANT, views, routines, ...) are accepted and
//!   change nothing.

mod alter;
mod alter_exec;
mod ast;
mod build;
mod catalog;
mod column;
mod create;
mod exec;
pub(crate) mod lexer;
mod outline;
mod parser;
mod resolve;
mod settings;
mod statement;
mod trigger;
mod types;

#[cfg(test)]
mod tests;

pub use catalog::{Catalog, Database, TableChange};
pub use outline::{alter_outline, AlterOutline};
pub use settings::{Flavor, Settings, SqlMode};
pub use trigger::trigger_name;
pub(crate) use types::parse_column_type;

use lexer::{word, LexOptions, Token, TokenKind};

/// Why a statement could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DdlError {
    /// The text is not a statement this parser understands (or not valid SQL).
    #[error("syntax error at offset {offset}: {message}")]
    Syntax {
        /// What went wrong.
        message: String,
        /// Byte offset in the statement text.
        offset: usize,
    },
    /// The statement names a table the catalog does not know (read it from the server).
    #[error("unknown table {db}.{table}")]
    UnknownTable {
        /// Database.
        db: String,
        /// Table.
        table: String,
    },
    /// The statement needs the defaults of a database the catalog does not know.
    #[error("unknown database {0} (its default character set is needed)")]
    UnknownDatabase(String),
    /// The statement names a column the table does not have in the catalog.
    #[error("unknown column {column} in {db}.{table}")]
    UnknownColumn {
        /// Database.
        db: String,
        /// Table.
        table: String,
        /// Column.
        column: String,
    },
    /// An unqualified table name without a default database.
    #[error("no database selected for table {0}")]
    NoDatabase(String),
    /// The server would have rejected the statement against the catalog's view of the table, so
    /// the catalog does not match the server.
    #[error("statement conflicts with the catalog: {0}")]
    Conflict(String),
    /// Valid DDL whose effect the model cannot represent.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// What a QUERY event's statement is, for the capture layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    /// `BEGIN`, `BEGIN WORK`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`.
    Commit,
    /// `ROLLBACK` (of the whole transaction).
    Rollback,
    /// `SAVEPOINT x`, `ROLLBACK TO [SAVEPOINT] x`, `RELEASE SAVEPOINT x`: they do not end the
    /// transaction.
    Savepoint,
    /// `XA ...`.
    Xa,
    /// CREATE/ALTER/DROP/RENAME/TRUNCATE of tables, databases, indexes, views, routines, ...
    Ddl,
    /// Statement-format DML: INSERT, UPDATE, DELETE, REPLACE, LOAD DATA/XML.
    Dml,
    /// Anything else (GRANT, SET, FLUSH, ANALYZE, account management, ...).
    Other,
}

/// Classifies a statement by its first keywords (comments skipped, executable comments read).
pub fn classify(sql: &str) -> QueryKind {
    let (tokens, _) = lexer::tokenize(sql, LexOptions::DEFAULT);
    classify_tokens(&tokens)
}

pub(crate) fn classify_tokens(tokens: &[Token]) -> QueryKind {
    let start = set_statement_prefix_len(tokens);
    let w = |i: usize| word(tokens, start + i);
    match w(0).as_str() {
        "BEGIN" if w(1) != "NOT" => QueryKind::Begin,
        "START" if w(1) == "TRANSACTION" => QueryKind::Begin,
        "COMMIT" => QueryKind::Commit,
        "ROLLBACK" if w(1) == "TO" || (w(1) == "WORK" && w(2) == "TO") => QueryKind::Savepoint,
        "ROLLBACK" => QueryKind::Rollback,
        "SAVEPOINT" => QueryKind::Savepoint,
        "RELEASE" if w(1) == "SAVEPOINT" => QueryKind::Savepoint,
        "XA" => QueryKind::Xa,
        "CREATE" | "ALTER" | "DROP" => match w(1).as_str() {
            "USER" | "ROLE" | "PREPARE" => QueryKind::Other,
            _ => QueryKind::Ddl,
        },
        "RENAME" if w(1) == "TABLE" || w(1) == "TABLES" => QueryKind::Ddl,
        "TRUNCATE" => QueryKind::Ddl,
        "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "LOAD" => QueryKind::Dml,
        "WITH" => classify_with(tokens.get(start..).unwrap_or(&[])),
        _ => QueryKind::Other,
    }
}

/// `WITH cte AS (...) {SELECT | UPDATE | DELETE | INSERT ...}`: the first top-level verb decides.
fn classify_with(tokens: &[Token]) -> QueryKind {
    let mut depth = 0usize;
    for t in tokens {
        match (t.kind, t.text.as_str()) {
            (TokenKind::Punct, "(") => depth += 1,
            (TokenKind::Punct, ")") => depth = depth.saturating_sub(1),
            (TokenKind::Word, w) if depth == 0 => match w.to_ascii_uppercase().as_str() {
                "UPDATE" | "DELETE" | "INSERT" | "REPLACE" => return QueryKind::Dml,
                "SELECT" => return QueryKind::Other,
                _ => {}
            },
            _ => {}
        }
    }
    QueryKind::Other
}

/// Tokens of a MariaDB `SET STATEMENT ... FOR` prefix (0 if there is none).
fn set_statement_prefix_len(tokens: &[Token]) -> usize {
    if word(tokens, 0) != "SET" || word(tokens, 1) != "STATEMENT" {
        return 0;
    }
    tokens
        .iter()
        .position(|t| t.kind == TokenKind::Word && t.text.eq_ignore_ascii_case("FOR"))
        .map_or(0, |i| i + 1)
}
