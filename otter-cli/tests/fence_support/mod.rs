//! The writer and helpers shared by the fence and standby tests: small transactions, deletes,
//! and every 40th a 5,000-row transaction into a keyless table (a row applied twice would show
//! there) and a table whose only key is a nullable unique key.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use otter_testkit::compare::log_tail;
use otter_testkit::{Client, MariaDb};

use super::common::Rng;

/// The tables the writer changes.
pub const TABLES: &[&str] = &["w.sb", "w.nokey", "w.uniq"];

/// Creates the writer's tables on `a`.
pub fn schema(a: &MariaDb) {
    a.sql(
        "CREATE DATABASE w;
         CREATE TABLE w.sb (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(60) NOT NULL, KEY (k));
         CREATE TABLE w.nokey (a INT, b VARCHAR(20));
         CREATE TABLE w.uniq (u INT NULL, v VARCHAR(20), UNIQUE KEY (u))",
    )
    .unwrap();
}

/// Writes until `stop`; after each 5,000-row transaction commits, sends on `big`.
pub fn writer(client: Client, stop: Arc<AtomicBool>, big: mpsc::Sender<()>) {
    let mut rng = Rng(0x5eed);
    let mut next_u = 1u64;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        if i.is_multiple_of(40) {
            let rows: Vec<String> = (0..5000).map(|n| format!("({}, 'big{i}-{n}')", n % 97)).collect();
            let uniq: Vec<String> = (0..5000)
                .map(|n| {
                    next_u += 1;
                    if n % 10 == 0 { format!("(NULL, 'n{i}')") } else { format!("({next_u}, 'u{i}')") }
                })
                .collect();
            let sql = format!("BEGIN; INSERT INTO w.nokey VALUES {}; INSERT INTO w.uniq VALUES {}; COMMIT", rows.join(","), uniq.join(","));
            if let Err(e) = client.sql(&sql) {
                panic!("the source refused a big transaction: {}", e.to_string().lines().last().unwrap_or(""));
            }
            let _ = big.send(());
            continue;
        }
        let id = rng.below(300) + 1;
        let sql = match rng.below(6) {
            0 | 1 => format!("INSERT INTO w.sb VALUES ({id}, {}, 'c{i}') ON DUPLICATE KEY UPDATE k = k + 1, c = 'u{i}'", rng.below(100)),
            2 => format!("DELETE FROM w.sb WHERE id = {id}"),
            3 => format!("INSERT INTO w.nokey VALUES ({}, 's{i}'), ({}, 's{i}')", rng.below(97), rng.below(97)),
            4 => format!("DELETE FROM w.nokey WHERE a = {} LIMIT 3", rng.below(97)),
            _ => format!("DELETE FROM w.uniq WHERE u = {}", rng.below(next_u.max(2))),
        };
        client.sql(&format!("BEGIN; {sql}; COMMIT")).unwrap();
    }
}


/// The last lines of a log.
pub fn tail(log: &Path) -> String {
    log_tail(log, 60)
}

/// Sends `sig` (`-STOP`, `-CONT`, ...) to `child`.
pub fn signal(child: &Child, sig: &str) {
    Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap();
}
