//! The token cursor shared by the statement parsers, with the small grammar pieces every
//! statement uses: names, literals, charset clauses, balanced skipping.
//!
//! Invariants: the cursor never indexes out of bounds (every access is checked) and every
//! loop consumes at least one token per iteration, so parsing terminates on any input. Errors are
//! [`DdlError::Syntax`] carrying the byte offset of the offending token.

use crate::schema::charset;
use crate::schema::ddl::ast::{CharsetName, ObjectName};
use crate::schema::ddl::lexer::{Token, TokenKind};
use crate::schema::ddl::DdlError;

/// A cursor over the tokens of one statement.
pub(crate) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// MariaDB grammar and semantics (vs MySQL).
    pub mariadb: bool,
    /// sql_mode REAL_AS_FLOAT: REAL means FLOAT.
    pub real_as_float: bool,
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str, tokens: Vec<Token>, mariadb: bool, real_as_float: bool) -> Self {
        Parser {
            src,
            tokens,
            pos: 0,
            mariadb,
            real_as_float,
        }
    }

    pub fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    pub fn peek_at(&self, n: usize) -> Option<&Token> {
        self.tokens.get(self.pos + n)
    }

    pub fn advance(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// The index of the next token (for [`Parser::raw_since`]).
    pub fn mark(&self) -> usize {
        self.pos
    }

    /// Moves back to a position returned by [`Parser::mark`].
    pub fn rewind(&mut self, mark: usize) {
        self.pos = mark.min(self.tokens.len());
    }

    /// The source text from the token at `mark` to the last consumed token, as written.
    pub fn raw_since(&self, mark: usize) -> String {
        let start = self.tokens.get(mark).map(|t| t.start);
        let end = self
            .pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map(|t| t.end);
        match (start, end) {
            (Some(s), Some(e)) if s <= e => self.src.get(s..e).unwrap_or("").to_owned(),
            _ => String::new(),
        }
    }

    /// A syntax error at the next token (or the end of the text).
    pub fn error(&self, message: impl Into<String>) -> DdlError {
        let offset = self.peek().map(|t| t.start).unwrap_or(self.src.len());
        let found = self
            .peek()
            .map(|t| format!(" near '{}'", t.text))
            .unwrap_or_else(|| " at end".into());
        DdlError::Syntax {
            message: format!("{}{found}", message.into()),
            offset,
        }
    }

    pub fn is_kw_at(&self, n: usize, kw: &str) -> bool {
        self.peek_at(n)
            .is_some_and(|t| t.kind == TokenKind::Word && t.text.eq_ignore_ascii_case(kw))
    }

    pub fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    /// Whether the next tokens are exactly these keywords.
    pub fn is_kws(&self, kws: &[&str]) -> bool {
        kws.iter().enumerate().all(|(i, kw)| self.is_kw_at(i, kw))
    }

    pub fn eat_kw(&mut self, kw: &str) -> bool {
        let yes = self.is_kw(kw);
        if yes {
            self.pos += 1;
        }
        yes
    }

    /// Consumes the keywords if all of them come next, else nothing.
    pub fn eat_kws(&mut self, kws: &[&str]) -> bool {
        let yes = self.is_kws(kws);
        if yes {
            self.pos += kws.len();
        }
        yes
    }

    pub fn expect_kw(&mut self, kw: &str) -> Result<(), DdlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.error(format!("expected {kw}")))
        }
    }

    pub fn is_punct(&self, p: &str) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == TokenKind::Punct && t.text == p)
    }

    pub fn eat_punct(&mut self, p: &str) -> bool {
        let yes = self.is_punct(p);
        if yes {
            self.pos += 1;
        }
        yes
    }

    pub fn expect_punct(&mut self, p: &str) -> Result<(), DdlError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.error(format!("expected '{p}'")))
        }
    }

    /// `IF EXISTS`.
    pub fn eat_if_exists(&mut self) -> bool {
        self.eat_kws(&["IF", "EXISTS"])
    }

    /// `IF NOT EXISTS`.
    pub fn eat_if_not_exists(&mut self) -> bool {
        self.eat_kws(&["IF", "NOT", "EXISTS"])
    }

    /// An identifier: a bare word or a quoted identifier.
    pub fn ident(&mut self) -> Result<String, DdlError> {
        match self.peek() {
            Some(t) if matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent) => {
                let text = t.text.clone();
                self.pos += 1;
                Ok(text)
            }
            _ => Err(self.error("expected an identifier")),
        }
    }

    /// An identifier or a string (charset, collation and engine names may be either).
    pub fn name_or_string(&mut self) -> Result<String, DdlError> {
        match self.peek() {
            Some(t) if t.kind == TokenKind::Str => self.string(),
            _ => self.ident(),
        }
    }

    /// `[db.]name`.
    pub fn object_name(&mut self) -> Result<ObjectName, DdlError> {
        let first = self.ident()?;
        if self.eat_punct(".") {
            let name = self.ident()?;
            Ok(ObjectName {
                db: Some(first),
                name,
            })
        } else {
            Ok(ObjectName {
                db: None,
                name: first,
            })
        }
    }

    /// A comma-separated list of `[db.]name`.
    pub fn object_names(&mut self) -> Result<Vec<ObjectName>, DdlError> {
        let mut names = vec![self.object_name()?];
        while self.eat_punct(",") {
            names.push(self.object_name()?);
        }
        Ok(names)
    }

    /// A string literal; adjacent literals concatenate, and a spaced `_charset` introducer is
    /// skipped.
    pub fn string(&mut self) -> Result<String, DdlError> {
        let introduced = self
            .peek()
            .is_some_and(|t| t.kind == TokenKind::Word && t.text.starts_with('_'))
            && self.peek_at(1).is_some_and(|t| t.kind == TokenKind::Str);
        if introduced {
            self.pos += 1;
        }
        let mut value = match self.peek() {
            Some(t) if t.kind == TokenKind::Str => t.text.clone(),
            _ => return Err(self.error("expected a string literal")),
        };
        self.pos += 1;
        while let Some(t) = self.peek().filter(|t| t.kind == TokenKind::Str) {
            value.push_str(&t.text);
            self.pos += 1;
        }
        Ok(value)
    }

    /// An unsigned integer literal.
    pub fn number(&mut self) -> Result<u64, DdlError> {
        match self.peek() {
            Some(t) if t.kind == TokenKind::Number => match t.text.parse::<u64>() {
                Ok(n) => {
                    self.pos += 1;
                    Ok(n)
                }
                Err(_) => Err(self.error("expected an unsigned integer")),
            },
            _ => Err(self.error("expected a number")),
        }
    }

    /// `(n)` → n.
    pub fn paren_number(&mut self) -> Result<u64, DdlError> {
        self.expect_punct("(")?;
        let n = self.number()?;
        self.expect_punct(")")?;
        Ok(n)
    }

    /// Skips a balanced `( ... )` group; the next token must be `(`.
    pub fn skip_parens(&mut self) -> Result<(), DdlError> {
        self.expect_punct("(")?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.advance() {
                None => return Err(self.error("unbalanced parentheses")),
                Some(t) if t.kind == TokenKind::Punct && t.text == "(" => depth += 1,
                Some(t) if t.kind == TokenKind::Punct && t.text == ")" => depth -= 1,
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Skips everything that is left.
    pub fn skip_rest(&mut self) {
        self.pos = self.tokens.len();
    }

    /// Whether any remaining token is the keyword `kw`.
    pub fn rest_has_kw(&self, kw: &str) -> bool {
        self.tokens
            .get(self.pos..)
            .unwrap_or(&[])
            .iter()
            .any(|t| t.kind == TokenKind::Word && t.text.eq_ignore_ascii_case(kw))
    }

    /// An optional `=`.
    pub fn eat_eq(&mut self) {
        self.eat_punct("=");
    }

    /// The name after `CHARACTER SET` / `CHARSET`: normalised, or `DEFAULT`.
    pub fn charset_name(&mut self) -> Result<CharsetName, DdlError> {
        if self.eat_kw("DEFAULT") {
            return Ok(CharsetName::Default);
        }
        Ok(CharsetName::Named(charset::normalize_charset(
            &self.name_or_string()?,
        )))
    }

    /// The name after `COLLATE`, normalised (`DEFAULT` is kept as the word `default`).
    pub fn collation_name(&mut self) -> Result<String, DdlError> {
        Ok(charset::normalize_collation(&self.name_or_string()?))
    }

    /// `CHARACTER SET` / `CHARSET` / `CHAR SET` (not followed by its name).
    pub fn eat_charset_kw(&mut self) -> bool {
        self.eat_kws(&["CHARACTER", "SET"])
            || self.eat_kw("CHARSET")
            || self.eat_kws(&["CHAR", "SET"])
    }

    /// A trailing `;` (or several) may end the statement; anything else left is an error.
    pub fn expect_end(&mut self) -> Result<(), DdlError> {
        while self.eat_punct(";") {}
        if self.at_end() {
            Ok(())
        } else {
            Err(self.error("unexpected text after the statement"))
        }
    }
}
