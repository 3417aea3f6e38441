//! Top-level statement dispatch: which DDL statement this is, and the small statements (RENAME,
//! DROP, TRUNCATE, databases, sequences).
//!
//! Invariants: statements that cannot change a table's columns or keys (views, triggers,
//! routines, events, users, servers, tablespaces, temporary tables) parse to
//! [`Statement::NoOp`] without further checks; a MariaDB `SET STATEMENT ... FOR` prefix is
//! skipped. A MariaDB sequence is modelled as the table the server stores it in, because its
//! changes are written to the binlog as row events on that table.

use crate::schema::ddl::alter::alter_table;
use crate::schema::ddl::ast::{CharsetOptions, KeyKind, Statement};
use crate::schema::ddl::create::{create_index, create_table, drop_index};
use crate::schema::ddl::parser::Parser;
use crate::schema::ddl::DdlError;

/// Skips `SET STATEMENT var = value [, ...] FOR`.
pub(crate) fn skip_set_statement(p: &mut Parser) {
    if !p.is_kws(&["SET", "STATEMENT"]) {
        return;
    }
    let mark = p.mark();
    while let Some(t) = p.advance() {
        if t.kind == crate::schema::ddl::lexer::TokenKind::Word
            && t.text.eq_ignore_ascii_case("FOR")
        {
            return;
        }
    }
    p.rewind(mark);
}

/// Parses one statement.
pub(crate) fn parse(p: &mut Parser) -> Result<Statement, DdlError> {
    skip_set_statement(p);
    let stmt = if p.eat_kw("CREATE") {
        create(p)?
    } else if p.eat_kw("ALTER") {
        alter(p)?
    } else if p.eat_kw("DROP") {
        drop(p)?
    } else if p.eat_kw("RENAME") {
        rename(p)?
    } else if p.eat_kw("TRUNCATE") {
        p.eat_kw("TABLE");
        let table = p.object_name()?;
        wait_option(p)?;
        Statement::Truncate(table)
    } else {
        Statement::NoOp
    };
    if stmt == Statement::NoOp {
        p.skip_rest();
    }
    p.expect_end()?;
    Ok(stmt)
}

fn wait_option(p: &mut Parser) -> Result<(), DdlError> {
    if p.eat_kw("WAIT") {
        p.number()?;
    } else {
        p.eat_kw("NOWAIT");
    }
    Ok(())
}

fn create(p: &mut Parser) -> Result<Statement, DdlError> {
    let or_replace = p.eat_kws(&["OR", "REPLACE"]);
    let temporary = p.eat_kw("TEMPORARY");
    if p.eat_kw("TABLE") {
        return create_table(p, or_replace, temporary);
    }
    if p.eat_kw("DATABASE") || p.eat_kw("SCHEMA") {
        let if_not_exists = p.eat_if_not_exists();
        let name = p.ident()?;
        let options = database_options(p)?;
        return Ok(Statement::CreateDatabase {
            name,
            if_not_exists,
            or_replace,
            options,
        });
    }
    if p.eat_kw("SEQUENCE") {
        return create_sequence(p, or_replace, temporary);
    }
    let _ = p.eat_kw("ONLINE") || p.eat_kw("OFFLINE");
    let kind = if p.eat_kw("UNIQUE") {
        KeyKind::Unique
    } else if p.eat_kw("FULLTEXT") {
        KeyKind::FullText
    } else if p.eat_kw("SPATIAL") {
        KeyKind::Spatial
    } else if p.is_kws(&["VECTOR", "INDEX"]) {
        p.advance();
        KeyKind::Vector
    } else {
        KeyKind::Plain
    };
    if p.is_kw("INDEX") {
        return create_index(p, kind, or_replace);
    }
    Ok(Statement::NoOp)
}

/// After `CREATE [OR REPLACE] [TEMPORARY] SEQUENCE`.
fn create_sequence(
    p: &mut Parser,
    or_replace: bool,
    temporary: bool,
) -> Result<Statement, DdlError> {
    let if_not_exists = p.eat_if_not_exists();
    let name = p.object_name()?;
    if temporary {
        p.skip_rest();
        return Ok(Statement::NoOp);
    }
    let mut engine = None;
    while let Some(t) = p.advance() {
        if t.text.eq_ignore_ascii_case("AS") {
            return Err(DdlError::Unsupported("CREATE SEQUENCE ... AS type".into()));
        }
        if t.text.eq_ignore_ascii_case("ENGINE") {
            p.eat_eq();
            engine = Some(p.name_or_string()?);
        }
    }
    Ok(Statement::CreateSequence {
        name,
        if_not_exists,
        or_replace,
        engine,
    })
}

fn alter(p: &mut Parser) -> Result<Statement, DdlError> {
    let _ = p.eat_kw("ONLINE") || p.eat_kw("OFFLINE");
    p.eat_kw("IGNORE");
    if p.eat_kw("TABLE") {
        return alter_table(p);
    }
    if p.eat_kw("DATABASE") || p.eat_kw("SCHEMA") {
        let options_next = [
            "DEFAULT",
            "CHARACTER",
            "CHARSET",
            "CHAR",
            "COLLATE",
            "COMMENT",
            "READ",
            "ENCRYPTION",
            "UPGRADE",
        ]
        .iter()
        .any(|k| p.is_kw(k))
            || p.at_end();
        let name = if options_next { None } else { Some(p.ident()?) };
        if p.eat_kws(&["UPGRADE", "DATA", "DIRECTORY", "NAME"]) {
            return Ok(Statement::NoOp);
        }
        let options = database_options(p)?;
        return Ok(Statement::AlterDatabase { name, options });
    }
    if p.eat_kw("SEQUENCE") && p.rest_has_kw("AS") {
        return Err(DdlError::Unsupported("ALTER SEQUENCE ... AS type".into()));
    }
    Ok(Statement::NoOp)
}

