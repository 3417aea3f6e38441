//! `ALTER TABLE` specifications.
//!
//! Invariants: specifications are returned in written order (the executor reproduces the server's
//! own processing order, which is not the written one); keys declared on an added or redefined
//! column follow that column's specification. Partition maintenance and other specifications with
//! no effect on columns or keys are parsed to the end of the statement and dropped. An unknown
//! specification is a syntax error, never skipped.

use crate::schema::ddl::ast::{
    AlterSpec, ColumnAction, ColumnDef, KeyDef, KeyPart, Position, Statement, TableElement,
    TableOptions,
};
use crate::schema::ddl::column::{column_def, expression};
use crate::schema::ddl::create::{key_element, table_elements, table_option};
use crate::schema::ddl::parser::Parser;
use crate::schema::ddl::DdlError;

/// First words of partition and maintenance specifications, which end the statement.
const REST_OF_STATEMENT_NO_OPS: [&[&str]; 16] = [
    &["PARTITION", "BY"],
    &["REMOVE", "PARTITIONING"],
    &["UPGRADE", "PARTITIONING"],
    &["ADD", "PARTITION"],
    &["DROP", "PARTITION"],
    &["TRUNCATE", "PARTITION"],
    &["COALESCE", "PARTITION"],
    &["REORGANIZE", "PARTITION"],
    &["EXCHANGE", "PARTITION"],
    &["ANALYZE", "PARTITION"],
    &["CHECK", "PARTITION"],
    &["OPTIMIZE", "PARTITION"],
    &["REBUILD", "PARTITION"],
    &["REPAIR", "PARTITION"],
    &["DISCARD"],
    &["IMPORT"],
];

/// After `ALTER [ONLINE] [IGNORE] TABLE`.
pub(crate) fn alter_table(p: &mut Parser) -> Result<Statement, DdlError> {
    p.eat_if_exists();
    let table = p.object_name()?;
    if p.eat_kw("WAIT") {
        p.number()?;
    } else {
        p.eat_kw("NOWAIT");
    }
    let mut specs = Vec::new();
    while !p.at_end() && !p.is_punct(";") {
        if REST_OF_STATEMENT_NO_OPS.iter().any(|kws| p.is_kws(kws)) || p.eat_kws(&["ORDER", "BY"]) {
            p.skip_rest();
            break;
        }
        alter_spec(p, &mut specs)?;
        p.eat_punct(",");
    }
    p.expect_end()?;
    Ok(Statement::AlterTable { table, specs })
}

fn alter_spec(p: &mut Parser, specs: &mut Vec<AlterSpec>) -> Result<(), DdlError> {
    if p.is_kws(&["ADD", "SYSTEM", "VERSIONING"]) || p.is_kws(&["DROP", "SYSTEM", "VERSIONING"]) {
        return Err(DdlError::Unsupported("system-versioned tables".into()));
    }
    if p.eat_kw("ADD") {
        add(p, specs)
    } else if p.eat_kw("CHANGE") {
        p.eat_kw("COLUMN");
        let if_exists = p.eat_if_exists();
        let old = p.ident()?;
        redefine(p, specs, old, if_exists)
    } else if p.eat_kw("MODIFY") {
        p.eat_kw("COLUMN");
        let if_exists = p.eat_if_exists();
        let old = p.peek().map(|t| t.text.clone()).unwrap_or_default();
        redefine(p, specs, old, if_exists)
    } else if p.eat_kw("DROP") {
        drop(p, specs)
    } else if p.eat_kw("RENAME") {
        rename(p, specs)
    } else if p.eat_kw("ALTER") {
        alter(p, specs)
    } else if p.eat_kw("CONVERT") {
        convert(p, specs)
    } else if no_op_spec(p) {
        Ok(())
    } else {
        let mut options = TableOptions::default();
        if table_option(p, &mut options)? {
            specs.push(AlterSpec::Options(options));
            Ok(())
        } else {
            Err(p.error("unknown ALTER TABLE specification"))
        }
    }
}

/// Specifications that change nothing the model holds: FORCE, ENABLE/DISABLE KEYS, ...
fn no_op_spec(p: &mut Parser) -> bool {
    p.eat_kw("FORCE")
        || p.eat_kws(&["ENABLE", "KEYS"])
        || p.eat_kws(&["DISABLE", "KEYS"])
        || p.eat_kws(&["WITH", "VALIDATION"])
        || p.eat_kws(&["WITHOUT", "VALIDATION"])
        || p.eat_kw("SECONDARY_LOAD")
        || p.eat_kw("SECONDARY_UNLOAD")
}

