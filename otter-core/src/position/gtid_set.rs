//! MySQL GTID sets (`uuid:1-100:200,uuid2:tag:1-5`), including MySQL 8.4 tagged GTIDs.
//!
//! Invariants: intervals are inclusive, sorted, non-empty and merged (adjacent or overlapping
//! intervals become one), so equal sets have equal representations and `Display` is canonical
//! (lower-case UUIDs, untagged ranges first, tags in byte order, as MySQL prints them).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use otter_binlog::event::gtid::Uuid;

use crate::error::{Error, Result};

/// A transaction source id: server UUID plus optional tag (empty = untagged).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tsid {
    /// Server UUID.
    pub uuid: Uuid,
    /// Tag (lower case), empty when untagged.
    pub tag: String,
}

/// One MySQL GTID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MysqlGtid {
    /// Source id.
    pub tsid: Tsid,
    /// Transaction number.
    pub gno: u64,
}

impl fmt::Display for MysqlGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tsid.tag.is_empty() {
            write!(f, "{}:{}", self.tsid.uuid, self.gno)
        } else {
            write!(f, "{}:{}:{}", self.tsid.uuid, self.tsid.tag, self.gno)
        }
    }
}

/// A set of MySQL GTIDs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidSet {
    sets: BTreeMap<Tsid, Vec<(u64, u64)>>,
}

impl GtidSet {
    /// The empty set.
    pub fn new() -> GtidSet {
        GtidSet::default()
    }

    /// The source ids and their inclusive intervals.
    pub fn iter(&self) -> impl Iterator<Item = (&Tsid, &[(u64, u64)])> {
        self.sets.iter().map(|(t, v)| (t, v.as_slice()))
    }

    /// True when no GTID is in the set.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Adds the inclusive range `start..=end` of `tsid`.
    pub fn add_range(&mut self, tsid: Tsid, start: u64, end: u64) {
        if start > end || start == 0 {
            return;
        }
        let v = self.sets.entry(tsid).or_default();
        v.push((start, end));
        v.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for &(s, e) in v.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *v = merged;
    }

    /// Adds one GTID.
    pub fn add(&mut self, gtid: &MysqlGtid) {
        self.add_range(gtid.tsid.clone(), gtid.gno, gtid.gno);
    }

    /// True when `gtid` is in the set.
    pub fn contains(&self, gtid: &MysqlGtid) -> bool {
        self.sets.get(&gtid.tsid).is_some_and(|v| v.iter().any(|&(s, e)| s <= gtid.gno && gtid.gno <= e))
    }

    /// True when every GTID of `self` is in `other`.
    pub fn is_subset(&self, other: &GtidSet) -> bool {
        self.sets.iter().all(|(tsid, ranges)| {
            let Some(theirs) = other.sets.get(tsid) else { return false };
            ranges.iter().all(|&(s, e)| theirs.iter().any(|&(ts, te)| ts <= s && e <= te))
        })
    }

    /// Adds every GTID of `other`.
    pub fn union(&mut self, other: &GtidSet) {
        for (tsid, ranges) in &other.sets {
            for &(s, e) in ranges {
                self.add_range(tsid.clone(), s, e);
            }
        }
    }

    /// The GTIDs of `self` that are not in `other`, as a set (used to name purged or errant GTIDs).
    pub fn difference(&self, other: &GtidSet) -> GtidSet {
        let mut out = GtidSet::new();
        for (tsid, ranges) in &self.sets {
            let theirs = other.sets.get(tsid).map(Vec::as_slice).unwrap_or(&[]);
            for &(s, e) in ranges {
                let mut cur = s;
                for &(ts, te) in theirs {
                    if te < cur || ts > e {
                        continue;
                    }
                    if ts > cur {
                        out.add_range(tsid.clone(), cur, ts - 1);
                    }
                    cur = te.saturating_add(1);
                }
                if cur <= e && cur != 0 {
                    out.add_range(tsid.clone(), cur, e);
                }
            }
        }
        out
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first_uuid = true;
        let mut last_uuid: Option<Uuid> = None;
        for (tsid, ranges) in &self.sets {
            if last_uuid != Some(tsid.uuid) {
                if !first_uuid {
                    f.write_str(",")?;
                }
                write!(f, "{}", tsid.uuid)?;
                first_uuid = false;
                last_uuid = Some(tsid.uuid);
            }
            if !tsid.tag.is_empty() {
                write!(f, ":{}", tsid.tag)?;
            }
            for &(s, e) in ranges {
                if s == e {
                    write!(f, ":{s}")?;
                } else {
                    write!(f, ":{s}-{e}")?;
                }
            }
        }
        Ok(())
    }
}

/// Parses a UUID in its 36-character text form (hyphens optional).
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    let hex: Vec<u8> = s.bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        *out.get_mut(i)? = u8::from_str_radix(text, 16).ok()?;
    }
    Some(Uuid(out))
}

fn valid_tag(t: &str) -> bool {
    let mut chars = t.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && t.len() <= 32
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl FromStr for GtidSet {
    type Err = Error;

    fn from_str(s: &str) -> Result<GtidSet> {
        let bad = |why: &str| Error::config(format!("invalid MySQL GTID set {s:?}: {why} (expected e.g. 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100[,...])"));
        let mut set = GtidSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = part.split(':').map(str::trim);
            let uuid = parse_uuid(fields.next().unwrap_or("")).ok_or_else(|| bad("bad UUID"))?;
            let mut tag = String::new();
            let mut any_range = false;
            for f in fields {
                if f.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                    let (a, b) = match f.split_once('-') {
                        Some((a, b)) => (a, b),
                        None => (f, f),
                    };
                    let start: u64 = a.parse().map_err(|_| bad("bad interval"))?;
                    let end: u64 = b.parse().map_err(|_| bad("bad interval"))?;
                    if start == 0 || end < start {
                        return Err(bad("interval must be 1-based and ascending"));
                    }
                    set.add_range(Tsid { uuid, tag: tag.clone() }, start, end);
                    any_range = true;
                } else if valid_tag(f) {
                    tag = f.to_ascii_lowercase();
                } else {
                    return Err(bad("bad tag or interval"));
                }
            }
            if !any_range {
                return Err(bad("UUID without intervals"));
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn parse_merge_display() {
        let s: GtidSet = format!("{U}:1-5:7,{U}:6, {}:3", U.to_uppercase()).parse().unwrap();
        assert_eq!(s.to_string(), format!("{U}:1-7"));
        let t: GtidSet = format!("{U}:1-3:mytag:1-2:5").parse().unwrap();
        assert_eq!(t.to_string(), format!("{U}:1-3:mytag:1-2:5"));
        assert!("nonsense".parse::<GtidSet>().is_err());
        assert!(format!("{U}:0-3").parse::<GtidSet>().is_err());
        assert!(U.parse::<GtidSet>().is_err());
    }

    #[test]
    fn set_algebra() {
        let a: GtidSet = format!("{U}:1-10").parse().unwrap();
        let b: GtidSet = format!("{U}:1-4:8-20").parse().unwrap();
        assert!(!a.is_subset(&b));
        assert_eq!(a.difference(&b).to_string(), format!("{U}:5-7"));
        let mut c = b.clone();
        c.union(&a);
        assert_eq!(c.to_string(), format!("{U}:1-20"));
        let g = MysqlGtid { tsid: Tsid { uuid: parse_uuid(U).unwrap(), tag: String::new() }, gno: 9 };
        assert!(b.contains(&g) && a.contains(&g));
    }
}
