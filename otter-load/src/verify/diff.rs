//! Row-level comparison of one key range: both sides' rows as canonical values, paired by key,
//! turned into differences (missing on the target, extra on the target, different columns).
//!
//! Invariant: rows pair by their key under the key columns' collation (so a `_ci` key spelled
//! differently is one row whose key column differs, not a missing and an extra row); values
//! compare as canonical texts ([`super::canon`]), exactly what the chunk hashes cover.

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Row};
use otter_core::mysql::conn::translate;
use otter_core::mysql::quote::ident;
use otter_core::schema::Column;
use otter_core::Result;
use serde::Serialize;

use super::canon::{key_match_expr, key_text_expr, value_expr};

/// What differs about one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// The source has the row, the target does not.
    Missing,
    /// The target has a row the source does not.
    Extra,
    /// Both have it; some columns differ.
    Different,
}

/// One differing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What differs.
    pub kind: DiffKind,
    /// The key, one text per key column (as the side that has the row writes it; the source's
    /// when both do).
    pub key: Vec<String>,
    /// The target's key text when it is spelled differently (a `_ci` key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_key: Option<Vec<String>>,
    /// The differing columns (target names), for `different`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
}

/// One side of a comparison: its table and the compared columns (key columns first among them
/// by position in `key`).
pub struct Side<'a> {
    /// Database.
    pub db: &'a str,
    /// Table.
    pub table: &'a str,
    /// The compared columns, in pair order (the same order on both sides).
    pub columns: Vec<&'a Column>,
    /// Positions in `columns` of the key columns.
    pub key: Vec<usize>,
    /// Per column: both sides define it alike (see [`super::canon::hash_args`]).
    pub same: Vec<bool>,
}

impl Side<'_> {
    /// The columns with their `same` flags, for hashing.
    pub fn hashed(&self) -> Vec<(&Column, bool)> {
        self.columns.iter().zip(&self.same).map(|(c, s)| (*c, *s)).collect()
    }
}

/// The rows of `side` matching `cond` (with `params`), by key match text.
pub async fn fetch(conn: &mut Conn, side: &Side<'_>, cond: Option<&str>, params: Vec<mysql_async::Value>) -> Result<BTreeMap<Vec<String>, (Vec<String>, Vec<String>)>> {
    let keys: Vec<&Column> = side.key.iter().filter_map(|&i| side.columns.get(i).copied()).collect();
    let mut exprs: Vec<String> = keys.iter().map(|c| key_text_expr(c)).collect();
    exprs.extend(keys.iter().map(|c| key_match_expr(c)));
    exprs.extend(side.columns.iter().map(|c| value_expr(c)));
    let mut sql = format!("SELECT {} FROM {}.{}", exprs.join(", "), ident(side.db), ident(side.table));
    if let Some(c) = cond {
        sql.push_str(" WHERE ");
        sql.push_str(c);
    }
    let params = if params.is_empty() { Params::Empty } else { Params::Positional(params) };
    let rows: Vec<Row> = conn.exec(sql, params).await.map_err(|e| translate(e, &format!("reading rows of {}.{} to compare", side.db, side.table)))?;
    let k = keys.len();
    let mut out = BTreeMap::new();
    for r in rows {
        // Canonical values may hold any bytes (binary strings): compared as bytes, shown as text.
        let texts: Vec<String> = (0..r.len()).map(|i| r.get::<Option<Vec<u8>>, _>(i).flatten().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()).collect();
        let raw: Vec<Vec<u8>> = (0..r.len()).map(|i| r.get::<Option<Vec<u8>>, _>(i).flatten().unwrap_or_default()).collect();
        let part = |from: usize, to: usize| texts.get(from..to.min(texts.len())).map(<[String]>::to_vec).unwrap_or_default();
        // Each row: key texts, key match texts, canonical values (as hexadecimal: exact bytes).
        let values: Vec<String> = raw.get(2 * k..).unwrap_or_default().iter().map(|b| b.iter().map(|x| format!("{x:02x}")).collect()).collect();
        out.insert(part(k, 2 * k), (part(0, k), values));
    }
    Ok(out)
}

/// The differences between the source's and the target's rows (`names`: target column names
/// in pair order).
pub fn compare(
    source: &BTreeMap<Vec<String>, (Vec<String>, Vec<String>)>,
    target: &BTreeMap<Vec<String>, (Vec<String>, Vec<String>)>,
    names: &[String],
) -> Vec<Difference> {
    let mut out = Vec::new();
    for (m, (key, values)) in source {
        match target.get(m) {
            None => out.push(Difference { kind: DiffKind::Missing, key: key.clone(), target_key: None, columns: Vec::new() }),
            Some((tkey, tvalues)) => {
                let columns: Vec<String> =
                    values.iter().zip(tvalues).zip(names).filter(|((a, b), _)| a != b).map(|(_, n)| n.clone()).collect();
                if !columns.is_empty() {
                    let target_key = (tkey != key).then(|| tkey.clone());
                    out.push(Difference { kind: DiffKind::Different, key: key.clone(), target_key, columns });
                }
            }
        }
    }
    for (m, (key, _)) in target {
        if !source.contains_key(m) {
            out.push(Difference { kind: DiffKind::Extra, key: key.clone(), target_key: None, columns: Vec::new() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(list: &[(&str, &str, &[&str])]) -> BTreeMap<Vec<String>, (Vec<String>, Vec<String>)> {
        list.iter().map(|(m, k, v)| (vec![m.to_string()], (vec![k.to_string()], v.iter().map(|s| s.to_string()).collect()))).collect()
    }

    #[test]
    fn pairs_by_collation_key_and_names_the_differing_columns() {
        let names = vec!["k".to_owned(), "v".to_owned()];
        let src = rows(&[("A", "Abc", &["Abc", "1"]), ("B", "b", &["b", "2"]), ("C", "c", &["c", "3"])]);
        let tgt = rows(&[("A", "abc", &["abc", "1"]), ("C", "c", &["c", "4"]), ("D", "d", &["d", "5"])]);
        let d = compare(&src, &tgt, &names);
        assert_eq!(d.len(), 4);
        assert_eq!(d[0], Difference { kind: DiffKind::Different, key: vec!["Abc".into()], target_key: Some(vec!["abc".into()]), columns: vec!["k".into()] });
        assert_eq!(d[1].kind, DiffKind::Missing);
        assert_eq!(d[2].columns, vec!["v".to_owned()]);
        assert_eq!((d[3].kind, d[3].key.clone()), (DiffKind::Extra, vec!["d".to_owned()]));
        assert!(compare(&src, &src, &names).is_empty());
    }
}
