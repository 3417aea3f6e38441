//! The schema table of a portable batch: each distinct [`TableSchema`] once, row changes
//! referring to it by id (its index in the table).
//!
//! Invariants: writing gives one id per `Arc` and one per distinct schema content (two `Arc`s
//! of equal schemas share an id), ids numbered 0, 1, 2… in order of first use; reading makes one
//! `Arc` per id, so every change of one id shares it, and refuses a schema whose keys name a
//! column position the schema does not have.

use std::collections::HashMap;
use std::sync::Arc;

use super::event::malformed;
use crate::error::Result;
use crate::schema::TableSchema;

/// Assigns schema ids while a batch is written.
#[derive(Default)]
pub(super) struct SchemaIds {
    /// The schemas, by id.
    schemas: Vec<TableSchema>,
    /// Id by `Arc` address (the batch being written keeps every `Arc` alive, so addresses are
    /// not reused meanwhile).
    by_arc: HashMap<usize, usize>,
    /// Ids by `(db, table)`, to find equal contents behind different `Arc`s.
    by_name: HashMap<(String, String), Vec<usize>>,
}

impl SchemaIds {
    /// The id of `schema`, registering it on first use.
    pub(super) fn id(&mut self, schema: &Arc<TableSchema>) -> usize {
        let addr = Arc::as_ptr(schema) as usize;
        if let Some(&id) = self.by_arc.get(&addr) {
            return id;
        }
        let same_name = self.by_name.entry((schema.db.clone(), schema.name.clone())).or_default();
        let id = match same_name.iter().find(|&&id| self.schemas.get(id) == Some(schema.as_ref())) {
            Some(&id) => id,
            None => {
                let id = self.schemas.len();
                self.schemas.push(TableSchema::clone(schema));
                same_name.push(id);
                id
            }
        };
        self.by_arc.insert(addr, id);
        id
    }

    /// The schemas, by id.
    pub(super) fn into_schemas(self) -> Vec<TableSchema> {
        self.schemas
    }
}

/// The shared schemas of a batch being read, by id, after checking their keys.
pub(super) fn share(schemas: Vec<TableSchema>) -> Result<Vec<Arc<TableSchema>>> {
    schemas
        .into_iter()
        .enumerate()
        .map(|(id, s)| {
            check_keys(&s).map_err(|e| e.context(format_args!("table schema {id} ({}.{})", s.db, s.name)))?;
            Ok(Arc::new(s))
        })
        .collect()
}

/// Every key and index names columns the schema has.
fn check_keys(s: &TableSchema) -> Result<()> {
    let keys = std::iter::once(("PRIMARY", &s.primary_key))
        .chain(s.unique_keys.iter().map(|k| (k.name.as_str(), &k.columns)))
        .chain(s.indexes.iter().map(|k| (k.name.as_str(), &k.columns)));
    for (name, columns) in keys {
        if let Some(bad) = columns.iter().find(|&&c| c >= s.columns.len()) {
            return Err(malformed(format!(
                "key {name} names column position {bad}, but the table has {} columns",
                s.columns.len()
            )));
        }
    }
    Ok(())
}
