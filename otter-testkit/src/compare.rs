//! Comparing tables between servers, as replication tests end: row count and `CHECKSUM TABLE` of
//! each table, waiting until the servers agree, and a report of the tables that differ.
//!
//! ```no_run
//! use otter_testkit::compare::{Tables, Wait};
//! # let (a, b) = (otter_testkit::MariaDb::start(otter_testkit::ServerConfig::new(1)).unwrap(), otter_testkit::MariaDb::start(otter_testkit::ServerConfig::new(2)).unwrap());
//! // Panics with the tables that differ (both sides' counts and checksums) after 60 s.
//! Wait::pair(&a, &b, Tables::Named(&["shop.orders"]), 60).run();
//! ```
//!
//! Invariants:
//! - servers agree when every compared table has the same row count and checksum on each of them;
//!   a table missing everywhere agrees (its count reads `missing`), a query that fails otherwise
//!   never does (its text names the server's port);
//! - [`Tables::Schemas`] compares the tables each server has in those schemas, so a table only
//!   some servers have is a difference, and finding no table at all never agrees (nothing has
//!   arrived yet); [`Tables::Named`] compares exactly the tables named;
//! - a [`Wait`] returns only once the servers agree; otherwise it fails at its deadline, or as soon
//!   as its liveness check says the applier is gone, with the last report and the log's tail.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::MariaDb;

/// Which tables to compare.
#[derive(Debug, Clone, Copy)]
pub enum Tables<'a> {
    /// These tables, as written in SQL (`db.table`).
    Named(&'a [&'a str]),
    /// Every table of these schemas, as each server lists them.
    Schemas(&'a [&'a str]),
}

/// One table on one server: its row count and `CHECKSUM TABLE` value, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSum {
    /// `db.table`.
    pub table: String,
    /// `COUNT(*)`; `missing` when the table does not exist, `error: ...` when the query failed.
    pub rows: String,
    /// The checksum (`NULL` when the table does not exist), `error: ...` when the query failed.
    pub checksum: String,
}

/// Row count and checksum of `tables` on `db`, in name order for [`Tables::Schemas`].
pub fn sums(db: &MariaDb, tables: Tables<'_>) -> Vec<TableSum> {
    let names: Vec<(String, String)> = match tables {
        Tables::Named(list) => list.iter().map(|t| ((*t).to_owned(), (*t).to_owned())).collect(),
        Tables::Schemas(schemas) => {
            let mut found = Vec::new();
            for s in schemas {
                for row in db.query(&format!("SHOW TABLES FROM {}", ident(s))).unwrap_or_default() {
                    if let Some(t) = row.into_iter().next() {
                        found.push((format!("{s}.{t}"), format!("{}.{}", ident(s), ident(&t))));
                    }
                }
            }
            found.sort();
            found
        }
    };
    names.into_iter().map(|(table, sql)| sum(db, table, &sql)).collect()
}

fn sum(db: &MariaDb, table: String, sql: &str) -> TableSum {
    let rows = match db.value(&format!("SELECT COUNT(*) FROM {sql}")) {
        Ok(n) => n,
        Err(e) if e.to_string().contains("doesn't exist") => "missing".into(),
        Err(e) => format!("error: {}", first_line(&e)),
    };
    let checksum = match db.query(&format!("CHECKSUM TABLE {sql}")) {
        Ok(r) => r.into_iter().next().and_then(|r| r.into_iter().nth(1)).unwrap_or_default(),
        Err(e) => format!("error: {}", first_line(&e)),
    };
    TableSum { table, rows, checksum }
}

fn first_line(e: &std::io::Error) -> String {
    e.to_string().lines().next().unwrap_or("").to_owned()
}

/// A backquoted identifier.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The tables of one comparison, and which of them differ.
#[derive(Debug, Clone)]
pub struct Report {
    sides: Vec<String>,
    /// Every table any side has, with each side's [`TableSum`] (`None`: that side lacks it).
    tables: Vec<(String, Vec<Option<TableSum>>)>,
    need_tables: bool,
}

impl Report {
    /// Compares `sides` (a name for messages, and the server) on `tables`.
    pub fn new(sides: &[(&str, &MariaDb)], tables: Tables<'_>) -> Report {
        let all: Vec<Vec<TableSum>> = sides.iter().map(|(_, db)| sums(db, tables)).collect();
        let mut names: Vec<String> = all.iter().flatten().map(|s| s.table.clone()).collect();
        names.sort();
        names.dedup();
        let tables_found = names
            .into_iter()
            .map(|name| {
                let per_side = all.iter().map(|side| side.iter().find(|s| s.table == name).cloned()).collect();
                (name, per_side)
            })
            .collect();
        Report {
            sides: sides.iter().map(|(n, _)| (*n).to_owned()).collect(),
            tables: tables_found,
            need_tables: matches!(tables, Tables::Schemas(_)),
        }
    }

    /// True when every side has every table with the same count and checksum.
    pub fn is_equal(&self) -> bool {
        if self.need_tables && self.tables.is_empty() {
            return false;
        }
        self.tables.iter().all(|(_, sides)| agree(sides))
    }

    /// The tables that differ: name and each side's sum (`None`: that side lacks the table).
    pub fn differences(&self) -> impl Iterator<Item = (&str, &[Option<TableSum>])> {
        self.tables.iter().filter(|(_, sides)| !agree(sides)).map(|(t, sides)| (t.as_str(), sides.as_slice()))
    }
}

