//! Partial JSON updates: the diff format of `PARTIAL_UPDATE_ROWS_EVENT` (type 39, MySQL 8.0 with
//! `binlog_row_value_options=PARTIAL_JSON`), from `sql/json_diff.cc` (`Json_diff_vector`) and
//! `sql/rpl_record.cc` (`pack_row`).
//!
//! # Where the bytes are in a `PARTIAL_UPDATE_ROWS_EVENT`
//! The event is laid out like `UPDATE_ROWS_EVENT` v2 (table id, flags, extra info, column count,
//! before-image and after-image column bitmaps, then rows; each row a before image followed by
//! an after image). The before image is exactly as in `UPDATE_ROWS_EVENT`. The after image is:
//!
//! 1. `value_options`: a packed (length-encoded) integer. Bit 0 (`PARTIAL_JSON_UPDATES`, value 1)
//!    says a partial bitmap follows. The server writes 0 (and no bitmap) when no JSON column of
//!    this row was stored as a diff.
//! 2. If `value_options & 1`: the *partial bitmap*, `(J + 7) / 8` bytes where `J` is the number
//!    of `JSON` (type 245) columns in the TABLE_MAP, counted over **all** columns, whether or not
//!    they are in the after-image bitmap. Bit `k` (byte `k / 8`, bit `k % 8`, least significant
//!    first) belongs to the `k`-th JSON column in column order; 1 means that column's after-image
//!    value is a diff vector instead of a full document.
//! 3. The usual null bitmap over the after-image columns, then the column values.
//!
//! A non-NULL JSON column whose partial bit is set keeps the normal JSON length prefix (a
//! little-endian length of `meta` bytes, always 4 for JSON) and the `N` bytes after it are a
//! sequence of diffs, which [`JsonDiffs::new`] takes (without the prefix). `N == 0` is a no-op
//! update. Columns with the bit clear, before images, and every other rows event hold full
//! binary JSON (see `crate::json`).
//!
//! # Diff format
//! Each diff is an operation byte (`0` REPLACE, `1` INSERT, `2` REMOVE), a packed integer path
//! length and the path text (a JSON path without wildcards as the server prints it, e.g.
//! `$.a[1]` or `$."a b"`), and unless the operation is REMOVE a packed integer value length and
//! a binary JSON value (empty means JSON `null`). Diffs apply in order to the before image.
//!
//! # Invariants
//! - Iteration borrows from the input and never allocates; it stops after the first error.
//!   Packed lengths are checked against the bytes present before anything is taken; the NULL
//!   marker `0xfb` and the undefined `0xff` are `Invalid`. Paths are not parsed and values are
//!   not decoded while iterating; [`write_json_diffs_text`] decodes values.
//! - Rendering never panics and restores `out` on error.

use std::iter::FusedIterator;

use crate::error::{invalid, Result};
use crate::json::{write_value, ValueKind};
use crate::reader::{OrTruncated, Reader};

/// What a diff does at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonDiffOp {
    /// Replace the value at the path (`JSON_REPLACE`). Code 0.
    Replace,
    /// Insert a value at the path: `JSON_ARRAY_INSERT` when the path ends in an array cell,
    /// `JSON_INSERT` otherwise. Code 1.
    Insert,
    /// Remove the value at the path (`JSON_REMOVE`). Code 2.
    Remove,
}

impl JsonDiffOp {
    /// The operation for a wire code, if it is one.
    pub const fn from_code(code: u8) -> Option<JsonDiffOp> {
        match code {
            0 => Some(JsonDiffOp::Replace),
            1 => Some(JsonDiffOp::Insert),
            2 => Some(JsonDiffOp::Remove),
            _ => None,
        }
    }

    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            JsonDiffOp::Replace => 0,
            JsonDiffOp::Insert => 1,
            JsonDiffOp::Remove => 2,
        }
    }
}

/// One diff, borrowed from the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonDiff<'a> {
    /// The operation.
    pub op: JsonDiffOp,
    /// The JSON path text, e.g. `$.a[1]` (not validated).
    pub path: &'a [u8],
    /// The binary JSON value for REPLACE and INSERT (empty means `null`); `None` for REMOVE.
    pub value: Option<&'a [u8]>,
}

impl JsonDiff<'_> {
    /// The SQL function `mysqlbinlog` names this diff with: `JSON_REPLACE`, `JSON_INSERT`,
    /// `JSON_ARRAY_INSERT` (an INSERT whose path ends with `]`) or `JSON_REMOVE`.
    pub fn function_name(&self) -> &'static str {
        match self.op {
            JsonDiffOp::Replace => "JSON_REPLACE",
            JsonDiffOp::Insert if self.path.last() == Some(&b']') => "JSON_ARRAY_INSERT",
            JsonDiffOp::Insert => "JSON_INSERT",
            JsonDiffOp::Remove => "JSON_REMOVE",
        }
    }
}

