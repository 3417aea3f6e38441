//! A lexer for MySQL/MariaDB SQL text.
//!
//! Invariants:
//! - it never panics, whatever the input: every byte access is checked, and tokens only start or
//!   end at ASCII bytes or at the ends of the text, so every `start..end` is a `char` boundary;
//! - comments (`-- `, `#`, `/* */`) produce no tokens; executable comments `/*!NNNNN ... */`
//!   (and MariaDB's `/*M!NNNNNN ... */`) are lexed as ordinary SQL, exactly as the server executes
//!   them, unless their version is newer than the configured server version;
//! - `Word` tokens keep their text as written (keywords are matched case-insensitively by the
//!   parser); quoted identifiers and strings carry their unescaped value.
//!
//! It is the crate's one SQL lexer: the DDL parser, the statement classifier, the trigger and
//! `ALTER` outline readers, the routing transform's table-name rewriter and the sinks' DDL verbs
//! all read statement text through it.

use crate::schema::charset;
use crate::schema::ddl::DdlError;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word: keyword or unquoted identifier.
    Word,
    /// A `` `quoted` `` identifier (or `"quoted"` with ANSI_QUOTES).
    QuotedIdent,
    /// A string literal ('..', ".." without ANSI_QUOTES, N'..', _charset'..').
    Str,
    /// A number as written.
    Number,
    /// A hexadecimal or bit literal (X'..', 0x.., B'..', 0b..).
    HexOrBit,
    /// An operator or punctuation character.
    Punct,
}

/// One token: its kind, its text (value for strings and quoted identifiers) and its byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// How to lex: the server's quoting rules and which executable comments it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LexOptions {
    /// `"x"` is an identifier, not a string (sql_mode ANSI_QUOTES).
    pub ansi_quotes: bool,
    /// Backslash is an ordinary character in strings (sql_mode NO_BACKSLASH_ESCAPES).
    pub no_backslash_escapes: bool,
    /// MariaDB: runs `/*M!...*/` and accepts 6-digit versions in `/*!...*/`.
    pub mariadb: bool,
    /// Server version as `MMmmpp` (e.g. 101119); executable comments newer than it are comments.
    /// `None` runs every executable comment.
    pub server_version: Option<u32>,
}

impl LexOptions {
    /// For reading a statement without knowing its server: default `sql_mode` (`".."` is a
    /// string, backslash escapes), MariaDB's comment forms, every executable comment run.
    pub(crate) const DEFAULT: LexOptions = LexOptions {
        ansi_quotes: false,
        no_backslash_escapes: false,
        mariadb: true,
        server_version: None,
    };
}

impl Token {
    /// True for a bare word equal to `kw` ignoring ASCII case.
    pub(crate) fn is_kw(&self, kw: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(kw)
    }

    /// True for the punctuation (or operator) `p`.
    pub(crate) fn is_punct(&self, p: &str) -> bool {
        self.kind == TokenKind::Punct && self.text == p
    }

    /// True for something that can be a name: a bare word or a quoted identifier.
    pub(crate) fn is_ident(&self) -> bool {
        matches!(self.kind, TokenKind::Word | TokenKind::QuotedIdent)
    }
}

/// Token `i` upper-cased when it is a bare word; empty for anything else or past the end.
pub(crate) fn word(tokens: &[Token], i: usize) -> String {
    tokens
        .get(i)
        .filter(|t| t.kind == TokenKind::Word)
        .map(|t| t.text.to_ascii_uppercase())
        .unwrap_or_default()
}

const MULTI_CHAR_OPS: [&str; 11] = [
    "<=>", "->>", "<=", ">=", "<>", "!=", ":=", "||", "&&", "<<", ">>",
];

/// Lexes `src` into tokens. On an error (unterminated string, quoted identifier or comment) the
/// tokens before it are returned with the error.
pub(crate) fn tokenize(src: &str, opts: LexOptions) -> (Vec<Token>, Option<DdlError>) {
    let mut lexer = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        opts,
        in_exec_comment: false,
        tokens: Vec::new(),
    };
    let error = lexer.run().err();
    (lexer.tokens, error)
}

