//! The guarded statements of each conflict policy (see the parent module for the rules).
//!
//! Every op becomes a few statements run in the apply transaction, in this order: record the
//! conflict (an `INSERT ... SELECT` that only finds the row when it conflicts), then the guarded
//! write (`UPDATE`/`DELETE ... WHERE key AND <incoming wins>`), then an insert of the row if it is
//! missing. Decisions are SQL conditions on the row as it is on the target, so nothing is read
//! back into the loader.

use otter_binlog::Value;
use otter_core::change::{ChangeId, ChangeKind, Row};
use otter_core::schema::SqlType;
use otter_core::{Error, Result};

use super::CompiledRule;
use crate::dialect::{column, key_predicate, SqlDialect, TargetTable};

/// A change applied with conflict checks (never merged with others).
#[derive(Debug, Clone)]
pub(crate) struct Guarded {
    /// Insert, update or delete.
    pub kind: ChangeKind,
    /// Before image (update, delete).
    pub before: Option<Row>,
    /// After image (insert, update).
    pub after: Option<Row>,
    /// The change.
    pub id: ChangeId,
}

/// Who is involved in a decision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sites<'a> {
    /// Site where the change was first written.
    pub origin: &'a str,
    /// Site being written now.
    pub target: &'a str,
    /// Pipeline name (for the log).
    pub pipeline: &'a str,
    /// Schema of the conflict log.
    pub schema: &'a str,
}

pub(super) struct Ctx<'a, 'b> {
    pub(super) d: &'a dyn SqlDialect,
    pub(super) t: &'a TargetTable<'b>,
    pub(super) rule: &'a CompiledRule,
    pub(super) sites: Sites<'a>,
}

pub(super) fn q(v: &str) -> String {
    otter_core::mysql::quote::text(v)
}

impl Ctx<'_, '_> {
    pub(super) fn table(&self) -> String {
        let mut s = String::new();
        self.d.table(self.t.db, self.t.name, &mut s);
        s
    }

    pub(super) fn ident(&self, name: &str) -> String {
        let mut s = String::new();
        self.d.ident(name, &mut s);
        s
    }

