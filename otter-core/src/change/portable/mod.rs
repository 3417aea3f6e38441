//! The portable batch: a stable, versioned serialised form of a [`Batch`] — its events, row
//! changes, values and table schemas — so that batches can cross a process or a network and be
//! read back losslessly.
//!
//! The in-memory types stay as they are (built for the capture's and the loaders' speed);
//! [`PortableBatch`] is a plain-data copy beside them: `PortableBatch::from(&batch)` writes it,
//! [`PortableBatch::into_batch`] reads it back. It derives serde's traits, so any serde format
//! carries it (no field is skipped, flattened or untagged, so formats without field names work
//! too); [`PortableBatch::to_json`] and [`PortableBatch::from_json`] do JSON, and the
//! tests also run it through CBOR (RFC 8949, the `ciborium` crate), the compact binary form.
//! Writing copies the batch (values' bytes included); reading owns everything it builds.
//!
//! # Format, version 1 (a contract: readers in other processes and languages rely on it)
//! A batch is a record of these fields, in this order:
//!
//! | field | type | meaning |
//! | --- | --- | --- |
//! | `version` | u32 | [`FORMAT_VERSION`]; always first, so a reader can refuse a newer form |
//! | `seq` | u64 | the pipeline's sequence number of the batch |
//! | `source_time` | u32 | newest source time of the batch (Unix seconds) |
//! | `position` | position or null | where to resume once the batch is durable |
//! | `schemas` | array of table schemas | each distinct schema of the batch's row changes, once |
//! | `events` | array of events | in source order (see [`event`]) |
//!
//! A table schema is written with the field names of [`TableSchema`] (`db`, `name`, `columns`
//! with `name`, `sql_type`, `nullable`, `unsigned`, `charset`, `collation`, `generated`,
//! `invisible`, `auto_increment`, `default`; `primary_key` as column positions; `unique_keys`
//! with `name`, `columns`, `prefix_lengths`, `long_hash`; `indexes` with `name`, `kind`,
//! `columns`, `prefix_lengths`; `charset`, `collation`, `engine`). Its enums keep their Rust
//! variant names: a [`crate::schema::SqlType`] is its name with its parameters (`"BigInt"`,
//! `{"VarChar": 20}`, `{"Decimal": {"precision": 10, "scale": 2}}`, `{"Enum": ["a", "b"]}`),
//! `generated` is `"Virtual"`, `"Stored"` or `"LongUniqueHash"`, an index `kind` is `"Plain"`,
//! `"FullText"`, `"Spatial"`, `"Vector"` or `"ForeignKey"`. A row change names its schema by
//! id: its index in `schemas` (ids 0, 1, 2… in order of first use). Values are described in
//! [`value`], events, positions and coordinates in [`event`]; their variant names are
//! snake_case (`"insert"`, `{"rows": …}`, `{"uint": 7}`).
//!
//! In JSON: integers are JSON integers written in full (u64 values above 2^53 too: readers must
//! not parse them as doubles); byte strings are standard base64 text. In binary formats byte
//! strings are native byte strings. Every field is always written (an absent option as null).
//!
//! # Invariants
//! - `into_batch(PortableBatch::from(&b))` equals `b` in every event, field and value (floats bit
//!   for bit), and changes of one schema share one `Arc` after reading (also when the writer
//!   held equal schemas in different `Arc`s);
//! - reading never panics: an unknown version, a schema id not in `schemas`, an image whose length
//!   differs from its schema's column count, a key naming a missing column, a non-canonical
//!   decimal or a bad GTID text is an [`ErrorKind::Parse`] error saying where and what;
//! - a change of the format that old readers would misread gets a new version number. The schema
//!   part is [`TableSchema`]'s own serde form: a change to it (in `schema/model.rs` or
//!   `schema/sql_type.rs`) changes this format, and the format test (`tests/format.rs`, a small
//!   batch's exact JSON) fails until the version is raised.

mod bytes;
mod decimal;
pub mod event;
mod schemas;
pub mod value;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Deserializer, Serialize};

pub use self::event::{
    PortableChange, PortableChangeId, PortableChunk, PortableCoord, PortableDdl, PortableEvent, PortableGtid,
    PortablePosition, PortableProgress, PortableTxnMeta,
};
pub use self::value::{PortableDecimal, PortableValue};
pub(crate) use self::decimal::from_text as decimal_from_text;
use crate::error::{Error, ErrorKind, Result};
use crate::schema::TableSchema;
use crate::traits::Batch;

/// The format version this build writes, and the only one it reads.
pub const FORMAT_VERSION: u32 = 1;

