//! MySQL binary JSON (the storage format of `JSON` columns, `sql-common/json_binary.cc`) to JSON
//! text, formatted the way the server's `Json_wrapper::to_string` (what `CAST(j AS CHAR)` and
//! `JSON_EXTRACT` show) formats it.
//!
//! # Format
//! A document is a type byte and a value. Types: `0x00`/`0x01` small/large object, `0x02`/`0x03`
//! small/large array, `0x04` literal (`0` null, `1` true, `2` false), `0x05` int16, `0x06`
//! uint16, `0x07` int32, `0x08` uint32, `0x09` int64, `0x0a` uint64, `0x0b` double, `0x0c`
//! utf8mb4 string (7-bits-per-byte length, at most 5 bytes, then the bytes), `0x0f` opaque (a
//! MySQL field type byte, a variable length, the bytes). All integers are little-endian.
//! Objects and arrays: element count and byte size (2 bytes each in the small format, 4 in the
//! large), then for objects one key entry per member (offset, 2-byte length), then one value
//! entry per element (type byte, then an offset, or the value itself for *inlined* literals,
//! int16 and uint16, and in the large format also int32 and uint32). Offsets count from the
//! start of the object/array (the count field). Keys are sorted by length, then bytewise.
//!
//! # Output
//! `{"a": 1, "b": [1, 2]}`: `", "` and `": "` separators. Strings are escaped like the server's
//! `double_quote`: `"` and `\` escaped, `\b \f \n \r \t` short forms, other bytes `<= 0x1f` as
//! `\u00xx` (lowercase hex), everything else (DEL and non-ASCII included) raw. Doubles use the
//! server's `my_gcvt(.., MY_GCVT_MAX_FIELD_WIDTH)` rules: shortest round-trip digits, fixed
//! notation for decimal exponents -15 ..= 14 (and 17-digit numbers below 10^16), otherwise
//! `d.ddde±x` with no `+` and no exponent padding (`1e20`, `1.5e-7`), and `.0` appended when the
//! text has neither `.` nor `e` (`100.0`, `-0.0`). Opaque values: DECIMAL (field type 246)
//! prints as a JSON number with exactly its scale; DATE (10) as `"YYYY-MM-DD"`, TIME (11) as
//! `"hh:mm:ss.ffffff"` (hours may exceed 2 digits, `-` for negative), DATETIME (12) and
//! TIMESTAMP (7) as `"YYYY-MM-DD hh:mm:ss.ffffff"` (always 6 fraction digits, as MySQL prints
//! them in JSON); VAR_STRING (253) as a plain JSON string (what MySQL 8.0 does); any other type
//! as `"base64:typeNN:<base64>"` with MySQL's line break every 76 base64 characters (escaped as
//! `\n` inside the JSON string). An empty binary value is JSON `null`, as in
//! `json_binary::parse_binary`. Bytes after the top-level value are ignored, as the server does.
//!
//! # Invariants and differences from the server
//! - Never panics, never recurses deeper than [`MAX_DEPTH`] nested objects/arrays (the server's
//!   `JSON_DOCUMENT_MAX_DEPTH`; deeper is `Invalid("json nesting depth")`).
//! - Work and output are linear in the input: every entry, key and value *claims* the bytes it
//!   occupies, and the claims may not add up to more than the input length. Documents the server
//!   writes never share bytes between values, so they always pass; hostile documents whose
//!   entries point at the same value over and over (exponential output) are rejected with
//!   `Invalid("json overlapping values")`. Nothing is allocated from a length field: output grows
//!   only as bytes are actually decoded.
//! - Every offset must point past the header of its object/array (the server only checks that a
//!   value starts after its own entry) and inside the declared size; the declared size must fit
//!   the available bytes.
//! - Strings and keys must be valid UTF-8 (`Invalid("json string utf-8")`); the server copies the
//!   bytes unchecked.
//! - Doubles that are NaN or infinite (the server never stores them) are
//!   `Invalid("json double")`; DATE/TIME/DATETIME payloads must be 8 bytes with in-range fields
//!   (`Invalid("json datetime")`) where the server would print garbage. DECIMAL payloads must have
//!   exactly the size their precision and scale give.
//! - On error the output `String` is restored to its length before the call.

use std::fmt::{self, Write as _};

use crate::decimal::Decimal;
use crate::error::{invalid, Result};
use crate::reader::{OrTruncated, Reader};

