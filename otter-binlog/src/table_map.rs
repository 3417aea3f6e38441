//! TABLE_MAP_EVENT: the table id ↔ (schema, table, column types) binding that rows events refer
//! to, with every kind of optional metadata (`binlog_row_metadata=MINIMAL|FULL`): signedness,
//! charsets, column names, ENUM/SET strings, geometry types, primary key, visibility, vector
//! dimensions.
//!
//! Invariants: a `TableMap` is owned (`'static`) so the parser can cache it across events; its
//! column plans are computed once here; optional metadata that does not match the column list
//! (wrong counts) is an error, never silently misaligned.

use crate::column::{plan, read_meta, ColumnType, Kind};
use crate::error::{invalid, ErrorKind, ParseError, Result};
use crate::reader::{OrTruncated, Reader};
use crate::value::Plan;

/// One column as the table map describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The type code as written.
    pub column_type: ColumnType,
    /// The raw metadata.
    pub meta: u16,
    /// Whether the column may be NULL.
    pub nullable: bool,
    /// The decode plan.
    pub kind: Kind,
    /// From SIGNEDNESS metadata: `Some(true)` for UNSIGNED numeric columns.
    pub unsigned: Option<bool>,
    /// Collation id from the charset metadata (63 = binary).
    pub charset: Option<u16>,
    /// Column name (FULL metadata).
    pub name: Option<Box<str>>,
    /// ENUM or SET member strings (FULL metadata).
    pub members: Option<Vec<Box<[u8]>>>,
    /// Geometry subtype (FULL metadata).
    pub geometry_type: Option<u32>,
    /// Visibility (MySQL 8.0.23+ FULL metadata): `Some(false)` for INVISIBLE columns.
    pub visible: Option<bool>,
    /// Vector dimensionality (MySQL 9).
    pub vector_dimensions: Option<u32>,
}

/// A decoded TABLE_MAP_EVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMap {
    /// The id rows events use for this table (valid until the next real ROTATE).
    pub table_id: u64,
    /// Flags.
    pub flags: u16,
    /// Schema (database) name.
    pub schema: Box<[u8]>,
    /// Table name.
    pub table: Box<[u8]>,
    /// The columns, in table order.
    pub columns: Vec<Column>,
    /// Primary key columns (index, prefix length or 0) from the optional metadata.
    pub primary_key: Vec<(u32, u32)>,
    /// True when the server wrote any optional metadata.
    pub has_optional_metadata: bool,
    /// A MySQL 5.1.0–5.1.17 table map (no metadata): its rows carry an extra leading NULL bit.
    pub legacy: bool,
    pub(crate) plans: Vec<Plan>,
    /// Number of JSON columns (the partial-update bitmap has one bit per JSON column; tables
    /// without any take the rows decoder's fast path).
    pub(crate) json_columns: usize,
    raw: Box<[u8]>,
}

impl TableMap {
    /// Parses a TABLE_MAP body; `post_header_len` is 6 (4-byte table id) or 8.
    pub fn parse(body: &[u8], post_header_len: usize) -> Result<TableMap> {
        let mut r = Reader::new(body);
        let mut post = r.sub(post_header_len).or_trunc("table map post-header")?;
        let table_id = if post_header_len == 6 {
            u64::from(post.u32_le().or_trunc("table id")?)
        } else {
            post.u48_le().or_trunc("table id")?
        };
        let flags = post.u16_le().or_trunc("table map flags")?;
        let schema = r.u8_bytes().or_trunc("schema name")?;
        r.skip(1).or_trunc("schema name")?;
        let table = r.u8_bytes().or_trunc("table name")?;
        r.skip(1).or_trunc("table name")?;
        let count = r.packed_len().or_trunc("column count")?;
        let types = r.take(count).or_trunc("column types")?;
        // MySQL before 5.1.18 wrote neither metadata nor NULL flags: the event ends here.
        let (meta_block, nulls): (&[u8], &[u8]) = if r.is_empty() {
            (&[], &[])
        } else {
            (r.packed_bytes().or_trunc("column metadata")?, r.take(count.div_ceil(8)).or_trunc("null bitmap")?)
        };
        let legacy = meta_block.is_empty() && nulls.is_empty() && count > 0;
        let mut meta_r = Reader::new(meta_block);
        let mut columns = Vec::with_capacity(count);
        for (i, &code) in types.iter().enumerate() {
            let column_type =
                ColumnType::from_code(code).ok_or(ParseError::new(ErrorKind::UnknownColumnType(code)))?;
            let meta = if legacy { 0 } else { read_meta(column_type, &mut meta_r)? };
            let kind = plan(column_type, meta)?;
            columns.push(Column {
                column_type,
                meta,
                nullable: legacy || bit_lsb(nulls, i),
                kind,
                unsigned: None,
                charset: None,
                name: None,
                members: None,
                geometry_type: None,
                visible: None,
                vector_dimensions: None,
            });
        }
        let mut tm = TableMap {
            table_id,
            flags,
            schema: schema.into(),
            table: table.into(),
            columns,
            primary_key: Vec::new(),
            has_optional_metadata: !r.is_empty(),
            legacy,
            plans: Vec::new(),
            json_columns: 0,
            raw: body.into(),
        };
        tm.read_optional(r)?;
        tm.plans = tm.columns.iter().map(|c| Plan::new(c.kind, c.unsigned == Some(true))).collect();
        tm.json_columns = tm.plans.iter().filter(|p| matches!(p.kind, Kind::Json(_))).count();
        Ok(tm)
    }

