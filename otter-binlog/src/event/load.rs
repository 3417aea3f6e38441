//! The LOAD DATA family of statement-format events: LOAD (MySQL 3.23–4.x), NEW_LOAD, CREATE_FILE,
//! APPEND_BLOCK, EXEC_LOAD, DELETE_FILE (4.x/5.0) and BEGIN_LOAD_QUERY / EXECUTE_LOAD_QUERY (5.0+).
//!
//! These carry statements and file blocks, never row images; they are decoded so that old binlogs
//! and statement-format streams parse to their end. Invariant: every length is checked against
//! the body before use.

use crate::compress::Limits;
use crate::error::{invalid, Result};
use crate::event::query::QueryEvent;
use crate::reader::{OrTruncated, Reader};

/// LOAD_EVENT / NEW_LOAD_EVENT: `LOAD DATA INFILE` (the file contents travel in other events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadEvent<'a> {
    /// Session id.
    pub thread_id: u32,
    /// Seconds the statement took.
    pub exec_time: u32,
    /// `IGNORE n LINES`.
    pub skip_lines: u32,
    /// Field terminator, enclosure, line terminator, line start, escape.
    pub separators: [&'a [u8]; 5],
    /// Option flags.
    pub opt_flags: u8,
    /// Column names of the column list, if any.
    pub fields: Vec<&'a [u8]>,
    /// Target table.
    pub table: &'a [u8],
    /// Default database.
    pub schema: &'a [u8],
    /// File name on the primary.
    pub file_name: &'a [u8],
}

impl<'a> LoadEvent<'a> {
    /// `new_format` is false only for LOAD_EVENT (single-character separators).
    pub(crate) fn parse(body: &'a [u8], post_header_len: usize, new_format: bool) -> Result<Self> {
        let mut r = Reader::new(body);
        let mut post = r.sub(post_header_len).or_trunc("load post-header")?;
        let thread_id = post.u32_le().or_trunc("load header")?;
        let exec_time = post.u32_le().or_trunc("load header")?;
        let skip_lines = post.u32_le().or_trunc("load header")?;
        let table_len = post.u8().or_trunc("load header")?;
        let schema_len = post.u8().or_trunc("load header")?;
        let num_fields = post.u32_le().or_trunc("load header")?;
        Self::parse_rest(r, [thread_id, exec_time, skip_lines], table_len, schema_len, num_fields, new_format)
    }

    fn parse_rest(
        mut r: Reader<'a>,
        [thread_id, exec_time, skip_lines]: [u32; 3],
        table_len: u8,
        schema_len: u8,
        num_fields: u32,
        new_format: bool,
    ) -> Result<Self> {
        let mut separators: [&'a [u8]; 5] = [&[]; 5];
        let opt_flags;
        if new_format {
            for s in &mut separators {
                *s = r.u8_bytes().or_trunc("load separators")?;
            }
            opt_flags = r.u8().or_trunc("load flags")?;
        } else {
            for s in &mut separators {
                *s = r.take(1).or_trunc("load separators")?;
            }
            opt_flags = r.u8().or_trunc("load flags")?;
            r.skip(1).or_trunc("load empty flags")?;
        }
        let n = usize::try_from(num_fields).map_err(|_| invalid("load field count"))?;
        let lens = r.take(n).or_trunc("load field lengths")?;
        let mut fields = Vec::with_capacity(n);
        for &len in lens {
            let name = r.take(usize::from(len)).or_trunc("load field name")?;
            r.skip(1).or_trunc("load field name")?;
            fields.push(name);
        }
        let table = r.take(usize::from(table_len)).or_trunc("load table")?;
        r.skip(1).or_trunc("load table")?;
        let schema = r.take(usize::from(schema_len)).or_trunc("load schema")?;
        r.skip(1).or_trunc("load schema")?;
        let rest = r.take_rest();
        let file_name = rest.split(|&b| b == 0).next().unwrap_or(rest);
        Ok(LoadEvent { thread_id, exec_time, skip_lines, separators, opt_flags, fields, table, schema, file_name })
    }
}

/// CREATE_FILE_EVENT: a LOAD DATA statement plus the first block of its file (4.x/5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateFileEvent<'a> {
    /// Session id.
    pub thread_id: u32,
    /// The id that later APPEND_BLOCK / EXEC_LOAD events refer to.
    pub file_id: u32,
    /// The LOAD description and the first data block, undecoded.
    pub rest: &'a [u8],
}

impl<'a> CreateFileEvent<'a> {
    pub(crate) fn parse(body: &'a [u8], load_header_len: usize, post_header_len: usize) -> Result<Self> {
        let mut r = Reader::new(body);
        let mut load = r.sub(load_header_len).or_trunc("create file load header")?;
        let thread_id = load.u32_le().or_trunc("create file")?;
        let mut post = r.sub(post_header_len).or_trunc("create file post-header")?;
        let file_id = post.u32_le().or_trunc("create file id")?;
        Ok(CreateFileEvent { thread_id, file_id, rest: r.take_rest() })
    }
}

/// APPEND_BLOCK_EVENT, BEGIN_LOAD_QUERY_EVENT (a block of a LOAD DATA file), EXEC_LOAD_EVENT and
/// DELETE_FILE_EVENT (no data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileBlockEvent<'a> {
    /// The file the block belongs to.
    pub file_id: u32,
    /// The data (empty for EXEC_LOAD and DELETE_FILE).
    pub data: &'a [u8],
}

impl<'a> FileBlockEvent<'a> {
    pub(crate) fn parse(body: &'a [u8], post_header_len: usize) -> Result<Self> {
        let mut r = Reader::new(body);
        let mut post = r.sub(post_header_len.max(4)).or_trunc("file block post-header")?;
        let file_id = post.u32_le().or_trunc("file id")?;
        Ok(FileBlockEvent { file_id, data: r.take_rest() })
    }
}

/// EXECUTE_LOAD_QUERY_EVENT: the `LOAD DATA` statement that consumes a file sent in blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecuteLoadQueryEvent<'a> {
    /// The statement (with the original file name at `fn_pos_start..fn_pos_end`).
    pub query: QueryEvent<'a>,
    /// The file id of the blocks.
    pub file_id: u32,
    /// Start of the file name in the statement.
    pub fn_pos_start: u32,
    /// End of the file name in the statement.
    pub fn_pos_end: u32,
    /// 0 error, 1 ignore, 2 replace.
    pub dup_handling: u8,
}

impl<'a> ExecuteLoadQueryEvent<'a> {
    pub(crate) fn parse(body: &'a [u8], post_header_len: usize, limits: &Limits) -> Result<Self> {
        let query = QueryEvent::parse(body, post_header_len, false, limits)?;
        let mut r = Reader::new(body);
        r.skip(13).or_trunc("execute load query post-header")?;
        let file_id = r.u32_le().or_trunc("execute load query")?;
        let fn_pos_start = r.u32_le().or_trunc("execute load query")?;
        let fn_pos_end = r.u32_le().or_trunc("execute load query")?;
        let dup_handling = r.u8().or_trunc("execute load query")?;
        Ok(ExecuteLoadQueryEvent { query, file_id, fn_pos_start, fn_pos_end, dup_handling })
    }
}
