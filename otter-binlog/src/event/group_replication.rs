//! MySQL Group Replication events: TRANSACTION_CONTEXT_EVENT and VIEW_CHANGE_EVENT.
//!
//! They carry certification data, not row changes; the fixed parts are decoded and the variable
//! parts kept as checked, borrowed slices.

use crate::error::{invalid, Result};
use crate::reader::{OrTruncated, Reader};

/// TRANSACTION_CONTEXT_EVENT: the write set of a transaction certified by Group Replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionContextEvent<'a> {
    /// The member that executed the transaction.
    pub server_uuid: &'a [u8],
    /// Session id.
    pub thread_id: u32,
    /// Whether the GTID was given by the session.
    pub gtid_specified: bool,
    /// Encoded GTID set used for conflict detection.
    pub snapshot_version: &'a [u8],
    /// Hashes of the rows written.
    pub write_set: Vec<&'a [u8]>,
    /// Read set items (currently always empty).
    pub read_set: Vec<&'a [u8]>,
}

impl<'a> TransactionContextEvent<'a> {
    pub(crate) fn parse(body: &'a [u8], post_header_len: usize) -> Result<Self> {
        let mut r = Reader::new(body);
        let mut post = r.sub(post_header_len.max(18)).or_trunc("transaction context post-header")?;
        let uuid_len = post.u8().or_trunc("transaction context")?;
        let thread_id = post.u32_le().or_trunc("transaction context")?;
        let gtid_specified = post.u8().or_trunc("transaction context")? != 0;
        let snapshot_len = post.u32_le().or_trunc("transaction context")?;
        let write_items = post.u32_le().or_trunc("transaction context")?;
        let read_items = post.u32_le().or_trunc("transaction context")?;
        let server_uuid = r.take(usize::from(uuid_len)).or_trunc("transaction context uuid")?;
        let snapshot_version = r
            .take(usize::try_from(snapshot_len).map_err(|_| invalid("snapshot length"))?)
            .or_trunc("transaction context snapshot")?;
        let write_set = read_items_list(&mut r, write_items)?;
        let read_set = read_items_list(&mut r, read_items)?;
        Ok(TransactionContextEvent { server_uuid, thread_id, gtid_specified, snapshot_version, write_set, read_set })
    }
}

fn read_items_list<'a>(r: &mut Reader<'a>, count: u32) -> Result<Vec<&'a [u8]>> {
    // Every item needs at least its 2-byte length: never reserve beyond the input.
    let cap = (count as usize).min(r.len() / 2);
    let mut items = Vec::with_capacity(cap);
    for _ in 0..count {
        let len = r.u16_le().or_trunc("write set item")?;
        items.push(r.take(usize::from(len)).or_trunc("write set item")?);
    }
    Ok(items)
}

/// VIEW_CHANGE_EVENT: group membership changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewChangeEvent<'a> {
    /// The new view id (NUL padding removed).
    pub view_id: &'a [u8],
    /// Next certification sequence number.
    pub seq_number: u64,
    /// Number of certification-info entries.
    pub cert_info_count: u32,
    /// The certification info and any later fields, undecoded.
    pub rest: &'a [u8],
}

impl<'a> ViewChangeEvent<'a> {
    pub(crate) fn parse(body: &'a [u8], post_header_len: usize) -> Result<Self> {
        let mut r = Reader::new(body);
        let mut post = r.sub(post_header_len.max(52)).or_trunc("view change post-header")?;
        let raw_id = post.take(40).or_trunc("view id")?;
        let end = raw_id.iter().position(|&b| b == 0).unwrap_or(raw_id.len());
        let view_id = raw_id.get(..end).unwrap_or(raw_id);
        let seq_number = post.u64_le().or_trunc("view change")?;
        let cert_info_count = post.u32_le().or_trunc("view change")?;
        Ok(ViewChangeEvent { view_id, seq_number, cert_info_count, rest: r.take_rest() })
    }
}
