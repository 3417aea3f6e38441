//! Helpers shared by the capture tests: collecting events with a deadline and turning them into
//! comparable values.
#![allow(dead_code)]

use std::time::Duration;

use otter_core::change::Event;
use otter_core::json::change_json;
use otter_core::source::mysql::{MysqlSource, MysqlSourceConfig, SourceOptions};
use otter_core::source::Source;
use serde_json::Value as Json;

/// A source configuration for a harness server starting at `from`, with a server id no other
/// source of this test process uses.
pub fn config(url: &str, from: &str) -> MysqlSourceConfig {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT_ID: AtomicU32 = AtomicU32::new(1000);
    let mut c = MysqlSourceConfig::new(url);
    c.server_id = Some(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    c.from = Some(from.to_owned());
    c.heartbeat_secs = 1;
    c.max_reconnect_backoff_secs = 1;
    c
}

/// Starts a source with default options.
pub fn start(url: &str, from: &str) -> MysqlSource {
    MysqlSource::start(config(url, from), SourceOptions::default())
}

/// Reads events until `done` says so; fails the test after `secs` seconds.
pub async fn collect_until(source: &mut MysqlSource, secs: u64, mut done: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done(&events) {
        match tokio::time::timeout_at(deadline, source.next()).await {
            Ok(Ok(Some(e))) => events.push(e),
            Ok(Ok(None)) => panic!("source ended"),
            Ok(Err(e)) => panic!("source failed: {e}"),
            Err(_) => panic!("timed out after {secs}s with {} events: {:#?}", events.len(), summary(&events)),
        }
    }
    events
}

/// Reads until the source fails, returning the error (fails the test on timeout).
pub async fn expect_error(source: &mut MysqlSource, secs: u64) -> otter_core::Error {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, source.next()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => panic!("source ended without an error"),
            Ok(Err(e)) => return e,
            Err(_) => panic!("no error within {secs}s"),
        }
    }
}

/// Number of complete transactions (last chunks).
pub fn txn_count(events: &[Event]) -> usize {
    events.iter().filter(|e| matches!(e, Event::Rows(c) if c.last)).count()
}

/// Every row change as JSON (table, kind, before, after, key, changed).
pub fn changes(events: &[Event]) -> Vec<Json> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Rows(c) => Some(c.changes.iter().map(change_json).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The after images of all changes (before images for deletes).
pub fn images(events: &[Event]) -> Vec<Json> {
    changes(events)
        .into_iter()
        .map(|c| if c["after"].is_null() { c["before"].clone() } else { c["after"].clone() })
        .collect()
}

/// A short description of events for failure messages.
pub fn summary(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Rows(c) => format!("rows {} x{} last={}", c.meta.begin, c.changes.len(), c.last),
            Event::Ddl(d) => format!("ddl {}", d.statement),
            Event::Progress(p) => format!("progress {}", p.position),
        })
        .collect()
}