/// Deepest nesting of objects/arrays accepted (MySQL's `JSON_DOCUMENT_MAX_DEPTH`).
pub const MAX_DEPTH: usize = 100;

const SMALL_OBJECT: u8 = 0x00;
const LARGE_OBJECT: u8 = 0x01;
const SMALL_ARRAY: u8 = 0x02;
const LARGE_ARRAY: u8 = 0x03;
const LITERAL: u8 = 0x04;
const INT16: u8 = 0x05;
const UINT16: u8 = 0x06;
const INT32: u8 = 0x07;
const UINT32: u8 = 0x08;
const INT64: u8 = 0x09;
const UINT64: u8 = 0x0a;
const DOUBLE: u8 = 0x0b;
const STRING: u8 = 0x0c;
const OPAQUE: u8 = 0x0f;

/// MySQL field types that opaque values carry specially.
const FT_TIMESTAMP: u8 = 7;
const FT_DATE: u8 = 10;
const FT_TIME: u8 = 11;
const FT_DATETIME: u8 = 12;
const FT_NEWDECIMAL: u8 = 246;
const FT_VAR_STRING: u8 = 253;

/// Appends the JSON text of the binary JSON value `bin` (a JSON column's bytes after the length
/// prefix) to `out`.
///
/// # Errors
/// `Truncated` when an offset, size or length points past the bytes present, `Invalid` for
/// anything else the module docs list (unknown type, bad UTF-8, offsets into a header, nesting
/// deeper than [`MAX_DEPTH`], overlapping values, ...). On error `out` is left exactly as it was.
pub fn write_json_text(bin: &[u8], out: &mut String) -> Result<()> {
    write_value(bin, out, true).map(|_| ())
}

/// The JSON text of the binary JSON value `bin`.
///
/// # Errors
/// As [`write_json_text`].
pub fn json_text(bin: &[u8]) -> Result<String> {
    let mut s = String::new();
    write_json_text(bin, &mut s)?;
    Ok(s)
}

/// How `mysqlbinlog` would print a top-level value written unquoted by [`write_value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// null, booleans, numbers, DECIMAL: printed as they are.
    Bare,
    /// Strings, dates and times, other opaque values: printed as a quoted string.
    Text,
    /// Objects and arrays: printed as `CAST('...' AS JSON)`.
    Container,
}

