//! `CREATE TABLE` (element lists, keys, table options), `CREATE INDEX` and `DROP INDEX`.
//!
//! Invariants: keys are returned in the order they are written, with the keys declared on a
//! column placed right after that column, which is the order the server names and numbers them
//! in. `CREATE TABLE ... SELECT` is reported as unsupported: the binlog only contains it in
//! statement format, where the new columns come from the query and cannot be known from the text
//! (in row format the server logs an explicit `CREATE TABLE` instead).

use crate::schema::ddl::ast::{
    AlterSpec, CreateTable, KeyDef, KeyKind, KeyPart, Statement, TableElement, TableOptions,
};
use crate::schema::ddl::column::{column_def, references};
use crate::schema::ddl::lexer::TokenKind;
use crate::schema::ddl::parser::Parser;
use crate::schema::ddl::DdlError;

/// Table options whose value is skipped (`name [=] value`).
const VALUE_OPTIONS: [&str; 33] = [
    "AUTO_INCREMENT",
    "AVG_ROW_LENGTH",
    "CHECKSUM",
    "TABLE_CHECKSUM",
    "COMMENT",
    "COMPRESSION",
    "CONNECTION",
    "DELAY_KEY_WRITE",
    "ENCRYPTION",
    "ENCRYPTED",
    "ENCRYPTION_KEY_ID",
    "INSERT_METHOD",
    "KEY_BLOCK_SIZE",
    "MAX_ROWS",
    "MIN_ROWS",
    "PACK_KEYS",
    "PAGE_CHECKSUM",
    "PAGE_COMPRESSED",
    "PAGE_COMPRESSION_LEVEL",
    "PASSWORD",
    "ROW_FORMAT",
    "STATS_AUTO_RECALC",
    "STATS_PERSISTENT",
    "STATS_SAMPLE_PAGES",
    "TRANSACTIONAL",
    "AUTOEXTEND_SIZE",
    "ENGINE_ATTRIBUTE",
    "SECONDARY_ENGINE",
    "SECONDARY_ENGINE_ATTRIBUTE",
    "IETF_QUOTES",
    "ALGORITHM",
    "LOCK",
    "TABLESPACE",
];

