//! Preflight checks, whatever they check (a source, a target): each a name and an outcome — pass,
//! warning, or a failure whose error says how to fix it. `otter check` prints them as a table; a
//! source or a target runs its own before it starts.

use crate::error::{Error, ErrorKind};

/// The outcome of one check.
#[derive(Debug)]
pub enum Outcome {
    /// Fine; the detail says what was found.
    Pass(String),
    /// Works, with a caveat the user should know.
    Warn(String),
    /// Cannot work; the error says how to fix it.
    Fail(Error),
}

/// One named check and its outcome.
#[derive(Debug)]
pub struct Check {
    /// Check name, e.g. `binlog_format`.
    pub name: &'static str,
    /// What it found.
    pub outcome: Outcome,
}

impl Check {
    /// A passed check.
    pub fn pass(name: &'static str, d: impl Into<String>) -> Check {
        Check { name, outcome: Outcome::Pass(d.into()) }
    }
    /// A check that works with a caveat.
    pub fn warn(name: &'static str, d: impl Into<String>) -> Check {
        Check { name, outcome: Outcome::Warn(d.into()) }
    }
    /// A failed check.
    pub fn fail(name: &'static str, kind: ErrorKind, d: impl Into<String>) -> Check {
        Check { name, outcome: Outcome::Fail(Error::new(kind, d)) }
    }

    /// True unless the check failed.
    pub fn ok(&self) -> bool {
        !matches!(self.outcome, Outcome::Fail(_))
    }
}