/// Writes `bin` as text. With `quote_top == false` a top-level string, date/time or opaque value
/// is written without JSON quotes or escapes (the server's `to_string(json_quoted=false)`, used
/// by `mysqlbinlog`); nested values are always JSON. On error `out` is restored.
pub(crate) fn write_value(bin: &[u8], out: &mut String, quote_top: bool) -> Result<ValueKind> {
    let start = out.len();
    let result = match bin.split_first() {
        None => {
            out.push_str("null");
            Ok(ValueKind::Bare)
        }
        Some((&ty, rest)) => {
            let mut d = Decoder { out: &mut *out, budget: bin.len() };
            d.claim(1).and_then(|()| d.value(ty, rest, 0, quote_top))
        }
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Decoding state: the output and the byte budget that bounds the work (see the module docs).
struct Decoder<'o> {
    out: &'o mut String,
    budget: usize,
}

impl Decoder<'_> {
    /// Accounts for `n` more input bytes being consumed.
    fn claim(&mut self, n: usize) -> Result<()> {
        self.budget = self.budget.checked_sub(n).ok_or(invalid("json overlapping values"))?;
        Ok(())
    }

    /// Appends formatted text (writing to a `String` cannot fail).
    fn put(&mut self, args: fmt::Arguments<'_>) {
        let _ = self.out.write_fmt(args);
    }

    /// A value of type `ty` starting at `data`; `data` runs to the end of the enclosing object,
    /// array or document.
    fn value(&mut self, ty: u8, data: &[u8], depth: usize, quote: bool) -> Result<ValueKind> {
        match ty {
            SMALL_OBJECT | LARGE_OBJECT | SMALL_ARRAY | LARGE_ARRAY => {
                let large = ty == LARGE_OBJECT || ty == LARGE_ARRAY;
                let object = ty == SMALL_OBJECT || ty == LARGE_OBJECT;
                self.container(data, large, object, depth)
            }
            _ => {
                let mut r = Reader::new(data);
                let kind = self.scalar(ty, &mut r, quote)?;
                self.claim(data.len().saturating_sub(r.len()))?;
                Ok(kind)
            }
        }
    }

    /// An object or array whose count field starts at `data`.
    fn container(&mut self, data: &[u8], large: bool, object: bool, depth: usize) -> Result<ValueKind> {
        let depth = depth.saturating_add(1);
        if depth > MAX_DEPTH {
            return Err(invalid("json nesting depth"));
        }
        let off = if large { 4 } else { 2 };
        let mut r = Reader::new(data);
        let count = read_offset(&mut r, large).or_trunc("json element count")?;
        let size = read_offset(&mut r, large).or_trunc("json container size")?;
        let body = Reader::new(data).take(size).or_trunc("json container")?;
        let key_entry = if object { off + 2 } else { 0 };
        let value_entry = 1 + off;
        let header = count
            .checked_mul(key_entry + value_entry)
            .and_then(|n| n.checked_add(2 * off))
            .filter(|&h| h <= size)
            .ok_or(invalid("json container header"))?;
        self.claim(header)?;
        // `header <= size <= data.len()`, so every entry offset below is in range and the loop
        // runs at most `data.len() / 3` times.
        let value_entries = 2 * off + count * key_entry;
        self.out.push(if object { '{' } else { '[' });
        for i in 0..count {
            if i > 0 {
                self.out.push_str(", ");
            }
            if object {
                let mut e = Reader::new(body);
                e.skip(2 * off + i * key_entry).or_trunc("json key entry")?;
                let key_off = read_offset(&mut e, large).or_trunc("json key entry")?;
                let key_len = usize::from(e.u16_le().or_trunc("json key entry")?);
                if key_off < header {
                    return Err(invalid("json key offset"));
                }
                let key = key_off.checked_add(key_len).and_then(|end| body.get(key_off..end)).or_trunc("json key")?;
                self.claim(key_len)?;
                push_quoted(self.out, utf8(key)?);
                self.out.push_str(": ");
            }
            let mut e = Reader::new(body);
            e.skip(value_entries + i * value_entry).or_trunc("json value entry")?;
            let ty = e.u8().or_trunc("json value entry")?;
            if inlined(ty, large) {
                let mut inline = Reader::new(e.take(off).or_trunc("json value entry")?);
                self.scalar(ty, &mut inline, true)?;
            } else {
                let value_off = read_offset(&mut e, large).or_trunc("json value entry")?;
                if value_off < header {
                    return Err(invalid("json value offset"));
                }
                let value = body.get(value_off..).or_trunc("json value")?;
                self.value(ty, value, depth, true)?;
            }
        }
        self.out.push(if object { '}' } else { ']' });
        Ok(ValueKind::Container)
    }

    /// A scalar of type `ty` read from `r`.
    fn scalar(&mut self, ty: u8, r: &mut Reader<'_>, quote: bool) -> Result<ValueKind> {
        match ty {
            LITERAL => {
                let text = match r.u8().or_trunc("json literal")? {
                    0 => "null",
                    1 => "true",
                    2 => "false",
                    _ => return Err(invalid("json literal")),
                };
                self.out.push_str(text);
            }
            INT16 => self.put(format_args!("{}", r.i16_le().or_trunc("json int16")?)),
            UINT16 => self.put(format_args!("{}", r.u16_le().or_trunc("json uint16")?)),
            INT32 => self.put(format_args!("{}", r.i32_le().or_trunc("json int32")?)),
            UINT32 => self.put(format_args!("{}", r.u32_le().or_trunc("json uint32")?)),
            INT64 => self.put(format_args!("{}", r.i64_le().or_trunc("json int64")?)),
            UINT64 => self.put(format_args!("{}", r.u64_le().or_trunc("json uint64")?)),
            DOUBLE => write_double(self.out, r.f64_le().or_trunc("json double")?)?,
            STRING => {
                let s = utf8(var_bytes(r, "json string")?)?;
                self.text(s, quote);
                return Ok(ValueKind::Text);
            }
            OPAQUE => {
                let field_type = r.u8().or_trunc("json opaque")?;
                let data = var_bytes(r, "json opaque")?;
                return self.opaque(field_type, data, quote);
            }
            _ => return Err(invalid("json value type")),
        }
        Ok(ValueKind::Bare)
    }

    /// A string, quoted and escaped or raw.
    fn text(&mut self, s: &str, quote: bool) {
        if quote {
            push_quoted(self.out, s);
        } else {
            self.out.push_str(s);
        }
    }

    /// An opaque value of MySQL field type `field_type`.
    fn opaque(&mut self, field_type: u8, data: &[u8], quote: bool) -> Result<ValueKind> {
        match field_type {
            FT_NEWDECIMAL => {
                let mut r = Reader::new(data);
                let precision = r.u8().or_trunc("json decimal")?;
                let scale = r.u8().or_trunc("json decimal")?;
                if precision == 0 && scale == 0 && r.is_empty() {
                    // bin2decimal reads DECIMAL(0,0) as zero.
                    self.out.push('0');
                    return Ok(ValueKind::Bare);
                }
                let len = Decimal::binary_len(precision, scale).ok_or(invalid("json decimal"))?;
                if r.len() != len {
                    return Err(invalid("json decimal"));
                }
                let d = Decimal::read(&mut r, precision, scale)?;
                self.put(format_args!("{d}"));
                Ok(ValueKind::Bare)
            }
            FT_DATE | FT_TIME | FT_DATETIME | FT_TIMESTAMP => {
                let packed = match <[u8; 8]>::try_from(data) {
                    Ok(b) => i64::from_le_bytes(b),
                    Err(_) => return Err(invalid("json datetime")),
                };
                if quote {
                    self.out.push('"');
                }
                write_temporal(self.out, field_type, packed)?;
                if quote {
                    self.out.push('"');
                }
                Ok(ValueKind::Text)
            }
            FT_VAR_STRING => {
                self.text(utf8(data)?, quote);
                Ok(ValueKind::Text)
            }
            _ => {
                if quote {
                    self.out.push('"');
                }
                self.put(format_args!("base64:type{field_type}:"));
                push_base64(self.out, data, if quote { "\\n" } else { "\n" });
                if quote {
                    self.out.push('"');
                }
                Ok(ValueKind::Text)
            }
        }
    }
}

