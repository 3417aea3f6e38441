//! TRANSACTION_PAYLOAD_EVENT (MySQL 8.0.20+ `binlog_transaction_compression`): a whole transaction's
//! events compressed with zstd into one event.
//!
//! The body is a list of (type, length, value) fields — all MySQL packed integers — ending with
//! type 0, then the payload. Decompressed, the payload is a sequence of ordinary events *without*
//! checksums; parse them with [`crate::Parser::parse_inner`] (the file reader does this for you).
//! Invariant: decompression is bounded by [`Limits::max_decompressed`] and by the declared size.

use crate::compress::{zstd_uncompress, Limits};
use crate::error::{invalid, ErrorKind, ParseError, Result};
use crate::reader::{OrTruncated, Reader};

/// Compression algorithm of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadCompression {
    /// zstd (type 0).
    Zstd,
    /// Stored uncompressed (type 255).
    None,
}

/// A TRANSACTION_PAYLOAD_EVENT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadEvent<'a> {
    /// The compression algorithm.
    pub compression: PayloadCompression,
    /// Declared size of the decompressed events.
    pub uncompressed_size: Option<u64>,
    /// The compressed payload.
    pub payload: &'a [u8],
}

impl<'a> PayloadEvent<'a> {
    /// Parses a TRANSACTION_PAYLOAD body (header and checksum stripped).
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body);
        let mut compression = None;
        let mut uncompressed_size = None;
        let mut payload_size = None;
        loop {
            let field = r.packed().or_trunc("payload header")?;
            if field == 0 {
                break;
            }
            let mut value = r.packed_bytes().map(Reader::new).or_trunc("payload header field")?;
            match field {
                1 => payload_size = Some(value.packed().or_trunc("payload size")?),
                2 => {
                    compression = Some(match value.packed().or_trunc("payload compression")? {
                        0 => PayloadCompression::Zstd,
                        255 => PayloadCompression::None,
                        _ => return Err(ParseError::new(ErrorKind::Unsupported("payload compression type"))),
                    })
                }
                3 => uncompressed_size = Some(value.packed().or_trunc("payload uncompressed size")?),
                _ => {}
            }
        }
        let payload = match payload_size {
            Some(n) => r.take(usize::try_from(n).map_err(|_| invalid("payload size"))?).or_trunc("payload")?,
            None => r.take_rest(),
        };
        Ok(PayloadEvent {
            compression: compression.ok_or(invalid("payload without compression type"))?,
            uncompressed_size,
            payload,
        })
    }

    /// Decompresses the payload: the inner events, back to back, without checksums.
    pub fn decompress(&self, limits: &Limits) -> Result<Vec<u8>> {
        let limit = match self.uncompressed_size {
            Some(n) if n > limits.max_decompressed as u64 => {
                return Err(ParseError::new(ErrorKind::TooLarge { size: n, limit: limits.max_decompressed as u64 }))
            }
            Some(n) => n as usize,
            None => limits.max_decompressed,
        };
        let out = match self.compression {
            PayloadCompression::None => self.payload.to_vec(),
            PayloadCompression::Zstd => zstd_uncompress(self.payload, Some(limit), limit)?,
        };
        if self.uncompressed_size.is_some_and(|n| n != out.len() as u64) {
            return Err(ParseError::new(ErrorKind::Decompress("zstd payload (size differs from header)")));
        }
        Ok(out)
    }
}
