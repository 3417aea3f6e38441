//! Taking a pipeline's lease on the target ([`acquire`]) and keeping it ([`Lease`]).
//!
//! Invariants: the epoch only ever grows (a new holder takes `max(lease epoch, checkpoint
//! epochs) + 1`); it is raised in a transaction holding the lease row exclusively, so the raise
//! waits for every apply transaction of the old holder that passed its epoch check; the old
//! holder's registered connections are killed before and after the raise (a paused holder's open
//! transactions roll back, its later writes are fenced); lease times are the target's UTC clock,
//! never this machine's. A live holder is never taken over: only one whose lease connection is
//! gone (the process died) or whose lease expired (paused or cut off for longer than the lease).

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use otter_core::instance::Holder;
use otter_core::mysql::quote::text;
use otter_core::mysql::conn::{server_code, translate, ConnectOptions};
use otter_core::{Error, ErrorKind, Result};

use super::{Fence, CONN_TABLE, LEASE_TABLE};

/// How the lease is held.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// Lease length (default 6 s): the holder's lease connection is used every third of it, and a
    /// holder whose lease connection stayed idle longer (as the target measures it: paused, or cut
    /// off) may be taken over.
    pub ttl: Duration,
    /// How long a starting instance waits for the lease connection of a holder that just died to
    /// be closed by the server before it reports the pipeline as running (default 3 s).
    pub wait_for_dead: Duration,
    /// Stand by instead of failing while another instance holds the pipeline: wait until it dies
    /// or its lease expires, then take over (default false; see [`super::standby`]).
    pub standby: bool,
    /// The epoch a coordinator granted (etcd: the revision of this node's claim): the pipeline is
    /// taken over at once even from a live holder (the coordinator decided that it lost it), and
    /// this becomes the fencing epoch when it is above every earlier one (default none).
    pub coordinated: Option<u64>,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        LeaseOptions { ttl: Duration::from_secs(6), wait_for_dead: Duration::from_secs(3), standby: false, coordinated: None }
    }
}

