//! WRITE/UPDATE/DELETE_ROWS events (v0, v1, v2, MySQL PARTIAL_UPDATE_ROWS, MariaDB compressed
//! v1/v2) and their row images.
//!
//! Layout: post-header (table id, flags), v2 extra data, column count, the columns-present bitmap
//! of the (before) image, for UPDATE (v1+) the after-image bitmap, then rows. Each image is a
//! NULL bitmap over the *present* columns followed by the non-NULL present values. Row images are
//! decoded lazily with the table map; [`Rows::next_into`] decodes into caller-owned buffers and
//! allocates nothing for fixed-width values.
//!
//! Invariants: a rows event is decoded only against a table map with the same column count; every
//! column of the table appears in each decoded image exactly once (as a value, `Null`, or `Absent`
//! when MINIMAL/NOBLOB images leave it out), so values are never shifted onto the wrong column.

use std::borrow::Cow;

use crate::column::Kind;
use crate::compress::{mariadb_uncompress, Limits};
use crate::error::{invalid, Result};
use crate::event_type::{RowsFormat, RowsKind};
use crate::reader::{OrTruncated, Reader};
use crate::table_map::{bit_lsb, TableMap};
use crate::value::{decode_into, Value};

/// `STMT_END_F`: the last rows event of a statement (table maps may be released after it).
pub const STMT_END_F: u16 = 1;

/// A rows event; decode its rows with [`RowsEvent::rows`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsEvent<'a> {
    /// Insert, update or delete.
    pub kind: RowsKind,
    /// 0 (pre-GA), 1 or 2.
    pub version: u8,
    /// MySQL PARTIAL_UPDATE_ROWS_EVENT (JSON diffs in after images).
    pub partial: bool,
    /// MariaDB compressed event (the row data was zlib-inflated).
    pub compressed: bool,
    /// The table id of the preceding TABLE_MAP event.
    pub table_id: u64,
    /// Flags (`STMT_END_F`, `NO_FOREIGN_KEY_CHECKS_F`, `RELAXED_UNIQUE_CHECKS_F`, `COMPLETE_ROWS_F`).
    pub flags: u16,
    /// v2 extra data (after its 2-byte length), e.g. NDB info or MySQL partition ids.
    pub extra_data: &'a [u8],
    /// Number of columns of the table.
    pub column_count: usize,
    /// Columns present in the (before) image.
    pub columns_before: &'a [u8],
    /// Columns present in the after image of UPDATE events.
    pub columns_after: Option<&'a [u8]>,
    rows: Cow<'a, [u8]>,
}

impl<'a> RowsEvent<'a> {
    pub(crate) fn parse(body: &'a [u8], post_header_len: usize, f: RowsFormat, limits: &Limits) -> Result<Self> {
        let mut r = Reader::new(body);
        let mut post = r.sub(post_header_len).or_trunc("rows post-header")?;
        let table_id = if post_header_len == 6 {
            u64::from(post.u32_le().or_trunc("table id")?)
        } else {
            post.u48_le().or_trunc("table id")?
        };
        let flags = post.u16_le().or_trunc("rows flags")?;
        let extra_data = if f.version == 2 {
            let len = post.u16_le().or_trunc("rows extra data length")?;
            let n = usize::from(len).checked_sub(2).ok_or(invalid("rows extra data length"))?;
            r.take(n).or_trunc("rows extra data")?
        } else {
            &[]
        };
        // A column count, not a byte length: the bitmaps below are what must fit in the event.
        let column_count = usize::try_from(r.packed().or_trunc("rows column count")?).map_err(|_| invalid("rows column count"))?;
        let bitmap_len = column_count.div_ceil(8);
        let columns_before = r.take(bitmap_len).or_trunc("rows columns bitmap")?;
        let columns_after = if f.kind == RowsKind::Update && f.version >= 1 {
            Some(r.take(bitmap_len).or_trunc("rows after-image bitmap")?)
        } else {
            None
        };
        let rest = r.take_rest();
        let rows = if f.compressed {
            Cow::Owned(mariadb_uncompress(rest, limits.max_decompressed)?)
        } else {
            Cow::Borrowed(rest)
        };
        Ok(RowsEvent {
            kind: f.kind,
            version: f.version,
            partial: f.partial,
            compressed: f.compressed,
            table_id,
            flags,
            extra_data,
            column_count,
            columns_before,
            columns_after,
            rows,
        })
    }

