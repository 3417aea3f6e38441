//! `Text`: a fixed-capacity ASCII buffer for rendering numbers (DECIMAL digits, dates and times)
//! without `core::fmt`'s width and padding machinery, written to a formatter in one call.
//!
//! Invariants: only ASCII bytes are ever stored, so the contents are always valid UTF-8; a push
//! past the capacity is dropped and remembered ([`Text::as_str`] then reports an error) rather
//! than panicking. Callers size the buffer for the longest text they can produce.

use std::fmt;

/// A stack buffer of up to `N` ASCII bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> Text<N> {
    /// An empty buffer.
    pub(crate) fn new() -> Self {
        Text { buf: [0; N], len: 0, overflow: false }
    }

    /// Appends one ASCII byte.
    #[inline]
    pub(crate) fn push(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) if b.is_ascii() => {
                *slot = b;
                self.len += 1;
            }
            _ => self.overflow = true,
        }
    }

    /// Appends `v` in decimal with at least `width` digits (zero-padded on the left).
    #[inline]
    pub(crate) fn push_num(&mut self, v: u64, width: usize) {
        let mut digits = [b'0'; 20];
        let mut n = 0;
        let mut rest = v;
        loop {
            if let Some(d) = digits.get_mut(n) {
                *d = b'0' + (rest % 10) as u8;
            }
            n += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        for _ in n..width {
            self.push(b'0');
        }
        for i in (0..n).rev() {
            self.push(digits.get(i).copied().unwrap_or(b'0'));
        }
    }

    /// The bytes so far (ASCII; empty after an overflow), without the UTF-8 check of
    /// [`Text::as_str`].
    pub(crate) fn as_bytes(&self) -> &[u8] {
        if self.overflow {
            return &[];
        }
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// The text so far.
    pub(crate) fn as_str(&self) -> Result<&str, fmt::Error> {
        if self.overflow {
            return Err(fmt::Error);
        }
        std::str::from_utf8(self.buf.get(..self.len).ok_or(fmt::Error)?).map_err(|_| fmt::Error)
    }

    /// Writes the text to `f` (an error if anything was dropped).
    pub(crate) fn write_to(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_padding() {
        let mut t = Text::<32>::new();
        t.push_num(7, 2);
        t.push(b':');
        t.push_num(0, 0);
        t.push(b':');
        t.push_num(u64::MAX, 3);
        t.push(b'.');
        t.push_num(42, 6);
        assert_eq!(t.as_str().unwrap(), "07:0:18446744073709551615.000042");
        assert_eq!(t.as_bytes(), b"07:0:18446744073709551615.000042");
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let mut t = Text::<3>::new();
        t.push_num(12345, 0);
        assert!(t.as_str().is_err());
        assert!(t.as_bytes().is_empty());
        let mut t = Text::<3>::new();
        t.push(0xff);
        assert!(t.as_str().is_err());
    }
}
