//! # otter-load
//!
//! Applies captured changes to a MySQL or MariaDB target — merged per key, in parallel over
//! several connections, and exactly once: every apply transaction also writes the pipeline's
//! progress into `otter.checkpoint` on the target, so a restart after a crash at any instant
//! resumes from exactly what is committed.
//!
//! ```no_run
//! use otter_core::{MysqlCapture, MysqlSourceConfig, Pipeline, SourceOptions};
//! use otter_load::{MysqlSink, MysqlSinkConfig};
//!
//! # async fn run() -> otter_core::Result<()> {
//! let sink = MysqlSink::new("a_to_b", MysqlSinkConfig::new("mysql://otter:pw@10.0.0.2:3306"))?;
//! let mut config = MysqlSourceConfig::new("mysql://repl:pw@10.0.0.1:3306");
//! config.include = vec!["shop\\..*".into()];
//! let capture = MysqlCapture { config, options: SourceOptions { name: "a_to_b".into(), ..Default::default() } };
//! // The pipeline takes the target (fencing any previous holder), resumes where the target's
//! // checkpoint says, and starts the capture there.
//! Pipeline::starting("a_to_b", Box::new(capture), Box::new(sink)).run(std::future::pending()).await
//! # }
//! ```
//!
//! Layers: the engine — [`merge`] folds a batch's changes per (table, key) with Otter's rules,
//! the [`sink`] partitions the merged ops by key over the workers and completes batches in
//! order, [`conflict`] decides which tables go change by change, each [`worker`] drives one
//! partition — and, behind the [`Target`] seam, the database: [`mysql`] for MySQL and MariaDB
//! (checkpoint rows in the data's transaction, the fence, bulk execution, `LOAD DATA`, DDL). The
//! [`dialect::SqlDialect`] seam spells SQL for SQL targets (MySQL/MariaDB live, an Oracle-style
//! `MERGE` dialect with golden tests; no Oracle driver is built in).
#![deny(missing_docs)]

pub mod config;
pub mod conflict;
pub mod dialect;
mod error;
pub mod merge;
pub mod mysql;
pub mod order;
mod report;
pub mod sink;
pub mod target;
pub mod verify;
pub mod worker;
pub mod writeset;

pub use config::{Consistency, MysqlSinkConfig};
pub use merge::ApplyMode;
pub use sink::{ApplySink, EngineConfig, MysqlSink};
pub use target::{PartitionWriter, Target};
