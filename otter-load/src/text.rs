//! Text of temporal values without `core::fmt` (the apply path formats one per temporal column
//! of every row).
//!
//! Invariant: each function writes exactly what the value's `Display` implementation writes
//! (`YYYY-MM-DD`, `[-]HH:MM:SS[.f]`, `YYYY-MM-DD HH:MM:SS[.f]`, the fraction truncated to the
//! column's digits); unit-tested against `Display`.

use otter_binlog::temporal::{Date, DateTime, Time};

/// Room for the longest text written here.
pub type Buf = [u8; 40];

struct W<'a> {
    buf: &'a mut Buf,
    len: usize,
}

impl W<'_> {
    fn byte(&mut self, b: u8) {
        if let Some(x) = self.buf.get_mut(self.len) {
            *x = b;
            self.len += 1;
        }
    }

    /// `v` zero-padded to `width` digits (more digits when it needs them, as `{:0width$}`).
    fn num(&mut self, v: u32, width: usize) {
        let mut tmp = [0u8; 10];
        let mut n = 0;
        let mut x = v;
        loop {
            if let Some(t) = tmp.get_mut(n) {
                *t = b'0' + (x % 10) as u8;
            }
            n += 1;
            x /= 10;
            if x == 0 {
                break;
            }
        }
        for _ in n..width {
            self.byte(b'0');
        }
        for i in (0..n).rev() {
            self.byte(tmp.get(i).copied().unwrap_or(b'0'));
        }
    }

    fn frac(&mut self, micros: u32, fsp: u8) {
        if fsp == 0 {
            return;
        }
        let fsp = fsp.min(6);
        self.byte(b'.');
        self.num(micros / 10u32.pow(u32::from(6 - fsp)), usize::from(fsp));
    }
}

/// Writes into `buf`, returns the written bytes.
fn with(buf: &mut Buf, f: impl FnOnce(&mut W<'_>)) -> &[u8] {
    let mut w = W { buf, len: 0 };
    f(&mut w);
    let len = w.len;
    buf.get(..len).unwrap_or_default()
}

/// `YYYY-MM-DD`.
pub fn date<'b>(d: &Date, buf: &'b mut Buf) -> &'b [u8] {
    with(buf, |w| {
        w.num(u32::from(d.year), 4);
        w.byte(b'-');
        w.num(u32::from(d.month), 2);
        w.byte(b'-');
        w.num(u32::from(d.day), 2);
    })
}

/// `[-]HH:MM:SS[.f]`.
pub fn time<'b>(t: &Time, buf: &'b mut Buf) -> &'b [u8] {
    with(buf, |w| {
        if t.negative {
            w.byte(b'-');
        }
        w.num(u32::from(t.hour), 2);
        w.byte(b':');
        w.num(u32::from(t.minute), 2);
        w.byte(b':');
        w.num(u32::from(t.second), 2);
        w.frac(t.micros, t.fsp);
    })
}

/// `YYYY-MM-DD HH:MM:SS[.f]`.
pub fn datetime<'b>(t: &DateTime, buf: &'b mut Buf) -> &'b [u8] {
    with(buf, |w| {
        w.num(u32::from(t.year), 4);
        w.byte(b'-');
        w.num(u32::from(t.month), 2);
        w.byte(b'-');
        w.num(u32::from(t.day), 2);
        w.byte(b' ');
        w.num(u32::from(t.hour), 2);
        w.byte(b':');
        w.num(u32::from(t.minute), 2);
        w.byte(b':');
        w.num(u32::from(t.second), 2);
        w.frac(t.micros, t.fsp);
    })
}

/// The bytes as text (they are ASCII).
pub fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_as_display() {
        let mut buf = [0u8; 40];
        for (year, month, day) in [(0, 0, 0), (1, 2, 3), (2024, 2, 29), (9999, 12, 31), (999, 1, 10)] {
            let d = Date { year, month, day };
            assert_eq!(ascii(date(&d, &mut buf)), d.to_string());
            for (hour, minute, second, micros, fsp) in [(0, 0, 0, 0, 0), (23, 59, 59, 999_999, 6), (12, 3, 4, 500_000, 1), (1, 2, 3, 120, 3)] {
                let t = DateTime { year, month, day, hour, minute, second, micros, fsp };
                assert_eq!(ascii(datetime(&t, &mut buf)), t.to_string());
            }
        }
        for (negative, hour, minute, second, micros, fsp) in
            [(false, 0, 0, 0, 0, 0), (true, 838, 59, 59, 0, 0), (true, 12, 34, 56, 789_000, 3), (false, 100, 0, 1, 1, 6), (false, 1, 1, 1, 999_999, 2)]
        {
            let t = Time { negative, hour, minute, second, micros, fsp };
            assert_eq!(ascii(time(&t, &mut buf)), t.to_string());
        }
    }
}
