//! QUERY_EVENT (statements: BEGIN, DDL, statement-format DML), MariaDB QUERY_COMPRESSED_EVENT, and
//! the query part of EXECUTE_LOAD_QUERY_EVENT, with the status variables decoded.
//!
//! Invariant: status variables are decoded in order until the block ends; an unknown code stops
//! decoding (its length is unknowable) and is reported in [`StatusVars::unknown_code`] — the query
//! text itself is located by the block length and is never affected. The block is checked when the
//! event is parsed and kept raw ([`QueryEvent::status`] decodes it again on demand), which keeps
//! `QueryEvent` — and so every `EventData` — small to move.

use std::borrow::Cow;

use crate::compress::{mariadb_uncompress, Limits};
use crate::error::{invalid, Result};
use crate::reader::{OrTruncated, Reader};

/// A statement event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryEvent<'a> {
    /// The id of the session that ran the statement.
    pub thread_id: u32,
    /// Seconds the statement took.
    pub exec_time: u32,
    /// Error code the statement ended with on the primary (0 when fine).
    pub error_code: u16,
    /// The default database of the session (`USE db`), possibly empty.
    pub schema: &'a [u8],
    /// The statement text (decompressed for QUERY_COMPRESSED).
    pub query: Cow<'a, [u8]>,
    /// The raw status-variable block (checked at parse time; see [`QueryEvent::status`]).
    pub status_block: &'a [u8],
}

/// The session state a statement ran with (`Q_*` status variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusVars<'a> {
    /// `Q_FLAGS2_CODE`: `OPTION_AUTO_IS_NULL`, `OPTION_NOT_AUTOCOMMIT`, `OPTION_NO_FOREIGN_KEY_CHECKS`...
    pub flags2: Option<u32>,
    /// `Q_SQL_MODE_CODE`.
    pub sql_mode: Option<u64>,
    /// `Q_CATALOG_CODE` / `Q_CATALOG_NZ_CODE`.
    pub catalog: Option<&'a [u8]>,
    /// `Q_AUTO_INCREMENT`: (increment, offset).
    pub auto_increment: Option<(u16, u16)>,
    /// `Q_CHARSET_CODE`: (character_set_client, collation_connection, collation_server).
    pub charset: Option<(u16, u16, u16)>,
    /// `Q_TIME_ZONE_CODE`.
    pub time_zone: Option<&'a [u8]>,
    /// `Q_LC_TIME_NAMES_CODE`.
    pub lc_time_names: Option<u16>,
    /// `Q_CHARSET_DATABASE_CODE`: collation of the default database.
    pub charset_database: Option<u16>,
    /// `Q_TABLE_MAP_FOR_UPDATE_CODE`.
    pub table_map_for_update: Option<u64>,
    /// `Q_INVOKER`: (user, host) of a stored-program definer.
    pub invoker: Option<(&'a [u8], &'a [u8])>,
    /// `Q_UPDATED_DB_NAMES`: NUL-separated names of the databases the statement changed.
    pub updated_db_names: Option<&'a [u8]>,
    /// `Q_MICROSECONDS`: sub-second part of the start time.
    pub microseconds: Option<u32>,
    /// `Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP`.
    pub explicit_defaults_for_timestamp: Option<bool>,
    /// `Q_DDL_LOGGED_WITH_XID`: the XID of an atomic DDL (MySQL 8).
    pub ddl_xid: Option<u64>,
    /// `Q_DEFAULT_COLLATION_FOR_UTF8MB4`.
    pub default_collation_for_utf8mb4: Option<u16>,
    /// `Q_SQL_REQUIRE_PRIMARY_KEY`.
    pub sql_require_primary_key: Option<u8>,
    /// `Q_DEFAULT_TABLE_ENCRYPTION`.
    pub default_table_encryption: Option<u8>,
    /// MariaDB `Q_HRNOW`: sub-second part of `NOW()`.
    pub hrnow: Option<u32>,
    /// MariaDB `Q_XID`.
    pub xid: Option<u64>,
    /// MariaDB `Q_GTID_FLAGS3`.
    pub gtid_flags3: Option<u8>,
    /// MariaDB `Q_CHARACTER_SET_COLLATIONS` (raw pairs).
    pub character_set_collations: Option<&'a [u8]>,
    /// The first status variable code this parser does not know (decoding stopped there).
    pub unknown_code: Option<u8>,
}