/// A [`Batch`] in its serialised form (see the module docs for the format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortableBatch {
    /// The format version: [`FORMAT_VERSION`]. Reading refuses any other.
    #[serde(deserialize_with = "known_version")]
    pub version: u32,
    /// The pipeline's sequence number of the batch.
    pub seq: u64,
    /// The newest source time of the batch (Unix seconds).
    pub source_time: u32,
    /// Where to resume once the batch is durable.
    pub position: Option<PortablePosition>,
    /// Each distinct table schema of the batch's row changes, once; a change's `table` is an
    /// index into this list.
    pub schemas: Vec<TableSchema>,
    /// The events, in source order.
    pub events: Vec<PortableEvent>,
}

impl From<&Batch> for PortableBatch {
    fn from(b: &Batch) -> PortableBatch {
        let mut ids = schemas::SchemaIds::default();
        let events = b.events.iter().map(|e| PortableEvent::new(e, &mut ids)).collect();
        PortableBatch {
            version: FORMAT_VERSION,
            seq: b.seq,
            source_time: b.source_time,
            position: b.position.as_ref().map(Into::into),
            schemas: ids.into_schemas(),
            events,
        }
    }
}

impl TryFrom<PortableBatch> for Batch {
    type Error = Error;

    fn try_from(p: PortableBatch) -> Result<Batch> {
        p.into_batch()
    }
}

impl PortableBatch {
    /// The in-memory batch: values owned, one shared `Arc` per schema.
    ///
    /// # Errors
    /// [`ErrorKind::Parse`] for a document this build cannot read: another format version, a
    /// change naming a schema id the batch does not carry, an image whose length is not its
    /// schema's column count, a key naming a missing column, a decimal text that is not the
    /// canonical text of its declaration, a GTID state that does not parse. The message says
    /// which event, change and column.
    pub fn into_batch(self) -> Result<Batch> {
        check_version(self.version).map_err(|m| Error::new(ErrorKind::Parse, m))?;
        let malformed = |e: Error| e.context("malformed portable batch");
        let schemas = schemas::share(self.schemas).map_err(malformed)?;
        let events = self
            .events
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.into_event(&schemas).map_err(|e| malformed(e.context(format_args!("event {i}")))))
            .collect::<Result<_>>()?;
        let position = self
            .position
            .map(TryInto::try_into)
            .transpose()
            .map_err(|e: Error| malformed(e.context("batch position")))?;
        // `committed` belongs to the pipeline that sends the batch on, not to the batch.
        Ok(Batch { seq: self.seq, events, position, source_time: self.source_time, committed: None })
    }

    /// The batch as a JSON document.
    ///
    /// # Errors
    /// [`ErrorKind::State`] if serialisation fails (it does not for these types; the error is
    /// passed on rather than assumed away).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| Error::new(ErrorKind::State, format!("cannot write a portable batch as JSON: {e}")))
    }

    /// Reads a JSON document written by [`PortableBatch::to_json`] (or any writer of the format).
    ///
    /// # Errors
    /// [`ErrorKind::Parse`] when the text is not JSON, not a portable batch, or of another version
    /// (said first, before any other mismatch).
    pub fn from_json(json: &[u8]) -> Result<PortableBatch> {
        let bad = |e: serde_json::Error| Error::new(ErrorKind::Parse, format!("not a readable portable batch: {e}"));
        // The version first: a newer document fails on it, not on a field it renamed.
        #[derive(Deserialize)]
        struct Version {
            version: Option<serde_json::Value>,
        }
        match serde_json::from_slice::<Version>(json).map_err(bad)?.version {
            None => return Err(Error::new(ErrorKind::Parse, "not a portable batch: it has no \"version\" field")),
            Some(v) => {
                let v = v
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| Error::new(ErrorKind::Parse, format!("portable batch version {v} is not a number")))?;
                check_version(v).map_err(|m| Error::new(ErrorKind::Parse, m))?;
            }
        }
        serde_json::from_slice(json).map_err(bad)
    }
}

/// Accepts [`FORMAT_VERSION`] only.
fn check_version(version: u32) -> std::result::Result<(), String> {
    if version == FORMAT_VERSION {
        Ok(())
    } else {
        Err(format!(
            "portable batch format version {version} is not supported: this build reads version {FORMAT_VERSION} only"
        ))
    }
}

/// Deserialises the `version` field, refusing versions this build cannot read (so a binary
/// document of another version fails on its first field, with that message).
fn known_version<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    check_version(v).map_err(serde::de::Error::custom)?;
    Ok(v)
}
