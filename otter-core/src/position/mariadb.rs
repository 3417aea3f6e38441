//! MariaDB GTID positions: the last GTID per replication domain (`0-1-100,1-2-7`), as in
//! `@@gtid_binlog_pos`, `@@gtid_slave_pos` and `@slave_connect_state`.
//!
//! Invariant: one entry per domain; a position "contains" a GTID when the GTID's sequence number
//! is at or below the entry of its domain (MariaDB orders by sequence within a domain).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use otter_binlog::event::mariadb_gtid::MariadbGtid;

use crate::error::{Error, Result};

/// The last applied GTID of every domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MariadbGtidPos {
    domains: BTreeMap<u32, MariadbGtid>,
}

impl MariadbGtidPos {
    /// The empty position (start of history).
    pub fn new() -> MariadbGtidPos {
        MariadbGtidPos::default()
    }

    /// True when no domain has a GTID yet.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Records `gtid` as the latest of its domain.
    pub fn update(&mut self, gtid: MariadbGtid) {
        self.domains.insert(gtid.domain_id, gtid);
    }

    /// True when `gtid` is at or before this position in its domain.
    pub fn contains(&self, gtid: &MariadbGtid) -> bool {
        self.domains.get(&gtid.domain_id).is_some_and(|p| gtid.seq_no <= p.seq_no)
    }

    /// The entries, by domain.
    pub fn gtids(&self) -> impl Iterator<Item = &MariadbGtid> {
        self.domains.values()
    }

    /// The entry of `domain`.
    pub fn get(&self, domain: u32) -> Option<&MariadbGtid> {
        self.domains.get(&domain)
    }
}

impl fmt::Display for MariadbGtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.domains.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{g}")?;
        }
        Ok(())
    }
}

/// Parses one `domain-server-seq` GTID.
pub fn parse_mariadb_gtid(s: &str) -> Option<MariadbGtid> {
    let mut it = s.trim().split('-');
    let domain_id = it.next()?.parse().ok()?;
    let server_id = it.next()?.parse().ok()?;
    let seq_no = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Some(MariadbGtid { domain_id, server_id, seq_no })
}

impl FromStr for MariadbGtidPos {
    type Err = Error;

    fn from_str(s: &str) -> Result<MariadbGtidPos> {
        let mut pos = MariadbGtidPos::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let g = parse_mariadb_gtid(part).ok_or_else(|| {
                Error::config(format!(
                    "invalid MariaDB GTID {part:?} in {s:?}: expected domain-server-sequence, e.g. 0-1-100"
                ))
            })?;
            if pos.domains.contains_key(&g.domain_id) {
                return Err(Error::config(format!("MariaDB GTID position {s:?} names domain {} twice", g.domain_id)));
            }
            pos.update(g);
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_contains() {
        let p: MariadbGtidPos = "1-2-7, 0-1-100".parse().unwrap();
        assert_eq!(p.to_string(), "0-1-100,1-2-7");
        assert!(p.contains(&MariadbGtid { domain_id: 0, server_id: 9, seq_no: 100 }));
        assert!(!p.contains(&MariadbGtid { domain_id: 0, server_id: 1, seq_no: 101 }));
        assert!(!p.contains(&MariadbGtid { domain_id: 5, server_id: 1, seq_no: 1 }));
        assert!("0-1".parse::<MariadbGtidPos>().is_err());
        assert!("0-1-2,0-1-3".parse::<MariadbGtidPos>().is_err());
        assert!("".parse::<MariadbGtidPos>().unwrap().is_empty());
    }
}
