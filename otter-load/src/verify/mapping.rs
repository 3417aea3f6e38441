//! Which target table and columns a source table's rows land in, found by running the
//! pipeline's own transforms over one probe row — so verify follows routes, renamed and left-out
//! columns exactly as replication does, with no second implementation of the rules.
//!
//! Invariants: a mapped column pair is a source column and the target column its values are
//! written to; columns only one side has (left out, or added by `add_column`) are not compared;
//! a table the transforms drop is reported as not replicated.

use std::sync::Arc;

use otter_binlog::Value;
use otter_core::change::{ChangeId, ChangeKind, Event, RowChange, TxnChunk, TxnMeta};
use otter_core::position::BinlogCoord;
use otter_core::schema::TableSchema;
use otter_core::traits::{Batch, Transform};
use otter_core::transform::TransformConfig;
use otter_core::Result;

/// Where a source table goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Target database.
    pub db: String,
    /// Target table.
    pub table: String,
    /// `(source column position, target column name)` of every column written to the target.
    pub columns: Vec<(usize, String)>,
}

/// The mapping of `source` through `transforms`; `None` when the transforms drop its rows.
pub fn map_table(transforms: &[TransformConfig], source: &TableSchema) -> Result<Option<Mapping>> {
    let mut chain = otter_core::transform::build_all(transforms)?;
    // Each value names its column's position, so the transformed row tells where it came from.
    let probe: Vec<Value<'static>> = (0..source.columns.len()).map(|i| Value::Int(i as i64)).collect();
    let meta = Arc::new(TxnMeta {
        gtid: None,
        server_id: 0,
        begin: BinlogCoord::new("verify", 4),
        end: None,
        commit_ts: 0,
        commit_ts_micros: None,
        origin: None,
    });
    let change = RowChange {
        table: Arc::new(source.clone()),
        kind: ChangeKind::Insert,
        before: None,
        after: Some(probe),
        id: ChangeId::snapshot(&BinlogCoord::new("verify", 4), 0),
    };
    let mut batch = Batch { events: vec![Event::Rows(TxnChunk { meta, index: 0, last: true, changes: vec![change], position: None })], ..Batch::default() };
    chain.apply(&mut batch)?;
    let Some(Event::Rows(c)) = batch.events.into_iter().next() else { return Ok(None) };
    let Some(out) = c.changes.into_iter().next() else { return Ok(None) };
    let Some(after) = out.after else { return Ok(None) };
    let columns = out
        .table
        .columns
        .iter()
        .zip(after.iter())
        .filter_map(|(col, v)| match v {
            Value::Int(i) if *i >= 0 && (*i as usize) < source.columns.len() => Some((*i as usize, col.name.clone())),
            _ => None, // a column the transforms added
        })
        .collect();
    Ok(Some(Mapping { db: out.table.db.clone(), table: out.table.name.clone(), columns }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use otter_core::schema::{Column, SqlType};

    #[test]
    fn routes_renames_and_left_out_columns_follow_the_pipeline() {
        let t = TableSchema::new(
            "shop",
            "users",
            vec![Column::new("id", SqlType::Int), Column::new("email", SqlType::VarChar(9)), Column::new("secret", SqlType::VarChar(9))],
            vec![0],
        );
        let cfg: Vec<TransformConfig> = toml::from_str::<toml::Value>(
            "[[t]]\nkind = \"columns\"\ntable = \"shop.users\"\nexclude = [\"secret\"]\nrename = { email = \"mail\" }\n\
             [[t]]\nkind = \"route\"\nfrom = \"shop.users\"\nto = \"copy.people\"\n\
             [[t]]\nkind = \"add_column\"\nname = \"site\"\nvalue = \"a\"\n",
        )
        .ok()
        .and_then(|v| v.get("t").cloned())
        .and_then(|v| v.try_into().ok())
        .expect("transform configs");
        let m = map_table(&cfg, &t).unwrap().unwrap();
        assert_eq!((m.db.as_str(), m.table.as_str()), ("copy", "people"));
        assert_eq!(m.columns, vec![(0, "id".to_owned()), (1, "mail".to_owned())]);
        let plain = map_table(&[], &t).unwrap().unwrap();
        assert_eq!(plain.columns.len(), 3);
    }
}
