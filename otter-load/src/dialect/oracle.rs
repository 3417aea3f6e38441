//! Oracle-style statements: `MERGE INTO ... USING (SELECT ... FROM DUAL UNION ALL ...)` for
//! upserts, multi-column `IN` deletes, and `UPDATE`s — the shape Otter's Oracle loader uses, with
//! its known failures fixed: identifiers are quoted and upper-cased (keywords as names work), key
//! columns never appear in `UPDATE SET` (ORA-38104), binary values use `HEXTORAW`.
//!
//! Not used live (no Oracle server is reachable here): the engine can drive it through the
//! [`SqlDialect`] seam, and golden tests pin the SQL. Oracle stores `''` as NULL: empty strings
//! of NOT NULL columns need a substitute, which is left to a later loader.

use std::fmt::Write;

use otter_binlog::Value;
use otter_core::schema::Column;
use otter_core::Error;

use super::{column, column_list, key_in_list, key_predicate, set_list, value, value_list, SqlDialect, TargetTable};
use crate::error::unsupported;

/// Oracle 12c+.
#[derive(Debug, Clone, Copy, Default)]
pub struct OracleDialect;

fn quoted(s: &str, out: &mut String) {
    out.push('\'');
    out.push_str(&s.replace('\'', "''"));
    out.push('\'');
}

impl SqlDialect for OracleDialect {
    fn ident(&self, name: &str, out: &mut String) {
        out.push('"');
        out.push_str(&name.to_uppercase().replace('"', "\"\""));
        out.push('"');
    }

    fn literal(&self, v: &Value<'_>, col: &Column, out: &mut String) -> Result<(), Error> {
        match v {
            Value::Null => out.push_str("NULL"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::UInt(u) => {
                let _ = write!(out, "{u}");
            }
            Value::Float(f) => {
                let _ = write!(out, "{f:e}");
            }
            Value::Double(d) => {
                let _ = write!(out, "{d:e}");
            }
            Value::Decimal(d) => {
                let _ = write!(out, "{d}");
            }
            Value::Year(y) => {
                let _ = write!(out, "{y}");
            }
            Value::Date(d) => {
                let _ = write!(out, "DATE '{d}'");
            }
            Value::DateTime(t) => {
                let _ = write!(out, "TIMESTAMP '{t}'");
            }
            Value::Timestamp(t) => {
                let _ = write!(out, "TIMESTAMP '{}'", t.to_utc());
            }
            Value::Time(t) => {
                let _ = write!(out, "'{t}'");
            }
            Value::Bit(b) => {
                let _ = write!(out, "{b}");
            }
            Value::Bytes(b) if col.sql_type.is_text() => match std::str::from_utf8(b) {
                Ok(s) => quoted(s, out),
                Err(_) => return Err(unsupported(format!("non-UTF-8 text in {} for Oracle", col.name))),
            },
            Value::Bytes(b) | Value::Geometry(b) | Value::Vector(b) => {
                out.push_str("HEXTORAW('");
                for x in b.iter() {
                    let _ = write!(out, "{x:02X}");
                }
                out.push_str("')");
            }
            Value::Json(b) => {
                let text = otter_binlog::json::json_text(b).map_err(|e| unsupported(format!("JSON in {}: {e}", col.name)))?;
                quoted(&text, out);
            }
            Value::Enum(i) => match &col.sql_type {
                otter_core::schema::SqlType::Enum(m) if *i > 0 => quoted(m.get(usize::from(*i) - 1).map_or("", String::as_str), out),
                _ => out.push_str("NULL"),
            },
            Value::Set(bits) => {
                let _ = write!(out, "{bits}");
            }
            Value::Absent | Value::JsonDiff(_) | Value::Compressed(_) => {
                return Err(unsupported(format!("value of {} cannot be written to Oracle", col.name)))
            }
        }
        Ok(())
    }

    fn session_setup(&self) -> Vec<String> {
        vec!["ALTER SESSION SET TIME_ZONE = '+00:00'".into()]
    }

    fn upsert(&self, t: &TargetTable<'_>, rows: &[&[Value<'static>]], out: &mut String) -> Result<(), Error> {
        out.push_str("MERGE INTO ");
        self.table(t.db, t.name, out);
        out.push_str(" t USING (");
        for (r, row) in rows.iter().enumerate() {
            out.push_str(if r == 0 { "SELECT " } else { " UNION ALL SELECT " });
            for (n, &i) in t.columns.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                let col = column(t, i)?;
                self.literal(value(row, i)?, col, out)?;
                out.push_str(" AS ");
                self.ident(&col.name, out);
            }
            out.push_str(" FROM DUAL");
        }
        out.push_str(") s ON (");
        for (n, &i) in t.key.iter().enumerate() {
            if n > 0 {
                out.push_str(" AND ");
            }
            let name = &column(t, i)?.name;
            out.push_str("t.");
            self.ident(name, out);
            out.push_str(" = s.");
            self.ident(name, out);
        }
        out.push(')');
        let set: Vec<usize> = t.columns.iter().copied().filter(|i| !t.key.contains(i)).collect();
        if !set.is_empty() {
            out.push_str(" WHEN MATCHED THEN UPDATE SET ");
            for (n, &i) in set.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                let name = &column(t, i)?.name;
                out.push_str("t.");
                self.ident(name, out);
                out.push_str(" = s.");
                self.ident(name, out);
            }
        }
        out.push_str(" WHEN NOT MATCHED THEN INSERT (");
        column_list(self, t, t.columns, "", out)?;
        out.push_str(") VALUES (");
        column_list(self, t, t.columns, "s.", out)?;
        out.push(')');
        Ok(())
    }

    fn insert(&self, t: &TargetTable<'_>, rows: &[&[Value<'static>]], out: &mut String) -> Result<(), Error> {
        out.push_str("INSERT ALL");
        for row in rows {
            out.push_str(" INTO ");
            self.table(t.db, t.name, out);
            out.push_str(" (");
            column_list(self, t, t.columns, "", out)?;
            out.push_str(") VALUES (");
            value_list(self, t, row, t.columns, out)?;
            out.push(')');
        }
        out.push_str(" SELECT 1 FROM DUAL");
        Ok(())
    }

    fn delete(&self, t: &TargetTable<'_>, keys: &[&[Value<'static>]], out: &mut String) -> Result<(), Error> {
        out.push_str("DELETE FROM ");
        self.table(t.db, t.name, out);
        out.push_str(" WHERE ");
        if t.keyless {
            let image = keys.first().ok_or_else(|| crate::error::internal("empty delete"))?;
            key_predicate(self, t, image, " IS ", out)?;
            out.push_str(" AND ROWNUM = 1");
            return Ok(());
        }
        key_in_list(self, t, keys, true, out)
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
        let set: Vec<usize> = set.iter().copied().filter(|i| !t.key.contains(i)).collect();
        set_list(self, t, after, &set, out)?;
        out.push_str(" WHERE ");
        key_predicate(self, t, key_image, " IS ", out)?;
        if t.keyless {
            out.push_str(" AND ROWNUM = 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
