//! # otter-load
//!
//! Applies captured changes to a MySQL or MariaDB target — merged per key, in parallel over
//! several connections, and exactly once: every apply transaction also writes the pipeline's
//! progress into `otter.checkpoint` on the target, so a restart after a crash at any instant
//! resumes from exactly what is committed.
//!
//! ```no_run
//! use std::sync::Arc;
//! use otter_core::pipeline::{resume_position, Pipeline};
//! use otter_core::source::mysql::{MysqlSource, MysqlSourceConfig, SourceOptions};
//! use otter_load::{MysqlSink, MysqlSinkConfig};
//!
//! # async fn run() -> otter_core::Result<()> {
//! let mut sink = MysqlSink::new("a_to_b", MysqlSinkConfig::new("mysql://otter:pw@10.0.0.2:3306"))?;
//! // The target's checkpoint decides where the source resumes.
//! let resume = resume_position(&mut sink, None).await?;
//! let mut cfg = MysqlSourceConfig::new("mysql://repl:pw@10.0.0.1:3306");
//! cfg.include = vec!["shop\\..*".into()];
//! let source = MysqlSource::start(cfg, SourceOptions { resume, name: "a_to_b".into(), ..Default::default() });
//! Pipeline::new("a_to_b", Box::new(source), Box::new(sink)).run(std::future::pending()).await
//! # }
//! ```
//!
//! Layers: the engine — [`merge`] folds a batch's changes per (table, key) with Otter's rules,
//! the [`sink`] partitions the merged ops by key hash over the workers and completes batches in
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
mod report;
pub mod sink;
pub mod target;
pub mod worker;

pub use config::MysqlSinkConfig;
pub use merge::ApplyMode;
pub use sink::{ApplySink, EngineConfig, MysqlSink};
pub use target::{PartitionWriter, Target};