impl<'a> StatusVars<'a> {
    /// Decodes a status-variable block.
    pub fn parse(block: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(block);
        let mut s = StatusVars::default();
        while let Some(code) = r.u8() {
            match code {
                0 => s.flags2 = Some(r.u32_le().or_trunc("Q_FLAGS2")?),
                1 => s.sql_mode = Some(r.u64_le().or_trunc("Q_SQL_MODE")?),
                2 => {
                    s.catalog = Some(r.u8_bytes().or_trunc("Q_CATALOG")?);
                    r.skip(1).or_trunc("Q_CATALOG")?;
                }
                3 => s.auto_increment = Some((r.u16_le().or_trunc("Q_AUTO_INCREMENT")?, r.u16_le().or_trunc("Q_AUTO_INCREMENT")?)),
                4 => {
                    let c = r.u16_le().or_trunc("Q_CHARSET")?;
                    let n = r.u16_le().or_trunc("Q_CHARSET")?;
                    let sv = r.u16_le().or_trunc("Q_CHARSET")?;
                    s.charset = Some((c, n, sv));
                }
                5 => s.time_zone = Some(r.u8_bytes().or_trunc("Q_TIME_ZONE")?),
                6 => s.catalog = Some(r.u8_bytes().or_trunc("Q_CATALOG_NZ")?),
                7 => s.lc_time_names = Some(r.u16_le().or_trunc("Q_LC_TIME_NAMES")?),
                8 => s.charset_database = Some(r.u16_le().or_trunc("Q_CHARSET_DATABASE")?),
                9 => s.table_map_for_update = Some(r.u64_le().or_trunc("Q_TABLE_MAP_FOR_UPDATE")?),
                10 => {
                    r.skip(4).or_trunc("Q_MASTER_DATA_WRITTEN")?;
                }
                11 => {
                    let user = r.u8_bytes().or_trunc("Q_INVOKER")?;
                    let host = r.u8_bytes().or_trunc("Q_INVOKER")?;
                    s.invoker = Some((user, host));
                }
                12 => {
                    let count = r.u8().or_trunc("Q_UPDATED_DB_NAMES")?;
                    let start = r.rest();
                    // 254 (OVER_MAX_DBS_IN_EVENT_MTS) means "too many to list": no names follow.
                    if count != 254 {
                        for _ in 0..count {
                            r.cstr().or_trunc("Q_UPDATED_DB_NAMES")?;
                        }
                    }
                    let used = start.len().checked_sub(r.len()).ok_or(invalid("Q_UPDATED_DB_NAMES"))?;
                    s.updated_db_names = start.get(..used);
                }
                13 => s.microseconds = Some(r.u24_le().or_trunc("Q_MICROSECONDS")?),
                16 => s.explicit_defaults_for_timestamp = Some(r.u8().or_trunc("Q_EXPLICIT_DEFAULTS")? != 0),
                17 => s.ddl_xid = Some(r.u64_le().or_trunc("Q_DDL_LOGGED_WITH_XID")?),
                18 => s.default_collation_for_utf8mb4 = Some(r.u16_le().or_trunc("Q_DEFAULT_COLLATION_FOR_UTF8MB4")?),
                19 => s.sql_require_primary_key = Some(r.u8().or_trunc("Q_SQL_REQUIRE_PRIMARY_KEY")?),
                20 => s.default_table_encryption = Some(r.u8().or_trunc("Q_DEFAULT_TABLE_ENCRYPTION")?),
                128 => s.hrnow = Some(r.u24_le().or_trunc("Q_HRNOW")?),
                129 => s.xid = Some(r.u64_le().or_trunc("Q_XID")?),
                130 => s.gtid_flags3 = Some(r.u8().or_trunc("Q_GTID_FLAGS3")?),
                131 => {
                    let count = r.u8().or_trunc("Q_CHARACTER_SET_COLLATIONS")?;
                    s.character_set_collations = Some(r.take(usize::from(count) * 4).or_trunc("Q_CHARACTER_SET_COLLATIONS")?);
                }
                other => {
                    s.unknown_code = Some(other);
                    break;
                }
            }
        }
        Ok(s)
    }
}

impl<'a> QueryEvent<'a> {
    /// Parses a QUERY_EVENT body. `post_header_len` is 11 (v1/v3), 13 (v4) or 26
    /// (EXECUTE_LOAD_QUERY); bytes beyond the known 13 are skipped.
    pub(crate) fn parse(body: &'a [u8], post_header_len: usize, compressed: bool, limits: &Limits) -> Result<Self> {
        let mut r = Reader::new(body);
        let mut post = r.sub(post_header_len).or_trunc("query post-header")?;
        let thread_id = post.u32_le().or_trunc("query thread id")?;
        let exec_time = post.u32_le().or_trunc("query exec time")?;
        let schema_len = post.u8().or_trunc("query schema length")?;
        let error_code = post.u16_le().or_trunc("query error code")?;
        let status_len = if post_header_len >= 13 { post.u16_le().or_trunc("query status length")? } else { 0 };
        let status_block = r.take(usize::from(status_len)).or_trunc("query status variables")?;
        // Checked now so that a malformed block fails the event, then kept raw.
        StatusVars::parse(status_block)?;
        let schema = r.take(usize::from(schema_len)).or_trunc("query schema")?;
        r.skip(1).or_trunc("query schema terminator")?;
        let text = r.take_rest();
        let query = if compressed {
            Cow::Owned(mariadb_uncompress(text, limits.max_decompressed)?)
        } else {
            Cow::Borrowed(text)
        };
        Ok(QueryEvent { thread_id, exec_time, error_code, schema, query, status_block })
    }

