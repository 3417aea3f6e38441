//! Positions in a source's binlog: file coordinates, GTID states (MySQL sets, MariaDB
//! positions), the [`Position`] a checkpoint stores, and the [`StartFrom`] choices of a source.
//!
//! Invariants: [`BinlogCoord`]s order by file sequence number, then offset, so they compare across
//! rotations; a [`Position`] always points at a transaction boundary (plus `skip_rows` already
//! applied rows of the transaction that starts there), never into the middle of an event group.

mod gtid_set;
mod mariadb;
pub mod snapshot;
mod time;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use self::gtid_set::{parse_uuid, GtidSet, MysqlGtid, Tsid};
pub use self::mariadb::{parse_mariadb_gtid, MariadbGtidPos};
pub use self::time::{format_rfc3339, parse_rfc3339};
use crate::error::{Error, Result};

/// A place in a binlog: file name and byte offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BinlogCoord {
    /// File name, e.g. `mysql-bin.000003`.
    pub file: String,
    /// Byte offset in the file.
    pub offset: u64,
}

impl BinlogCoord {
    /// A coordinate.
    pub fn new(file: impl Into<String>, offset: u64) -> BinlogCoord {
        BinlogCoord { file: file.into(), offset }
    }

    /// The numeric suffix of the file name (`mysql-bin.000003` → 3).
    pub fn file_seq(&self) -> u64 {
        self.file.rsplit('.').next().and_then(|s| s.parse().ok()).unwrap_or(0)
    }
}

impl Ord for BinlogCoord {
    fn cmp(&self, other: &Self) -> Ordering {
        // The common case (ordering changes of one stream) compares offsets in the same file
        // without parsing the file names; the result is the same as the general rule below.
        if self.file == other.file {
            return self.offset.cmp(&other.offset);
        }
        (self.file_seq(), &self.file, self.offset).cmp(&(other.file_seq(), &other.file, other.offset))
    }
}

impl PartialOrd for BinlogCoord {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BinlogCoord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.offset)
    }
}

impl FromStr for BinlogCoord {
    type Err = Error;

    fn from_str(s: &str) -> Result<BinlogCoord> {
        let (file, off) = s
            .rsplit_once(':')
            .ok_or_else(|| Error::config(format!("invalid binlog position {s:?}: expected FILE:OFFSET, e.g. mysql-bin.000003:4")))?;
        let offset = off
            .trim()
            .parse()
            .map_err(|_| Error::config(format!("invalid binlog position {s:?}: offset {off:?} is not a number")))?;
        if file.trim().is_empty() {
            return Err(Error::config(format!("invalid binlog position {s:?}: empty file name")));
        }
        Ok(BinlogCoord { file: file.trim().to_owned(), offset })
    }
}

/// The executed-GTID state of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidState {
    /// MySQL: the set of executed GTIDs.
    Mysql(GtidSet),
    /// MariaDB: the last GTID per domain.
    Mariadb(MariadbGtidPos),
}

impl fmt::Display for GtidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidState::Mysql(s) => s.fmt(f),
            GtidState::Mariadb(p) => p.fmt(f),
        }
    }
}

impl GtidState {
    /// Adds `other`: MariaDB keeps the newer GTID (higher sequence number) of each domain, MySQL
    /// unites the sets. States of two server kinds do not merge (`self` stays).
    pub fn merge(&mut self, other: &GtidState) {
        match (self, other) {
            (GtidState::Mariadb(a), GtidState::Mariadb(b)) => {
                for g in b.gtids() {
                    if !a.contains(g) {
                        a.update(*g);
                    }
                }
            }
            (GtidState::Mysql(a), GtidState::Mysql(b)) => a.union(b),
            _ => {}
        }
    }

    /// The union of two optional states ([`GtidState::merge`]).
    pub fn merged(a: Option<&GtidState>, b: Option<&GtidState>) -> Option<GtidState> {
        match (a, b) {
            (Some(a), Some(b)) => {
                let mut m = a.clone();
                m.merge(b);
                Some(m)
            }
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (None, None) => None,
        }
    }
}