/// `[DEFAULT] CHARACTER SET [=] x`, `[DEFAULT] COLLATE [=] y` and other database options.
fn database_options(p: &mut Parser) -> Result<CharsetOptions, DdlError> {
    let mut options = CharsetOptions::default();
    loop {
        let default = p.eat_kw("DEFAULT");
        if p.eat_charset_kw() {
            p.eat_eq();
            options.charset = Some(p.charset_name()?);
        } else if p.eat_kw("COLLATE") {
            p.eat_eq();
            options.collation = Some(p.collation_name()?);
        } else if p.eat_kw("COMMENT") || p.eat_kw("ENCRYPTION") || p.eat_kws(&["READ", "ONLY"]) {
            p.eat_eq();
            p.advance();
        } else if default {
            return Err(p.error("expected CHARACTER SET or COLLATE after DEFAULT"));
        } else {
            return Ok(options);
        }
    }
}

fn drop(p: &mut Parser) -> Result<Statement, DdlError> {
    let temporary = p.eat_kw("TEMPORARY");
    if p.eat_kw("TABLE") || p.eat_kw("TABLES") || p.eat_kw("SEQUENCE") {
        p.eat_if_exists();
        let names = p.object_names()?;
        wait_option(p)?;
        let _ = p.eat_kw("RESTRICT") || p.eat_kw("CASCADE");
        return Ok(if temporary {
            Statement::NoOp
        } else {
            Statement::DropTables(names)
        });
    }
    if p.eat_kw("DATABASE") || p.eat_kw("SCHEMA") {
        p.eat_if_exists();
        return Ok(Statement::DropDatabase(p.ident()?));
    }
    if p.eat_kw("INDEX") {
        return drop_index(p);
    }
    Ok(Statement::NoOp)
}

/// `RENAME TABLE [IF EXISTS] a [WAIT n] TO b [, c TO d ...]`.
fn rename(p: &mut Parser) -> Result<Statement, DdlError> {
    if !(p.eat_kw("TABLE") || p.eat_kw("TABLES")) {
        return Ok(Statement::NoOp);
    }
    p.eat_if_exists();
    let mut pairs = Vec::new();
    loop {
        let from = p.object_name()?;
        wait_option(p)?;
        p.expect_kw("TO")?;
        pairs.push((from, p.object_name()?));
        if !p.eat_punct(",") {
            return Ok(Statement::RenameTables(pairs));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ddl::ast::ObjectName;
    use crate::schema::ddl::lexer::{tokens, LexOptions};

    fn parse_sql(sql: &str) -> Result<Statement, DdlError> {
        let opts = LexOptions {
            ansi_quotes: false,
            no_backslash_escapes: false,
            mariadb: true,
            server_version: None,
        };
        let mut p = Parser::new(sql, tokens(sql, opts)?, true, false);
        parse(&mut p)
    }

    fn name(db: Option<&str>, n: &str) -> ObjectName {
        ObjectName {
            db: db.map(str::to_owned),
            name: n.to_owned(),
        }
    }

    #[test]
    fn small_statements() {
        assert_eq!(
            parse_sql("DROP TABLE IF EXISTS `t` /* generated by server */").ok(),
            Some(Statement::DropTables(vec![name(None, "t")]))
        );
        assert_eq!(
            parse_sql("DROP TEMPORARY TABLE IF EXISTS t").ok(),
            Some(Statement::NoOp)
        );
        assert_eq!(
            parse_sql("truncate d.t;").ok(),
            Some(Statement::Truncate(name(Some("d"), "t")))
        );
        assert_eq!(
            parse_sql("RENAME TABLE a TO d2.b, d2.b TO c").ok(),
            Some(Statement::RenameTables(vec![
                (name(None, "a"), name(Some("d2"), "b")),
                (name(Some("d2"), "b"), name(None, "c"))
            ]))
        );
        assert_eq!(
            parse_sql("CREATE DEFINER=`root`@`%` VIEW v AS SELECT 1").ok(),
            Some(Statement::NoOp)
        );
        assert_eq!(parse_sql("RENAME USER a TO b").ok(), Some(Statement::NoOp));
        assert!(matches!(
            parse_sql("SET STATEMENT max_statement_time=60 FOR DROP DATABASE d").ok(),
            Some(Statement::DropDatabase(d)) if d == "d"
        ));
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(matches!(
            parse_sql("TRUNCATE t t2"),
            Err(DdlError::Syntax { .. })
        ));
        assert!(matches!(
            parse_sql("DROP TABLE"),
            Err(DdlError::Syntax { .. })
        ));
    }

    #[test]
    fn database_statements() {
        match parse_sql(
            "CREATE SCHEMA IF NOT EXISTS s DEFAULT CHARACTER SET = 'UTF8' COLLATE utf8_bin",
        ) {
            Ok(Statement::CreateDatabase {
                name,
                if_not_exists: true,
                options,
                ..
            }) => {
                assert_eq!(name, "s");
                assert_eq!(options.collation.as_deref(), Some("utf8mb3_bin"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_sql("ALTER DATABASE COLLATE latin1_bin"),
            Ok(Statement::AlterDatabase { name: None, .. })
        ));
        assert!(matches!(
            parse_sql("ALTER SCHEMA s CHARSET latin1"),
            Ok(Statement::AlterDatabase { name: Some(_), .. })
        ));
        assert_eq!(
            parse_sql("ALTER DATABASE `#mysql50#a-b` UPGRADE DATA DIRECTORY NAME").ok(),
            Some(Statement::NoOp)
        );
    }
}