fn agree(sides: &[Option<TableSum>]) -> bool {
    let key = |s: &Option<TableSum>| s.as_ref().map(|s| (s.rows.clone(), s.checksum.clone()));
    sides.iter().all(|s| s.is_some()) && sides.windows(2).all(|w| key(&w[0]) == key(&w[1]))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.need_tables && self.tables.is_empty() {
            return write!(f, "no table found on {}", self.sides.join(", "));
        }
        let mut any = false;
        for (table, sides) in self.differences() {
            any = true;
            write!(f, "  {table}:")?;
            for (n, (name, s)) in self.sides.iter().zip(sides).enumerate() {
                let sep = if n == 0 { "" } else { ";" };
                match s {
                    Some(s) => write!(f, "{sep} {name} {} rows, checksum {}", s.rows, s.checksum)?,
                    None => write!(f, "{sep} {name} has no such table")?,
                }
            }
            writeln!(f)?;
        }
        if !any {
            write!(f, "  every table agrees ({} compared)", self.tables.len())?;
        }
        Ok(())
    }
}

/// Why a [`Wait`] gave up.
#[derive(Debug, Clone)]
pub struct WaitError {
    /// What ended the wait: the deadline, or the liveness check's message.
    pub reason: String,
    /// The last comparison.
    pub report: Report,
    /// The end of the log, when the wait was given one.
    pub log_tail: Option<String>,
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; tables that differ:\n{}", self.reason, self.report)?;
        if let Some(tail) = &self.log_tail {
            write!(f, "\nlog tail:\n{tail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for WaitError {}

/// How much of the log a failed wait shows.
const LOG_LINES: usize = 100;

/// A liveness check: `Some(what happened)` once the applier is gone.
type Alive<'a> = Box<dyn FnMut() -> Option<String> + 'a>;

/// Waits until servers agree on tables (see the module docs); build it, then [`Wait::run`] (or
/// [`Wait::run_async`] in async tests).
pub struct Wait<'a> {
    sides: Vec<(&'a str, &'a MariaDb)>,
    tables: Tables<'a>,
    secs: u64,
    deadline: Option<Instant>,
    every: Duration,
    alive: Option<Alive<'a>>,
    log: Option<PathBuf>,
}

impl<'a> Wait<'a> {
    /// A wait of at most `secs` seconds for `sides` (name, server) to agree on `tables`, checking
    /// every 300 ms.
    pub fn new(sides: &[(&'a str, &'a MariaDb)], tables: Tables<'a>, secs: u64) -> Wait<'a> {
        Wait { sides: sides.to_vec(), tables, secs, deadline: None, every: Duration::from_millis(300), alive: None, log: None }
    }

    /// [`Wait::new`] for a source and a target.
    pub fn pair(source: &'a MariaDb, target: &'a MariaDb, tables: Tables<'a>, secs: u64) -> Wait<'a> {
        Wait::new(&[("source", source), ("target", target)], tables, secs)
    }

    /// Compares every `every` instead.
    pub fn every(mut self, every: Duration) -> Wait<'a> {
        self.every = every;
        self
    }

    /// Gives up as soon as `check` returns `Some(what happened)` (e.g. the applier exited).
    pub fn alive(mut self, check: impl FnMut() -> Option<String> + 'a) -> Wait<'a> {
        self.alive = Some(Box::new(check));
        self
    }

    /// Shows the end of this log file when the wait fails.
    pub fn log(mut self, path: &Path) -> Wait<'a> {
        self.log = Some(path.to_owned());
        self
    }

    /// Waits, blocking the thread; panics with the [`WaitError`].
    pub fn run(self) {
        if let Err(e) = self.try_run() {
            panic!("{e}");
        }
    }

    /// Waits, blocking the thread.
    pub fn try_run(mut self) -> Result<(), WaitError> {
        loop {
            if let Some(done) = self.step() {
                return done;
            }
            std::thread::sleep(self.every);
        }
    }

    /// Waits in an async test, pausing with `sleep` (e.g. `tokio::time::sleep`); panics with the
    /// [`WaitError`].
    pub async fn run_async<F: std::future::Future<Output = ()>>(self, sleep: impl FnMut(Duration) -> F) {
        if let Err(e) = self.try_run_async(sleep).await {
            panic!("{e}");
        }
    }

    /// Waits in an async test, pausing with `sleep`.
    pub async fn try_run_async<F: std::future::Future<Output = ()>>(mut self, mut sleep: impl FnMut(Duration) -> F) -> Result<(), WaitError> {
        loop {
            if let Some(done) = self.step() {
                return done;
            }
            sleep(self.every).await;
        }
    }

    /// One comparison: `Some` when the wait is over.
    fn step(&mut self) -> Option<Result<(), WaitError>> {
        let deadline = *self.deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(self.secs));
        let report = Report::new(&self.sides, self.tables);
        if report.is_equal() {
            return Some(Ok(()));
        }
        let reason = match self.alive.as_mut().and_then(|check| check()) {
            Some(gone) => gone,
            None if Instant::now() > deadline => format!("tables differ after {}s", self.secs),
            None => return None,
        };
        Some(Err(WaitError { reason, report, log_tail: self.log.as_deref().map(|l| log_tail(l, LOG_LINES)) }))
    }
}

/// The last `lines` lines of a log file (empty when it cannot be read).
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
