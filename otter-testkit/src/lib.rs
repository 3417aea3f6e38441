//! Throwaway MariaDB servers for otter's tests: real servers, never mocks.
//!
//! Each [`MariaDb`] gets its own temporary directory (datadir, binlogs, socket, logs), a free
//! loopback port and the options the test asks for. It is stopped and its directory removed on
//! drop; its process is tied to the test process, so no `mariadbd` outlives a test run. Tests run
//! in parallel, each on its own server(s).
//!
//! ```no_run
//! use otter_testkit::{MariaDb, ServerConfig};
//!
//! let db = MariaDb::start(ServerConfig::new(1).binlog_row_image("MINIMAL")).unwrap();
//! db.sql("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1)").unwrap();
//! assert_eq!(db.value("SELECT COUNT(*) FROM shop.t").unwrap(), "1");
//! println!("connect with {}", db.url()); // mysql://root@127.0.0.1:PORT
//! ```
//!
//! Tests that replicate end by comparing servers' tables: [`compare`] (row counts and
//! `CHECKSUM TABLE`, waiting until they agree, a report of what differs).
//!
//! MariaDB must be installed (`scripts/test` installs `mariadb-server` when it is missing).

mod certs;
pub mod compare;
mod config;
mod etcd;
mod proxy;
mod server;
mod spawn;

pub use certs::Certs;
pub use config::ServerConfig;
pub use etcd::Etcd;
pub use proxy::Proxy;
pub use server::{Client, MariaDb, Stream};
pub use spawn::{process_alive, spawn_tied_to_process};

/// Starts `n` servers with server ids `1..=n`, each configured by `f(server_id)`.
pub fn start_many(n: u32, f: impl Fn(u32) -> ServerConfig) -> std::io::Result<Vec<MariaDb>> {
    (1..=n).map(|id| MariaDb::start(f(id))).collect()
}