impl FromStr for GtidState {
    type Err = Error;

    /// A MySQL set when the text holds a UUID, otherwise a MariaDB position.
    fn from_str(s: &str) -> Result<GtidState> {
        let looks_mysql = s.split(',').any(|p| p.split(':').next().is_some_and(|u| parse_uuid(u.trim()).is_some()));
        if looks_mysql {
            Ok(GtidState::Mysql(s.parse()?))
        } else {
            Ok(GtidState::Mariadb(s.parse()?))
        }
    }
}

/// Where a stream stands after a transaction: what a checkpoint stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The next event to read: the start of the first transaction not (fully) applied.
    #[serde(with = "coord_text")]
    pub coord: BinlogCoord,
    /// The executed GTIDs up to `coord`, when the source uses GTIDs.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "gtid_text")]
    pub gtid: Option<GtidState>,
    /// Rows of the transaction at `coord` already applied (a huge transaction applied in parts).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skip_rows: u64,
    /// While an online snapshot runs: how far it has copied ([`snapshot`]). Shared, so handing
    /// it out with every event costs a reference count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<std::sync::Arc<snapshot::SnapshotProgress>>,
    /// GTIDs the target may already hold beyond `coord` (set by a loader from its checkpoint: the
    /// end of the newest batch any partition applied). A server the capture fails over to must
    /// have them; never used to start a stream.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "gtid_text")]
    pub applied: Option<GtidState>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.coord)?;
        if let Some(g) = &self.gtid {
            if !g.to_string().is_empty() {
                write!(f, " gtid={g}")?;
            }
        }
        if self.skip_rows > 0 {
            write!(f, " (+{} rows)", self.skip_rows)?;
        }
        if let Some(s) = &self.snapshot {
            write!(f, " snapshot: {} rows copied, {} tables to finish", s.copied(), s.tables_left())?;
        }
        Ok(())
    }
}

mod coord_text {
    use super::*;
    pub fn serialize<S: Serializer>(c: &BinlogCoord, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&c.to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<BinlogCoord, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

mod gtid_text {
    use super::*;
    pub fn serialize<S: Serializer>(g: &Option<GtidState>, s: S) -> std::result::Result<S::Ok, S::Error> {
        match g {
            Some(GtidState::Mysql(set)) => s.serialize_str(&format!("mysql:{set}")),
            Some(GtidState::Mariadb(pos)) => s.serialize_str(&format!("mariadb:{pos}")),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<GtidState>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else { return Ok(None) };
        let parsed = if let Some(t) = text.strip_prefix("mysql:") {
            t.parse().map(GtidState::Mysql)
        } else if let Some(t) = text.strip_prefix("mariadb:") {
            t.parse().map(GtidState::Mariadb)
        } else {
            text.parse()
        };
        parsed.map(Some).map_err(serde::de::Error::custom)
    }
}

/// Where a source starts reading when no checkpoint exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFrom {
    /// The current end of the binlog (only new transactions).
    Latest,
    /// The oldest binlog the server still has.
    Earliest,
    /// A file position, e.g. `mysql-bin.000003:4`.
    Coord(BinlogCoord),
    /// After the given executed GTIDs (MySQL set or MariaDB position).
    Gtid(GtidState),
    /// The first transaction committed at or after this Unix time (seconds).
    Timestamp(i64),
}

impl FromStr for StartFrom {
    type Err = Error;

    /// `latest`, `earliest`, `FILE:OFFSET`, a GTID set/position, or `@TIME` (RFC 3339 or Unix seconds).
    fn from_str(s: &str) -> Result<StartFrom> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "latest" => return Ok(StartFrom::Latest),
            "earliest" => return Ok(StartFrom::Earliest),
            _ => {}
        }
        if let Some(ts) = t.strip_prefix('@') {
            let secs = match ts.parse::<i64>() {
                Ok(n) => n,
                Err(_) => parse_rfc3339(ts)?,
            };
            return Ok(StartFrom::Timestamp(secs));
        }
        let gtid_like = t.split(',').all(|p| parse_mariadb_gtid(p).is_some())
            || t.split(',').any(|p| p.split(':').next().is_some_and(|u| parse_uuid(u.trim()).is_some()));
        if gtid_like {
            return Ok(StartFrom::Gtid(t.parse()?));
        }
        if t.contains(':') {
            return Ok(StartFrom::Coord(t.parse()?));
        }
        Err(Error::config(format!(
            "invalid start position {s:?}: use latest, earliest, FILE:OFFSET, a GTID set \
             (uuid:1-100 or 0-1-100) or @2026-01-01T00:00:00Z"
        )))
    }
}