    /// True for the last rows event of its statement.
    pub fn is_statement_end(&self) -> bool {
        self.flags & STMT_END_F != 0
    }

    /// The raw row data (decompressed for MariaDB compressed events).
    pub fn row_data(&self) -> &[u8] {
        &self.rows
    }

    /// Starts decoding the rows with the event's table map.
    pub fn rows<'s>(&'s self, table: &'s TableMap) -> Result<Rows<'s>> {
        if table.columns.len() != self.column_count {
            return Err(invalid("rows event column count (differs from its table map)"));
        }
        let before_cols = self.columns_before;
        let after_cols = self.columns_after.unwrap_or(self.columns_before);
        let before_present = count_bits(before_cols, self.column_count);
        let after_present = count_bits(after_cols, self.column_count);
        // A full image (every column present) of a table without JSON columns is decoded by the
        // fast path: no per-column presence or partial-JSON checks.
        let simple = !table.legacy && table.json_columns == 0;
        Ok(Rows {
            r: Reader::new(&self.rows),
            table,
            kind: self.kind,
            partial: self.partial,
            before_cols,
            after_cols,
            before_present,
            after_present,
            before_full: simple && before_present == self.column_count,
            after_full: simple && after_present == self.column_count,
        })
    }
}

/// Number of set bits among the first `n` bits of an LSB-first bitmap.
fn count_bits(bits: &[u8], n: usize) -> usize {
    let full = n / 8;
    let mut c: usize = bits.iter().take(full).map(|b| b.count_ones() as usize).sum();
    if !n.is_multiple_of(8) {
        if let Some(last) = bits.get(full) {
            c += (last & ((1u8 << (n % 8)) - 1)).count_ones() as usize;
        }
    }
    c
}

/// One row change: the before image (UPDATE, DELETE) and the after image (INSERT, UPDATE).
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange<'a> {
    /// Before image, one value per table column.
    pub before: Option<Vec<Value<'a>>>,
    /// After image, one value per table column.
    pub after: Option<Vec<Value<'a>>>,
}

/// A cursor over the rows of one rows event.
#[derive(Debug, Clone)]
pub struct Rows<'s> {
    r: Reader<'s>,
    table: &'s TableMap,
    kind: RowsKind,
    partial: bool,
    before_cols: &'s [u8],
    after_cols: &'s [u8],
    before_present: usize,
    after_present: usize,
    /// The before image has every column, and the table neither JSON columns nor legacy rows.
    before_full: bool,
    /// The same for the after image.
    after_full: bool,
}

impl<'s> Rows<'s> {
    /// Decodes the next row into `before` and `after` (cleared first; the image a row kind lacks
    /// stays empty). Returns `false` at the end. Reusing the buffers, decoding allocates nothing
    /// beyond them.
    pub fn next_into(&mut self, before: &mut Vec<Value<'s>>, after: &mut Vec<Value<'s>>) -> Result<bool> {
        before.clear();
        after.clear();
        if self.r.is_empty() {
            return Ok(false);
        }
        let before_len = self.r.len();
        match self.kind {
            RowsKind::Write if self.after_full => self.read_full_image(after)?,
            RowsKind::Write => self.read_image(self.after_cols, self.after_present, false, after)?,
            RowsKind::Delete if self.before_full => self.read_full_image(before)?,
            RowsKind::Delete => self.read_image(self.before_cols, self.before_present, false, before)?,
            RowsKind::Update => {
                if self.before_full {
                    self.read_full_image(before)?;
                } else {
                    self.read_image(self.before_cols, self.before_present, false, before)?;
                }
                if self.after_full && !self.partial {
                    self.read_full_image(after)?;
                } else {
                    self.read_image(self.after_cols, self.after_present, self.partial, after)?;
                }
            }
        }
        // Servers never write a row that takes no bytes; refusing one guarantees progress.
        if self.r.len() == before_len {
            return Err(invalid("row image without any column"));
        }
        Ok(true)
    }

