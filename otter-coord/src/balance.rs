//! Which pipelines a node claims and releases ([`plan`]): a pure function of the live nodes and
//! the current owners, so every node decides the same way without talking to the others.
//!
//! Invariant: a node never claims past its fair share `ceil(P / N)` (N live nodes), and releases
//! what it holds beyond it; so once claims settle each node holds at most `ceil(P / N)`, and a
//! node that joins finds pipelines freed for it within a round.

use std::collections::BTreeMap;

/// What the coordinator shows: the live nodes and who owns each pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Live nodes (their keys exist).
    pub nodes: Vec<String>,
    /// Pipeline -> (owning node, fencing epoch).
    pub owners: BTreeMap<String, (String, i64)>,
}

/// What one node should do now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Free pipelines to claim (in order; a claim may lose a race).
    pub claim: Vec<String>,
    /// Pipelines to stop and give up (beyond the fair share).
    pub release: Vec<String>,
}

/// The plan of node `me` for `pipelines` given `view`.
pub fn plan(pipelines: &[String], view: &View, me: &str) -> Plan {
    let n = view.nodes.len().max(1) + usize::from(!view.nodes.iter().any(|x| x == me));
    let fair = pipelines.len().div_ceil(n);
    let mine: Vec<&String> = pipelines.iter().filter(|p| view.owners.get(*p).is_some_and(|(o, _)| o == me)).collect();
    let mut out = Plan::default();
    if mine.len() > fair {
        out.release = mine.iter().rev().take(mine.len() - fair).map(|p| (*p).clone()).collect();
        return out;
    }
    // Free pipelines, each node trying them in its own order (fewer lost races).
    let mut free: Vec<&String> = pipelines.iter().filter(|p| !view.owners.contains_key(*p)).collect();
    free.sort_by_key(|p| rank(p, me));
    out.claim = free.into_iter().take(fair - mine.len()).cloned().collect();
    out
}

/// A stable per-node order of pipelines (FNV-1a of node and pipeline).
fn rank(pipeline: &str, node: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes().chain([0]).chain(pipeline.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("p{i}")).collect()
    }

    /// Runs rounds where every node plans on the same view and claims first-come.
    fn settle(pipelines: &[String], nodes: &[&str], mut owners: BTreeMap<String, (String, i64)>) -> BTreeMap<String, (String, i64)> {
        let mut rev = 100;
        for _ in 0..10 {
            for me in nodes {
                let view = View { nodes: nodes.iter().map(|s| (*s).to_owned()).collect(), owners: owners.clone() };
                let p = plan(pipelines, &view, me);
                for r in &p.release {
                    owners.remove(r);
                }
                for c in &p.claim {
                    rev += 1;
                    owners.entry(c.clone()).or_insert(((*me).to_owned(), rev));
                }
            }
        }
        owners
    }

    fn counts(owners: &BTreeMap<String, (String, i64)>, nodes: &[&str]) -> Vec<usize> {
        nodes.iter().map(|n| owners.values().filter(|(o, _)| o == n).count()).collect()
    }

    #[test]
    fn six_pipelines_spread_two_by_two_and_move_when_a_node_dies_or_joins() {
        let ps = names(6);
        let owners = settle(&ps, &["a", "b", "c"], BTreeMap::new());
        assert_eq!(owners.len(), 6);
        assert_eq!(counts(&owners, &["a", "b", "c"]), [2, 2, 2]);
        // c dies: its claims expire (etcd deletes them); a and b take them, 3 each.
        let survived: BTreeMap<_, _> = owners.into_iter().filter(|(_, (o, _))| o != "c").collect();
        let owners = settle(&ps, &["a", "b"], survived);
        assert_eq!(counts(&owners, &["a", "b"]), [3, 3]);
        // d joins: a and b give one each.
        let owners = settle(&ps, &["a", "b", "d"], owners);
        assert_eq!(counts(&owners, &["a", "b", "d"]), [2, 2, 2]);
    }

    #[test]
    fn uneven_counts_stay_within_the_ceiling() {
        let ps = names(7);
        let owners = settle(&ps, &["a", "b", "c"], BTreeMap::new());
        assert_eq!(owners.len(), 7);
        assert!(counts(&owners, &["a", "b", "c"]).iter().all(|&c| c <= 3));
        // A node not yet registered plans as if it were live.
        let view = View { nodes: vec!["a".into()], owners: BTreeMap::new() };
        assert_eq!(plan(&names(4), &view, "b").claim.len(), 2);
    }
}
