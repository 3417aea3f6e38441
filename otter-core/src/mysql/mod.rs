//! MySQL/MariaDB plumbing shared by the capture and the loader: today the one place where names
//! and values become SQL text ([`quote`]).
pub mod quote;
