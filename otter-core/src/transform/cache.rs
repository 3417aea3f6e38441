//! A per-source-schema cache: what a transform derived from one `Arc<TableSchema>` (a renamed
//! copy, a column mapping...), computed once per schema object instead of once per row.
//!
//! Invariants: entries are keyed by the address of the source `Arc` *and* keep that `Arc` alive,
//! so an address can never be reused by another schema while its entry exists; the cache is
//! cleared when it grows past [`MAX_ENTRIES`] (schemas change with DDL, old versions must not
//! pile up forever), which only costs recomputation.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::Result;
use crate::schema::TableSchema;

/// Entries kept before the cache starts over.
pub(crate) const MAX_ENTRIES: usize = 4096;

/// Derived values per source schema object.
#[derive(Debug)]
pub(crate) struct SchemaCache<T> {
    map: HashMap<usize, (Arc<TableSchema>, T)>,
}

impl<T> Default for SchemaCache<T> {
    fn default() -> Self {
        SchemaCache { map: HashMap::new() }
    }
}

impl<T> SchemaCache<T> {
    /// The value for `table`, computing it with `derive` on the first use of this schema object.
    pub(crate) fn get_or_try_insert(&mut self, table: &Arc<TableSchema>, derive: impl FnOnce(&TableSchema) -> Result<T>) -> Result<&T> {
        let key = Arc::as_ptr(table) as usize;
        if !self.map.contains_key(&key) && self.map.len() >= MAX_ENTRIES {
            self.map.clear();
        }
        let value = match self.map.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert((Arc::clone(table), derive(table)?)),
        };
        Ok(&value.1)
    }

    /// Number of cached schemas.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}
