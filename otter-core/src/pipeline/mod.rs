//! Pipelines: [`Pipeline`] runs a source through transforms into a sink with bounded batches,
//! several in flight, and checkpoints committed in source order ([`acks::OrderedAcks`]).

pub mod acks;
pub mod metrics;
mod runner;

pub use self::metrics::{label_value, prometheus_text, Metrics, Snapshot};
pub use self::runner::{peek_resume, resume_position, BatchConfig, Pipeline};