/// Will a value of `ty` be stored inside its value entry?
fn inlined(ty: u8, large: bool) -> bool {
    match ty {
        LITERAL | INT16 | UINT16 => true,
        INT32 | UINT32 => large,
        _ => false,
    }
}

/// Reads a 2-byte (small) or 4-byte (large) offset or size.
fn read_offset(r: &mut Reader<'_>, large: bool) -> Option<usize> {
    if large {
        usize::try_from(r.u32_le()?).ok()
    } else {
        Some(usize::from(r.u16_le()?))
    }
}

/// Reads a variable-length size (7 bits per byte, least significant first, at most 5 bytes,
/// at most `u32::MAX`) and then that many bytes.
fn var_bytes<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8]> {
    let mut len = 0u64;
    for i in 0..5u32 {
        let b = r.u8().or_trunc(what)?;
        len |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let len = u32::try_from(len).map_err(|_| invalid("json length"))?;
            let len = usize::try_from(len).map_err(|_| invalid("json length"))?;
            return r.take(len).or_trunc(what);
        }
    }
    Err(invalid("json length"))
}

/// Checks that `bytes` are UTF-8.
fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| invalid("json string utf-8"))
}

/// Appends `s` as a JSON string literal, escaped like the server's `double_quote`.
fn push_quoted(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // `i` is an ASCII byte, so both ranges fall on char boundaries.
        out.push_str(s.get(start..i).unwrap_or_default());
        start = i + 1;
        if short.is_empty() {
            out.push_str("\\u00");
            for nibble in [b >> 4, b & 0xf] {
                out.push(char::from(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0')));
            }
        } else {
            out.push_str(short);
        }
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// Appends MySQL's `base64_encode` of `data`: standard alphabet with `=` padding and
/// `line_break` before every group that would start past column 76.
fn push_base64(out: &mut String, data: &[u8], line_break: &str) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |v: u32| char::from(ALPHABET.get((v & 0x3f) as usize).copied().unwrap_or(b'='));
    for (i, chunk) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str(line_break);
        }
        let mut it = chunk.iter().copied();
        let (a, b, c) = (it.next(), it.next(), it.next());
        let v = (u32::from(a.unwrap_or(0)) << 16) | (u32::from(b.unwrap_or(0)) << 8) | u32::from(c.unwrap_or(0));
        out.push(sym(v >> 18));
        out.push(sym(v >> 12));
        out.push(if b.is_some() { sym(v >> 6) } else { '=' });
        out.push(if c.is_some() { sym(v) } else { '=' });
    }
}

