//! DECIMAL values in the portable form: the exact text MySQL prints, with the declaration.
//!
//! Invariants: the text of a value is [`Decimal`]'s `Display` (MySQL's `decimal2string`: optional
//! `-`, the integer part without leading zeros or `0`, then `.` and exactly `scale` digits when
//! `scale > 0`), which maps one-to-one to the packed binlog bytes of a `DECIMAL(precision,
//! scale)`; reading packs the text and accepts it only when the packed value, read back through
//! the binlog decoder, prints as the same text — so only canonical text is accepted and the
//! packed bytes are exactly the captured ones (a "negative zero" `-0.00` included).

use otter_binlog::decimal::Decimal;
use otter_binlog::Reader;

use crate::error::{Error, ErrorKind, Result};

/// Digits per full group of the packed form.
const GROUP: usize = otter_binlog::decimal::DIG_PER_GROUP as usize;

/// Bytes taken by a group of `digits` (0..=9) digits (the binlog decoder's rule).
fn group_bytes(digits: usize) -> usize {
    otter_binlog::decimal::dig2bytes(u8::try_from(digits).unwrap_or(u8::MAX))
}

/// The canonical text of `d` (see the module invariants).
pub(super) fn to_text(d: &Decimal<'_>) -> String {
    // `Display` of a constructed Decimal cannot fail: its bytes always match its declaration.
    d.to_string()
}

/// Packs the canonical `text` of a `DECIMAL(precision, scale)` value.
///
/// # Errors
/// [`ErrorKind::Parse`] when the declaration is impossible or the text is not the canonical text
/// of a value of that declaration.
pub(crate) fn from_text(text: &str, precision: u8, scale: u8) -> Result<Decimal<'static>> {
    let bad = |why: &str| {
        Error::new(ErrorKind::Parse, format!("DECIMAL({precision},{scale}) value {text:?}: {why}"))
    };
    let len = Decimal::binary_len(precision, scale).ok_or_else(|| bad("impossible declaration"))?;
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) || int_part.is_empty() {
        return Err(bad("not a decimal number"));
    }
    let int_digits = usize::from(precision - scale);
    let int_part = int_part.trim_start_matches('0');
    if int_part.len() > int_digits || frac_part.len() > usize::from(scale) {
        return Err(bad("more digits than the declaration holds"));
    }
    // All digits, the integer part left-padded and the fraction right-padded to the declaration.
    let mut all = Vec::with_capacity(usize::from(precision));
    all.resize(int_digits - int_part.len(), 0u8);
    all.extend(int_part.bytes().map(|b| b - b'0'));
    all.extend(frac_part.bytes().map(|b| b - b'0'));
    all.resize(usize::from(precision), 0u8);
    let (int_all, frac_all) = all.split_at(int_digits);
    // Wire order: leading integer group, full integer groups, full fraction groups, trailing
    // fraction group — the integer part grouped from its end, the fraction from its start.
    let lead = int_digits % GROUP;
    let (lead_digits, int_full) = int_all.split_at(lead);
    let mut groups: Vec<&[u8]> = Vec::with_capacity(usize::from(precision) / GROUP + 2);
    if !lead_digits.is_empty() {
        groups.push(lead_digits);
    }
    groups.extend(int_full.chunks(GROUP));
    groups.extend(frac_all.chunks(GROUP));
    let mut raw = Vec::with_capacity(len);
    for g in groups {
        let v = g.iter().fold(0u32, |v, &d| v * 10 + u32::from(d));
        let width = group_bytes(g.len());
        raw.extend_from_slice(v.to_be_bytes().get(4 - width..).unwrap_or_default());
    }
    if let Some(first) = raw.first_mut() {
        *first ^= 0x80;
    }
    if negative {
        raw.iter_mut().for_each(|b| *b = !*b);
    }
    let mut r = Reader::new(&raw);
    let d = Decimal::read(&mut r, precision, scale).map_err(|e| bad(&format!("does not pack ({e})")))?;
    if !r.is_empty() || to_text(&d) != text {
        return Err(bad("not in canonical form (MySQL's own notation)"));
    }
    Ok(d.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_like_the_server() {
        // The example of MySQL's decimal2bin documentation: 1234567890.1234 as DECIMAL(14,4).
        let d = from_text("1234567890.1234", 14, 4).unwrap();
        assert_eq!(d.raw(), [0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2]);
        let n = from_text("-1234567890.1234", 14, 4).unwrap();
        assert_eq!(n.raw(), [0x7E, 0xF2, 0x04, 0xC7, 0x2D, 0xFB, 0x2D]);
        assert_eq!(to_text(&n), "-1234567890.1234");
    }

    #[test]
    fn extremes_and_zeros() {
        let max = format!("{}.{}", "9".repeat(35), "9".repeat(30));
        for text in [max.clone(), format!("-{max}"), "0.000000000000000000000000000000".into()] {
            assert_eq!(to_text(&from_text(&text, 65, 30).unwrap()), text);
        }
        assert_eq!(to_text(&from_text("-0.00", 5, 2).unwrap()), "-0.00");
        assert!(from_text("-0.00", 5, 2).unwrap().is_negative());
        assert_eq!(to_text(&from_text("0.5", 1, 1).unwrap()), "0.5");
        assert_eq!(to_text(&from_text("123", 3, 0).unwrap()), "123");
    }

    #[test]
    fn refuses_what_is_not_canonical() {
        for (text, p, s) in [
            ("1.5", 5, 2),     // too few fraction digits
            ("01.50", 5, 2),   // leading zero
            ("+1.50", 5, 2),   // explicit plus
            ("1000.00", 5, 2), // too many integer digits
            ("1.505", 5, 2),   // too many fraction digits
            ("1e3", 5, 0),
            ("", 5, 0),
            ("-", 5, 0),
            (".50", 5, 2),
            ("1.00", 0, 0),  // impossible declaration
            ("1.00", 66, 2), // impossible declaration
            ("1", 5, 6),     // scale above precision
            ("٣", 5, 0),     // a non-ASCII digit
        ] {
            let e = from_text(text, p, s).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Parse, "{text}");
            assert!(e.message().contains(&format!("DECIMAL({p},{s})")), "{e}");
        }
    }
}
