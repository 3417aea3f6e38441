//! The server settings DDL depends on: flavor, version, default character set and collation,
//! `explicit_defaults_for_timestamp`, default storage engine and `sql_mode`.
//!
//! Invariant: nothing here is guessed from the DDL text; the capture layer sets these from the
//! server (and updates `sql_mode` and the default character set from each QUERY event's status
//! variables), and the catalog reads them when it applies a statement.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::charset;

/// Which server family wrote the binlog. Decides grammar details and type mappings (JSON is
/// LONGTEXT on MariaDB, MariaDB long-unique keys, executable-comment versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flavor {
    /// MySQL 5.7 / 8.x / 9.x.
    MySql,
    /// MariaDB 10.x / 11.x.
    MariaDb,
}

/// The `sql_mode` bits that change how DDL text is read, from the numeric value the binlog's
/// QUERY events carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlMode(pub u64);

impl SqlMode {
    const REAL_AS_FLOAT: u64 = 1;
    const PIPES_AS_CONCAT: u64 = 2;
    const ANSI_QUOTES: u64 = 4;
    const IGNORE_SPACE: u64 = 8;
    const ORACLE: u64 = 1 << 9;
    const MAXDB: u64 = 1 << 12;
    const NO_BACKSLASH_ESCAPES: u64 = 1 << 20;

    /// `"x"` is an identifier.
    pub fn ansi_quotes(self) -> bool {
        self.0 & Self::ANSI_QUOTES != 0
    }
    /// Backslash is not an escape character in strings.
    pub fn no_backslash_escapes(self) -> bool {
        self.0 & Self::NO_BACKSLASH_ESCAPES != 0
    }
    /// `||` concatenates strings.
    pub fn pipes_as_concat(self) -> bool {
        self.0 & Self::PIPES_AS_CONCAT != 0
    }
    /// Spaces are allowed between a function name and its `(`.
    pub fn ignore_space(self) -> bool {
        self.0 & Self::IGNORE_SPACE != 0
    }
    /// REAL means FLOAT rather than DOUBLE.
    pub fn real_as_float(self) -> bool {
        self.0 & Self::REAL_AS_FLOAT != 0
    }
    /// A mode whose DDL semantics the catalog does not model: MariaDB's ORACLE mode (another
    /// grammar) or MAXDB (TIMESTAMP means DATETIME).
    pub fn unsupported(self, flavor: Flavor) -> Option<&'static str> {
        if self.0 & Self::MAXDB != 0 {
            Some("sql_mode MAXDB")
        } else if flavor == Flavor::MariaDb && self.0 & Self::ORACLE != 0 {
            Some("sql_mode ORACLE")
        } else {
            None
        }
    }
}

/// Server settings the catalog needs to apply DDL like the server did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Server family.
    pub flavor: Flavor,
    /// Server version as `MMmmpp` (`101119` for 10.11.19, `80036` for 8.0.36); decides which
    /// `/*!NNNNN ... */` comments run. `None` runs them all.
    pub server_version: Option<u32>,
    /// `character_set_server`: the default of databases created without one.
    pub charset: String,
    /// `collation_server`.
    pub collation: String,
    /// `explicit_defaults_for_timestamp` (OFF makes TIMESTAMP columns NOT NULL unless NULL is
    /// written). On by default in MySQL 8 and MariaDB 10.10+.
    pub explicit_defaults_for_timestamp: bool,
    /// `default_storage_engine`, for tables created without ENGINE.
    pub default_storage_engine: String,
    /// `sql_mode` of the statements being applied.
    pub sql_mode: SqlMode,
    /// Overrides of a character set's default collation (MySQL's
    /// `default_collation_for_utf8mb4`, MariaDB 11's `character_set_collations`).
    pub default_collations: BTreeMap<String, String>,
}

impl Settings {
    /// Settings for a server of `flavor` with the given `character_set_server` and
    /// `collation_server`; `explicit_defaults_for_timestamp` ON, InnoDB, empty sql_mode.
    pub fn new(flavor: Flavor, charset: &str, collation: &str) -> Settings {
        let mut default_collations = BTreeMap::new();
        if flavor == Flavor::MySql {
            default_collations.insert("utf8mb4".to_owned(), "utf8mb4_0900_ai_ci".to_owned());
        }
        Settings {
            flavor,
            server_version: None,
            charset: charset::normalize_charset(charset),
            collation: charset::normalize_collation(collation),
            explicit_defaults_for_timestamp: true,
            default_storage_engine: "InnoDB".to_owned(),
            sql_mode: SqlMode::default(),
            default_collations,
        }
    }

    /// The collation a character set gets when none is named.
    pub fn default_collation(&self, charset: &str) -> Option<String> {
        self.default_collations
            .get(charset)
            .cloned()
            .or_else(|| charset::builtin_default_collation(charset).map(str::to_owned))
    }

    pub(crate) fn is_mariadb(&self) -> bool {
        self.flavor == Flavor::MariaDb
    }
}
