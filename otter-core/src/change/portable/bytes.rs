//! The serialised form of a byte string (`#[serde(with = "bytes")]`): binary-safe in every serde
//! format.
//!
//! Invariants: human-readable formats (JSON) carry the bytes as one standard base64 string (RFC
//! 4648 alphabet `A–Z a–z 0–9 + /`, `=` padding); binary formats (CBOR) carry them as a native
//! byte string. Reading accepts exactly that (and, in binary formats, an array of byte values);
//! any other text is an error, never a guess.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

/// Writes `bytes` as base64 text (human-readable formats) or a byte string (binary formats).
pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&STANDARD.encode(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

/// Reads what [`serialize`] writes.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    if d.is_human_readable() {
        d.deserialize_str(Base64Text)
    } else {
        // `byte_buf`, not `bytes`: some formats only hand out short byte strings as borrowed bytes.
        d.deserialize_byte_buf(ByteString)
    }
}

/// Decodes a base64 string.
struct Base64Text;

impl Visitor<'_> for Base64Text {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes as a standard base64 string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        STANDARD
            .decode(v)
            .map_err(|e| E::custom(format!("bytes are not valid standard base64 ({e})")))
    }
}

/// Takes a byte string (or an array of byte values).
struct ByteString;

impl<'de> Visitor<'de> for ByteString {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        // The hint comes from the document: trust it only up to a small bound.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }
}