/// Appends a DATE/TIME/DATETIME/TIMESTAMP stored as a packed longlong
/// (`TIME_to_longlong_*_packed`), as `my_TIME_to_str(.., 6)` prints it.
fn write_temporal(out: &mut String, field_type: u8, packed: i64) -> Result<()> {
    let bad = invalid("json datetime");
    let negative = packed < 0;
    let v = packed.unsigned_abs();
    let frac = v & 0xff_ffff;
    let int = v >> 24;
    if field_type == FT_TIME {
        let (hour, minute, second) = (int >> 12, (int >> 6) & 0x3f, int & 0x3f);
        if hour > 0x3ff || minute > 59 || second > 59 || frac > 999_999 {
            return Err(bad);
        }
        let sign = if negative { "-" } else { "" };
        let _ = write!(out, "{sign}{hour:02}:{minute:02}:{second:02}.{frac:06}");
        return Ok(());
    }
    let (ymd, hms) = (int >> 17, int & 0x1_ffff);
    let (day, ym) = (ymd & 0x1f, ymd >> 5);
    let (year, month) = (ym / 13, ym % 13);
    if negative || year > 9999 {
        return Err(bad);
    }
    let _ = write!(out, "{year:04}-{month:02}-{day:02}");
    if field_type != FT_DATE {
        let (hour, minute, second) = (hms >> 12, (hms >> 6) & 0x3f, hms & 0x3f);
        if hour > 23 || minute > 59 || second > 59 || frac > 999_999 {
            return Err(bad);
        }
        let _ = write!(out, " {hour:02}:{minute:02}:{second:02}.{frac:06}");
    }
    Ok(())
}

/// A fixed buffer that `{:e}` formatting of an `f64` writes into (at most 24 bytes needed).
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.buf.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends a double as the server prints it in JSON (see the module docs).
fn write_double(out: &mut String, x: f64) -> Result<()> {
    let bad = invalid("json double");
    if !x.is_finite() {
        return Err(bad);
    }
    // Rust's `{:e}` gives the shortest digits that round-trip, like dtoa mode 0.
    let mut text = StackBuf { buf: [0; 40], len: 0 };
    write!(text, "{x:e}").map_err(|_| bad)?;
    let mut digits = [0u8; 24];
    let mut len = 0usize;
    let (mut negative, mut in_exp, mut exp_negative, mut exp) = (false, false, false, 0i32);
    for &b in text.buf.get(..text.len).unwrap_or_default() {
        match b {
            b'-' if in_exp => exp_negative = true,
            b'-' => negative = true,
            b'.' => {}
            b'e' => in_exp = true,
            b'0'..=b'9' if in_exp => {
                exp = exp.checked_mul(10).and_then(|e| e.checked_add(i32::from(b - b'0'))).ok_or(bad)?;
            }
            b'0'..=b'9' => {
                *digits.get_mut(len).ok_or(bad)? = b;
                len += 1;
            }
            _ => return Err(bad),
        }
    }
    let digits = digits.get(..len).filter(|d| !d.is_empty()).ok_or(bad)?;
    let exp = if exp_negative { -exp } else { exp };
    // dtoa's decpt: the value is 0.DIGITS * 10^decpt.
    let decpt = exp + 1;
    let len_i = i32::try_from(len).map_err(|_| bad)?;
    if negative {
        out.push('-');
    }
    if decpt >= -14 && (decpt <= 15 || decpt < len_i) {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in decpt..0 {
                out.push('0');
            }
            digits.iter().for_each(|&d| out.push(char::from(d)));
        } else {
            for (i, &d) in (1..).zip(digits) {
                out.push(char::from(d));
                if i == decpt && i < len_i {
                    out.push('.');
                }
            }
            for _ in len_i..decpt {
                out.push('0');
            }
            if decpt >= len_i {
                out.push_str(".0");
            }
        }
    } else {
        let mut it = digits.iter();
        if let Some(&first) = it.next() {
            out.push(char::from(first));
        }
        if len > 1 {
            out.push('.');
            it.for_each(|&d| out.push(char::from(d)));
        }
        let _ = write!(out, "e{}", decpt - 1);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests;
