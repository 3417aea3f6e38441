//! Built-in sinks. [`JsonlSink`] writes JSON lines — otter's own objects, Canal's FlatMessage or
//! a Debezium-style envelope ([`Format`]) — to stdout (at least once) or to a file (exactly once,
//! through an offset sidecar).
//!
//! ```toml
//! [pipeline.sink]
//! kind = "jsonl"
//! path = "/var/lib/otter/shop.jsonl"   # "-" = stdout (default)
//! format = "debezium"                  # otter (default) | canal | debezium
//! sync = true                          # default
//! ```
//!
//! A custom sink is any type implementing [`crate::traits::Sink`]: see `examples/custom_sink.rs`.
//! Its contract (from [`crate::traits`]): complete every [`crate::traits::Ack`] — `done()` once the
//! batch is durable, `fail()` otherwise — and implement `stored_position` only when it stores its
//! progress with its data.

pub mod format;
pub mod jsonl;
pub mod lines;
mod offset;

pub use self::format::Format;
pub use self::jsonl::{JsonlSink, JsonlSinkConfig};

/// The offset sidecar path of a JSON-lines file (`PATH.otter-offset`).
pub fn offset_path(path: &std::path::Path) -> std::path::PathBuf {
    offset::sidecar_path(path)
}