/// Whether `word` starts a table option (so it is not a column attribute).
pub(crate) fn is_table_option_word(word: &str) -> bool {
    VALUE_OPTIONS
        .iter()
        .chain(&[
            "ENGINE",
            "TYPE",
            "CHARSET",
            "CHARACTER",
            "COLLATE",
            "DEFAULT",
            "UNION",
            "SEQUENCE",
        ])
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// After `CREATE [OR REPLACE] [TEMPORARY] TABLE`.
pub(crate) fn create_table(
    p: &mut Parser,
    or_replace: bool,
    temporary: bool,
) -> Result<Statement, DdlError> {
    let if_not_exists = p.eat_if_not_exists();
    let table = p.object_name()?;
    if temporary {
        p.skip_rest();
        return Ok(Statement::NoOp);
    }
    let parenthesized_like = p.is_punct("(") && p.is_kw_at(1, "LIKE");
    if p.eat_kw("LIKE") || (parenthesized_like && p.eat_punct("(") && p.eat_kw("LIKE")) {
        let like = p.object_name()?;
        if parenthesized_like {
            p.expect_punct(")")?;
        }
        p.expect_end()?;
        return Ok(Statement::CreateTableLike {
            table,
            like,
            if_not_exists,
            or_replace,
        });
    }
    let mut elements = Vec::new();
    if p.is_punct("(") && !p.is_kw_at(1, "SELECT") {
        p.advance();
        elements = table_elements(p)?;
    }
    let options = table_options(p)?;
    if p.rest_has_kw("SELECT") {
        return Err(DdlError::Unsupported(
            "CREATE TABLE ... SELECT (statement format: the columns come from the query)".into(),
        ));
    }
    if p.is_kw("PARTITION") {
        p.skip_rest();
    }
    p.expect_end()?;
    if elements.is_empty() {
        return Err(p.error("CREATE TABLE without columns"));
    }
    Ok(Statement::CreateTable(CreateTable {
        table,
        if_not_exists,
        or_replace,
        elements,
        options,
    }))
}

/// The elements after `(` up to and including the closing `)`.
pub(crate) fn table_elements(p: &mut Parser) -> Result<Vec<TableElement>, DdlError> {
    let mut elements = Vec::new();
    loop {
        table_element(p, &mut elements)?;
        if !p.eat_punct(",") {
            p.expect_punct(")")?;
            return Ok(elements);
        }
    }
}

/// One column, key or constraint; appends what it declares to `out`.
pub(crate) fn table_element(p: &mut Parser, out: &mut Vec<TableElement>) -> Result<(), DdlError> {
    if let Some(key) = key_element(p)? {
        out.extend(key.map(TableElement::Key));
        return Ok(());
    }
    let def = column_def(p)?;
    let keys: Vec<KeyDef> = def
        .keys
        .iter()
        .map(|&kind| KeyDef {
            kind,
            name: None,
            parts: vec![KeyPart {
                column: def.name.clone(),
                prefix: None,
            }],
            using_hash: false,
            if_not_exists: false,
        })
        .collect();
    out.push(TableElement::Column(def));
    out.extend(keys.into_iter().map(TableElement::Key));
    Ok(())
}

/// A key or constraint element: `Some(Some(key))` for a key, `Some(None)` for a constraint that
/// creates no key (CHECK, PERIOD), `None` if the next tokens are not a key element.
pub(crate) fn key_element(p: &mut Parser) -> Result<Option<Option<KeyDef>>, DdlError> {
    let constraint = if p.eat_kw("CONSTRAINT") {
        p.eat_if_not_exists();
        let starts_body = ["PRIMARY", "UNIQUE", "FOREIGN", "CHECK"]
            .iter()
            .any(|k| p.is_kw(k));
        if starts_body {
            None
        } else {
            Some(p.ident()?)
        }
    } else {
        None
    };
    let kind = if p.eat_kws(&["PRIMARY", "KEY"]) {
        KeyKind::Primary
    } else if p.eat_kw("UNIQUE") {
        KeyKind::Unique
    } else if p.eat_kw("KEY") || p.eat_kw("INDEX") {
        KeyKind::Plain
    } else if p.eat_kw("FULLTEXT") {
        KeyKind::FullText
    } else if p.eat_kw("SPATIAL") {
        KeyKind::Spatial
    } else if p.is_kw("VECTOR") && (p.is_kw_at(1, "KEY") || p.is_kw_at(1, "INDEX")) {
        p.advance();
        KeyKind::Vector
    } else if p.eat_kws(&["FOREIGN", "KEY"]) {
        return foreign_key(p, constraint).map(|k| Some(Some(k)));
    } else if p.eat_kw("CHECK") {
        p.skip_parens()?;
        p.eat_kw("NOT");
        p.eat_kw("ENFORCED");
        return Ok(Some(None));
    } else if p.is_kw("PERIOD") && p.is_kw_at(1, "FOR") {
        if p.is_kw_at(2, "SYSTEM_TIME") {
            return Err(DdlError::Unsupported(
                "system-versioned tables (PERIOD FOR SYSTEM_TIME)".into(),
            ));
        }
        p.advance();
        p.advance();
        p.ident()?;
        p.skip_parens()?;
        return Ok(Some(None));
    } else if constraint.is_some() {
        return Err(p.error("expected PRIMARY KEY, UNIQUE, FOREIGN KEY or CHECK after CONSTRAINT"));
    } else {
        return Ok(None);
    };
    let mut key = key_body(p, kind)?;
    if key.name.is_none() && kind != KeyKind::Primary {
        key.name = constraint;
    }
    Ok(Some(Some(key)))
}

/// After `FOREIGN KEY`: the generated index is named after the index name, else the constraint.
fn foreign_key(p: &mut Parser, constraint: Option<String>) -> Result<KeyDef, DdlError> {
    let if_not_exists = p.eat_if_not_exists();
    let name = if p.is_punct("(") {
        None
    } else {
        Some(p.ident()?)
    };
    let parts = key_parts(p)?;
    p.expect_kw("REFERENCES")?;
    references(p)?;
    Ok(KeyDef {
        kind: KeyKind::ForeignKey,
        name: name.or(constraint),
        parts,
        using_hash: false,
        if_not_exists,
    })
}

/// After the key keyword: `[KEY|INDEX] [IF NOT EXISTS] [name] [USING t] (parts) [options]`.
pub(crate) fn key_body(p: &mut Parser, kind: KeyKind) -> Result<KeyDef, DdlError> {
    if kind != KeyKind::Plain && kind != KeyKind::Primary {
        let _ = p.eat_kw("KEY") || p.eat_kw("INDEX");
    }
    let if_not_exists = p.eat_if_not_exists();
    let name = if p.is_punct("(") || p.is_kw("USING") || p.is_kw("TYPE") {
        None
    } else {
        Some(p.ident()?)
    };
    let mut using_hash = index_type(p)?.unwrap_or(false);
    let parts = key_parts(p)?;
    using_hash |= index_options(p)?;
    let name = if kind == KeyKind::Primary { None } else { name };
    Ok(KeyDef {
        kind,
        name,
        parts,
        using_hash,
        if_not_exists,
    })
}

/// `USING {BTREE|HASH|RTREE}` / `TYPE ...`: `Some(true)` for HASH.
fn index_type(p: &mut Parser) -> Result<Option<bool>, DdlError> {
    if p.eat_kw("USING") || p.eat_kw("TYPE") {
        Ok(Some(p.ident()?.eq_ignore_ascii_case("HASH")))
    } else {
        Ok(None)
    }
}

/// `(col[(len)] [ASC|DESC], ...)`.
pub(crate) fn key_parts(p: &mut Parser) -> Result<Vec<KeyPart>, DdlError> {
    p.expect_punct("(")?;
    let mut parts = Vec::new();
    loop {
        if p.is_punct("(") {
            return Err(DdlError::Unsupported(
                "functional key parts (they add hidden columns)".into(),
            ));
        }
        let column = p.ident()?;
        let prefix = if p.is_punct("(") {
            let n = p.paren_number()?;
            Some(u32::try_from(n).map_err(|_| p.error("prefix length out of range"))?)
        } else {
            None
        };
        let _ = p.eat_kw("ASC") || p.eat_kw("DESC");
        parts.push(KeyPart { column, prefix });
        if !p.eat_punct(",") {
            p.expect_punct(")")?;
            return Ok(parts);
        }
    }
}

/// Index options after the key parts; true if one of them is `USING HASH`.
fn index_options(p: &mut Parser) -> Result<bool, DdlError> {
    let mut using_hash = false;
    loop {
        if let Some(hash) = index_type(p)? {
            using_hash |= hash;
        } else if p.eat_kw("COMMENT") {
            p.string()?;
        } else if p.eat_kws(&["WITH", "PARSER"]) {
            p.ident()?;
        } else if p.eat_kws(&["NOT", "IGNORED"])
            || p.eat_kw("IGNORED")
            || p.eat_kw("VISIBLE")
            || p.eat_kw("INVISIBLE")
        {
            // Optimizer visibility: no structural meaning.
        } else if p
            .peek()
            .is_some_and(|t| t.kind == TokenKind::Word && !p.is_kw("ALGORITHM") && !p.is_kw("LOCK"))
            && (p.peek_at(1).is_some_and(|t| t.text == "=") || p.is_kw("KEY_BLOCK_SIZE"))
        {
            // KEY_BLOCK_SIZE [=] n, CLUSTERING=YES, ENGINE_ATTRIBUTE='..', M=8, DISTANCE=euclidean ...
            p.advance();
            p.eat_eq();
            p.advance();
        } else {
            return Ok(using_hash);
        }
    }
}

/// Table options, in any order, optionally separated by commas.
pub(crate) fn table_options(p: &mut Parser) -> Result<TableOptions, DdlError> {
    let mut opts = TableOptions::default();
    loop {
        let mark = p.mark();
        p.eat_punct(",");
        if !table_option(p, &mut opts)? {
            p.rewind(mark);
            return Ok(opts);
        }
    }
}

/// One table option; false if none is next (possibly after consuming a `DEFAULT`).
pub(crate) fn table_option(p: &mut Parser, opts: &mut TableOptions) -> Result<bool, DdlError> {
    let default = p.eat_kw("DEFAULT");
    if p.eat_charset_kw() {
        p.eat_eq();
        opts.charset.charset = Some(p.charset_name()?);
    } else if p.eat_kw("COLLATE") {
        p.eat_eq();
        opts.charset.collation = Some(p.collation_name()?);
    } else if default {
        // MySQL 8: DEFAULT ENCRYPTION = 'N'.
        if !value_option(p)? {
            return Err(p.error("expected CHARACTER SET, COLLATE or an option after DEFAULT"));
        }
    } else if p.eat_kw("ENGINE") || p.eat_kw("TYPE") {
        p.eat_eq();
        opts.engine = Some(p.name_or_string()?);
    } else if p.eat_kws(&["WITH", "SYSTEM", "VERSIONING"]) {
        return Err(DdlError::Unsupported("system-versioned tables".into()));
    } else if p.eat_kw("SEQUENCE") {
        return Err(DdlError::Unsupported("SEQUENCE table option".into()));
    } else if p.eat_kws(&["START", "TRANSACTION"]) {
        // MySQL 8 logs atomic CREATE TABLE ... SELECT with this option.
    } else if p.eat_kw("UNION") {
        p.eat_eq();
        p.skip_parens()?;
    } else if p.eat_kws(&["DATA", "DIRECTORY"]) || p.eat_kws(&["INDEX", "DIRECTORY"]) {
        p.eat_eq();
        p.string()?;
    } else if p.eat_kw("STORAGE") {
        p.ident()?;
    } else {
        return value_option(p);
    }
    Ok(true)
}

/// `NAME [=] value` for a known option, or `name = value` for an engine-defined one.
fn value_option(p: &mut Parser) -> Result<bool, DdlError> {
    let known = p.peek().is_some_and(|t| {
        t.kind == TokenKind::Word && VALUE_OPTIONS.iter().any(|o| t.text.eq_ignore_ascii_case(o))
    });
    let custom = p.peek().is_some_and(|t| t.kind == TokenKind::Word)
        && p.peek_at(1).is_some_and(|t| t.text == "=");
    if !known && !custom {
        return Ok(false);
    }
    p.advance();
    p.eat_eq();
    match p.peek() {
        Some(t) if t.kind == TokenKind::Str => {
            p.string()?;
        }
        Some(t) if t.kind != TokenKind::Punct => {
            p.advance();
        }
        _ => return Err(p.error("expected an option value")),
    }
    Ok(true)
}

/// After `CREATE [OR REPLACE] [ONLINE|OFFLINE] [UNIQUE|FULLTEXT|SPATIAL|VECTOR]`, at `INDEX`.
pub(crate) fn create_index(
    p: &mut Parser,
    kind: KeyKind,
    or_replace: bool,
) -> Result<Statement, DdlError> {
    p.expect_kw("INDEX")?;
    let if_not_exists = p.eat_if_not_exists();
    let name = p.ident()?;
    let mut using_hash = index_type(p)?.unwrap_or(false);
    p.expect_kw("ON")?;
    let table = p.object_name()?;
    let parts = key_parts(p)?;
    using_hash |= index_options(p)?;
    alter_lock_options(p)?;
    p.expect_end()?;
    let mut specs = Vec::new();
    if or_replace {
        specs.push(AlterSpec::DropIndex {
            name: name.clone(),
            if_exists: true,
        });
    }
    specs.push(AlterSpec::AddKey(KeyDef {
        kind,
        name: Some(name),
        parts,
        using_hash,
        if_not_exists,
    }));
    Ok(Statement::AlterTable { table, specs })
}

/// After `DROP INDEX`: `[ONLINE|OFFLINE] [IF EXISTS] name ON table [options]`.
pub(crate) fn drop_index(p: &mut Parser) -> Result<Statement, DdlError> {
    let _ = p.eat_kw("ONLINE") || p.eat_kw("OFFLINE");
    let if_exists = p.eat_if_exists();
    let name = p.ident()?;
    p.expect_kw("ON")?;
    let table = p.object_name()?;
    alter_lock_options(p)?;
    p.expect_end()?;
    Ok(Statement::AlterTable {
        table,
        specs: vec![AlterSpec::DropIndex { name, if_exists }],
    })
}

/// `ALGORITHM [=] x`, `LOCK [=] x`, `WAIT n`, `NOWAIT` after CREATE/DROP INDEX.
fn alter_lock_options(p: &mut Parser) -> Result<(), DdlError> {
    loop {
        if p.eat_kw("ALGORITHM") || p.eat_kw("LOCK") {
            p.eat_eq();
            p.ident()?;
        } else if p.eat_kw("WAIT") {
            p.number()?;
        } else if !p.eat_kw("NOWAIT") {
            return Ok(());
        }
    }
}
