//! One otter node in an etcd cluster ([`Member`]).
//!
//! Keys under the cluster's prefix: `nodes/<node>` (the member's description) and
//! `owners/<pipeline>` (the owning node), both attached to the member's lease, so etcd deletes
//! them when the member stops renewing it (process dead, machine gone, etcd unreachable from it).
//!
//! Invariants: a claim succeeds only where no owner key exists (a transaction on its create
//! revision), so one node owns a pipeline at a time in etcd's order; the owner key's create
//! revision is the fencing epoch; a member that could not renew its lease for half the TTL says
//! so on [`Member::healthy`] — before etcd can hand its pipelines to another node — and one whose
//! lease expired never claims again (a new member with a new lease must join).

use std::time::{Duration, Instant};

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, GetOptions, PutOptions, Txn, TxnOp};
use otter_core::{Error, ErrorKind, Result};
use tokio::sync::watch;

use crate::balance::View;
use crate::config::CoordinatorConfig;

/// This node's membership: its lease, kept alive in the background until dropped.
pub struct Member {
    client: Client,
    node: String,
    lease: i64,
    prefix: String,
    healthy: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn unreachable(e: &etcd_client::Error, what: &str, endpoints: &[String]) -> Error {
    Error::new(ErrorKind::Connection, format!("etcd ({}): {what}: {e}", endpoints.join(", ")))
}

impl Member {
    /// Joins the cluster as `node` (unique among the nodes: e.g. host and process id).
    pub async fn join(cfg: &CoordinatorConfig, node: &str) -> Result<Member> {
        cfg.validate()?;
        let options = ConnectOptions::new().with_connect_timeout(Duration::from_secs(3)).with_timeout(Duration::from_secs(3));
        let mut client = Client::connect(&cfg.endpoints, Some(options)).await.map_err(|e| unreachable(&e, "connecting", &cfg.endpoints))?;
        let ttl = i64::try_from(cfg.ttl_secs).unwrap_or(5);
        let lease = client.lease_grant(ttl, None).await.map_err(|e| unreachable(&e, "taking a lease", &cfg.endpoints))?.id();
        let prefix = cfg.prefix.trim_end_matches('/').to_owned();
        client
            .put(format!("{prefix}/nodes/{node}"), node, Some(PutOptions::new().with_lease(lease)))
            .await
            .map_err(|e| unreachable(&e, "registering this node", &cfg.endpoints))?;
        let (tx, healthy) = watch::channel(true);
        let task = tokio::spawn(keep_alive(client.clone(), lease, cfg.ttl(), tx));
        tracing::info!(node, lease, prefix = %prefix, "Joined the otter cluster on etcd.");
        Ok(Member { client, node: node.to_owned(), lease, prefix, healthy, task })
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// `true` while the lease is renewed; `false` once it could not be for half its TTL (stop
    /// writing). After the lease expired the member stays unhealthy: join again.
    pub fn healthy(&self) -> watch::Receiver<bool> {
        self.healthy.clone()
    }

    /// Whether the lease may still be alive (the keep-alive task runs).
    pub fn alive(&self) -> bool {
        !self.task.is_finished()
    }

    fn owner_key(&self, pipeline: &str) -> String {
        format!("{}/owners/{pipeline}", self.prefix)
    }

    /// The live nodes and the pipelines' owners.
    pub async fn view(&self) -> Result<View> {
        let mut c = self.client.clone();
        let err = |e: etcd_client::Error| Error::new(ErrorKind::Connection, format!("etcd: reading the cluster: {e}"));
        let nodes_prefix = format!("{}/nodes/", self.prefix);
        let owners_prefix = format!("{}/owners/", self.prefix);
        let nodes = c.get(nodes_prefix.as_str(), Some(GetOptions::new().with_prefix())).await.map_err(err)?;
        let owners = c.get(owners_prefix.as_str(), Some(GetOptions::new().with_prefix())).await.map_err(err)?;
        let mut view = View::default();
        for kv in nodes.kvs() {
            if let Ok(k) = kv.key_str() {
                view.nodes.push(k.trim_start_matches(&nodes_prefix).to_owned());
            }
        }
        for kv in owners.kvs() {
            if let (Ok(k), Ok(v)) = (kv.key_str(), kv.value_str()) {
                view.owners.insert(k.trim_start_matches(&owners_prefix).to_owned(), (v.to_owned(), kv.create_revision()));
            }
        }
        Ok(view)
    }

    /// Claims `pipeline` when nobody owns it: `Some(epoch)` (the owner key's create revision),
    /// `None` when another node has it.
    pub async fn claim(&self, pipeline: &str) -> Result<Option<u64>> {
        if !*self.healthy.borrow() || !self.alive() {
            return Ok(None);
        }
        let key = self.owner_key(pipeline);
        let txn = Txn::new()
            .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.as_str(), self.node.as_str(), Some(PutOptions::new().with_lease(self.lease)))]);
        let r = self.client.clone().txn(txn).await.map_err(|e| Error::new(ErrorKind::Connection, format!("etcd: claiming {pipeline}: {e}")))?;
        if !r.succeeded() {
            return Ok(None);
        }
        let revision = r.header().map_or(0, |h| h.revision());
        Ok(u64::try_from(revision).ok().filter(|&r| r > 0))
    }

    /// Gives `pipeline` up (only if this node still owns it).
    pub async fn release(&self, pipeline: &str) -> Result<()> {
        let key = self.owner_key(pipeline);
        let txn = Txn::new().when([Compare::value(key.as_str(), CompareOp::Equal, self.node.as_str())]).and_then([TxnOp::delete(key.as_str(), None)]);
        self.client.clone().txn(txn).await.map_err(|e| Error::new(ErrorKind::Connection, format!("etcd: releasing {pipeline}: {e}")))?;
        Ok(())
    }

    /// Leaves the cluster: the lease is revoked, so this node's pipelines are free at once.
    pub async fn leave(self) {
        let _ = tokio::time::timeout(Duration::from_secs(3), self.client.clone().lease_revoke(self.lease)).await;
    }
}