/// After ADD.
fn add(p: &mut Parser, specs: &mut Vec<AlterSpec>) -> Result<(), DdlError> {
    let column_keyword = p.eat_kw("COLUMN");
    if !column_keyword {
        if let Some(key) = key_element(p)? {
            specs.extend(key.map(AlterSpec::AddKey));
            return Ok(());
        }
    }
    let if_not_exists = p.eat_if_not_exists();
    if p.eat_punct("(") {
        for element in table_elements(p)? {
            specs.push(match element {
                TableElement::Column(def) => AlterSpec::AddColumn {
                    def,
                    position: None,
                    if_not_exists,
                },
                TableElement::Key(key) => AlterSpec::AddKey(key),
            });
        }
        return Ok(());
    }
    let def = column_def(p)?;
    let position = position(p)?;
    let keys = column_keys(&def);
    specs.push(AlterSpec::AddColumn {
        def,
        position,
        if_not_exists,
    });
    specs.extend(keys);
    Ok(())
}

/// The rest of CHANGE/MODIFY: `definition [FIRST | AFTER c]`.
fn redefine(
    p: &mut Parser,
    specs: &mut Vec<AlterSpec>,
    old: String,
    if_exists: bool,
) -> Result<(), DdlError> {
    let def = column_def(p)?;
    let position = position(p)?;
    let keys = column_keys(&def);
    specs.push(AlterSpec::Change {
        old,
        def,
        position,
        if_exists,
    });
    specs.extend(keys);
    Ok(())
}

/// Keys declared on a column definition, as ADD specifications.
fn column_keys(def: &ColumnDef) -> Vec<AlterSpec> {
    def.keys
        .iter()
        .map(|&kind| {
            AlterSpec::AddKey(KeyDef {
                kind,
                name: None,
                parts: vec![KeyPart {
                    column: def.name.clone(),
                    prefix: None,
                }],
                using_hash: false,
                if_not_exists: false,
            })
        })
        .collect()
}

fn position(p: &mut Parser) -> Result<Option<Position>, DdlError> {
    if p.eat_kw("FIRST") {
        Ok(Some(Position::First))
    } else if p.eat_kw("AFTER") {
        Ok(Some(Position::After(p.ident()?)))
    } else {
        Ok(None)
    }
}

/// After DROP.
fn drop(p: &mut Parser, specs: &mut Vec<AlterSpec>) -> Result<(), DdlError> {
    if p.eat_kws(&["PRIMARY", "KEY"]) {
        specs.push(AlterSpec::DropIndex {
            name: "PRIMARY".into(),
            if_exists: false,
        });
    } else if p.eat_kw("INDEX") || p.eat_kw("KEY") {
        let if_exists = p.eat_if_exists();
        specs.push(AlterSpec::DropIndex {
            name: p.ident()?,
            if_exists,
        });
    } else if p.eat_kws(&["FOREIGN", "KEY"]) || p.eat_kw("CHECK") {
        p.eat_if_exists();
        p.ident()?;
    } else if p.eat_kw("CONSTRAINT") {
        p.eat_if_exists();
        specs.push(AlterSpec::DropConstraint { name: p.ident()? });
    } else if p.eat_kws(&["PERIOD", "FOR"]) {
        p.ident()?;
    } else {
        p.eat_kw("COLUMN");
        let if_exists = p.eat_if_exists();
        let name = p.ident()?;
        p.eat_kw("RESTRICT");
        p.eat_kw("CASCADE");
        specs.push(AlterSpec::DropColumn { name, if_exists });
    }
    Ok(())
}

/// After RENAME.
fn rename(p: &mut Parser, specs: &mut Vec<AlterSpec>) -> Result<(), DdlError> {
    if p.eat_kw("COLUMN") {
        let if_exists = p.eat_if_exists();
        let from = p.ident()?;
        p.expect_kw("TO")?;
        specs.push(AlterSpec::RenameColumn {
            from,
            to: p.ident()?,
            if_exists,
        });
    } else if p.eat_kw("INDEX") || p.eat_kw("KEY") {
        let from = p.ident()?;
        p.expect_kw("TO")?;
        specs.push(AlterSpec::RenameIndex {
            from,
            to: p.ident()?,
        });
    } else {
        let _ = p.eat_kw("TO") || p.eat_kw("AS") || p.eat_punct("=");
        specs.push(AlterSpec::RenameTable(p.object_name()?));
    }
    Ok(())
}

