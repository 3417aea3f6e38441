//! RFC 3339 timestamps (`2026-01-01T00:00:00Z`, `2026-01-01 08:00:00+08:00`) to and from Unix
//! seconds, without a date-time dependency.

use otter_binlog::temporal::{civil_from_days, days_from_civil};

use crate::error::{Error, Result};

/// Parses `YYYY-MM-DD[T ]hh:mm:ss[.frac](Z|±hh:mm)` (a missing zone means UTC) to Unix seconds.
pub fn parse_rfc3339(s: &str) -> Result<i64> {
    let bad = || Error::config(format!("invalid time {s:?}: expected e.g. 2026-01-01T00:00:00Z"));
    let t = s.trim();
    let num = |a: usize, b: usize| -> Result<i64> { t.get(a..b).and_then(|x| x.parse().ok()).ok_or_else(bad) };
    if t.len() < 19 || !matches!(t.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return Err(bad());
    }
    let (y, mo, d, h, mi, se) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let mut rest = t.get(19..).unwrap_or("");
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = frac.get(digits..).unwrap_or("");
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => {
            let oh: i64 = z.get(1..3).and_then(|x| x.parse().ok()).ok_or_else(bad)?;
            let om: i64 = z.get(4..6).and_then(|x| x.parse().ok()).ok_or_else(bad)?;
            let secs = oh * 3600 + om * 60;
            if z.starts_with('-') {
                -secs
            } else {
                secs
            }
        }
        _ => return Err(bad()),
    };
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// Formats Unix seconds as `YYYY-MM-DDThh:mm:ssZ`.
pub fn format_rfc3339(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let r = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", r / 3600, r / 60 % 60, r % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for secs in [0i64, 951_782_400, 1_767_225_600, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)).unwrap(), secs);
        }
        assert_eq!(parse_rfc3339("2026-01-01 08:00:00+08:00").unwrap(), 1_767_225_600);
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00.123Z").unwrap(), 1_767_225_600);
        assert!(parse_rfc3339("2026-13-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("2026-01-01").is_err());
    }
}