/// `otter check`'s look at the coordinator: reachable, and what it shows (nodes, owners); a
/// failure says what to check. Writes nothing.
pub async fn check(cfg: &CoordinatorConfig) -> otter_core::preflight::Check {
    use otter_core::preflight::Check;
    const NAME: &str = "coordinator";
    if let Err(e) = cfg.validate() {
        return Check::fail(NAME, ErrorKind::Config, e.to_string());
    }
    let options = ConnectOptions::new().with_connect_timeout(Duration::from_secs(3)).with_timeout(Duration::from_secs(3));
    let fix = "check `endpoints` in [coordinator] and that etcd runs and is reachable from this machine";
    let mut client = match Client::connect(&cfg.endpoints, Some(options)).await {
        Ok(c) => c,
        Err(e) => return Check::fail(NAME, ErrorKind::Preflight, format!("etcd ({}) cannot be reached: {e}; {fix}", cfg.endpoints.join(", "))),
    };
    let prefix = cfg.prefix.trim_end_matches('/');
    let count = |r: std::result::Result<etcd_client::GetResponse, etcd_client::Error>| r.map(|r| r.kvs().len());
    let nodes = count(client.get(format!("{prefix}/nodes/"), Some(GetOptions::new().with_prefix().with_keys_only())).await);
    let owners = count(client.get(format!("{prefix}/owners/"), Some(GetOptions::new().with_prefix().with_keys_only())).await);
    match (nodes, owners) {
        (Ok(n), Ok(o)) => Check::pass(NAME, format!("etcd at {} answers; under {prefix}: {n} live node(s), {o} pipeline(s) held", cfg.endpoints.join(", "))),
        (Err(e), _) | (_, Err(e)) => Check::fail(NAME, ErrorKind::Preflight, format!("etcd ({}) cannot be reached or does not answer: {e}; {fix}", cfg.endpoints.join(", "))),
    }
}

/// Renews `lease` every third of `ttl`; reports unhealthy after half of `ttl` without a renewal,
/// and ends once the lease is gone (expired on the server, or unrenewed for longer than `ttl`).
async fn keep_alive(mut client: Client, lease: i64, ttl: Duration, healthy: watch::Sender<bool>) {
    let every = (ttl / 3).max(Duration::from_millis(300));
    let mut last_ok = Instant::now();
    let set = |ok: bool| {
        healthy.send_if_modified(|h| {
            let changed = *h != ok;
            *h = ok;
            changed
        });
    };
    loop {
        if let Ok(Ok((mut keeper, mut stream))) = tokio::time::timeout(every, client.lease_keep_alive(lease)).await {
            loop {
                let renewed = tokio::time::timeout(every, async {
                    keeper.keep_alive().await?;
                    stream.message().await
                })
                .await;
                match renewed {
                    Ok(Ok(Some(r))) if r.ttl() > 0 => {
                        last_ok = Instant::now();
                        set(true);
                    }
                    Ok(Ok(Some(_))) => {
                        tracing::error!(lease, "The etcd lease expired: this node's pipelines were freed; it stops them and joins again.");
                        set(false);
                        return;
                    }
                    _ => break,
                }
                tokio::time::sleep(every).await;
            }
        }
        if last_ok.elapsed() > ttl / 2 {
            if *healthy.borrow() {
                tracing::error!(lease, secs = last_ok.elapsed().as_secs(), "Cannot renew the etcd lease: stopping this node's pipelines before another node may take them.");
            }
            set(false);
        }
        if last_ok.elapsed() > ttl {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
