//! otter-core: capture, schema history, pipeline.
pub mod change;
pub mod checkpoint;
pub mod error;
pub mod filter;
pub mod history;
pub mod instance;
pub mod json;
pub mod mysql;
pub mod pattern;
pub mod pipeline;
pub mod position;
pub mod schema;
pub mod sink;
pub mod source;
pub mod traits;
pub mod transform;
pub mod two_way;

pub use error::{Error, ErrorKind, Result};
