//! MySQL / MariaDB statements: multi-row `INSERT ... ON DUPLICATE KEY UPDATE`, batched
//! `DELETE ... WHERE (k) IN (...)`, single-row `UPDATE`, with literals safe under the session
//! settings of [`MysqlDialect::session_setup`] (`NO_BACKSLASH_ESCAPES`, UTC time zone).
//!
//! Invariants: a string literal is written as quoted text only when it is valid UTF-8 for a
//! UTF-8/ASCII column (or pure ASCII for a latin1 column) and holds no control characters; everything else is an exact hex literal
//! (with the column's character set introducer for text); TIMESTAMPs are written in UTC, matching
//! the session time zone, so the stored instant is the source's.

use std::fmt::Write;

use otter_binlog::Value;
use otter_core::change::DdlEvent;
use otter_core::schema::{Column, SqlMode, SqlType};
use otter_core::Error;

use super::{column, column_list, key_in_list, key_predicate, set_list, value_list, SqlDialect, TargetTable};
use crate::error::unsupported;

/// The time zone of every apply session (TIMESTAMPs are written in UTC).
pub(crate) const SESSION_TIME_ZONE: &str = "+00:00";

/// The `sql_mode` of every apply session: strict, explicit zero keys kept, backslashes literal
/// (how otter writes string literals), no silent engine change.
pub(crate) const SESSION_SQL_MODE: &str = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_BACKSLASH_ESCAPES,NO_ENGINE_SUBSTITUTION";

/// MySQL or MariaDB target.
#[derive(Debug, Clone, Copy)]
pub struct MysqlDialect {
    /// MariaDB (uses `VALUES(col)` in upserts and its charset names).
    pub mariadb: bool,
    /// Server version as `MMmmpp`.
    pub version: u32,
}

impl MysqlDialect {
    /// MariaDB 10.x/11.x.
    pub fn mariadb(version: u32) -> MysqlDialect {
        MysqlDialect { mariadb: true, version }
    }

    /// MySQL.
    pub fn mysql(version: u32) -> MysqlDialect {
        MysqlDialect { mariadb: false, version }
    }

    /// The dialect of a server that reports `version` (`SELECT @@version`).
    pub fn for_version(version: &str) -> MysqlDialect {
        let number = otter_core::mysql::conn::version_number(version);
        if version.to_ascii_lowercase().contains("mariadb") {
            MysqlDialect::mariadb(number)
        } else {
            MysqlDialect::mysql(number)
        }
    }

    /// Whether the server executes a prepared statement for many rows at once
    /// (`COM_STMT_BULK_EXECUTE`: MariaDB 10.2 and later).
    pub fn bulk_execution(&self) -> bool {
        self.mariadb && self.version >= 100_200
    }

    /// MySQL 8.0.20+ deprecates `VALUES(col)` in favour of a row alias.
    fn row_alias(&self) -> bool {
        !self.mariadb && self.version >= 80_020
    }

