//! MySQL packed binary `DECIMAL` (`NEWDECIMAL`, column type 246), as written by the server's
//! `decimal2bin` and read back by `bin2decimal` (`strings/decimal.cc`).
//!
//! # Format
//! A `DECIMAL(precision, scale)` value has `precision - scale` integer digits and `scale`
//! fraction digits. Each part is cut into groups of 9 decimal digits stored as 4-byte big-endian
//! integers; the integer part's *leading* leftover digits and the fraction part's *trailing*
//! leftover digits take `dig2bytes = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]` bytes. Order on the wire:
//! leftover integer group, full integer groups, full fraction groups, leftover fraction group.
//! The top bit of the first byte is flipped (so positive values have it set), and a negative
//! value has every byte inverted.
//!
//! # Invariants
//! - A [`Decimal`] only exists for `1 <= precision <= 65`, `scale <= 30`, `scale <= precision`,
//!   and its raw bytes are exactly [`Decimal::binary_len`] long.
//! - Every digit group of a [`Decimal`] was checked to be below `10^digits`, so every group prints
//!   as exactly its digit count. (The server's own reader accepts a leading integer group up to
//!   `10^(digits+1) - 1`; such bytes are never written by the server and are rejected here.)
//! - Reading and validating never allocates; nothing here uses floating point.
//! - The sign is the sign bit: a "negative zero" (never written by the server, whose decimal
//!   routines normalise `-0` to `0`) prints as `-0.00`, exactly as `mysqlbinlog` would print it.

use std::borrow::Cow;
use std::fmt;

use crate::error::{invalid, Result};
use crate::reader::{OrTruncated, Reader};
use crate::text::Text;

/// Digits per full group of the packed form.
pub const DIG_PER_GROUP: u8 = 9;
/// Largest precision MySQL allows.
const MAX_PRECISION: u8 = 65;
/// Largest scale MySQL allows.
const MAX_SCALE: u8 = 30;

/// Bytes used by a group of `digits` (0..=9) decimal digits in the packed form.
pub const fn dig2bytes(digits: u8) -> usize {
    match digits {
        0 => 0,
        1 | 2 => 1,
        3 | 4 => 2,
        5 | 6 => 3,
        _ => 4,
    }
}

/// `10^d` for `d <= 9`, the bound of a group of `d` digits.
const POW10: [u32; 10] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/// `10^digits` for `digits <= 9` (saturating at `10^9` above).
#[inline]
fn pow10(digits: u8) -> u32 {
    match POW10.get(usize::from(digits)) {
        Some(&v) => v,
        None => 1_000_000_000,
    }
}

/// The group layout of a `DECIMAL(precision, scale)`: four runs of `(group count, digits per
/// group, is fraction)`, in wire order.
fn layout(precision: u8, scale: u8) -> [(u8, u8, bool); 4] {
    let intg = precision.saturating_sub(scale);
    [
        (u8::from(!intg.is_multiple_of(DIG_PER_GROUP)), intg % DIG_PER_GROUP, false),
        (intg / DIG_PER_GROUP, DIG_PER_GROUP, false),
        (scale / DIG_PER_GROUP, DIG_PER_GROUP, true),
        (u8::from(!scale.is_multiple_of(DIG_PER_GROUP)), scale % DIG_PER_GROUP, true),
    ]
}

/// Walks the digit groups of `raw`, calling `f(value, digits, is_fraction)` for each. `missing`
/// is returned if `raw` is shorter than the layout says (impossible for a constructed
/// [`Decimal`], but handled rather than assumed).
fn walk<E>(
    raw: &[u8],
    precision: u8,
    scale: u8,
    missing: E,
    mut f: impl FnMut(u32, u8, bool) -> Result<(), E>,
) -> Result<(), E> {
    // Sign bit set means positive; negative values have all bytes inverted.
    let mask: u8 = match raw.first() {
        Some(b) if b & 0x80 != 0 => 0,
        _ => 0xff,
    };
    let mut r = Reader::new(raw);
    let mut first = true;
    for (count, digits, frac) in layout(precision, scale) {
        let nbytes = dig2bytes(digits);
        for _ in 0..count {
            let Some(bytes) = r.take(nbytes) else {
                return Err(missing);
            };
            let mut v = 0u32;
            for &b in bytes {
                let mut b = b ^ mask;
                if first {
                    b ^= 0x80;
                    first = false;
                }
                v = (v << 8) | u32::from(b);
            }
            f(v, digits, frac)?;
        }
    }
    Ok(())
}

