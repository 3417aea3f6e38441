//! Column definitions: `name type [attributes...]`.
//!
//! Invariants: attributes are applied in the order written, as the server's parser does (so
//! `AUTO_INCREMENT NULL` is nullable but `NULL AUTO_INCREMENT` is not); an attribute this parser
//! does not know ends the definition, and the caller then reports the unexpected token.
//! Attributes that change how rows are written but that the model cannot express (MariaDB
//! `COMPRESSED` columns, system versioning) are reported as unsupported.

use crate::schema::ddl::ast::{ColumnDef, KeyKind};
use crate::schema::ddl::create::is_table_option_word;
use crate::schema::ddl::lexer::TokenKind;
use crate::schema::ddl::parser::Parser;
use crate::schema::ddl::{types, DdlError};
use crate::schema::model::Generated;

/// `name type attributes`.
pub(crate) fn column_def(p: &mut Parser) -> Result<ColumnDef, DdlError> {
    let name = p.ident()?;
    let ty = types::data_type(p)?;
    let serial = ty.serial;
    let mut def = ColumnDef {
        name,
        ty,
        not_null: serial,
        explicit_null: false,
        default: None,
        auto_increment: serial,
        generated: None,
        invisible: false,
        keys: if serial {
            vec![KeyKind::Unique]
        } else {
            Vec::new()
        },
    };
    while column_attribute(p, &mut def)? {}
    Ok(def)
}