    pub(super) fn key(&self, img: &[Value<'static>]) -> Result<String> {
        let mut s = String::new();
        key_predicate(self.d, self.t, img, " <=> ", &mut s)?;
        Ok(s)
    }

    pub(super) fn lit(&self, img: &[Value<'static>], i: usize) -> Result<String> {
        let col = column(self.t, i)?;
        let v = img.get(i).ok_or_else(|| Error::new(otter_core::ErrorKind::Sink, format!("row image has no column {}", col.name)))?;
        let mut s = String::new();
        self.d.literal(v, col, &mut s)?;
        Ok(s)
    }

    /// Written columns present in `img`.
    pub(super) fn present(&self, img: &[Value<'static>]) -> Vec<usize> {
        self.t.columns.iter().copied().filter(|&i| !matches!(img.get(i), Some(Value::Absent) | None)).collect()
    }

    /// `col <=> lit AND ...` over the comparable columns of `cols` (TRUE when none).
    pub(super) fn eq(&self, img: &[Value<'static>], cols: &[usize]) -> Result<String> {
        let mut parts = Vec::new();
        for &i in cols {
            let col = column(self.t, i)?;
            if matches!(col.sql_type, SqlType::Float | SqlType::Double | SqlType::Json | SqlType::Geometry(_) | SqlType::Vector(_))
                || matches!(img.get(i), Some(Value::Absent) | None)
            {
                continue;
            }
            parts.push(format!("{} <=> {}", self.ident(&col.name), self.lit(img, i)?));
        }
        Ok(if parts.is_empty() { "TRUE".into() } else { format!("({})", parts.join(" AND ")) })
    }

    pub(super) fn json_of_target(&self, cols: &[usize]) -> Result<String> {
        let mut parts = Vec::new();
        for &i in cols {
            let col = column(self.t, i)?;
            parts.push(format!("{}, {}", q(&col.name), self.ident(&col.name)));
        }
        Ok(format!("JSON_OBJECT({})", parts.join(", ")))
    }

    pub(super) fn json_of(&self, img: &[Value<'static>], cols: &[usize]) -> Result<String> {
        let mut parts = Vec::new();
        for &i in cols {
            parts.push(format!("{}, {}", q(&column(self.t, i)?.name), self.lit(img, i)?));
        }
        Ok(format!("JSON_OBJECT({})", parts.join(", ")))
    }

    /// Records a decision when the row at `key_img`'s key exists and matches `cond`.
    pub(super) fn log(&self, key_img: &[Value<'static>], incoming: Option<&[Value<'static>]>, cond: &str, winner: &str, decision: &str) -> Result<String> {
        let from = format!("{} WHERE {} AND {cond}", self.table(), self.key(key_img)?);
        self.log_insert(key_img, &self.json_of_target(self.t.columns)?, incoming, winner, decision, &from)
    }

    /// Records a decision when no row has the key of any of `keys` and `cond` holds.
    pub(super) fn log_gone(
        &self,
        keys: &[&[Value<'static>]],
        incoming: Option<&[Value<'static>]>,
        cond: &str,
        winner: &str,
        decision: &str,
    ) -> Result<String> {
        let from = format!("DUAL WHERE {} AND {cond}", self.absent(keys)?);
        let key_img = keys.first().copied().unwrap_or_default();
        self.log_insert(key_img, "NULL", incoming, winner, decision, &from)
    }

    /// `NOT EXISTS` a row with the key of any of `keys`.
    pub(super) fn absent(&self, keys: &[&[Value<'static>]]) -> Result<String> {
        let mut parts = Vec::new();
        for k in keys {
            let p = format!("NOT EXISTS (SELECT 1 FROM {} WHERE {})", self.table(), self.key(k)?);
            if !parts.contains(&p) {
                parts.push(p);
            }
        }
        Ok(parts.join(" AND "))
    }

    /// `INSERT INTO conflicts ... SELECT <entry> FROM <from>`: `local` is the row here (an SQL
    /// expression), `winner` and `decision` SQL expressions.
    pub(super) fn log_insert(
        &self,
        key_img: &[Value<'static>],
        local: &str,
        incoming: Option<&[Value<'static>]>,
        winner: &str,
        decision: &str,
        from: &str,
    ) -> Result<String> {
        let s = self.sites;
        let incoming = match incoming {
            Some(img) => self.json_of(img, &self.present(img))?,
            None => "NULL".into(),
        };
        Ok(format!(
            "INSERT INTO {}.`conflicts` (pipeline, db, tbl, row_key, policy, origin, local_row, incoming_row, winner, decision) \
             SELECT {}, {}, {}, {}, {}, {}, {local}, {incoming}, {winner}, {decision} FROM {from}",
            otter_core::mysql::quote::ident(s.schema),
            q(s.pipeline),
            q(self.t.db),
            q(self.t.name),
            self.json_of(key_img, self.t.key)?,
            q(self.rule.rule.policy.name()),
            q(s.origin),
        ))
    }

    pub(super) fn update(&self, key_img: &[Value<'static>], after: &[Value<'static>], cols: &[usize], cond: &str) -> Result<Option<String>> {
        if cols.is_empty() {
            return Ok(None);
        }
        let mut sets = Vec::new();
        for &i in cols {
            sets.push(format!("{} = {}", self.ident(&column(self.t, i)?.name), self.lit(after, i)?));
        }
        Ok(Some(format!("UPDATE {} SET {} WHERE {} AND {cond}", self.table(), sets.join(", "), self.key(key_img)?)))
    }

    /// A locking read of the row: waits for a concurrent writer of the same key (even one whose
    /// insert is not committed yet), so the checks that follow see its committed row.
    pub(super) fn lock(&self, img: &[Value<'static>]) -> Result<String> {
        Ok(format!("SELECT 1 FROM {} WHERE {} FOR UPDATE", self.table(), self.key(img)?))
    }

    pub(super) fn delete(&self, before: &[Value<'static>], cond: &str) -> Result<String> {
        Ok(format!("DELETE FROM {} WHERE {} AND {cond}", self.table(), self.key(before)?))
    }

    /// Inserts `after` unless a row with the key of any of `keys` exists (and `also` holds).
    pub(super) fn insert_missing(&self, after: &[Value<'static>], keys: &[&[Value<'static>]], also: Option<&str>) -> Result<String> {
        let cols = self.present(after);
        let names: Vec<String> = cols.iter().map(|&i| column(self.t, i).map(|c| self.ident(&c.name))).collect::<Result<_>>()?;
        let vals: Vec<String> = cols.iter().map(|&i| self.lit(after, i)).collect::<Result<_>>()?;
        let mut cond = self.absent(keys)?;
        if let Some(a) = also {
            cond = format!("{cond} AND {a}");
        }
        Ok(format!("INSERT INTO {} ({}) SELECT {} FROM DUAL WHERE {cond}", self.table(), names.join(", "), vals.join(", ")))
    }

    /// The rule's version column (quoted) and `img`'s version (a literal).
    pub(super) fn version(&self, img: &[Value<'static>]) -> Result<(String, String)> {
        let vcol = self.named(self.rule.rule.column.as_deref().unwrap_or_default())?;
        Ok((self.ident(&column(self.t, vcol)?.name), self.lit(img, vcol)?))
    }

    /// Last-writer-wins: the incoming image (with version `img`) wins the current row.
    pub(super) fn lww_wins(&self, img: &[Value<'static>], strict_delete: bool) -> Result<String> {
        let r = &self.rule.rule;
        let vcol = self.named(r.column.as_deref().unwrap_or_default())?;
        let v = self.ident(&column(self.t, vcol)?.name);
        let vin = self.lit(img, vcol)?;
        if strict_delete {
            return Ok(format!("({v} <= {vin})"));
        }
        let tie = match r.site_column.as_deref() {
            Some(sc) => {
                let i = self.named(sc)?;
                format!("{} < {}", self.ident(&column(self.t, i)?.name), self.lit(img, i)?)
            }
            None => (if self.sites.origin > self.sites.target { "TRUE" } else { "FALSE" }).into(),
        };
        Ok(format!("({v} < {vin} OR ({v} <=> {vin} AND {tie}))"))
    }

    pub(super) fn named(&self, name: &str) -> Result<usize> {
        self.t.schema.columns.iter().position(|c| c.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
            Error::config(format!(
                "conflict rule for {}.{} names column {name:?}, which the table does not have",
                self.t.db, self.t.name
            ))
        })
    }
}

pub(super) fn need<'r>(img: &'r Option<Row>, what: &str) -> Result<&'r [Value<'static>]> {
    img.as_deref().ok_or_else(|| Error::new(otter_core::ErrorKind::Sink, format!("a change without its {what} image")))
}

/// The column groups (as written columns) that `changed` touches.
pub(super) fn groups(c: &Ctx<'_, '_>, changed: &[usize]) -> Result<Vec<Vec<usize>>> {
    let mut listed: Vec<Vec<usize>> = Vec::new();
    for g in &c.rule.rule.groups {
        let mut cols = Vec::new();
        for name in g {
            let i = c.named(name)?;
            if c.t.columns.contains(&i) {
                cols.push(i);
            }
        }
        listed.push(cols);
    }
    let mut out: Vec<Vec<usize>> = listed.into_iter().filter(|g| g.iter().any(|i| changed.contains(i))).collect();
    for &i in changed {
        if !out.iter().any(|g| g.contains(&i)) && !c.rule.rule.groups.iter().flatten().any(|n| c.named(n).ok() == Some(i)) {
            out.push(vec![i]);
        }
    }
    Ok(out)
}