/// The byte and group layout of one `DECIMAL(precision, scale)` declaration, computed once per
/// column (when its table map is read) so that reading a value does no division. The default
/// (all zero) layout belongs to no declaration and is refused by [`Decimal::read_laid_out`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Layout {
    precision: u8,
    scale: u8,
    /// [`Decimal::binary_len`] (at most 30).
    len: u8,
    /// Digits of the leading integer group (0 when the integer digits are a multiple of 9).
    lead: u8,
    /// Full 9-digit groups, integer and fraction together.
    full: u8,
    /// Digits of the trailing fraction group (0 when the scale is a multiple of 9).
    trail: u8,
}

impl Layout {
    /// The layout of `DECIMAL(precision, scale)`, or `None` for a declaration MySQL cannot have.
    pub(crate) fn new(precision: u8, scale: u8) -> Option<Layout> {
        let len = u8::try_from(Decimal::binary_len(precision, scale)?).ok()?;
        let intg = precision - scale;
        Some(Layout {
            precision,
            scale,
            len,
            lead: intg % DIG_PER_GROUP,
            full: intg / DIG_PER_GROUP + scale / DIG_PER_GROUP,
            trail: scale % DIG_PER_GROUP,
        })
    }
}

/// True if every digit group of `raw` (exactly `layout.len` bytes) is below `10^digits`: the
/// hot-path twin of [`walk`] (the same checks, with whole big-endian words for full groups and no
/// per-byte sign handling), run on every decoded value.
#[inline]
fn groups_in_range(raw: &[u8], layout: Layout) -> bool {
    // Negative values have every byte inverted; the first byte's top bit is the (flipped) sign.
    let invert: u32 = match raw.first() {
        Some(b) if b & 0x80 != 0 => 0,
        _ => u32::MAX,
    };
    let mut r = Reader::new(raw);
    // Reads a group of `digits` digits: its bytes big-endian, sign-corrected, then range-checked.
    let mut first = true;
    let mut group = |r: &mut Reader<'_>, digits: u8| -> bool {
        let n = dig2bytes(digits);
        let v = match r.take(n) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            Some(bytes) => bytes.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b)),
            None => return false,
        };
        let bits = 8 * n as u32;
        let width_mask = if bits >= 32 { u32::MAX } else { (1u32 << bits) - 1 };
        let mut v = (v ^ invert) & width_mask;
        if first {
            v ^= 0x80u32.checked_shl(bits.saturating_sub(8)).unwrap_or(0);
            first = false;
        }
        v < pow10(digits)
    };
    if layout.lead > 0 && !group(&mut r, layout.lead) {
        return false;
    }
    for _ in 0..layout.full {
        if !group(&mut r, DIG_PER_GROUP) {
            return false;
        }
    }
    layout.trail == 0 || group(&mut r, layout.trail)
}

/// A packed `DECIMAL` value, borrowed from the event (or owned after [`Decimal::into_owned`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal<'a> {
    raw: Cow<'a, [u8]>,
    precision: u8,
    scale: u8,
}

impl<'a> Decimal<'a> {
    /// Size in bytes of a packed `DECIMAL(precision, scale)`; `None` for a declaration MySQL
    /// cannot have (`precision` 0 or above 65, `scale` above 30 or above `precision`).
    pub fn binary_len(precision: u8, scale: u8) -> Option<usize> {
        if precision == 0 || precision > MAX_PRECISION || scale > MAX_SCALE || scale > precision {
            return None;
        }
        let intg = precision - scale;
        let full = usize::from(intg / DIG_PER_GROUP) + usize::from(scale / DIG_PER_GROUP);
        Some(full * 4 + dig2bytes(intg % DIG_PER_GROUP) + dig2bytes(scale % DIG_PER_GROUP))
    }