/// Iterator over the diffs of one partial JSON column value.
#[derive(Debug, Clone)]
pub struct JsonDiffs<'a> {
    r: Reader<'a>,
    failed: bool,
}

impl<'a> JsonDiffs<'a> {
    /// Diffs in `bytes`: the column value after its 4-byte length prefix.
    pub fn new(bytes: &'a [u8]) -> Self {
        JsonDiffs { r: Reader::new(bytes), failed: false }
    }

    fn read_one(r: &mut Reader<'a>) -> Result<JsonDiff<'a>> {
        let code = r.u8().or_trunc("json diff operation")?;
        let op = JsonDiffOp::from_code(code).ok_or(invalid("json diff operation"))?;
        let path = length_prefixed(r, "json diff path")?;
        let value = match op {
            JsonDiffOp::Remove => None,
            _ => Some(length_prefixed(r, "json diff value")?),
        };
        Ok(JsonDiff { op, path, value })
    }
}

/// A packed length and that many bytes.
fn length_prefixed<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8]> {
    if matches!(r.peek(), Some(0xfb | 0xff)) {
        return Err(invalid(what));
    }
    let n = r.packed().or_trunc(what)?;
    let n = usize::try_from(n).map_err(|_| invalid(what))?;
    r.take(n).or_trunc(what)
}

impl<'a> Iterator for JsonDiffs<'a> {
    type Item = Result<JsonDiff<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.r.is_empty() {
            return None;
        }
        let item = Self::read_one(&mut self.r);
        self.failed = item.is_err();
        Some(item)
    }
}

impl FusedIterator for JsonDiffs<'_> {}

/// Separator `mysqlbinlog -v` puts between function names and between diffs.
const LINE_SEPARATOR: &str = "\n###      ";