impl fmt::Display for StartFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartFrom::Latest => f.write_str("latest"),
            StartFrom::Earliest => f.write_str("earliest"),
            StartFrom::Coord(c) => c.fmt(f),
            StartFrom::Gtid(g) => g.fmt(f),
            StartFrom::Timestamp(t) => write!(f, "@{}", format_rfc3339(*t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_states_merge_per_domain_or_as_sets() {
        let mut a: GtidState = "0-1-10,1-2-5".parse().unwrap();
        a.merge(&"0-3-12,1-2-4,2-1-1".parse().unwrap());
        assert_eq!(a.to_string(), "0-3-12,1-2-5,2-1-1");
        let mut m: GtidState = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5".parse().unwrap();
        m.merge(&"3e11fa47-71ca-11e1-9e33-c80aa9429562:7".parse().unwrap());
        assert_eq!(m.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7");
        assert_eq!(GtidState::merged(None, None), None);
    }

    #[test]
    fn coords_order_across_files() {
        let a: BinlogCoord = "mysql-bin.000009:900".parse().unwrap();
        let b: BinlogCoord = "mysql-bin.000010:4".parse().unwrap();
        assert!(a < b);
        assert!("mysql-bin.000001".parse::<BinlogCoord>().is_err());
        assert!("x:y".parse::<BinlogCoord>().is_err());
    }

    #[test]
    fn start_from_forms() {
        assert_eq!("latest".parse::<StartFrom>().unwrap(), StartFrom::Latest);
        assert_eq!("EARLIEST".parse::<StartFrom>().unwrap(), StartFrom::Earliest);
        assert_eq!("mysql-bin.000003:4".parse::<StartFrom>().unwrap(), StartFrom::Coord(BinlogCoord::new("mysql-bin.000003", 4)));
        assert!(matches!("0-1-100,1-2-3".parse::<StartFrom>().unwrap(), StartFrom::Gtid(GtidState::Mariadb(_))));
        assert!(matches!(
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100".parse::<StartFrom>().unwrap(),
            StartFrom::Gtid(GtidState::Mysql(_))
        ));
        assert_eq!("@2026-01-01T00:00:00Z".parse::<StartFrom>().unwrap(), StartFrom::Timestamp(1_767_225_600));
        assert_eq!("@1767225600".parse::<StartFrom>().unwrap(), StartFrom::Timestamp(1_767_225_600));
        assert!("yesterday".parse::<StartFrom>().is_err());
    }

    #[test]
    fn position_serde_round_trip() {
        let p = Position {
            coord: BinlogCoord::new("mysql-bin.000002", 1234),
            gtid: Some("0-1-55".parse().unwrap()),
            skip_rows: 7,
            snapshot: None,
            applied: None,
};
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(text, r#"{"coord":"mysql-bin.000002:1234","gtid":"mariadb:0-1-55","skip_rows":7}"#);
        assert_eq!(serde_json::from_str::<Position>(&text).unwrap(), p);
        assert_eq!(p.to_string(), "mysql-bin.000002:1234 gtid=0-1-55 (+7 rows)");
    }
}