    /// The decoded status variables (the session state the statement ran with).
    pub fn status(&self) -> StatusVars<'a> {
        // The block was decoded successfully when the event was parsed; decoding is deterministic.
        StatusVars::parse(self.status_block).unwrap_or_default()
    }

    /// The statement text as UTF-8 (lossy; statements are normally in the client character set).
    pub fn query_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.query)
    }

    /// The statement text decoded from the session's client character set: latin1 (MySQL's
    /// latin1 is Windows-1252) when the status variables say so, else UTF-8 (lossy). ASCII text
    /// is borrowed without looking at the status variables.
    pub fn query_text(&self) -> Cow<'_, str> {
        if self.query.is_ascii() {
            return String::from_utf8_lossy(&self.query);
        }
        match self.status().charset {
            Some((client, _, _)) if crate::latin1::is_collation(client) => Cow::Owned(crate::latin1::decode(&self.query)),
            _ => String::from_utf8_lossy(&self.query),
        }
    }

    /// Returns an owned copy.
    pub fn into_owned(self) -> (Vec<u8>, Vec<u8>) {
        (self.schema.to_vec(), self.query.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(status: &[u8], schema: &[u8], query: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&7u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.push(schema.len() as u8);
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&(status.len() as u16).to_le_bytes());
        b.extend_from_slice(status);
        b.extend_from_slice(schema);
        b.push(0);
        b.extend_from_slice(query);
        b
    }

    #[test]
    fn query_with_status() {
        let mut st = vec![0, 0, 0, 0, 0];
        st.extend_from_slice(&[4, 33, 0, 33, 0, 8, 0]);
        st.extend_from_slice(&[12, 2, b'a', 0, b'b', 0]);
        let b = build(&st, b"shop", b"BEGIN");
        let q = QueryEvent::parse(&b, 13, false, &Limits::default()).unwrap();
        assert_eq!((q.thread_id, q.schema, &q.query[..]), (7, &b"shop"[..], &b"BEGIN"[..]));
        assert_eq!(q.status().charset, Some((33, 33, 8)));
        assert_eq!(q.status().updated_db_names, Some(&b"a\0b\0"[..]));
        assert!(QueryEvent::parse(&b[..20], 13, false, &Limits::default()).is_err());
    }

    #[test]
    fn text_is_decoded_from_the_client_character_set() {
        let query = b"ALTER TABLE t COMMENT '\xe9\x80\x81\xc3\xa9'";
        // latin1 client (collation 8): every byte is a character, 0x80 is the euro sign.
        let b = build(&[4, 8, 0, 8, 0, 8, 0], b"", query);
        let q = QueryEvent::parse(&b, 13, false, &Limits::default()).unwrap();
        assert_eq!(q.query_text(), "ALTER TABLE t COMMENT '\u{e9}\u{20ac}\u{81}\u{c3}\u{a9}'");
        // utf8mb4 client (45): the same bytes are UTF-8 (E9 80 81 is one character) ...
        let b = build(&[4, 45, 0, 45, 0, 8, 0], b"", query);
        let q = QueryEvent::parse(&b, 13, false, &Limits::default()).unwrap();
        assert_eq!(q.query_text(), "ALTER TABLE t COMMENT '\u{9001}\u{e9}'");
        // ... and invalid UTF-8 is replaced.
        let b = build(&[4, 45, 0, 45, 0, 8, 0], b"", b"SELECT '\xff'");
        assert_eq!(QueryEvent::parse(&b, 13, false, &Limits::default()).unwrap().query_text(), "SELECT '\u{fffd}'");
        // ASCII is the same in every client character set, and borrowed.
        let b = build(&[4, 8, 0, 8, 0, 8, 0], b"", b"BEGIN");
        assert!(matches!(QueryEvent::parse(&b, 13, false, &Limits::default()).unwrap().query_text(), Cow::Borrowed("BEGIN")));
    }

    #[test]
    fn unknown_status_code_stops_decoding() {
        let b = build(&[0, 1, 0, 0, 0, 99, 1, 2, 3], b"", b"COMMIT");
        let q = QueryEvent::parse(&b, 13, false, &Limits::default()).unwrap();
        assert_eq!(q.status().unknown_code, Some(99));
        assert_eq!(&q.query[..], b"COMMIT");
    }
}