/// Parses one attribute into `def`; false when the next token starts no attribute.
fn column_attribute(p: &mut Parser, def: &mut ColumnDef) -> Result<bool, DdlError> {
    if p.eat_kws(&["NOT", "NULL"]) {
        def.not_null = true;
    } else if p.eat_kw("NULL") {
        def.not_null = false;
        def.explicit_null = true;
    } else if p.eat_kw("DEFAULT") {
        def.default = Some(expression(p)?);
    } else if p.eat_kw("AUTO_INCREMENT") {
        def.auto_increment = true;
        def.not_null = true;
    } else if p.eat_kws(&["SERIAL", "DEFAULT", "VALUE"]) {
        def.auto_increment = true;
        def.not_null = true;
        def.keys.push(KeyKind::Unique);
    } else if p.eat_kw("UNIQUE") {
        p.eat_kw("KEY");
        def.keys.push(KeyKind::Unique);
    } else if p.eat_kws(&["PRIMARY", "KEY"]) || p.eat_kw("KEY") {
        def.not_null = true;
        def.keys.push(KeyKind::Primary);
    } else if p.eat_kw("COMMENT") {
        p.string()?;
    } else if p.eat_kw("INVISIBLE") {
        def.invisible = true;
    } else if p.eat_kw("VISIBLE") {
        def.invisible = false;
    } else if p.is_kw("GENERATED") || p.is_kw("AS") {
        def.generated = Some(generated(p)?);
    } else if p.eat_kws(&["ON", "UPDATE"]) {
        expression(p)?;
    } else if p.eat_kw("CHECK") {
        p.skip_parens()?;
    } else if p.eat_kw("CONSTRAINT") {
        if !p.is_kw("CHECK") {
            p.ident()?;
        }
        p.expect_kw("CHECK")?;
        p.skip_parens()?;
    } else if p.eat_kw("REFERENCES") {
        references(p)?;
        // MariaDB 10.5+ creates the foreign key (and its index); MySQL ignores the clause.
        if p.mariadb {
            def.keys.push(KeyKind::ForeignKey);
        }
    } else if p.eat_kw("COLUMN_FORMAT") || p.eat_kw("STORAGE") {
        p.ident()?;
    } else if p.eat_kw("SRID") {
        p.number()?;
    } else if p.eat_kw("REF_SYSTEM_ID") {
        p.eat_eq();
        p.number()?;
    } else if p.is_kw("COMPRESSED") {
        return Err(DdlError::Unsupported(format!(
            "COMPRESSED column `{}`: MariaDB writes compressed columns with their own binlog types",
            def.name
        )));
    } else if p.eat_kws(&["WITH", "SYSTEM", "VERSIONING"]) {
        return Err(DdlError::Unsupported("system-versioned tables".into()));
    } else if p.eat_kws(&["WITHOUT", "SYSTEM", "VERSIONING"])
        || types::char_attribute(p, &mut def.ty)?
    {
        // Nothing more to do: the flag or the character-set attribute is recorded.
    } else if is_engine_attribute(p) {
        p.advance();
        p.eat_eq();
        p.advance();
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// `name = value` that is not a table option: an engine-defined column attribute
/// (`ENGINE_ATTRIBUTE='..'`, MariaDB plugin options).
fn is_engine_attribute(p: &Parser) -> bool {
    let named = p
        .peek()
        .is_some_and(|t| t.kind == TokenKind::Word && !is_table_option_word(&t.text));
    named
        && p.peek_at(1)
            .is_some_and(|t| t.kind == TokenKind::Punct && t.text == "=")
        && p.peek_at(2).is_some()
}

/// `[GENERATED ALWAYS] AS (expr) [VIRTUAL | STORED | PERSISTENT]`.
fn generated(p: &mut Parser) -> Result<Generated, DdlError> {
    if p.eat_kw("GENERATED") {
        p.expect_kw("ALWAYS")?;
    }
    p.expect_kw("AS")?;
    if p.is_kw("ROW") {
        return Err(DdlError::Unsupported(
            "system-versioned tables (AS ROW START/END)".into(),
        ));
    }
    p.skip_parens()?;
    if p.eat_kw("STORED") || p.eat_kw("PERSISTENT") {
        Ok(Generated::Stored)
    } else {
        p.eat_kw("VIRTUAL");
        Ok(Generated::Virtual)
    }
}

/// After REFERENCES: `t [(cols)] [MATCH x] [ON {DELETE|UPDATE} action]...`.
pub(crate) fn references(p: &mut Parser) -> Result<(), DdlError> {
    p.object_name()?;
    if p.is_punct("(") {
        p.skip_parens()?;
    }
    loop {
        if p.eat_kw("MATCH") {
            p.ident()?;
        } else if p.eat_kws(&["ON", "DELETE"]) || p.eat_kws(&["ON", "UPDATE"]) {
            if !(p.eat_kws(&["SET", "NULL"])
                || p.eat_kws(&["SET", "DEFAULT"])
                || p.eat_kws(&["NO", "ACTION"]))
            {
                p.ident()?;
            }
        } else {
            return Ok(());
        }
    }
}

const BINARY_WORD_OPS: [&str; 5] = ["AND", "OR", "XOR", "DIV", "MOD"];
const BINARY_PUNCT_OPS: [&str; 19] = [
    "+", "-", "*", "/", "%", "=", "<", ">", "<=", ">=", "<>", "!=", "<=>", "&", "|", "^", "<<",
    ">>", "||",
];

/// An expression as written (DEFAULT and ON UPDATE values): operands joined by binary
/// operators, each operand a literal, a parenthesised group, or a name or function call.
pub(crate) fn expression(p: &mut Parser) -> Result<String, DdlError> {
    let mark = p.mark();
    loop {
        operand(p)?;
        let is_op = p.peek().is_some_and(|t| match t.kind {
            TokenKind::Punct => BINARY_PUNCT_OPS.contains(&t.text.as_str()),
            TokenKind::Word => BINARY_WORD_OPS
                .iter()
                .any(|op| t.text.eq_ignore_ascii_case(op)),
            _ => false,
        });
        if !is_op {
            return Ok(p.raw_since(mark));
        }
        p.advance();
    }
}

fn operand(p: &mut Parser) -> Result<(), DdlError> {
    while p.eat_punct("-")
        || p.eat_punct("+")
        || p.eat_punct("~")
        || p.eat_punct("!")
        || p.eat_kw("NOT")
    {}
    if p.is_punct("(") {
        return p.skip_parens();
    }
    let Some(token) = p.peek().cloned() else {
        return Err(p.error("expected an expression"));
    };
    match token.kind {
        TokenKind::Str => {
            p.string()?;
        }
        TokenKind::Word
            if token.text.starts_with('_')
                && p.peek_at(1).is_some_and(|t| t.kind == TokenKind::Str) =>
        {
            p.string()?;
        }
        TokenKind::Number | TokenKind::HexOrBit => {
            p.advance();
        }
        TokenKind::Word | TokenKind::QuotedIdent => {
            p.advance();
            while p.eat_punct(".") {
                p.ident()?;
            }
            if p.is_punct("(") {
                p.skip_parens()?;
            }
        }
        TokenKind::Punct => return Err(p.error("expected an expression")),
    }
    Ok(())
}