/// Lexes `src` completely or fails.
pub(crate) fn tokens(src: &str, opts: LexOptions) -> Result<Vec<Token>, DdlError> {
    match tokenize(src, opts) {
        (_, Some(e)) => Err(e),
        (tokens, None) => Ok(tokens),
    }
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    opts: LexOptions,
    in_exec_comment: bool,
    tokens: Vec<Token>,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn syntax(message: impl Into<String>, offset: usize) -> DdlError {
    DdlError::Syntax {
        message: message.into(),
        offset,
    }
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    fn slice(&self, start: usize, end: usize) -> &str {
        self.src.get(start..end).unwrap_or("")
    }

    fn push(&mut self, kind: TokenKind, text: String, start: usize) {
        self.tokens.push(Token {
            kind,
            text,
            start,
            end: self.pos,
        });
    }

    fn run(&mut self) -> Result<(), DdlError> {
        while let Some(b) = self.at(self.pos) {
            let start = self.pos;
            match b {
                b if b.is_ascii_whitespace() => self.pos += 1,
                b'#' => self.skip_line(),
                b'-' if self.at(start + 1) == Some(b'-')
                    && self
                        .at(start + 2)
                        .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control()) =>
                {
                    self.skip_line()
                }
                b'/' if self.at(start + 1) == Some(b'*') => self.comment()?,
                b'*' if self.in_exec_comment && self.at(start + 1) == Some(b'/') => {
                    self.in_exec_comment = false;
                    self.pos += 2;
                }
                b'`' => self.quoted(b'`', TokenKind::QuotedIdent)?,
                b'"' if self.opts.ansi_quotes => self.quoted(b'"', TokenKind::QuotedIdent)?,
                b'\'' | b'"' => self.string(start)?,
                b'.' if self.at(start + 1).is_some_and(|c| c.is_ascii_digit())
                    && !self.follows_name() =>
                {
                    self.number(start)
                }
                b if is_word_byte(b) => self.word(start)?,
                _ => self.punct(start),
            }
        }
        Ok(())
    }

    /// Whether the previous token can be qualified by `.` (so `.5` after it is not a number).
    fn follows_name(&self) -> bool {
        self.tokens.last().is_some_and(|t| {
            matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent)
                || (t.kind == TokenKind::Punct && t.text == ")")
        })
    }

    fn skip_line(&mut self) {
        while let Some(b) = self.at(self.pos) {
            self.pos += 1;
            if b == b'\n' {
                break;
            }
        }
    }

    /// `/* ... */`, `/*! ... */`, `/*M! ... */`.
    fn comment(&mut self) -> Result<(), DdlError> {
        let start = self.pos;
        let mut p = start + 2;
        let mariadb_form = matches!(self.at(p), Some(b'M' | b'm')) && self.at(p + 1) == Some(b'!');
        let executable = self.at(p) == Some(b'!') || (mariadb_form && self.opts.mariadb);
        if executable && !self.in_exec_comment {
            p += if mariadb_form { 2 } else { 1 };
            let digits = (0..6)
                .take_while(|&i| self.at(p + i).is_some_and(|c| c.is_ascii_digit()))
                .count();
            let version_len = match digits {
                6 if self.opts.mariadb => 6,
                5 | 6 => 5,
                _ => 0,
            };
            let version: Option<u32> = self.slice(p, p + version_len).parse().ok();
            let newer = matches!((version, self.opts.server_version), (Some(v), Some(server)) if v > server);
            if !newer {
                self.pos = p + version_len;
                self.in_exec_comment = true;
                return Ok(());
            }
        }
        let close = self.src.get(start + 2..).and_then(|rest| rest.find("*/"));
        match close {
            Some(i) => {
                self.pos = start + 2 + i + 2;
                Ok(())
            }
            None => Err(syntax("unterminated comment", start)),
        }
    }

    /// A quoted identifier or ANSI string: the quote doubled inside stands for itself.
    fn quoted(&mut self, quote: u8, kind: TokenKind) -> Result<(), DdlError> {
        let start = self.pos;
        let mut value = Vec::new();
        let mut p = start + 1;
        loop {
            match self.at(p) {
                None => return Err(syntax("unterminated quoted identifier", start)),
                Some(b) if b == quote => {
                    if self.at(p + 1) == Some(quote) {
                        value.push(quote);
                        p += 2;
                    } else {
                        p += 1;
                        break;
                    }
                }
                Some(b) => {
                    value.push(b);
                    p += 1;
                }
            }
        }
        self.pos = p;
        self.push(kind, String::from_utf8_lossy(&value).into_owned(), start);
        Ok(())
    }

    /// A string literal starting at the quote at `self.pos`; the token starts at `token_start`
    /// (earlier when it has an introducer such as `_utf8mb4` or `N`).
    fn string(&mut self, token_start: usize) -> Result<(), DdlError> {
        let quote_at = self.pos;
        let quote = self.at(quote_at).unwrap_or(b'\'');
        let mut value = Vec::new();
        let mut p = quote_at + 1;
        loop {
            match self.at(p) {
                None => return Err(syntax("unterminated string literal", quote_at)),
                Some(b'\\') if !self.opts.no_backslash_escapes => {
                    let Some(next) = self.at(p + 1) else {
                        return Err(syntax("unterminated string literal", quote_at));
                    };
                    match next {
                        b'0' => value.push(0),
                        b'b' => value.push(8),
                        b'n' => value.push(b'\n'),
                        b'r' => value.push(b'\r'),
                        b't' => value.push(b'\t'),
                        b'Z' => value.push(26),
                        b'%' | b'_' => value.extend_from_slice(&[b'\\', next]),
                        other => value.push(other),
                    }
                    p += 2;
                }
                Some(b) if b == quote => {
                    if self.at(p + 1) == Some(quote) {
                        value.push(quote);
                        p += 2;
                    } else {
                        p += 1;
                        break;
                    }
                }
                Some(b) => {
                    value.push(b);
                    p += 1;
                }
            }
        }
        self.pos = p;
        self.push(
            TokenKind::Str,
            String::from_utf8_lossy(&value).into_owned(),
            token_start,
        );
        Ok(())
    }

    fn word(&mut self, start: usize) -> Result<(), DdlError> {
        let mut end = start;
        while self.at(end).is_some_and(is_word_byte) {
            end += 1;
        }
        let text = self.slice(start, end).to_owned();
        let next = self.at(end);
        let lower = text.to_ascii_lowercase();
        // X'..' / B'..' literals, N'..' and _charset'..' string introducers.
        if next == Some(b'\'') && (lower == "x" || lower == "b") {
            self.pos = end;
            self.string(start)?;
            if let Some(t) = self.tokens.last_mut() {
                t.kind = TokenKind::HexOrBit;
                t.text = self.src.get(start..t.end).unwrap_or("").to_owned();
            }
            return Ok(());
        }
        let quote_follows = next == Some(b'\'') || (next == Some(b'"') && !self.opts.ansi_quotes);
        if quote_follows && (lower == "n" || is_introducer(&lower)) {
            self.pos = end;
            return self.string(start);
        }
        if text.bytes().all(|c| c.is_ascii_digit()) {
            self.number(start);
            return Ok(());
        }
        self.pos = end;
        let kind = if is_radix_literal(&lower) {
            TokenKind::HexOrBit
        } else if is_exponent_number(&lower) {
            TokenKind::Number
        } else {
            TokenKind::Word
        };
        self.push(kind, text, start);
        Ok(())
    }

    /// Digits, an optional fraction and an optional exponent.
    fn number(&mut self, start: usize) {
        let digits = |lexer: &Self, mut p: usize| {
            while lexer.at(p).is_some_and(|c| c.is_ascii_digit()) {
                p += 1;
            }
            p
        };
        let mut p = digits(self, start);
        if self.at(p) == Some(b'.') {
            p = digits(self, p + 1);
        }
        if matches!(self.at(p), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.at(p + 1), Some(b'+' | b'-')));
            if self.at(p + 1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                p = digits(self, p + 1 + sign);
            }
        }
        self.pos = p;
        let text = self.slice(start, p).to_owned();
        self.push(TokenKind::Number, text, start);
    }

    fn punct(&mut self, start: usize) {
        let rest = self.src.get(start..).unwrap_or("");
        let len = MULTI_CHAR_OPS
            .iter()
            .find(|op| rest.starts_with(*op))
            .map(|op| op.len())
            .or_else(|| rest.chars().next().map(char::len_utf8))
            .unwrap_or(1);
        self.pos = start + len;
        let text = self.slice(start, self.pos).to_owned();
        self.push(TokenKind::Punct, text, start);
    }
}

