//! Which trigger a `CREATE TRIGGER` / `DROP TRIGGER` statement names (so that the capture can
//! recognise triggers otter creates for itself).
//!
//! Invariants: only the statement's own leading keywords are read (comments skipped, a MariaDB
//! `SET STATEMENT ... FOR` prefix skipped, executable comments read as the server reads them);
//! a `DEFINER` clause in any form the servers accept or log (`user@host`, quoted parts,
//! `CURRENT_USER[()]`, a role) is skipped; anything that is not a trigger statement gives `None`.
//! Never panics, whatever the input.

use super::lexer::{self, word, LexOptions, Token, TokenKind};
use super::set_statement_prefix_len;

/// Tokens a `DEFINER = …` clause may span at most (`'user'@'host'`, an IP address host, …).
const MAX_DEFINER_TOKENS: usize = 16;

/// The trigger's name (without its database) when `sql` is a `CREATE TRIGGER` or `DROP TRIGGER`
/// statement; `None` for anything else.
///
/// Accepts `CREATE [OR REPLACE] [DEFINER = …] TRIGGER [IF NOT EXISTS] [db.]name …` and
/// `DROP TRIGGER [IF EXISTS] [db.]name`, names quoted or not.
pub fn trigger_name(sql: &str) -> Option<String> {
    let (tokens, _) = lexer::tokenize(sql, LexOptions::DEFAULT);
    let mut i = set_statement_prefix_len(&tokens);
    let w = |i: usize| word(&tokens, i);
    match w(i).as_str() {
        "CREATE" => {
            i += 1;
            if w(i) == "OR" && w(i + 1) == "REPLACE" {
                i += 2;
            }
            if w(i) == "DEFINER" {
                i = after_definer(&tokens, i + 1)?;
            }
            if w(i) != "TRIGGER" {
                return None;
            }
            i += 1;
            if w(i) == "IF" && w(i + 1) == "NOT" && w(i + 2) == "EXISTS" {
                i += 3;
            }
        }
        "DROP" => {
            i += 1;
            if w(i) != "TRIGGER" {
                return None;
            }
            i += 1;
            if w(i) == "IF" && w(i + 1) == "EXISTS" {
                i += 2;
            }
        }
        _ => return None,
    }
    object_name(&tokens, i)
}

/// The index of the `TRIGGER` keyword after a `DEFINER` clause whose `=` is at `i` (or of the
/// first token that is no part of the clause; the caller checks it).
fn after_definer(tokens: &[Token], i: usize) -> Option<usize> {
    let t = tokens.get(i)?;
    if t.kind != TokenKind::Punct || t.text != "=" {
        return None;
    }
    // The account: a word, quoted name or string, optionally `@host` (a host may lex as several
    // tokens, e.g. an IP address); the clause ends at a keyword that is not right after `@`/`=`.
    let mut j = i + 1;
    while j < tokens.len() && j <= i + MAX_DEFINER_TOKENS {
        let after_punct = tokens.get(j - 1).is_some_and(|p| p.kind == TokenKind::Punct && (p.text == "@" || p.text == "="));
        let tok = tokens.get(j)?;
        let is_keyword = tok.kind == TokenKind::Word
            && matches!(
                tok.text.to_ascii_uppercase().as_str(),
                "TRIGGER" | "VIEW" | "PROCEDURE" | "FUNCTION" | "EVENT" | "SQL" | "ALGORITHM" | "AGGREGATE" | "PACKAGE"
            );
        if is_keyword && !after_punct {
            return Some(j);
        }
        j += 1;
    }
    None
}

/// The last part of the (possibly qualified) object name starting at `i`.
fn object_name(tokens: &[Token], i: usize) -> Option<String> {
    let ident = |t: &Token| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent).then(|| t.text.clone());
    let first = ident(tokens.get(i)?)?;
    match tokens.get(i + 1) {
        Some(dot) if dot.kind == TokenKind::Punct && dot.text == "." => tokens.get(i + 2).and_then(ident),
        _ => Some(first),
    }
}

#[cfg(test)]
mod tests {
    use super::trigger_name;

    #[test]
    fn two_way_names_of_trigger_statements() {
        let name = |s: &str| trigger_name(s);
        assert_eq!(name("CREATE TRIGGER otter_t BEFORE INSERT ON t FOR EACH ROW SET @a = 1").as_deref(), Some("otter_t"));
        // As MariaDB logs it: a DEFINER clause in between, names quoted.
        assert_eq!(
            name("CREATE DEFINER=`root`@`localhost` TRIGGER `Otter_Tomb` AFTER DELETE ON `t` FOR EACH ROW SET @a = 1").as_deref(),
            Some("Otter_Tomb")
        );
        assert_eq!(name("create or replace definer = 'app'@'10.0.0.1' trigger if not exists d.x_1 after update on t for each row set @a=1").as_deref(), Some("x_1"));
        assert_eq!(name("CREATE DEFINER=app@localhost TRIGGER IF NOT EXISTS `d`.`otter_x` BEFORE DELETE ON t FOR EACH ROW SET @a=1").as_deref(), Some("otter_x"));
        assert_eq!(name("CREATE DEFINER=CURRENT_USER() TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @a=1").as_deref(), Some("tr"));
        assert_eq!(name("CREATE DEFINER = CURRENT_USER TRIGGER tr2 BEFORE INSERT ON t FOR EACH ROW SET @a=1").as_deref(), Some("tr2"));
        assert_eq!(name("/* otter:mark origin=a via=a */ DROP TRIGGER IF EXISTS `d`.`otter_y`").as_deref(), Some("otter_y"));
        assert_eq!(name("drop trigger otter_z").as_deref(), Some("otter_z"));
        assert_eq!(name("SET STATEMENT max_statement_time=60 FOR DROP TRIGGER d.t9").as_deref(), Some("t9"));
    }

    #[test]
    fn two_way_other_statements_name_no_trigger() {
        for sql in [
            "CREATE DEFINER=`root`@`localhost` VIEW `otter_v` AS SELECT 1",
            "CREATE DEFINER=`root`@`localhost` PROCEDURE `otter_p`() SELECT 1",
            "CREATE TABLE otter_t (id INT)",
            "DROP TABLE otter_t",
            "DROP VIEW trigger_v",
            "CREATE DEFINER=",
            "DROP TRIGGER",
            "CREATE TRIGGER",
            "",
            "CREATE DEFINER=`a`@`b` SQL SECURITY INVOKER VIEW v AS SELECT 1",
        ] {
            assert_eq!(trigger_name(sql), None, "{sql}");
        }
    }
}
