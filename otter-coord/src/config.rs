//! The `[coordinator]` section of a pipelines file.

use std::time::Duration;

use otter_core::{Error, Result};
use serde::Deserialize;

/// Where the nodes of one otter cluster meet.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    /// The coordinator: `etcd` (the only one so far).
    pub kind: String,
    /// etcd client URLs (`http://host:2379`; several for a cluster).
    pub endpoints: Vec<String>,
    /// Key prefix of this otter cluster in etcd (default `/otter/default`): nodes with the same
    /// pipelines file and prefix share the pipelines.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Seconds a node's claims outlive it (default 5): a node that died or lost etcd frees its
    /// pipelines this long after its last renewal; it stops writing after half of it.
    #[serde(default = "default_ttl")]
    pub ttl_secs: u64,
}

fn default_prefix() -> String {
    "/otter/default".into()
}

fn default_ttl() -> u64 {
    5
}

impl CoordinatorConfig {
    /// An etcd coordinator with defaults.
    pub fn etcd(endpoints: Vec<String>) -> CoordinatorConfig {
        CoordinatorConfig { kind: "etcd".into(), endpoints, prefix: default_prefix(), ttl_secs: default_ttl() }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if self.kind != "etcd" {
            return Err(Error::config(format!("coordinator kind {:?} is not known: use \"etcd\"", self.kind)));
        }
        if self.endpoints.is_empty() {
            return Err(Error::config("coordinator.endpoints is empty: give the etcd client URLs, e.g. [\"http://127.0.0.1:2379\"]"));
        }
        if !(2..=300).contains(&self.ttl_secs) {
            return Err(Error::config(format!("coordinator.ttl_secs must be between 2 and 300 (got {})", self.ttl_secs)));
        }
        if !self.prefix.starts_with('/') {
            return Err(Error::config(format!("coordinator.prefix {:?} must start with '/'", self.prefix)));
        }
        Ok(())
    }

    /// The lease TTL.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_values_say_what_to_do() {
        let mut c = CoordinatorConfig::etcd(vec!["http://127.0.0.1:2379".into()]);
        assert!(c.validate().is_ok());
        c.kind = "zookeeper".into();
        assert!(c.validate().unwrap_err().to_string().contains("use \"etcd\""));
        let c = CoordinatorConfig { endpoints: Vec::new(), ..CoordinatorConfig::etcd(Vec::new()) };
        assert!(c.validate().unwrap_err().to_string().contains("endpoints"));
        let c = CoordinatorConfig { ttl_secs: 1, ..CoordinatorConfig::etcd(vec!["x".into()]) };
        assert!(c.validate().is_err());
    }
}