/// `_utf8mb4`, `_latin1`, `_binary`, ... (a character set introducer).
fn is_introducer(lower: &str) -> bool {
    lower
        .strip_prefix('_')
        .is_some_and(|cs| cs == "utf8" || cs == "binary" || charset::mbmaxlen(cs).is_some())
}

/// `0x1F` or `0b101`.
fn is_radix_literal(lower: &str) -> bool {
    if let Some(hex) = lower.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(bits) = lower.strip_prefix("0b") {
        return !bits.is_empty() && bits.bytes().all(|c| c == b'0' || c == b'1');
    }
    false
}

/// `1e5` (a word that is really a number; `1e+5` is lexed by `number`).
fn is_exponent_number(lower: &str) -> bool {
    match lower.split_once('e') {
        Some((m, e)) => {
            !m.is_empty()
                && !e.is_empty()
                && m.bytes().all(|c| c.is_ascii_digit())
                && e.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARIADB: LexOptions = LexOptions {
        ansi_quotes: false,
        no_backslash_escapes: false,
        mariadb: true,
        server_version: Some(101119),
    };

    fn kinds(sql: &str, opts: LexOptions) -> Vec<(TokenKind, String)> {
        tokens(sql, opts)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    fn texts(sql: &str) -> Vec<String> {
        kinds(sql, MARIADB).into_iter().map(|t| t.1).collect()
    }

    #[test]
    fn identifiers_strings_numbers() {
        use TokenKind::*;
        assert_eq!(
            kinds(
                "`a``b` 'it''s' \"q\\\"x\" N'n' _utf8mb4'u' x'4F' 0x1f b'01' 12.5 1e5 .5 1abc",
                MARIADB
            ),
            vec![
                (QuotedIdent, "a`b".into()),
                (Str, "it's".into()),
                (Str, "q\"x".into()),
                (Str, "n".into()),
                (Str, "u".into()),
                (HexOrBit, "x'4F'".into()),
                (HexOrBit, "0x1f".into()),
                (HexOrBit, "b'01'".into()),
                (Number, "12.5".into()),
                (Number, "1e5".into()),
                (Number, ".5".into()),
                (Word, "1abc".into()),
            ]
        );
    }

    #[test]
    fn qualified_names_are_not_numbers() {
        assert_eq!(texts("db.t1 d2.`x`"), ["db", ".", "t1", "d2", ".", "x"]);
    }

    #[test]
    fn backslash_escapes_follow_sql_mode() {
        assert_eq!(texts(r"'a\nb\%'"), ["a\nb\\%"]);
        let raw = LexOptions {
            no_backslash_escapes: true,
            ..MARIADB
        };
        assert_eq!(kinds(r"'a\'", raw), vec![(TokenKind::Str, "a\\".into())]);
    }

    #[test]
    fn ansi_quotes_make_identifiers() {
        let ansi = LexOptions {
            ansi_quotes: true,
            ..MARIADB
        };
        assert_eq!(
            kinds("\"t\"\"x\"", ansi),
            vec![(TokenKind::QuotedIdent, "t\"x".into())]
        );
    }

    #[test]
    fn comments_vanish_and_executable_comments_run() {
        assert_eq!(
            texts("a -- x\n b # y\n c /* z */ d --e"),
            ["a", "b", "c", "d", "-", "-", "e"]
        );
        assert_eq!(
            texts("/*!40101 SET x=1 */ /*!SET*/ y"),
            ["SET", "x", "=", "1", "SET", "y"]
        );
        assert_eq!(texts("/*M!100100 ENGINE=x */"), ["ENGINE", "=", "x"]);
        assert_eq!(
            texts("a /*!999999 hidden */ b /*!50100 shown */ c"),
            ["a", "b", "shown", "c"]
        );
        let mysql = LexOptions {
            mariadb: false,
            server_version: Some(80036),
            ..MARIADB
        };
        assert_eq!(
            kinds("/*M!100100 x */ /*!80016 y */ /*!80040 z */", mysql),
            vec![(TokenKind::Word, "y".into())]
        );
    }

    #[test]
    fn errors_report_offsets() {
        for (sql, offset) in [("a 'x", 2), ("`x", 0), ("a /* x", 2), ("'x\\", 0)] {
            match tokens(sql, MARIADB) {
                Err(DdlError::Syntax { offset: o, .. }) => assert_eq!(o, offset, "{sql}"),
                other => panic!("{sql}: {other:?}"),
            }
        }
    }

    #[test]
    fn names_outside_strings_and_comments() {
        use TokenKind::*;
        let d = LexOptions::DEFAULT;
        let owned = |v: &[(TokenKind, &str)]| v.iter().map(|(k, t)| (*k, t.to_string())).collect::<Vec<_>>();
        let sql = "ALTER TABLE `a``b`.t -- c\n COMMENT 'x''y' /* z */ # w\n";
        let expected = [(Word, "ALTER"), (Word, "TABLE"), (QuotedIdent, "a`b"), (Punct, "."), (Word, "t"), (Word, "COMMENT"), (Str, "x'y")];
        assert_eq!(kinds(sql, d), owned(&expected));
        let expected = [(Word, "ENGINE"), (Punct, "="), (Word, "x"), (Str, "q"), (Word, "表")];
        assert_eq!(kinds("/*!40101 ENGINE=x */ _utf8mb4'q' 表", d), owned(&expected));
        let sql = "DROP TABLE `x y`, b";
        let toks = tokens(sql, d).unwrap();
        assert!(toks.iter().all(|t| sql.get(t.start..t.end).is_some()), "ranges cover the tokens");
        assert!(toks[0].is_kw("drop") && toks[2].is_ident() && toks[3].is_punct(",") && !toks[3].is_ident());
        assert_eq!((word(&toks, 1), word(&toks, 2), word(&toks, 9)), ("TABLE".into(), String::new(), String::new()));
        for open in ["a 'open", "a /* open", "`open"] {
            assert!(tokens(open, d).is_err(), "{open}");
        }
    }

    #[test]
    fn operators_and_unicode() {
        assert_eq!(
            texts("a<=>b->>c 表名 ,;"),
            ["a", "<=>", "b", "->>", "c", "表名", ",", ";"]
        );
    }
}
