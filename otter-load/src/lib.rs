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
//! Layers: [`merge`] folds a batch's changes per (table, key) with Otter's rules; the sink
//! partitions the merged ops by key hash over the workers; each [`worker`] applies its share in
//! one transaction with its checkpoint row; the [`dialect::SqlDialect`] seam spells the SQL
//! (MySQL/MariaDB live, Oracle-style `MERGE` as a second dialect).
#![deny(missing_docs)]

pub mod bulk;
pub mod checkpoint;
pub mod config;
pub mod conflict;
pub mod ddl_effect;
pub mod dialect;
pub mod fence;
mod error;
pub mod load_data;
pub mod merge;
mod report;
pub mod sink;
pub mod target;
pub mod txn;
pub mod worker;

pub use config::MysqlSinkConfig;
pub use merge::ApplyMode;
pub use sink::MysqlSink;
