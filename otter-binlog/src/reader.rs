//! `Reader`: the checked cursor every decoder reads through.
//!
//! Invariant: no read goes past the end of the slice. Every method returns `None` (or an error
//! naming the field) instead of panicking; the parser never indexes a slice directly.

use crate::error::{truncated, ParseError};

/// A cursor over a borrowed byte slice. Reads advance it; failed reads leave it unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

macro_rules! le_int {
    ($name:ident, $ty:ty, $n:expr) => {
        #[doc = concat!("Reads a little-endian `", stringify!($ty), "`.")]
        #[inline]
        pub fn $name(&mut self) -> Option<$ty> {
            let (head, rest) = self.buf.split_first_chunk::<$n>()?;
            self.buf = rest;
            Some(<$ty>::from_le_bytes(*head))
        }
    };
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// The bytes not read yet.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Number of bytes not read yet.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when everything was read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    /// Takes all remaining bytes.
    #[inline]
    pub fn take_rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Skips `n` bytes.
    #[inline]
    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    /// Reads one byte.
    #[inline]
    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    /// Looks at the next byte without consuming it.
    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    le_int!(u16_le, u16, 2);
    le_int!(u32_le, u32, 4);
    le_int!(u64_le, u64, 8);
    le_int!(i8_le, i8, 1);
    le_int!(i16_le, i16, 2);
    le_int!(i32_le, i32, 4);
    le_int!(i64_le, i64, 8);

    /// Reads a little-endian unsigned integer of `n` bytes (`n <= 8`).
    #[inline]
    pub fn uint_le(&mut self, n: usize) -> Option<u64> {
        if n > 8 {
            return None;
        }
        let bytes = self.take(n)?;
        let mut v = 0u64;
        for (i, b) in bytes.iter().enumerate() {
            v |= u64::from(*b) << (8 * i);
        }
        Some(v)
    }

    /// Reads a big-endian unsigned integer of `n` bytes (`n <= 8`).
    #[inline]
    pub fn uint_be(&mut self, n: usize) -> Option<u64> {
        if n > 8 {
            return None;
        }
        let bytes = self.take(n)?;
        Some(bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
    }

    /// Reads a 3-byte little-endian unsigned integer.
    #[inline]
    pub fn u24_le(&mut self) -> Option<u32> {
        let b = self.take(3)?;
        let [a, b1, c] = <[u8; 3]>::try_from(b).ok()?;
        Some(u32::from_le_bytes([a, b1, c, 0]))
    }

    /// Reads a 6-byte little-endian unsigned integer (table ids).
    #[inline]
    pub fn u48_le(&mut self) -> Option<u64> {
        self.uint_le(6)
    }

    /// Reads a little-endian `f32`.
    #[inline]
    pub fn f32_le(&mut self) -> Option<f32> {
        self.u32_le().map(f32::from_bits)
    }

    /// Reads a little-endian `f64`.
    #[inline]
    pub fn f64_le(&mut self) -> Option<f64> {
        self.u64_le().map(f64::from_bits)
    }

    /// Reads a MySQL length-encoded ("packed") integer: 1, 3, 4 or 9 bytes.
    /// `0xfb` (NULL marker) and `0xff` are rejected.
    #[inline]
    pub fn packed(&mut self) -> Option<u64> {
        let mut r = *self;
        let v = match r.u8()? {
            b @ 0..=250 => u64::from(b),
            252 => u64::from(r.u16_le()?),
            253 => u64::from(r.u24_le()?),
            254 => r.u64_le()?,
            _ => return None,
        };
        *self = r;
        Some(v)
    }

    /// Reads a packed integer and checks it fits `usize` and the remaining input.
    #[inline]
    pub fn packed_len(&mut self) -> Option<usize> {
        let mut r = *self;
        let n = usize::try_from(r.packed()?).ok()?;
        if n > r.len() {
            return None;
        }
        *self = r;
        Some(n)
    }

    /// Reads a packed length, then that many bytes.
    #[inline]
    pub fn packed_bytes(&mut self) -> Option<&'a [u8]> {
        let mut r = *self;
        let n = r.packed_len()?;
        let b = r.take(n)?;
        *self = r;
        Some(b)
    }

    /// Reads a 1-byte length, then that many bytes.
    #[inline]
    pub fn u8_bytes(&mut self) -> Option<&'a [u8]> {
        let mut r = *self;
        let n = r.u8()?;
        let b = r.take(usize::from(n))?;
        *self = r;
        Some(b)
    }

    /// Reads bytes up to a NUL byte and consumes the NUL.
    #[inline]
    pub fn cstr(&mut self) -> Option<&'a [u8]> {
        let end = self.buf.iter().position(|&b| b == 0)?;
        let s = self.take(end)?;
        self.skip(1)?;
        Some(s)
    }

    /// Returns a reader over the next `n` bytes and advances past them.
    #[inline]
    pub fn sub(&mut self, n: usize) -> Option<Reader<'a>> {
        self.take(n).map(Reader::new)
    }
}

/// Converts `Option` results of [`Reader`] calls into [`ParseError`]s naming the field.
pub(crate) trait OrTruncated<T> {
    /// `None` becomes `Truncated(what)`.
    fn or_trunc(self, what: &'static str) -> Result<T, ParseError>;
}

impl<T> OrTruncated<T> for Option<T> {
    #[inline]
    fn or_trunc(self, what: &'static str) -> Result<T, ParseError> {
        self.ok_or(truncated(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_ints() {
        assert_eq!(Reader::new(&[250]).packed(), Some(250));
        assert_eq!(Reader::new(&[252, 1, 2]).packed(), Some(0x0201));
        assert_eq!(Reader::new(&[253, 1, 2, 3]).packed(), Some(0x030201));
        assert_eq!(Reader::new(&[254, 1, 0, 0, 0, 0, 0, 0, 1]).packed(), Some(0x0100_0000_0000_0001));
        assert_eq!(Reader::new(&[251]).packed(), None);
        assert_eq!(Reader::new(&[252, 1]).packed(), None);
        let mut r = Reader::new(&[252, 1]);
        assert_eq!(r.packed(), None);
        assert_eq!(r.len(), 2, "a failed read leaves the cursor unchanged");
    }

    #[test]
    fn bounded_reads() {
        let mut r = Reader::new(b"ab\0cd");
        assert_eq!(r.cstr(), Some(&b"ab"[..]));
        assert_eq!(r.take(3), None);
        assert_eq!(r.uint_be(2), Some(0x6364));
        assert!(r.is_empty());
        assert_eq!(Reader::new(&[3, 1, 2]).packed_len(), None);
        assert_eq!(Reader::new(&[1, 2, 3, 4, 5, 6]).u48_le(), Some(0x060504030201));
    }
}