/// Appends the diffs in `bytes` as `mysqlbinlog -v` prints them for column `column` (`mysqlbinlog`
/// uses `@N`, N counting columns from 1), byte for byte (`print_json_diff` in `sql/log_event.cc`):
///
/// - consecutive diffs with the same function name share one call, calls nest with the last
///   diff outermost, and each argument list is `column, path, value, path, value, ...`:
///   `JSON_INSERT(\n###      JSON_REPLACE(@2, '$.a', 1,\n###      '$.b', 'x'),\n###      '$.c', 3)`.
///   The only raw newlines are these separators (values and paths are escaped), so replacing
///   `"\n###      "` with `" "` gives a one-line SQL expression.
/// - Paths are single-quoted with `mysqlbinlog`'s escaping: `\` and `'` backslashed,
///   `\b \f \n \r \t` short forms, other bytes below 0x20 as `\xNN`. Path bytes that are not
///   UTF-8 are also written as `\xNN` (`mysqlbinlog` would copy them raw).
/// - Values: `null`, booleans, numbers and decimals bare; strings, dates/times and opaque values
///   as quoted unescaped text (`'abc'`); objects and arrays as `CAST('{"a": 1}' AS JSON)`.
/// - No diffs at all prints just the column name.
///
/// # Errors
/// The first framing error of [`JsonDiffs`], or a value that [`crate::json`] cannot decode.
/// `out` is then left as it was.
pub fn write_json_diffs_text_with_column(bytes: &[u8], column: &str, out: &mut String) -> Result<()> {
    let start = out.len();
    let result = render(bytes, column, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Placeholder column name used by [`write_json_diffs_text`].
pub const UNNAMED_COLUMN: &str = "@?";

/// [`write_json_diffs_text_with_column`] with the column written as [`UNNAMED_COLUMN`] (`@?`),
/// for callers that do not know the column's position: `JSON_REMOVE(@?, '$.a')`.
///
/// # Errors
/// As [`write_json_diffs_text_with_column`]; `out` is then left as it was.
pub fn write_json_diffs_text(bytes: &[u8], out: &mut String) -> Result<()> {
    write_json_diffs_text_with_column(bytes, UNNAMED_COLUMN, out)
}

fn render(bytes: &[u8], column: &str, out: &mut String) -> Result<()> {
    // First pass: validate framing and collect the function names (at most one per 2 bytes).
    let names = JsonDiffs::new(bytes).map(|d| d.map(|d| d.function_name())).collect::<Result<Vec<_>>>()?;
    // Function names, last diff outermost, one per run of equal names.
    let mut printed = false;
    for (i, name) in names.iter().enumerate().rev() {
        let starts_run = i == 0 || names.get(i - 1) != Some(name);
        if starts_run {
            if printed {
                out.push_str(LINE_SEPARATOR);
            }
            out.push_str(name);
            out.push('(');
            printed = true;
        }
    }
    out.push_str(column);
    if names.is_empty() {
        return Ok(());
    }
    out.push_str(", ");
    let mut value_text = String::new();
    for (i, diff) in JsonDiffs::new(bytes).enumerate() {
        let diff = diff?;
        push_binlog_quoted(out, diff.path);
        if let Some(value) = diff.value {
            out.push_str(", ");
            value_text.clear();
            match write_value(value, &mut value_text, false)? {
                ValueKind::Bare => out.push_str(&value_text),
                ValueKind::Text => push_binlog_quoted(out, value_text.as_bytes()),
                ValueKind::Container => {
                    out.push_str("CAST(");
                    push_binlog_quoted(out, value_text.as_bytes());
                    out.push_str(" AS JSON)");
                }
            }
        }
        let next = names.get(i + 1);
        if next != names.get(i) {
            out.push(')');
        }
        if next.is_some() {
            out.push(',');
            out.push_str(LINE_SEPARATOR);
        }
    }
    Ok(())
}

/// Appends `bytes` single-quoted the way `mysqlbinlog`'s `my_b_write_quoted` does.
fn push_binlog_quoted(out: &mut String, bytes: &[u8]) {
    out.push('\'');
    for chunk in bytes.utf8_chunks() {
        let s = chunk.valid();
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let short = match b {
                b'\\' => "\\\\",
                b'\'' => "\\'",
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
                push_hex_escape(out, b);
            } else {
                out.push_str(short);
            }
        }
        out.push_str(s.get(start..).unwrap_or_default());
        chunk.invalid().iter().for_each(|&b| push_hex_escape(out, b));
    }
    out.push('\'');
}

/// Appends `\xNN` (lowercase hex).
fn push_hex_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    for nibble in [b >> 4, b & 0xf] {
        out.push(char::from(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0')));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use proptest::prelude::*;

    const INT16: u8 = 0x05;
    const STRING: u8 = 0x0c;

    fn diff(op: u8, path: &str, value: Option<&[u8]>) -> Vec<u8> {
        let mut v = vec![op, path.len() as u8];
        v.extend_from_slice(path.as_bytes());
        if let Some(value) = value {
            v.push(value.len() as u8);
            v.extend_from_slice(value);
        }
        v
    }

    fn render(bytes: &[u8], col: &str) -> String {
        let mut out = String::new();
        write_json_diffs_text_with_column(bytes, col, &mut out).unwrap();
        out
    }

    #[test]
    fn iterates_diffs() {
        let bytes = [diff(0, "$.a", Some(&[INT16, 1, 0])), diff(2, "$.b", None), diff(1, "$[3]", Some(&[]))].concat();
        let diffs: Vec<JsonDiff<'_>> = JsonDiffs::new(&bytes).map(|d| d.unwrap()).collect();
        assert_eq!(diffs.len(), 3);
        assert_eq!(diffs[0], JsonDiff { op: JsonDiffOp::Replace, path: b"$.a", value: Some(&[INT16, 1, 0]) });
        assert_eq!(diffs[1], JsonDiff { op: JsonDiffOp::Remove, path: b"$.b", value: None });
        assert_eq!(diffs[2].value, Some(&[][..]));
        assert_eq!(
            diffs.iter().map(|d| d.function_name()).collect::<Vec<_>>(),
            ["JSON_REPLACE", "JSON_REMOVE", "JSON_ARRAY_INSERT"]
        );
        assert_eq!(JsonDiffs::new(&[]).count(), 0);
        for op in [JsonDiffOp::Replace, JsonDiffOp::Insert, JsonDiffOp::Remove] {
            assert_eq!(JsonDiffOp::from_code(op.code()), Some(op));
        }
        // Long paths use a 3-byte packed length.
        let path = "$.".to_string() + &"k".repeat(300);
        let mut bytes = vec![2, 0xfc, 0x2e, 0x01];
        bytes.extend_from_slice(path.as_bytes());
        let d = JsonDiffs::new(&bytes).next().unwrap().unwrap();
        assert_eq!(d.path, path.as_bytes());
    }

    #[test]
    fn iteration_stops_after_error() {
        let mut it = JsonDiffs::new(&[3, 1, b'$']);
        assert_eq!(it.next().unwrap().unwrap_err().kind(), ErrorKind::Invalid("json diff operation"));
        assert!(it.next().is_none());
        let bytes = [diff(2, "$.a", None), vec![0, 5, b'$']].concat();
        let mut it = JsonDiffs::new(&bytes);
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().unwrap_err().is_truncation());
        assert!(it.next().is_none());
        assert_eq!(
            JsonDiffs::new(&[0, 0xfb]).next().unwrap().unwrap_err().kind(),
            ErrorKind::Invalid("json diff path")
        );
        assert_eq!(
            JsonDiffs::new(&[0, 1, b'$', 0xff]).next().unwrap().unwrap_err().kind(),
            ErrorKind::Invalid("json diff value")
        );
        // A length far beyond the input fails without allocating.
        let huge = [0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(JsonDiffs::new(&huge).next().unwrap().unwrap_err().is_truncation());
        // Missing value for REPLACE.
        assert!(JsonDiffs::new(&diff(0, "$.a", None)).next().unwrap().unwrap_err().is_truncation());
    }

    #[test]
    fn renders_like_mysqlbinlog() {
        let arr = [0x02, 2, 0, 10, 0, INT16, 1, 0, INT16, 2, 0];
        let bytes = [
            diff(0, "$.a", Some(&[INT16, 1, 0])),
            diff(0, "$.b", Some(&[STRING, 1, b'x'])),
            diff(1, "$.c", Some(&arr)),
            diff(2, "$.d", None),
            diff(1, "$[0]", Some(&[])),
        ]
        .concat();
        let want = "JSON_ARRAY_INSERT(\n###      JSON_REMOVE(\n###      JSON_INSERT(\n###      JSON_REPLACE(@3, \
                    '$.a', 1,\n###      '$.b', 'x'),\n###      '$.c', CAST('[1, 2]' AS JSON)),\n###      '$.d'),\n###      \
                    '$[0]', null)";
        assert_eq!(render(&bytes, "@3"), want);
        // One diff.
        assert_eq!(render(&diff(2, "$.k", None), "@1"), "JSON_REMOVE(@1, '$.k')");
        // A run of the same function shares one call.
        let bytes = [diff(2, "$.a", None), diff(2, "$.b", None)].concat();
        assert_eq!(render(&bytes, "@1"), "JSON_REMOVE(@1, '$.a',\n###      '$.b')");
        // No diffs: just the column.
        assert_eq!(render(&[], "@7"), "@7");
        // Without a column position.
        let mut out = String::new();
        write_json_diffs_text(&diff(2, "$.k", None), &mut out).unwrap();
        assert_eq!(out, "JSON_REMOVE(@?, '$.k')");
    }

    #[test]
    fn quoting() {
        // String value with quote, backslash, newline and a control byte; path with a quote.
        let s = "it's \\ \n\u{1}é";
        let mut v = vec![STRING, s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        let bytes = diff(0, "$.\"a'b\"", Some(&v));
        assert_eq!(render(&bytes, "@1"), "JSON_REPLACE(@1, '$.\"a\\'b\"', 'it\\'s \\\\ \\n\\x01é')");
        // Containers: JSON text inside, then binlog quoting of that text.
        let obj = [0x00, 1, 0, 14, 0, 11, 0, 1, 0, STRING, 12, 0, b'k', 1, b'\''];
        assert_eq!(
            render(&diff(1, "$.o", Some(&obj)), "@2"),
            "JSON_INSERT(@2, '$.o', CAST('{\"k\": \"\\'\"}' AS JSON))"
        );
        // Non-UTF-8 path bytes.
        let mut bytes = vec![2, 3, b'$', 0xff, b'.'];
        bytes.truncate(5);
        assert_eq!(render(&bytes, "@1"), "JSON_REMOVE(@1, '$\\xff.')");
    }

    #[test]
    fn errors_restore_output() {
        let bytes = [diff(0, "$.a", Some(&[INT16, 1, 0])), diff(0, "$.b", Some(&[0x0d]))].concat();
        let mut out = String::from("keep");
        let e = write_json_diffs_text_with_column(&bytes, "@1", &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid("json value type"));
        assert_eq!(out, "keep");
        let e = write_json_diffs_text(&[9], &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid("json diff operation"));
        assert_eq!(out, "keep");
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for d in JsonDiffs::new(&bytes) {
                if d.is_err() {
                    break;
                }
            }
            let mut out = String::new();
            if write_json_diffs_text(&bytes, &mut out).is_err() {
                prop_assert!(out.is_empty());
            }
        }

        #[test]
        fn well_formed_diffs_render(ops in proptest::collection::vec((0u8..3, "[$.a-z\\[\\]0-9'\\\\]{0,8}", any::<i16>()), 0..8)) {
            let bytes: Vec<u8> = ops.iter().flat_map(|(op, path, v)| {
                let b = v.to_le_bytes();
                diff(*op, path, (*op != 2).then_some(&[INT16, b[0], b[1]][..]))
            }).collect();
            let n = JsonDiffs::new(&bytes).collect::<Result<Vec<_>>>().unwrap().len();
            prop_assert_eq!(n, ops.len());
            let text = render(&bytes, "@1");
            prop_assert_eq!(text.matches('(').count(), text.matches(')').count());
        }
    }
}