    /// Decodes all remaining rows and returns how many there were.
    pub fn count_rows(mut self) -> Result<usize> {
        let (mut b, mut a) = (Vec::new(), Vec::new());
        let mut n = 0usize;
        while self.next_into(&mut b, &mut a)? {
            n += 1;
        }
        Ok(n)
    }

    /// The columns present in the after image (all columns for FULL images), as an LSB-first
    /// bitmap: for UPDATE, the columns the server logged as written.
    pub fn after_columns(&self) -> &'s [u8] {
        self.after_cols
    }

    /// [`Rows::read_image`] for an image with every column present, no JSON column and no
    /// legacy "X" bit: the NULL bitmap is walked bit by bit alongside the plans.
    fn read_full_image(&mut self, out: &mut Vec<Value<'s>>) -> Result<()> {
        let plans = &self.table.plans;
        let nulls = self.r.take(plans.len().div_ceil(8)).or_trunc("row null bitmap")?;
        out.reserve(plans.len());
        let mut nulls = nulls.iter();
        let mut byte = 0u8;
        for (i, plan) in plans.iter().enumerate() {
            if i % 8 == 0 {
                // The bitmap has exactly ceil(columns / 8) bytes, taken above.
                byte = nulls.next().copied().unwrap_or(0);
            }
            if byte & 1 != 0 {
                out.push(Value::Null);
            } else {
                decode_into(&mut self.r, *plan, out)?;
            }
            byte >>= 1;
        }
        Ok(())
    }

    fn read_image(&mut self, cols: &'s [u8], present: usize, partial_ai: bool, out: &mut Vec<Value<'s>>) -> Result<()> {
        let mut partial_bits: &[u8] = &[];
        if partial_ai {
            let options = self.r.packed().or_trunc("partial update value options")?;
            if options & 1 != 0 {
                // One bit per JSON column of the table, present in this image or not.
                partial_bits = self.r.take(self.table.json_columns.div_ceil(8)).or_trunc("partial update bitmap")?;
            }
        }
        // Rows of pre-5.1.18 servers start their NULL bitmap with an always-set "X" bit.
        let x_bit = usize::from(self.table.legacy);
        let nulls = self.r.take((present + x_bit).div_ceil(8)).or_trunc("row null bitmap")?;
        out.reserve(self.table.plans.len());
        let mut j = x_bit;
        let mut json_idx = 0usize;
        for (i, plan) in self.table.plans.iter().enumerate() {
            let is_json = matches!(plan.kind, Kind::Json(_));
            let partial_here = is_json && bit_lsb(partial_bits, json_idx);
            if is_json {
                json_idx += 1;
            }
            if !bit_lsb(cols, i) {
                out.push(Value::Absent);
                continue;
            }
            let is_null = bit_lsb(nulls, j);
            j += 1;
            if is_null {
                out.push(Value::Null);
            } else if partial_here {
                let Kind::Json(n) = plan.kind else { return Err(invalid("partial json column")) };
                let len = self.r.uint_le(usize::from(n)).or_trunc("json diff")?;
                let bytes = self.r.take(usize::try_from(len).map_err(|_| invalid("json diff"))?).or_trunc("json diff")?;
                out.push(Value::JsonDiff(Cow::Borrowed(bytes)));
            } else {
                decode_into(&mut self.r, *plan, out)?;
            }
        }
        Ok(())
    }
}

impl<'s> Iterator for Rows<'s> {
    type Item = Result<RowChange<'s>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (mut before, mut after) = (Vec::new(), Vec::new());
        match self.next_into(&mut before, &mut after) {
            Ok(false) => None,
            Ok(true) => Some(Ok(RowChange {
                before: (self.kind != RowsKind::Write).then_some(before),
                after: (self.kind != RowsKind::Delete).then_some(after),
            })),
            Err(e) => {
                // Stop after the first error: the cursor position is unknown now.
                self.r = Reader::new(&[]);
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_counting() {
        assert_eq!(count_bits(&[0xff, 0x01], 9), 9);
        assert_eq!(count_bits(&[0xff, 0xff], 9), 9);
        assert_eq!(count_bits(&[0b101], 3), 2);
        assert_eq!(count_bits(&[], 3), 0);
    }
}