/// After ALTER (inside ALTER TABLE).
fn alter(p: &mut Parser, specs: &mut Vec<AlterSpec>) -> Result<(), DdlError> {
    if p.eat_kw("INDEX") || p.eat_kw("KEY") || p.eat_kw("CHECK") || p.eat_kw("CONSTRAINT") {
        p.ident()?;
        let _ = p.eat_kws(&["NOT", "IGNORED"])
            || p.eat_kw("IGNORED")
            || p.eat_kw("VISIBLE")
            || p.eat_kw("INVISIBLE")
            || p.eat_kws(&["NOT", "ENFORCED"])
            || p.eat_kw("ENFORCED");
        return Ok(());
    }
    p.eat_kw("COLUMN");
    let if_exists = p.eat_if_exists();
    let name = p.ident()?;
    let action = if p.eat_kws(&["SET", "DEFAULT"]) {
        ColumnAction::SetDefault(expression(p)?)
    } else if p.eat_kws(&["DROP", "DEFAULT"]) {
        ColumnAction::DropDefault
    } else if p.eat_kws(&["SET", "VISIBLE"]) {
        ColumnAction::Invisible(false)
    } else if p.eat_kws(&["SET", "INVISIBLE"]) {
        ColumnAction::Invisible(true)
    } else {
        return Err(p.error("expected SET DEFAULT, DROP DEFAULT, SET VISIBLE or SET INVISIBLE"));
    };
    specs.push(AlterSpec::AlterColumn {
        name,
        action,
        if_exists,
    });
    Ok(())
}

/// After CONVERT.
fn convert(p: &mut Parser, specs: &mut Vec<AlterSpec>) -> Result<(), DdlError> {
    if p.eat_kw("TO") {
        if !p.eat_charset_kw() {
            return Err(p.error("expected CHARACTER SET"));
        }
        let charset = p.charset_name()?;
        let collation = if p.eat_kw("COLLATE") {
            Some(p.collation_name()?)
        } else {
            None
        };
        specs.push(AlterSpec::ConvertCharset { charset, collation });
    } else if p.eat_kw("PARTITION") {
        p.ident()?;
        p.expect_kw("TO")?;
        p.expect_kw("TABLE")?;
        specs.push(AlterSpec::PartitionToTable(p.object_name()?));
    } else if p.eat_kw("TABLE") {
        specs.push(AlterSpec::TableToPartition(p.object_name()?));
        p.skip_rest();
    } else {
        return Err(p.error("expected TO, PARTITION or TABLE after CONVERT"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ddl::ast::KeyKind;
    use crate::schema::ddl::lexer::{tokens, LexOptions};

    fn specs(sql: &str) -> Vec<AlterSpec> {
        let opts = LexOptions {
            ansi_quotes: false,
            no_backslash_escapes: false,
            mariadb: true,
            server_version: None,
        };
        let toks = tokens(sql, opts).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut p = Parser::new(sql, toks, true, false);
        match alter_table(&mut p) {
            Ok(Statement::AlterTable { specs, .. }) => specs,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn modify_takes_its_name_from_the_definition() {
        match specs("t MODIFY COLUMN IF EXISTS `b` BIGINT NOT NULL FIRST").as_slice() {
            [AlterSpec::Change {
                old,
                def,
                position: Some(Position::First),
                if_exists: true,
            }] => {
                assert_eq!(
                    (old.as_str(), def.name.as_str(), def.not_null),
                    ("b", "b", true)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn column_keys_follow_their_column() {
        let s = specs("t ADD c INT UNIQUE AFTER a, ADD KEY k (c(3) DESC) USING BTREE COMMENT 'x'");
        assert!(
            matches!(&s[0], AlterSpec::AddColumn { position: Some(Position::After(a)), .. } if a == "a")
        );
        assert!(matches!(
            &s[1],
            AlterSpec::AddKey(KeyDef {
                kind: KeyKind::Unique,
                name: None,
                ..
            })
        ));
        assert!(
            matches!(&s[2], AlterSpec::AddKey(KeyDef { kind: KeyKind::Plain, name: Some(n), parts, .. })
            if n == "k" && parts[0].prefix == Some(3))
        );
    }

    #[test]
    fn partition_maintenance_ends_the_statement() {
        assert_eq!(
            specs("t ENGINE=InnoDB ROW_FORMAT=DYNAMIC PARTITION BY HASH(id) PARTITIONS 4").len(),
            2
        );
        assert!(specs("t DROP PARTITION p1, p2").is_empty());
        assert!(specs("t EXCHANGE PARTITION p WITH TABLE t2 WITHOUT VALIDATION").is_empty());
        assert!(specs("t ORDER BY a DESC, b").is_empty());
    }

    #[test]
    fn unknown_specification_is_an_error() {
        let opts = LexOptions {
            ansi_quotes: false,
            no_backslash_escapes: false,
            mariadb: true,
            server_version: None,
        };
        let sql = "t FROBNICATE c";
        let mut p = Parser::new(sql, tokens(sql, opts).unwrap_or_default(), true, false);
        assert!(matches!(
            alter_table(&mut p),
            Err(DdlError::Syntax { offset: 2, .. })
        ));
    }
}
