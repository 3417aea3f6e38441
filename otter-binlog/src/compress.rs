//! Bounded decompression: MariaDB's zlib format (compressed QUERY/ROWS events and compressed
//! columns) and MySQL's zstd TRANSACTION_PAYLOAD.
//!
//! Invariant: output never exceeds the configured limit; buffers grow with the data actually
//! produced, never with a size the input merely declares, so a lying header costs nothing.

use std::io::Read;

use crate::error::{invalid, ErrorKind, ParseError, Result};
use crate::reader::{OrTruncated, Reader};

/// Size limits that keep hostile or corrupt input from exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest event accepted (default 1 GiB + 64 KiB, above MySQL's 1 GiB `max_allowed_packet`).
    pub max_event_size: usize,
    /// Largest decompressed payload or rows body (default 1 GiB).
    pub max_decompressed: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_event_size: (1 << 30) + (64 << 10), max_decompressed: 1 << 30 }
    }
}

/// Inflates MariaDB's compressed format: a header byte `0x80 | n` (n = 1..=4 length bytes), the
/// uncompressed length big-endian in `n` bytes, then a zlib stream of exactly that length.
pub(crate) fn mariadb_uncompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut r = Reader::new(data);
    let head = r.u8().or_trunc("compressed header")?;
    if head & 0xe0 != 0x80 {
        return Err(invalid("compressed header"));
    }
    let lenlen = usize::from(head & 0x07);
    if !(1..=4).contains(&lenlen) {
        return Err(invalid("compressed length size"));
    }
    let declared = r.uint_be(lenlen).or_trunc("compressed length")?;
    let declared = usize::try_from(declared).map_err(|_| invalid("compressed length"))?;
    if declared > limit {
        return Err(ParseError::new(ErrorKind::TooLarge { size: declared as u64, limit: limit as u64 }));
    }
    let out = inflate(flate2::read::ZlibDecoder::new(r.rest()), declared, r.len(), limit, "zlib data")?;
    if out.len() != declared {
        return Err(ParseError::new(ErrorKind::Decompress("zlib data (length differs from header)")));
    }
    Ok(out)
}

/// Inflates a zstd frame of at most `limit` bytes.
pub(crate) fn zstd_uncompress(data: &[u8], declared: Option<usize>, limit: usize) -> Result<Vec<u8>> {
    let decoder = zstd::stream::read::Decoder::with_buffer(data)
        .map_err(|_| ParseError::new(ErrorKind::Decompress("zstd payload")))?;
    inflate(decoder, declared.unwrap_or(0), data.len(), limit, "zstd payload")
}

/// Reads a decompressor to the end, refusing to produce more than `limit` bytes.
fn inflate(mut src: impl Read, declared: usize, input_len: usize, limit: usize, what: &'static str) -> Result<Vec<u8>> {
    // Deflate and zstd expand at most ~1000x; never reserve more than the input could produce.
    let reserve = declared.min(input_len.saturating_mul(1032).saturating_add(64)).min(limit);
    let mut out = Vec::with_capacity(reserve);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = src.read(&mut chunk).map_err(|_| ParseError::new(ErrorKind::Decompress(what)))?;
        if n == 0 {
            return Ok(out);
        }
        let total = out.len().saturating_add(n);
        if total > limit {
            return Err(ParseError::new(ErrorKind::TooLarge { size: total as u64, limit: limit as u64 }));
        }
        out.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mariadb_compress(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).unwrap();
        let body = z.finish().unwrap();
        let mut out = vec![0x80 | 4];
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn zlib_round_trip_and_limits() {
        let data = b"INSERT INTO t VALUES (1), (2), (3)".repeat(50);
        let c = mariadb_compress(&data);
        assert_eq!(mariadb_uncompress(&c, 1 << 20).unwrap(), data);
        assert!(matches!(mariadb_uncompress(&c, 100).unwrap_err().kind(), ErrorKind::TooLarge { .. }));
        let mut lying = c.clone();
        lying[4] ^= 1; // declared length off by one
        assert!(mariadb_uncompress(&lying, 1 << 20).is_err());
        assert!(mariadb_uncompress(&c[..c.len() - 3], 1 << 20).is_err());
        assert!(mariadb_uncompress(&[0x00, 1, 2], 1 << 20).is_err());
    }

    #[test]
    fn zstd_limits() {
        let data = vec![7u8; 100_000];
        let c = zstd::stream::encode_all(&data[..], 3).unwrap();
        assert_eq!(zstd_uncompress(&c, Some(data.len()), 1 << 20).unwrap(), data);
        assert!(zstd_uncompress(&c, None, 1000).is_err());
        assert!(zstd_uncompress(&c[..c.len() / 2], None, 1 << 20).is_err());
    }
}
