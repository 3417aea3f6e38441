//! Splitting big tables into parts copied at once: a table whose key is one integer column and
//! that holds many rows is cut into up to `readers` key ranges of equal width (from its smallest
//! and largest key, read from the index ends), each an entry of the copy of its own, so several
//! readers copy it together instead of one after another.
//!
//! Invariants: the parts `(None, b1], (b1, b2], …, (b_{n-1}, None]` cover every key with no
//! overlap, whatever the keys written meanwhile (the first and last parts are open); a table
//! that cannot be split (other key types, few rows, empty) stays one entry. Keys are compared
//! by the server; the bounds are plain integers.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::change::portable::PortableValue;
use crate::error::Result;
use crate::mysql::conn::translate;
use crate::mysql::quote::ident;
use crate::position::snapshot::TableProgress;

/// Fewest estimated rows per part: smaller tables are not split.
pub const MIN_PART_ROWS: u64 = 100_000;

/// `tables` with each big table of a single integer key replaced by up to `parts` parts.
pub async fn split(conn: &mut Conn, tables: Vec<TableProgress>, parts: usize) -> Result<Vec<TableProgress>> {
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        let n = (t.estimate / MIN_PART_ROWS).min(parts as u64);
        if n < 2 || t.after.is_some() || t.upto.is_some() || t.request.is_some() {
            out.push(t);
            continue;
        }
        match bounds(conn, &t.db, &t.table, n).await? {
            Some(bounds) => {
                tracing::info!(table = %format!("{}.{}", t.db, t.table), parts = n, estimated_rows = t.estimate, "Copying a big table in parts at once.");
                let estimate = t.estimate / n;
                let mut lower: Option<Vec<PortableValue>> = None;
                for b in bounds.into_iter().map(Some).chain([None]) {
                    let upto = b.map(|v| vec![v]);
                    out.push(TableProgress { after: lower.clone(), upto: upto.clone(), estimate, ..TableProgress::new(t.db.clone(), t.table.clone()) });
                    lower = upto;
                }
            }
            None => out.push(t),
        }
    }
    Ok(out)
}

/// The `n - 1` inner bounds of `db.table`'s single integer primary key, or `None`.
async fn bounds(conn: &mut Conn, db: &str, table: &str, n: u64) -> Result<Option<Vec<PortableValue>>> {
    let what = format!("splitting {db}.{table} for the snapshot");
    let key: Vec<(String, String, String)> = conn
        .exec(
            "SELECT k.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE FROM information_schema.KEY_COLUMN_USAGE k \
             JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME \
             WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND k.CONSTRAINT_NAME = 'PRIMARY'",
            (db, table),
        )
        .await
        .map_err(|e| translate(e, &what))?;
    let [(column, data_type, column_type)] = key.as_slice() else { return Ok(None) };
    if !matches!(data_type.to_ascii_lowercase().as_str(), "tinyint" | "smallint" | "mediumint" | "int" | "bigint") {
        return Ok(None);
    }
    let unsigned = column_type.to_ascii_lowercase().contains("unsigned");
    let sql = format!("SELECT CAST(MIN({c}) AS CHAR), CAST(MAX({c}) AS CHAR) FROM {}.{}", ident(db), ident(table), c = ident(column));
    let ends: Option<(Option<String>, Option<String>)> = conn.query_first(sql).await.map_err(|e| translate(e, &what))?;
    let Some((Some(lo), Some(hi))) = ends else { return Ok(None) };
    let (Ok(lo), Ok(hi)) = (lo.parse::<i128>(), hi.parse::<i128>()) else { return Ok(None) };
    Ok(inner_bounds(lo, hi, n).map(|b| b.into_iter().map(|v| if unsigned { PortableValue::Uint(v as u64) } else { PortableValue::Int(v as i64) }).collect()))
}

/// `n - 1` increasing bounds cutting `[lo, hi]` into `n` ranges of about equal width; `None`
/// when the range is too narrow for `n` parts.
fn inner_bounds(lo: i128, hi: i128, n: u64) -> Option<Vec<i128>> {
    let n = i128::from(n);
    if hi - lo < n * 2 {
        return None;
    }
    Some((1..n).map(|i| lo + (hi - lo) * i / n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_cut_the_key_space_evenly_and_never_repeat() {
        assert_eq!(inner_bounds(1, 1_000_000, 4), Some(vec![250_000, 500_000, 750_000]));
        assert_eq!(inner_bounds(i128::from(i64::MIN), i128::from(i64::MAX), 2), Some(vec![-1]));
        assert_eq!(inner_bounds(0, i128::from(u64::MAX), 3).unwrap().len(), 2);
        assert_eq!(inner_bounds(5, 9, 4), None);
    }
}