/// A held lease: renewed in the background until dropped. Dropping it closes the lease
/// connection, which frees the pipeline for the next instance at once.
#[derive(Debug)]
pub struct Lease {
    fence: Arc<Fence>,
    task: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// The fence the apply transactions check.
    pub fn fence(&self) -> &Arc<Fence> {
        &self.fence
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The named lock a holder's lease connection keeps (at most 64 characters).
fn lock_name(schema: &str, pipeline: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in schema.bytes().chain([0]).chain(pipeline.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("otter.lease.{h:016x}")
}

fn err(e: mysql_async::Error) -> Error {
    translate(e, "taking the pipeline's lease on the target")
}

/// The target's boot time, Unix seconds.
async fn boot_time(conn: &mut Conn) -> Result<i64> {
    let row: Option<(i64, i64)> = conn
        .query_first("SELECT UNIX_TIMESTAMP(), VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME'")
        .await
        .map_err(err)?;
    Ok(row.map_or(0, |(now, up)| now - up))
}

/// Takes pipeline `pipeline` on the target (tables in `schema`, which exist): returns at once
/// when nobody holds it, when its holder died, or when the holder's lease expired (then its
/// connections are killed); with a live holder it fails with [`ErrorKind::AlreadyRunning`] naming
/// it — or, standing by ([`LeaseOptions::standby`]), waits until one of the above holds.
pub async fn acquire(opts: &ConnectOptions, schema: &str, pipeline: &str, options: &LeaseOptions) -> Result<Lease> {
    let mut conn = opts.connect().await?;
    let table = |t: &str| format!("{}.{}", otter_core::mysql::quote::ident(schema), otter_core::mysql::quote::ident(t));
    let name = lock_name(schema, pipeline);
    let wait = options.wait_for_dead.as_secs().max(1);
    let node = standby_node();
    let mut standing_by = false;
    let locked = loop {
        // Standing by, the lock is asked for again every second: it is granted the moment the
        // holder's lease connection closes (its process died), and the holder's lease is looked
        // at in between.
        let patience = if standing_by { 1 } else { wait };
        let got: Option<Option<i64>> = conn.exec_first("SELECT GET_LOCK(?, ?)", (name.as_str(), patience)).await.map_err(err)?;
        if got.flatten() == Some(1) {
            break true;
        }
        match held_by(&mut conn, &table(LEASE_TABLE), &name, pipeline, options.ttl).await? {
            Hold::Stalled { holder, lease_conn, idle } => {
                tracing::warn!(pipeline, holder = %holder, idle_secs = idle, "The pipeline's holder stopped renewing its lease (paused or cut off); taking over and fencing it.");
                kill_lease_conn(&mut conn, pipeline, lease_conn).await;
                break false;
            }
            Hold::Live(refusal, Some(lease_conn)) if options.coordinated.is_some() => {
                tracing::warn!(pipeline, reason = %refusal, "The coordinator gave this node the pipeline: taking it over from its holder and fencing it.");
                kill_lease_conn(&mut conn, pipeline, lease_conn).await;
                break false;
            }
            Hold::Live(refusal, _) if options.standby || options.coordinated.is_some() => {
                if !standing_by {
                    tracing::info!(pipeline, node = %node, reason = %refusal, "Standing by: taking the pipeline over when its holder stops, dies or stalls.");
                    standing_by = true;
                }
                super::standby::announce(&mut conn, schema, pipeline, &node).await?;
            }
            Hold::Live(refusal, _) => return Err(refusal),
        }
    };
    if standing_by {
        super::standby::withdraw(&mut conn, schema, pipeline, &node).await?;
    }
    let boot = boot_time(&mut conn).await?;
    kill_registered(&mut conn, &table(CONN_TABLE), pipeline, None, boot).await?;
    let epoch = raise_epoch(&mut conn, schema, pipeline, &table(CONN_TABLE), boot, options.coordinated).await?;
    // Connections the old holder registered while we raised the epoch.
    kill_registered(&mut conn, &table(CONN_TABLE), pipeline, Some(epoch), boot).await?;
    if !locked {
        // The old holder's lease connection was among those killed; its lock is free soon.
        let got: Option<Option<i64>> = conn.exec_first("SELECT GET_LOCK(?, ?)", (name.as_str(), wait)).await.map_err(err)?;
        if got.flatten() != Some(1) {
            tracing::warn!(pipeline, "Could not take the lease lock of the old holder (it could not be killed); the epoch still fences it.");
        }
    }
    let fence = Fence::new(schema, pipeline, epoch, boot);
    tracing::info!(pipeline, epoch, "Holding the pipeline on the target.");
    let task = tokio::spawn(keep(conn, opts.clone(), Arc::clone(&fence), name, options.ttl, table(LEASE_TABLE)));
    Ok(Lease { fence, task })
}

/// Kills the old holder's lease connection, so that the lease lock follows the pipeline (one
/// already gone is fine; one that cannot be killed is logged: the epoch still fences it).
async fn kill_lease_conn(conn: &mut Conn, pipeline: &str, lease_conn: u64) {
    match conn.query_drop(format!("KILL CONNECTION {lease_conn}")).await {
        Ok(()) => {}
        Err(e) if server_code(&e) == Some(1094) => {}
        Err(e) => tracing::warn!(pipeline, error = %translate(e, "target"), "Cannot kill the old holder's lease connection."),
    }
}

/// Who holds the pipeline when its lease lock is taken.
enum Hold {
    /// A holder whose lease connection was idle longer than the lease: it may be taken over.
    Stalled { holder: String, lease_conn: u64, idle: u64 },
    /// A live holder (or one taking the pipeline right now): the error naming it, and its lease
    /// connection when known.
    Live(Error, Option<u64>),
}

/// Reads the lease row and how long the lock holder's connection has been idle (on the target's
/// clock): idle longer than the lease only when the holder stopped using it (paused, cut off).
async fn held_by(conn: &mut Conn, lease: &str, name: &str, pipeline: &str, ttl: Duration) -> Result<Hold> {
    let probe = format!(
        "SELECT l.epoch, l.holder, IS_USED_LOCK(?), (SELECT p.TIME FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(?)) \
         FROM {lease} l WHERE l.pipeline = ?"
    );
    let current: Option<(u64, String, Option<u64>, Option<u64>)> = conn.exec_first(probe, (name, name, pipeline)).await.map_err(err)?;
    let ttl = ttl.as_secs().max(1);
    Ok(match current {
        Some((_, holder, Some(lease_conn), Some(idle))) if idle > ttl => Hold::Stalled { holder, lease_conn, idle },
        Some((epoch, holder, lease_conn, idle)) => {
            let state = match idle {
                Some(s) => format!("its lease was renewed {s} s ago and lasts {ttl} s"),
                None => "its lease connection belongs to another account, so only its end frees the pipeline".into(),
            };
            Hold::Live(
                Error::new(
                ErrorKind::AlreadyRunning,
                format!(
                    "pipeline {pipeline} is already running: {holder} holds it on the target (epoch {epoch}; {state}). \
                     Stop that instance first (or start this one with --standby to take over when it ends); one that is frozen \
                     or cut off from the target loses the pipeline when its lease expires"
                ),
                ),
                lease_conn,
            )
        }
        None => Hold::Live(
            Error::new(ErrorKind::AlreadyRunning, format!("pipeline {pipeline} is being taken by another instance right now (its lease lock is held); try again")),
            None,
        ),
    })
}

/// This process as a standby row names it (`pid … on host …`).
fn standby_node() -> String {
    let me = Holder::current();
    format!("pid {} on host {}", me.pid, me.host)
}

/// Raises the epoch (waiting for the old holder's checked transactions; killing its
/// connections again when the wait times out) and writes this process as the holder.
async fn raise_epoch(conn: &mut Conn, schema: &str, pipeline: &str, conns: &str, boot: i64, coordinated: Option<u64>) -> Result<u64> {
    let lease = format!("{}.{}", otter_core::mysql::quote::ident(schema), otter_core::mysql::quote::ident(LEASE_TABLE));
    let ckpt = format!("{}.`checkpoint`", otter_core::mysql::quote::ident(schema));
    // READ COMMITTED: no gap locks, so pipelines sharing the table never wait on each other.
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").await.map_err(err)?;
    conn.query_drop("SET SESSION innodb_lock_wait_timeout = 2").await.map_err(err)?;
    let me = Holder::current().to_string();
    for attempt in 0.. {
        conn.query_drop("START TRANSACTION").await.map_err(err)?;
        let locked: std::result::Result<Option<u64>, _> = conn.exec_first(format!("SELECT epoch FROM {lease} WHERE pipeline = ? FOR UPDATE"), (pipeline,)).await;
        let old = match locked {
            Ok(v) => v.unwrap_or(0),
            Err(e) if matches!(server_code(&e), Some(1205 | 1213)) && attempt < 15 => {
                let _ = conn.query_drop("ROLLBACK").await;
                tracing::info!(pipeline, "Waiting for the old holder's open transactions; killing its connections.");
                kill_registered(conn, conns, pipeline, None, boot).await?;
                continue;
            }
            Err(e) => {
                let _ = conn.query_drop("ROLLBACK").await;
                return Err(err(e));
            }
        };
        let stored: Option<Option<u64>> =
            conn.exec_first(format!("SELECT MAX(epoch) FROM {ckpt} WHERE pipeline = ?"), (pipeline,)).await.map_err(err)?;
        let floor = old.max(stored.flatten().unwrap_or(0));
        let epoch = match coordinated {
            Some(c) if c > floor => c,
            Some(c) => {
                tracing::warn!(pipeline, coordinated = c, used = floor + 1, "The coordinator's epoch is not above the target's; using the next epoch instead.");
                floor + 1
            }
            None => floor + 1,
        };
        // Never lower, and above whatever a racing first insert wrote: the epoch read back is ours.
        let write = format!(
            "INSERT INTO {lease} (pipeline, epoch, holder, since, lease_conn) VALUES ({p}, {epoch}, {h}, UTC_TIMESTAMP(6), CONNECTION_ID()) \
             ON DUPLICATE KEY UPDATE epoch = GREATEST(epoch + 1, VALUES(epoch)), holder = VALUES(holder), since = VALUES(since), \
             lease_conn = VALUES(lease_conn)",
            p = text(pipeline),
            h = text(&me),
        );
        let written = async {
            conn.query_drop(write).await?;
            let e: Option<u64> = conn.exec_first(format!("SELECT epoch FROM {lease} WHERE pipeline = ?"), (pipeline,)).await?;
            conn.query_drop("COMMIT").await?;
            Ok::<_, mysql_async::Error>(e)
        };
        match written.await {
            Ok(Some(epoch)) => return Ok(epoch),
            Ok(None) => return Err(Error::new(ErrorKind::Sink, format!("the lease row of pipeline {pipeline} vanished while it was taken"))),
            Err(e) if matches!(server_code(&e), Some(1205 | 1213)) && attempt < 15 => {
                let _ = conn.query_drop("ROLLBACK").await;
                continue;
            }
            Err(e) => {
                let _ = conn.query_drop("ROLLBACK").await;
                return Err(err(e));
            }
        }
    }
    Err(Error::new(ErrorKind::Sink, format!("could not take pipeline {pipeline}: its old holder's transactions stay open and cannot be killed")))
}

/// Kills the connections registered for `pipeline` (all, or those of epochs before `before`)
/// that belong to this server run, and forgets them. Connections of another account cannot be
/// killed without the CONNECTION ADMIN privilege: they are logged (the epoch still fences them).
async fn kill_registered(conn: &mut Conn, conns: &str, pipeline: &str, before: Option<u64>, boot: i64) -> Result<()> {
    let below = before.unwrap_or(u64::MAX);
    let rows: Vec<(u64, i64)> =
        conn.exec(format!("SELECT conn_id, boot FROM {conns} WHERE pipeline = ? AND epoch < ?"), (pipeline, below)).await.map_err(err)?;
    let me: Option<u64> = conn.query_first("SELECT CONNECTION_ID()").await.map_err(err)?;
    for (id, registered_boot) in rows {
        if Some(id) == me || (registered_boot - boot).abs() > 5 {
            continue;
        }
        match conn.query_drop(format!("KILL CONNECTION {id}")).await {
            Ok(()) => tracing::info!(pipeline, connection = id, "Killed a connection of the pipeline's old holder."),
            Err(e) if server_code(&e) == Some(1094) => {} // already gone
            Err(e) => tracing::warn!(pipeline, connection = id, error = %translate(e, "target"), "Cannot kill a connection of the old holder; its writes are still fenced."),
        }
    }
    conn.exec_drop(format!("DELETE FROM {conns} WHERE pipeline = ? AND epoch < ?"), (pipeline, below)).await.map_err(err)?;
    Ok(())
}

/// Keeps the lease: every third of `ttl` the lease connection reads the epoch — which both
/// renews the lease (the target sees the connection active) and notices a takeover without
/// writing anything; after a broken connection it reconnects, takes the named lock again and
/// records the new lease connection.
async fn keep(mut conn: Conn, opts: ConnectOptions, fence: Arc<Fence>, name: String, ttl: Duration, lease: String) {
    let every = (ttl / 3).max(Duration::from_millis(200));
    let read = format!("SELECT epoch, holder FROM {lease} WHERE pipeline = {}", text(&fence.pipeline));
    let mut broken = false;
    loop {
        tokio::time::sleep(every).await;
        if broken {
            match reconnect(&opts, &fence, &name, &lease).await {
                Ok(c) => {
                    conn = c;
                    broken = false;
                }
                Err(e) => {
                    tracing::warn!(pipeline = %fence.pipeline, error = %e, "Cannot reach the target to renew the lease; retrying.");
                    continue;
                }
            }
        }
        match conn.query_first::<(u64, String), _>(read.as_str()).await {
            Ok(Some((epoch, _))) if epoch == fence.epoch => {}
            Ok(other) => {
                let who = other.map_or_else(|| "nobody".to_owned(), |(e, h)| format!("{h} (epoch {e})"));
                tracing::error!(pipeline = %fence.pipeline, epoch = fence.epoch, holder = %who, "Lost the pipeline: another instance took it over; stopping.");
                fence.lose(&who);
                return;
            }
            Err(e) => {
                tracing::warn!(pipeline = %fence.pipeline, error = %translate(e, "target"), "Lease renewal failed; reconnecting.");
                broken = true;
            }
        }
    }
}

/// A new lease connection: the named lock again and its id in the lease row (while the epoch is
/// still ours).
async fn reconnect(opts: &ConnectOptions, fence: &Fence, name: &str, lease: &str) -> Result<Conn> {
    let mut c = opts.connect().await?;
    let _ = c.exec_drop("DO GET_LOCK(?, 0)", (name,)).await;
    c.exec_drop(format!("UPDATE {lease} SET lease_conn = CONNECTION_ID() WHERE pipeline = ? AND epoch = ?"), (fence.pipeline.as_str(), fence.epoch))
        .await
        .map_err(err)?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_fit_the_server_limit() {
        let n = lock_name("otter", &"p".repeat(300));
        assert!(n.len() <= 64, "{n}");
        assert_ne!(lock_name("otter", "a"), lock_name("otter", "b"));
        assert_ne!(lock_name("otte", "ra"), lock_name("otter", "a"));
    }
}
