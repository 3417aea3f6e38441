//! Shared helpers of the fuzz targets: small limits, and the framing of synthetic events.
use otter_binlog::Limits;

/// Limits small enough that hostile sizes fail fast instead of allocating.
pub fn limits() -> Limits {
    Limits { max_event_size: 1 << 22, max_decompressed: 1 << 22 }
}

/// Wraps `body` in a 19-byte v4 event header of type `type_code` (no checksum).
pub fn frame(type_code: u8, body: &[u8]) -> Vec<u8> {
    let len = (19 + body.len()) as u32;
    let mut f = Vec::with_capacity(len as usize);
    f.extend_from_slice(&0u32.to_le_bytes());
    f.push(type_code);
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&len.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&0u16.to_le_bytes());
    f.extend_from_slice(body);
    f
}

/// Splits a `decode_rows` input: `[rows type selector][table map length: u16 LE][table map body][rows body]`.
pub fn split_rows_input(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&sel, rest) = data.split_first()?;
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let len = u16::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return None;
    }
    let (tm, rows) = rest.split_at(len);
    Some((sel, tm, rows))
}

/// The rows event type codes a `decode_rows` selector picks from.
pub const ROWS_TYPES: [u8; 16] = [20, 21, 22, 23, 24, 25, 30, 31, 32, 39, 166, 167, 168, 169, 170, 171];
