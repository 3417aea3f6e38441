//! Placeholder: replaced by the full DECIMAL codec.
use std::borrow::Cow;

use crate::error::{invalid, Result};
use crate::reader::{OrTruncated, Reader};

/// A packed binary DECIMAL value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal<'a> {
    raw: Cow<'a, [u8]>,
    precision: u8,
    scale: u8,
}

const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

impl<'a> Decimal<'a> {
    /// Bytes of DECIMAL(precision, scale).
    pub fn binary_len(precision: u8, scale: u8) -> Option<usize> {
        if precision == 0 || precision > 65 || scale > 30 || scale > precision {
            return None;
        }
        let intg = usize::from(precision - scale);
        let frac = usize::from(scale);
        Some(intg / 9 * 4 + DIG2BYTES.get(intg % 9)? + frac / 9 * 4 + DIG2BYTES.get(frac % 9)?)
    }

    /// Reads a value.
    pub fn read(r: &mut Reader<'a>, precision: u8, scale: u8) -> Result<Self> {
        let n = Self::binary_len(precision, scale).ok_or(invalid("decimal precision"))?;
        Ok(Decimal { raw: Cow::Borrowed(r.take(n).or_trunc("decimal")?), precision, scale })
    }

    /// Raw bytes.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Owned copy.
    pub fn into_owned(self) -> Decimal<'static> {
        Decimal { raw: Cow::Owned(self.raw.into_owned()), precision: self.precision, scale: self.scale }
    }
}

impl std::fmt::Display for Decimal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<decimal {:?}>", self.raw)
    }
}
