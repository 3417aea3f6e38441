//! A small scanner for MySQL/MariaDB statement text that finds identifiers without ever looking
//! inside string literals or comments, for rewriting table names in DDL.
//!
//! It follows the lexing rules of `schema::ddl::lexer` (which is private to the schema module):
//! `#`, `-- ` and `/* */` comments are skipped; executable comments (`/*!NNNNN ... */`,
//! `/*M!NNNNNN ... */`) are read as SQL, as the server runs them; `'..'` and `".."` are strings
//! (backslash escapes, doubled quotes), `` `..` `` quoted identifiers (doubled backticks).
//! ANSI_QUOTES is not assumed: `".."` is a string, so names quoted that way are left alone.
//!
//! Invariants: it never panics; every token's `start..end` lies on `char` boundaries of the text
//! (tokens start and end at ASCII bytes or the ends of the text); on unterminated strings,
//! identifiers or comments it returns `None` so callers leave the text untouched.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A bare word: keyword, unquoted identifier or number.
    Word,
    /// A `` `quoted` `` identifier.
    Quoted,
    /// A string literal.
    Str,
    /// One punctuation character.
    Punct,
}

/// A token: its kind, its value (unquoted for identifiers) and its byte range in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tok {
    pub kind: Kind,
    pub text: String,
    pub start: usize,
    pub end: usize,
}

impl Tok {
    /// True for a bare word equal to `kw` ignoring ASCII case.
    pub(crate) fn is_kw(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(kw)
    }

    /// True for the punctuation character `c`.
    pub(crate) fn is_punct(&self, c: &str) -> bool {
        self.kind == Kind::Punct && self.text == c
    }

    /// True for something that can be a name (bare word or quoted identifier).
    pub(crate) fn is_ident(&self) -> bool {
        matches!(self.kind, Kind::Word | Kind::Quoted)
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Tokens of `sql`, or `None` when the text is not lexically complete.
pub(crate) fn scan(sql: &str) -> Option<Vec<Tok>> {
    let bytes = sql.as_bytes();
    let at = |i: usize| bytes.get(i).copied();
    let mut toks = Vec::new();
    let mut pos = 0usize;
    let mut in_exec = false;
    while let Some(b) = at(pos) {
        let start = pos;
        match b {
            b if b.is_ascii_whitespace() => pos += 1,
            b'#' => pos = line_end(bytes, pos),
            b'-' if at(pos + 1) == Some(b'-') && at(pos + 2).is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control()) => {
                pos = line_end(bytes, pos)
            }
            b'/' if at(pos + 1) == Some(b'*') => {
                let mut p = pos + 2;
                let mariadb = matches!(at(p), Some(b'M' | b'm')) && at(p + 1) == Some(b'!');
                if (at(p) == Some(b'!') || mariadb) && !in_exec {
                    p += if mariadb { 2 } else { 1 };
                    let digits = (0..6).take_while(|&i| at(p + i).is_some_and(|c| c.is_ascii_digit())).count();
                    pos = p + if digits >= 5 { digits } else { 0 };
                    in_exec = true;
                } else {
                    let close = sql.get(pos + 2..)?.find("*/")?;
                    pos = pos + 2 + close + 2;
                }
            }
            b'*' if in_exec && at(pos + 1) == Some(b'/') => {
                in_exec = false;
                pos += 2;
            }
            b'`' => {
                let (value, end) = quoted(bytes, pos, b'`', false)?;
                toks.push(Tok { kind: Kind::Quoted, text: value, start, end });
                pos = end;
            }
            b'\'' | b'"' => {
                let (value, end) = quoted(bytes, pos, b, true)?;
                toks.push(Tok { kind: Kind::Str, text: value, start, end });
                pos = end;
            }
            b if is_word_byte(b) => {
                let mut end = pos;
                while at(end).is_some_and(is_word_byte) {
                    end += 1;
                }
                // N'..', X'..', _utf8mb4'..': a string with an introducer.
                let word = sql.get(start..end)?;
                let introducer = word.starts_with('_') || ["n", "x", "b"].iter().any(|i| word.eq_ignore_ascii_case(i));
                if introducer && at(end) == Some(b'\'') {
                    let (value, qend) = quoted(bytes, end, b'\'', true)?;
                    toks.push(Tok { kind: Kind::Str, text: value, start, end: qend });
                    pos = qend;
                } else {
                    toks.push(Tok { kind: Kind::Word, text: word.to_owned(), start, end });
                    pos = end;
                }
            }
            _ => {
                let len = sql.get(pos..)?.chars().next().map_or(1, char::len_utf8);
                toks.push(Tok { kind: Kind::Punct, text: sql.get(pos..pos + len)?.to_owned(), start, end: pos + len });
                pos += len;
            }
        }
    }
    Some(toks)
}

fn line_end(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(&b) = bytes.get(pos) {
        pos += 1;
        if b == b'\n' {
            break;
        }
    }
    pos
}

/// A quoted token starting at `start`; returns its unescaped value and the end offset.
fn quoted(bytes: &[u8], start: usize, quote: u8, backslash: bool) -> Option<(String, usize)> {
    let mut value = Vec::new();
    let mut p = start + 1;
    loop {
        let b = *bytes.get(p)?;
        if backslash && b == b'\\' {
            value.push(*bytes.get(p + 1)?);
            p += 2;
        } else if b == quote {
            if bytes.get(p + 1) == Some(&quote) {
                value.push(quote);
                p += 2;
            } else {
                return Some((String::from_utf8_lossy(&value).into_owned(), p + 1));
            }
        } else {
            value.push(b);
            p += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<(Kind, String)> {
        scan(sql).unwrap().into_iter().map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn skips_strings_and_comments() {
        use Kind::*;
        assert_eq!(
            texts("ALTER TABLE `a``b`.t -- c\n COMMENT 'x''y' /* z */ # w\n"),
            vec![(Word, "ALTER".into()), (Word, "TABLE".into()), (Quoted, "a`b".into()), (Punct, ".".into()), (Word, "t".into()), (Word, "COMMENT".into()), (Str, "x'y".into())]
        );
        assert_eq!(texts("/*!40101 ENGINE=x */ _utf8mb4'q' 表"), vec![
            (Word, "ENGINE".into()),
            (Punct, "=".into()),
            (Word, "x".into()),
            (Str, "q".into()),
            (Word, "表".into())
        ]);
        assert!(scan("a 'open").is_none());
        assert!(scan("a /* open").is_none());
        assert!(scan("`open").is_none());
    }

    #[test]
    fn ranges_cover_the_token() {
        let sql = "DROP TABLE `x y`, b";
        for t in scan(sql).unwrap() {
            assert!(sql.get(t.start..t.end).is_some());
        }
    }
}