    /// True if `body` is byte-identical to the event this map was parsed from (cache hit).
    pub(crate) fn same_body(&self, body: &[u8]) -> bool {
        *self.raw == *body
    }

    /// `schema.table` for messages (lossy UTF-8).
    pub fn full_name(&self) -> String {
        format!("{}.{}", String::from_utf8_lossy(&self.schema), String::from_utf8_lossy(&self.table))
    }

    fn read_optional(&mut self, mut r: Reader<'_>) -> Result<()> {
        while let Some(field) = r.u8() {
            let mut v = r.packed_bytes().map(Reader::new).or_trunc("optional metadata")?;
            match field {
                1 => self.read_signedness(&mut v)?,
                2 => self.read_default_charset(&mut v, |k| k.is_character())?,
                3 => self.read_column_charsets(&mut v, |k| k.is_character())?,
                4 => {
                    for c in &mut self.columns {
                        let name = v.packed_bytes().or_trunc("column name")?;
                        c.name = Some(String::from_utf8_lossy(name).into());
                    }
                }
                5 => self.read_members(&mut v, |k| matches!(k, Kind::Set(_)))?,
                6 => self.read_members(&mut v, |k| matches!(k, Kind::Enum(_)))?,
                7 => {
                    for c in self.columns.iter_mut().filter(|c| matches!(c.kind, Kind::Geometry(_))) {
                        c.geometry_type = Some(u32::try_from(v.packed().or_trunc("geometry type")?).map_err(|_| invalid("geometry type"))?);
                    }
                }
                8 => {
                    while !v.is_empty() {
                        let idx = self.column_index(v.packed().or_trunc("primary key")?)?;
                        self.primary_key.push((idx, 0));
                    }
                }
                9 => {
                    while !v.is_empty() {
                        let idx = self.column_index(v.packed().or_trunc("primary key")?)?;
                        let prefix = u32::try_from(v.packed().or_trunc("primary key prefix")?).map_err(|_| invalid("key prefix"))?;
                        self.primary_key.push((idx, prefix));
                    }
                }
                10 => self.read_default_charset(&mut v, Kind::is_enum_or_set)?,
                11 => self.read_column_charsets(&mut v, Kind::is_enum_or_set)?,
                12 => {
                    let bits = v.take_rest();
                    for (i, c) in self.columns.iter_mut().enumerate() {
                        c.visible = Some(bit_msb(bits, i).ok_or(crate::error::truncated("column visibility"))?);
                    }
                }
                13 => {
                    for c in self.columns.iter_mut().filter(|c| matches!(c.kind, Kind::Vector(_))) {
                        c.vector_dimensions = Some(u32::try_from(v.packed().or_trunc("vector dimensions")?).map_err(|_| invalid("vector dimensions"))?);
                    }
                }
                // Unknown metadata from a newer server: its length is known, so skip it.
                _ => {}
            }
        }
        Ok(())
    }

    fn column_index(&self, idx: u64) -> Result<u32> {
        match usize::try_from(idx) {
            Ok(i) if i < self.columns.len() => Ok(i as u32),
            _ => Err(invalid("primary key column index")),
        }
    }

    fn read_signedness(&mut self, v: &mut Reader<'_>) -> Result<()> {
        let bits = v.take_rest();
        for (n, c) in self.columns.iter_mut().filter(|c| c.column_type.is_numeric()).enumerate() {
            c.unsigned = Some(bit_msb(bits, n).ok_or(crate::error::truncated("signedness"))?);
        }
        Ok(())
    }

    fn read_default_charset(&mut self, v: &mut Reader<'_>, applies: impl Fn(Kind) -> bool) -> Result<()> {
        let default = charset_id(v.packed().or_trunc("default charset")?)?;
        let mut overrides = Vec::new();
        while !v.is_empty() {
            let idx = v.packed().or_trunc("charset column")?;
            let cs = charset_id(v.packed().or_trunc("charset")?)?;
            overrides.push((idx, cs));
        }
        for (n, c) in self.columns.iter_mut().filter(|c| applies(c.kind)).enumerate() {
            let cs = overrides.iter().find(|(i, _)| *i == n as u64).map(|(_, cs)| *cs).unwrap_or(default);
            c.charset = Some(cs);
        }
        Ok(())
    }

    fn read_column_charsets(&mut self, v: &mut Reader<'_>, applies: impl Fn(Kind) -> bool) -> Result<()> {
        for c in self.columns.iter_mut().filter(|c| applies(c.kind)) {
            c.charset = Some(charset_id(v.packed().or_trunc("column charset")?)?);
        }
        Ok(())
    }

    fn read_members(&mut self, v: &mut Reader<'_>, applies: impl Fn(Kind) -> bool) -> Result<()> {
        for c in self.columns.iter_mut().filter(|c| applies(c.kind)) {
            let n = v.packed_len().or_trunc("enum/set member count")?;
            let mut members = Vec::with_capacity(n);
            for _ in 0..n {
                members.push(v.packed_bytes().or_trunc("enum/set member")?.into());
            }
            c.members = Some(members);
        }
        Ok(())
    }
}

fn charset_id(v: u64) -> Result<u16> {
    u16::try_from(v).map_err(|_| invalid("charset id"))
}

/// Bit `i` of an LSB-first bitmap (rows images, table-map NULL flags); false when out of range.
pub(crate) fn bit_lsb(bits: &[u8], i: usize) -> bool {
    bits.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// Bit `i` of an MSB-first bitmap (optional metadata); `None` when out of range.
fn bit_msb(bits: &[u8], i: usize) -> Option<bool> {
    bits.get(i / 8).map(|b| b & (0x80 >> (i % 8)) != 0)
}