    fn charset_name<'c>(&self, cs: &'c str) -> &'c str {
        if cs == "utf8mb3" && (!self.mariadb || self.version < 100_600) {
            "utf8"
        } else {
            cs
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_literal(b: &[u8], out: &mut String) {
    if b.is_empty() {
        out.push_str("''");
        return;
    }
    out.reserve(b.len() * 2 + 3);
    out.push_str("X'");
    for &x in b {
        out.push(char::from(HEX[usize::from(x >> 4)]));
        out.push(char::from(HEX[usize::from(x & 15)]));
    }
    out.push('\'');
}

fn quoted(s: &str, out: &mut String) {
    otter_core::mysql::quote::push_text(s, out);
}

/// A temporal value's text (digits and punctuation), quoted.
fn quoted_ascii(text: &str, out: &mut String) {
    out.push('\'');
    out.push_str(text);
    out.push('\'');
}

fn clean_text(b: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(b).ok()?;
    s.bytes().all(|c| c >= 0x20 || c == b'\t' || c == b'\n' || c == b'\r').then_some(s)
}

fn is_binary(col: &Column) -> bool {
    matches!(col.sql_type, SqlType::Binary(_) | SqlType::VarBinary(_) | SqlType::TinyBlob | SqlType::Blob | SqlType::MediumBlob | SqlType::LongBlob)
        || col.charset.as_deref() == Some("binary")
        || !col.sql_type.is_text() && !matches!(col.sql_type, SqlType::Enum(_) | SqlType::Set(_))
}

impl SqlDialect for MysqlDialect {
    fn ident(&self, name: &str, out: &mut String) {
        otter_core::mysql::quote::push_ident(name, out);
    }

    fn literal(&self, v: &Value<'_>, col: &Column, out: &mut String) -> Result<(), Error> {
        match v {
            Value::Null => out.push_str("NULL"),
            Value::Absent => return Err(unsupported(format!("column {} is not in the row image", col.name))),
            Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
            Value::UInt(u) => out.push_str(itoa::Buffer::new().format(*u)),
            Value::Float(f) if f.is_finite() => {
                let _ = write!(out, "{f:e}");
            }
            Value::Double(d) if d.is_finite() => {
                let _ = write!(out, "{d:e}");
            }
            Value::Float(_) | Value::Double(_) => return Err(unsupported(format!("non-finite float in {}", col.name))),
            Value::Decimal(d) => {
                let _ = write!(out, "{d}");
            }
            Value::Year(y) => out.push_str(itoa::Buffer::new().format(*y)),
            Value::Date(d) => quoted_ascii(d.text().as_str(), out),
            Value::Time(t) => quoted_ascii(t.text().as_str(), out),
            Value::DateTime(t) => quoted_ascii(t.text().as_str(), out),
            Value::Timestamp(t) if t.seconds == 0 && t.micros == 0 => out.push_str("'0000-00-00 00:00:00'"),
            Value::Timestamp(t) => quoted_ascii(t.to_utc().text().as_str(), out),
            Value::Bit(b) => {
                let _ = write!(out, "{b}");
            }
            Value::Enum(i) => match &col.sql_type {
                SqlType::Enum(members) if *i > 0 => {
                    let name = members.get(usize::from(*i) - 1).ok_or_else(|| {
                        unsupported(format!("ENUM index {i} outside the {} members of {}", members.len(), col.name))
                    })?;
                    quoted(name, out);
                }
                SqlType::Enum(_) => out.push_str("''"),
                _ => {
                    let _ = write!(out, "{i}");
                }
            },
            Value::Set(bits) => match &col.sql_type {
                SqlType::Set(members) => {
                    let names: Vec<&str> = members
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i < 64 && bits & (1u64 << i) != 0)
                        .map(|(_, m)| m.as_str())
                        .collect();
                    quoted(&names.join(","), out);
                }
                _ => {
                    let _ = write!(out, "{bits}");
                }
            },
            Value::Bytes(b) => {
                if is_binary(col) {
                    hex_literal(b, out);
                } else {
                    let cs = col.charset.as_deref().unwrap_or("utf8mb4");
                    match (cs, clean_text(b)) {
                        ("utf8mb4" | "utf8mb3" | "utf8" | "ascii", Some(s)) => quoted(s, out),
                        // ASCII is the same bytes in latin1: plain text, half the size of hex.
                        ("latin1", Some(s)) if s.is_ascii() => quoted(s, out),
                        _ => {
                            let _ = write!(out, "_{} ", self.charset_name(cs));
                            hex_literal(b, out);
                            if b.is_empty() {
                                // `_cs ''` is valid too; nothing more to write.
                            }
                        }
                    }
                }
            }
            Value::Json(b) if b.is_empty() => out.push_str("'null'"),
            Value::Json(b) => {
                let text = otter_binlog::json::json_text(b).map_err(|e| unsupported(format!("JSON in {}: {e}", col.name)))?;
                quoted(&text, out);
            }
            Value::Geometry(b) | Value::Vector(b) => hex_literal(b, out),
            Value::JsonDiff(_) => {
                return Err(unsupported(format!(
                    "partial JSON update of {} (binlog_row_value_options=PARTIAL_JSON): set it to '' on the source",
                    col.name
                )))
            }
            Value::Compressed(_) => {
                return Err(unsupported(format!("MariaDB compressed column {} cannot be applied", col.name)))
            }
        }
        Ok(())
    }

    fn session_setup(&self) -> Vec<String> {
        vec![
            // utf8mb4: what `crate::mysql::bulk::CLIENT_RESTORE` sets back.
            "SET NAMES utf8mb4".into(),
            format!("SET SESSION time_zone = '{SESSION_TIME_ZONE}'"),
            format!("SET SESSION sql_mode = '{SESSION_SQL_MODE}'"),
            "SET SESSION foreign_key_checks = 0".into(),
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".into(),
        ]
    }

    fn ddl_session(&self, ddl: &DdlEvent, collation_server: Option<&str>) -> Option<(Vec<String>, String)> {
        let source: SqlMode = ddl.sql_mode;
        // The statements otter writes need NO_BACKSLASH_ESCAPES; a DDL statement is read as its
        // source session read it.
        let mut modes: Vec<&str> = SESSION_SQL_MODE.split(',').filter(|m| *m != "NO_BACKSLASH_ESCAPES").collect();
        for (on, name) in [
            (source.no_backslash_escapes(), "NO_BACKSLASH_ESCAPES"),
            (source.ansi_quotes(), "ANSI_QUOTES"),
            (source.pipes_as_concat(), "PIPES_AS_CONCAT"),
            (source.ignore_space(), "IGNORE_SPACE"),
        ] {
            if on {
                modes.push(name);
            }
        }
        let mut first = format!("SET SESSION sql_mode = '{}'", modes.join(","));
        // CURRENT_TIMESTAMP (an added column's value in existing rows) is the source's.
        match ddl.meta.commit_ts_micros {
            _ if ddl.meta.commit_ts == 0 => {}
            Some(us) => {
                let _ = write!(first, ", SESSION timestamp = {}.{:06}", us / 1_000_000, us % 1_000_000);
            }
            None => {
                let _ = write!(first, ", SESSION timestamp = {}", ddl.meta.commit_ts);
            }
        }
        let mut set = vec![first];
        let mut restore = format!("SET SESSION sql_mode = '{SESSION_SQL_MODE}', SESSION timestamp = DEFAULT");
        // Best effort (a named zone needs the target's time zone tables).
        if let Some(tz) = &ddl.time_zone {
            set.push(format!("SET SESSION time_zone = {}", otter_core::mysql::quote::text(tz)));
            let _ = write!(restore, ", SESSION time_zone = '{SESSION_TIME_ZONE}'");
        }
        if let Some(c) = collation_server {
            set.push(format!("SET SESSION collation_server = {}", otter_core::mysql::quote::text(c)));
            restore.push_str(", SESSION collation_server = DEFAULT");
        }
        Some((set, restore))
    }

    fn upsert(&self, t: &TargetTable<'_>, rows: &[&[Value<'static>]], out: &mut String) -> Result<(), Error> {
        self.insert_into(t, rows, out)?;
        self.on_duplicate(t, out)
    }

    fn bulk_statement(&self, t: &TargetTable<'_>, upsert: bool) -> Result<Option<String>, Error> {
        if !self.bulk_execution() {
            return Ok(None);
        }
        let mut out = String::new();
        self.insert_head(t, &mut out)?;
        out.push('(');
        for n in 0..t.columns.len() {
            out.push_str(if n > 0 { ", ?" } else { "?" });
        }
        out.push(')');
        if upsert {
            self.on_duplicate(t, &mut out)?;
        }
        Ok(Some(out))
    }

    fn insert(&self, t: &TargetTable<'_>, rows: &[&[Value<'static>]], out: &mut String) -> Result<(), Error> {
        self.insert_into(t, rows, out)
    }

    fn delete(&self, t: &TargetTable<'_>, keys: &[&[Value<'static>]], out: &mut String) -> Result<(), Error> {
        out.push_str("DELETE FROM ");
        self.table(t.db, t.name, out);
        out.push_str(" WHERE ");
        if t.keyless {
            // One row per statement: duplicate rows must lose only one copy each.
            let image = keys.first().ok_or_else(|| crate::error::internal("empty delete"))?;
            key_predicate(self, t, image, " <=> ", out)?;
            out.push_str(" LIMIT 1");
            return Ok(());
        }
        key_in_list(self, t, keys, t.key.len() > 1, out)
    }

    fn update(
        &self,
        t: &TargetTable<'_>,
        key_image: &[Value<'static>],
        after: &[Value<'static>],
        set: &[usize],
        out: &mut String,
    ) -> Result<(), Error> {
        out.push_str("UPDATE ");
        self.table(t.db, t.name, out);
        out.push_str(" SET ");
        set_list(self, t, after, set, out)?;
        out.push_str(" WHERE ");
        key_predicate(self, t, key_image, " <=> ", out)?;
        if t.keyless {
            out.push_str(" LIMIT 1");
        }
        Ok(())
    }
}

impl MysqlDialect {
    /// The `ON DUPLICATE KEY UPDATE` clause of an upsert: every non-key column from the row, and
    /// the spelling of text key columns.
    fn on_duplicate(&self, t: &TargetTable<'_>, out: &mut String) -> Result<(), Error> {
        if self.row_alias() {
            out.push_str(" AS new");
        }
        out.push_str(" ON DUPLICATE KEY UPDATE ");
        let mut first = true;
        for &i in t.columns.iter().filter(|i| !t.key.contains(i)) {
            if !first {
                out.push_str(", ");
            }
            first = false;
            let name = &column(t, i)?.name;
            self.ident(name, out);
            if self.row_alias() {
                out.push_str(" = new.");
                self.ident(name, out);
            } else {
                out.push_str(" = VALUES(");
                self.ident(name, out);
                out.push(')');
            }
        }
        // A text key equal under its collation but written differently (`abc` → `ABC` in a
        // `_ci` column) is the same row: take the incoming spelling, as the source has it. Only
        // when that key is what matched (a match on another unique key leaves it alone).
        for &i in t.key.iter() {
            let col = column(t, i)?;
            if !col.sql_type.is_text() || matches!(col.sql_type, otter_core::schema::SqlType::Enum(_) | otter_core::schema::SqlType::Set(_)) {
                continue;
            }
            if !first {
                out.push_str(", ");
            }
            first = false;
            let mut name = String::new();
            self.ident(&col.name, &mut name);
            let incoming = if self.row_alias() { format!("new.{name}") } else { format!("VALUES({name})") };
            let _ = write!(out, "{name} = IF({name} = {incoming}, {incoming}, {name})");
        }
        if first {
            // Only key columns: nothing to update, keep the existing row.
            let name = &column(t, *t.key.first().unwrap_or(&0))?.name;
            self.ident(name, out);
            out.push_str(" = ");
            self.ident(name, out);
        }
        Ok(())
    }

    /// `INSERT INTO t (cols) VALUES `.
    fn insert_head(&self, t: &TargetTable<'_>, out: &mut String) -> Result<(), Error> {
        out.push_str("INSERT INTO ");
        self.table(t.db, t.name, out);
        out.push_str(" (");
        column_list(self, t, t.columns, "", out)?;
        out.push_str(") VALUES ");
        Ok(())
    }

    fn insert_into(&self, t: &TargetTable<'_>, rows: &[&[Value<'static>]], out: &mut String) -> Result<(), Error> {
        self.insert_head(t, out)?;
        for (r, row) in rows.iter().enumerate() {
            if r > 0 {
                out.push_str(", ");
            }
            out.push('(');
            value_list(self, t, row, t.columns, out)?;
            out.push(')');
        }
        Ok(())
    }
}