    /// Reads exactly [`Decimal::binary_len`] bytes from `r` and checks every digit group.
    ///
    /// # Errors
    /// `Invalid("decimal precision/scale")` for an impossible declaration,
    /// `Truncated("decimal")` if `r` is too short (then `r` is left unchanged),
    /// `Invalid("decimal digits")` if a group holds more digits than it may.
    pub fn read(r: &mut Reader<'a>, precision: u8, scale: u8) -> Result<Decimal<'a>> {
        Self::read_laid_out(r, Layout::new(precision, scale).unwrap_or_default())
    }

    /// [`Decimal::read`] with the declaration's layout computed beforehand (the rows decoder
    /// keeps one per column). The same errors; the default layout is an impossible declaration.
    #[inline]
    pub(crate) fn read_laid_out(r: &mut Reader<'a>, layout: Layout) -> Result<Decimal<'a>> {
        if layout.len == 0 {
            return Err(invalid("decimal precision/scale"));
        }
        let mut probe = *r;
        let raw = probe.take(usize::from(layout.len)).or_trunc("decimal")?;
        if !groups_in_range(raw, layout) {
            return Err(invalid("decimal digits"));
        }
        *r = probe;
        Ok(Decimal { raw: Cow::Borrowed(raw), precision: layout.precision, scale: layout.scale })
    }

    /// Declared precision (total number of digits).
    pub fn precision(&self) -> u8 {
        self.precision
    }

    /// Declared scale (digits after the decimal point).
    pub fn scale(&self) -> u8 {
        self.scale
    }

    /// The packed bytes, exactly as stored.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// True if the sign bit says negative (also for a "negative zero", see the module docs).
    pub fn is_negative(&self) -> bool {
        matches!(self.raw.first(), Some(b) if b & 0x80 == 0)
    }

    /// The unscaled value (`value * 10^scale`) if it fits an `i128` (always for precision <= 38).
    pub fn to_i128(&self) -> Option<i128> {
        let mut acc: i128 = 0;
        walk(&self.raw, self.precision, self.scale, (), |v, digits, _| {
            acc = acc.checked_mul(i128::from(pow10(digits))).and_then(|a| a.checked_add(i128::from(v))).ok_or(())?;
            Ok(())
        })
        .ok()?;
        Some(if self.is_negative() { -acc } else { acc })
    }

    /// Copies the bytes so the value no longer borrows the event.
    pub fn into_owned(self) -> Decimal<'static> {
        Decimal { raw: Cow::Owned(self.raw.into_owned()), precision: self.precision, scale: self.scale }
    }
}

/// Prints the value the way MySQL's `decimal2string` does: optional `-`, the integer part without
/// leading zeros (`0` if there is none), then `.` and exactly `scale` fraction digits when
/// `scale > 0`. Renders into a stack buffer written to the formatter once; no allocation.
impl fmt::Display for Decimal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sign, at most 65 digits and the point: one buffer, one write.
        let mut t = Text::<72>::new();
        if self.is_negative() {
            t.push(b'-');
        }
        let mut int_started = false;
        let mut dot_written = false;
        walk(&self.raw, self.precision, self.scale, fmt::Error, |v, digits, frac| {
            let width = usize::from(digits);
            if frac {
                if !dot_written {
                    if !int_started {
                        t.push(b'0');
                        int_started = true;
                    }
                    t.push(b'.');
                    dot_written = true;
                }
                t.push_num(u64::from(v), width);
            } else if int_started {
                t.push_num(u64::from(v), width);
            } else if v != 0 {
                int_started = true;
                t.push_num(u64::from(v), 0);
            }
            Ok(())
        })?;
        if !int_started {
            t.push(b'0');
        }
        t.write_to(f)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(bytes: &[u8], p: u8, s: u8) -> Decimal<'_> {
        let mut r = Reader::new(bytes);
        let d = Decimal::read(&mut r, p, s).unwrap();
        assert!(r.is_empty(), "read takes exactly binary_len bytes");
        d
    }

    /// Test-only encoder written from the format description: digit strings -> packed bytes.
    fn encode(negative: bool, int_digits: &str, frac_digits: &str, p: u8, s: u8) -> Vec<u8> {
        let intg = usize::from(p - s);
        let scale = usize::from(s);
        assert!(int_digits.len() <= intg && frac_digits.len() <= scale);
        let int_full = format!("{}{}", "0".repeat(intg - int_digits.len()), int_digits);
        let frac_full = format!("{}{}", frac_digits, "0".repeat(scale - frac_digits.len()));
        // Groups as (digit text, byte width).
        let mut groups: Vec<(String, usize)> = Vec::new();
        let lead = intg % 9;
        if lead > 0 {
            groups.push((int_full[..lead].to_string(), [0, 1, 1, 2, 2, 3, 3, 4, 4, 4][lead]));
        }
        for chunk in int_full.as_bytes()[lead..].chunks(9) {
            groups.push((String::from_utf8(chunk.to_vec()).unwrap(), 4));
        }
        for chunk in frac_full.as_bytes().chunks(9) {
            let w = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4][chunk.len()];
            groups.push((String::from_utf8(chunk.to_vec()).unwrap(), w));
        }
        let mut out = Vec::new();
        for (text, width) in groups {
            let v: u32 = text.parse().unwrap();
            out.extend_from_slice(&v.to_be_bytes()[4 - width..]);
        }
        out[0] ^= 0x80;
        if negative {
            for b in &mut out {
                *b = !*b;
            }
        }
        out
    }

    fn canonical(negative: bool, int_digits: &str, frac_digits: &str, s: u8) -> String {
        let int = int_digits.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let frac = format!("{}{}", frac_digits, "0".repeat(usize::from(s) - frac_digits.len()));
        let zero = int == "0" && frac.bytes().all(|b| b == b'0');
        let sign = if negative && !zero { "-" } else { "" };
        if s == 0 {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }

    #[test]
    fn mysql_doc_vector() {
        let bytes = [0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2];
        assert_eq!(Decimal::binary_len(14, 4), Some(7));
        let d = dec(&bytes, 14, 4);
        assert_eq!(d.to_string(), "1234567890.1234");
        assert_eq!(d.to_i128(), Some(12_345_678_901_234));
        assert!(!d.is_negative());
        let neg: Vec<u8> = bytes.iter().map(|b| !b).collect();
        let d = dec(&neg, 14, 4);
        assert_eq!(d.to_string(), "-1234567890.1234");
        assert_eq!(d.to_i128(), Some(-12_345_678_901_234));
        assert!(d.is_negative());
        assert_eq!(encode(false, "1234567890", "1234", 14, 4), bytes);
    }

    #[test]
    fn edge_values() {
        // DECIMAL(12,2) -1234.50
        let b = encode(true, "1234", "50", 12, 2);
        assert_eq!(dec(&b, 12, 2).to_string(), "-1234.50");
        // precision == scale
        let b = encode(false, "", "12345", 5, 5);
        assert_eq!(dec(&b, 5, 5).to_string(), "0.12345");
        let b = encode(true, "", "00001", 5, 5);
        assert_eq!(dec(&b, 5, 5).to_string(), "-0.00001");
        // scale 0
        let b = encode(false, "42", "", 10, 0);
        assert_eq!(dec(&b, 10, 0).to_string(), "42");
        let b = encode(false, "", "", 10, 0);
        assert_eq!(dec(&b, 10, 0).to_string(), "0");
        // zero with fraction
        let b = encode(false, "", "", 10, 3);
        assert_eq!(dec(&b, 10, 3).to_string(), "0.000");
        assert_eq!(dec(&b, 10, 3).to_i128(), Some(0));
        // max DECIMAL(65,30), both signs
        let nines_int = "9".repeat(35);
        let nines_frac = "9".repeat(30);
        let want = format!("{nines_int}.{nines_frac}");
        let b = encode(false, &nines_int, &nines_frac, 65, 30);
        assert_eq!(b.len(), Decimal::binary_len(65, 30).unwrap());
        let d = dec(&b, 65, 30);
        assert_eq!(d.to_string(), want);
        assert_eq!(d.to_i128(), None, "65 digits do not fit i128");
        let b = encode(true, &nines_int, &nines_frac, 65, 30);
        assert_eq!(dec(&b, 65, 30).to_string(), format!("-{want}"));
        // DECIMAL(65,0) and DECIMAL(38,0) boundaries of to_i128
        let b = encode(false, &"9".repeat(38), "", 38, 0);
        assert_eq!(dec(&b, 38, 0).to_i128(), Some("9".repeat(38).parse().unwrap()));
        let b = encode(true, &"9".repeat(38), "", 38, 0);
        assert_eq!(dec(&b, 38, 0).to_i128(), Some(-"9".repeat(38).parse::<i128>().unwrap()));
        // 1-digit groups
        let b = encode(true, "5", "", 1, 0);
        assert_eq!(b, [0x7A]);
        assert_eq!(dec(&b, 1, 0).to_string(), "-5");
        // leading zero group then non-zero: 10 integer digits with a 0 leading group
        let b = encode(false, "123", "", 10, 0);
        assert_eq!(dec(&b, 10, 0).to_string(), "123");
        let b = encode(false, "1000000000", "", 18, 0);
        assert_eq!(dec(&b, 18, 0).to_string(), "1000000000");
    }

    #[test]
    fn negative_zero_prints_like_mysql() {
        // All-zero digits with the sign bit clear: the server's reader keeps the sign.
        let b: Vec<u8> = encode(false, "", "", 5, 2).iter().map(|b| !b).collect();
        let d = dec(&b, 5, 2);
        assert!(d.is_negative());
        assert_eq!(d.to_string(), "-0.00");
        assert_eq!(d.to_i128(), Some(0));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(Decimal::binary_len(0, 0), None);
        assert_eq!(Decimal::binary_len(66, 0), None);
        assert_eq!(Decimal::binary_len(40, 31), None);
        assert_eq!(Decimal::binary_len(5, 6), None);
        assert_eq!(Decimal::binary_len(1, 0), Some(1));
        assert_eq!(Decimal::binary_len(65, 30), Some(30));
        let mut r = Reader::new(&[0x80; 40]);
        assert_eq!(Decimal::read(&mut r, 66, 0).unwrap_err(), invalid("decimal precision/scale"));
        // Truncated: cursor unchanged.
        let mut r = Reader::new(&[0x81, 0x0D]);
        let e = Decimal::read(&mut r, 14, 4).unwrap_err();
        assert!(e.is_truncation());
        assert_eq!(r.len(), 2);
        // A 1-digit group holding 10.
        let mut r = Reader::new(&[0x8A]);
        assert_eq!(Decimal::read(&mut r, 1, 0).unwrap_err(), invalid("decimal digits"));
        // A full group above 999_999_999.
        let mut r = Reader::new(&[0xBB, 0x9A, 0xCA, 0x00]); // 1_000_000_000 with top bit flipped
        assert_eq!(Decimal::read(&mut r, 9, 0).unwrap_err(), invalid("decimal digits"));
        // A trailing fraction group (2 digits, 1 byte) holding 100.
        let mut bytes = encode(false, "1", "", 3, 2);
        *bytes.last_mut().unwrap() = 100;
        let mut r = Reader::new(&bytes);
        assert_eq!(Decimal::read(&mut r, 3, 2).unwrap_err(), invalid("decimal digits"));
    }

    #[test]
    fn into_owned_keeps_value() {
        let bytes = [0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2];
        let owned = dec(&bytes, 14, 4).clone().into_owned();
        assert_eq!(owned.to_string(), "1234567890.1234");
        assert_eq!((owned.precision(), owned.scale(), owned.raw()), (14, 4, &bytes[..]));
        assert_eq!(owned, dec(&bytes, 14, 4));
    }

    fn value_strategy() -> impl Strategy<Value = (u8, u8, bool, String, String)> {
        (1u8..=65).prop_flat_map(|p| (Just(p), 0u8..=p.min(30))).prop_flat_map(|(p, s)| {
            let intg = usize::from(p - s);
            (
                Just(p),
                Just(s),
                any::<bool>(),
                proptest::string::string_regex(&format!("[0-9]{{0,{intg}}}")).unwrap(),
                proptest::string::string_regex(&format!("[0-9]{{0,{s}}}")).unwrap(),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn round_trip((p, s, negative, int_digits, frac_digits) in value_strategy()) {
            // The server never writes a negative zero (see negative_zero_prints_like_mysql).
            let all_zero = int_digits.bytes().chain(frac_digits.bytes()).all(|b| b == b'0');
            let negative = negative && !all_zero;
            let bytes = encode(negative, &int_digits, &frac_digits, p, s);
            prop_assert_eq!(Some(bytes.len()), Decimal::binary_len(p, s));
            let mut r = Reader::new(&bytes);
            let d = Decimal::read(&mut r, p, s).unwrap();
            prop_assert!(r.is_empty());
            let want = canonical(negative, &int_digits, &frac_digits, s);
            prop_assert_eq!(d.to_string(), want.clone());
            // to_i128 agrees with the text whenever it fits.
            let unscaled: String = want.chars().filter(|c| *c != '.').collect();
            match unscaled.parse::<i128>() {
                Ok(v) => prop_assert_eq!(d.to_i128(), Some(v)),
                Err(_) => prop_assert_eq!(d.to_i128(), None),
            }
        }

        #[test]
        fn fast_range_check_agrees_with_walk(
            bytes in proptest::collection::vec(any::<u8>(), 32),
            (p, s) in (1u8..=65).prop_flat_map(|p| (Just(p), 0..=p.min(30))),
        ) {
            // The hot-path check and the reference walk accept exactly the same bytes (random
            // bytes pass for narrow declarations and fail for wide ones: both outcomes occur).
            let len = Decimal::binary_len(p, s).unwrap();
            let raw = &bytes[..len];
            let reference = walk(raw, p, s, (), |v, digits, _| if v < pow10(digits) { Ok(()) } else { Err(()) }).is_ok();
            prop_assert_eq!(groups_in_range(raw, Layout::new(p, s).unwrap()), reference);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40), p in 0u8..70, s in 0u8..35) {
            let mut r = Reader::new(&bytes);
            if let Ok(d) = Decimal::read(&mut r, p, s) {
                let text = d.to_string();
                prop_assert!(!text.is_empty());
                let _ = d.to_i128();
            }
        }
    }
}
