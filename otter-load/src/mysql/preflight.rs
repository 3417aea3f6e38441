//! Preflight checks of a MySQL/MariaDB target, read-only: it can be reached with these
//! credentials (and TLS), the account may write, and how runs of whole-row writes will reach it
//! (bulk execution, `LOAD DATA`, row events) with the settings that decide how fast (warnings only: every path
//! has a safe fallback).

use mysql_async::prelude::Queryable;
use otter_core::mysql::conn::{translate, ConnectOptions};
use otter_core::preflight::Check;
use otter_core::{Error, ErrorKind};

use crate::config::{Consistency, MysqlSinkConfig};
use crate::dialect::mysql::MysqlDialect;

/// Every check of the target `cfg` names.
pub async fn checks(cfg: &MysqlSinkConfig) -> Vec<Check> {
    let attempt = async {
        let opts = ConnectOptions::new(&cfg.url, &cfg.tls)?;
        let mut conn = opts.connect().await?;
        let version: Option<String> = conn.query_first("SELECT @@version").await.map_err(|e| translate(e, "target"))?;
        let grants: Vec<String> = conn.query("SHOW GRANTS").await.map_err(|e| translate(e, "target"))?;
        let vars: Vec<(String, String)> = conn
            .query("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('local_infile', 'innodb_autoinc_lock_mode', 'log_bin', 'binlog_format', 'slave_exec_mode')")
            .await
            .map_err(|e| translate(e, "target"))?;
        // Transaction mode resolves hidden lock waits from this view of the target.
        let lock_view = match cfg.consistency {
            Consistency::Transaction => Some(conn.query::<(u64, u64), _>(crate::mysql::turn::LOCK_WAITS).await.map(|_| ()).map_err(|e| e.to_string())),
            Consistency::Merged => None,
        };
        let _ = conn.disconnect().await;
        Ok::<_, Error>((version.unwrap_or_default(), grants, vars, lock_view))
    };
    let (version, grants, vars, lock_view) = match attempt.await {
        Ok(v) => v,
        Err(e) => return vec![Check { name: "connect", outcome: otter_core::preflight::Outcome::Fail(e) }],
    };
    let all = grants.iter().any(|g| g.to_ascii_uppercase().contains("ALL PRIVILEGES"));
    let has = |p: &str| all || grants.iter().any(|g| g.to_ascii_uppercase().contains(p));
    let missing: Vec<&str> = ["INSERT", "UPDATE", "DELETE", "CREATE"].into_iter().filter(|p| !has(p)).collect();
    let privileges = if missing.is_empty() {
        Check::pass("privileges", "INSERT, UPDATE, DELETE, CREATE granted")
    } else {
        Check::fail(
            "privileges",
            ErrorKind::Privilege,
            format!("the account lacks {}: grant them on the target tables and on `{}`.*", missing.join(", "), cfg.checkpoint_schema),
        )
    };
    let mut out = vec![Check::pass("connect", version.clone()), privileges];
    out.extend(speed_checks(cfg, &version, &vars));
    out.extend(row_events_check(cfg, &version, &grants, &vars));
    match lock_view {
        Some(Ok(())) => out.push(Check::pass("lock_waits", "transaction mode reads the target's lock waits: a hidden wait between two of its transactions is resolved within 40 ms")),
        Some(Err(e)) => out.push(Check::warn(
            "lock_waits",
            format!(
                "transaction mode cannot read the target's lock waits ({e}): grant PROCESS to the account (GRANT PROCESS ON *.* TO ...), or a transaction waiting for its commit turn gives way only after a second"
            ),
        )),
        None => {}
    }
    out
}

/// How runs of whole-row writes reach the target, and the target settings that decide how fast
/// (warnings only: every path has a safe fallback). `version` is the target's `@@version`,
/// `vars` its `(name, value)` global variables.
fn speed_checks(m: &MysqlSinkConfig, version: &str, vars: &[(String, String)]) -> Vec<Check> {
    let var = |n: &str| vars.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.to_ascii_uppercase());
    let mut rows = Vec::new();
    // Bulk execution needs neither LOCAL INFILE nor the AUTO-INC lock mode.
    if MysqlDialect::for_version(version).bulk_execution() && m.bulk_min_rows > 0 {
        let detail = format!(
            "runs of at least {} whole-row writes go as bulk executions of one prepared statement (MariaDB); \
             local_infile and innodb_autoinc_lock_mode do not matter",
            m.bulk_min_rows
        );
        rows.push(Check::pass("bulk_execution", detail));
        return rows;
    }
    let infile = var("local_infile");
    let (detail, warn) = if m.load_data_min_rows == 0 {
        ("LOAD DATA is off (load_data_min_rows = 0): inserted rows go as INSERT statements".to_owned(), false)
    } else if matches!(infile.as_deref(), Some("OFF" | "0")) {
        (
            "local_infile = OFF: runs of inserted rows fall back to INSERT statements, which cost the target ~1.5x the CPU; \
             SET GLOBAL local_infile = ON on the target (and set it in its configuration file)"
                .to_owned(),
            true,
        )
    } else {
        (format!("local_infile = {}: runs of inserted rows go as LOAD DATA LOCAL", infile.as_deref().unwrap_or("ON")), false)
    };
    rows.push(if warn { Check::warn("local_infile", detail) } else { Check::pass("local_infile", detail) });
    if let Some(mode) = var("innodb_autoinc_lock_mode") {
        let statement_binlog = var("log_bin").as_deref() == Some("ON") && var("binlog_format").as_deref() != Some("ROW");
        let (detail, warn) = if mode == "2" {
            ("innodb_autoinc_lock_mode = 2: workers load one table in parallel".to_owned(), false)
        } else if m.workers == Some(1) {
            (format!("innodb_autoinc_lock_mode = {mode} (one worker: nothing to take turns)"), false)
        } else if statement_binlog {
            (format!("innodb_autoinc_lock_mode = {mode}: keep it, the target writes a statement-based binary log"), false)
        } else {
            (
                format!(
                    "innodb_autoinc_lock_mode = {mode}: workers take turns loading a table with an AUTO_INCREMENT column \
                     (InnoDB holds its AUTO-INC lock for a whole LOAD DATA); start the target with \
                     innodb_autoinc_lock_mode = 2 to load in parallel (safe: its binary log is off or ROW)"
                ),
                true,
            )
        };
        rows.push(if warn { Check::warn("autoinc_lock_mode", detail) } else { Check::pass("autoinc_lock_mode", detail) });
    }
    rows
}

/// Whether runs of inserts and updates can go as row events (`BINLOG` statements: MariaDB, with
/// the `BINLOG REPLAY` privilege or `SUPER`, under a strict `slave_exec_mode`); a warning with
/// the fix when not (never a failure: upserts are the fallback). `grants` are the account's
/// `SHOW GRANTS` lines, `vars` the target's global variables read by [`checks`].
fn row_events_check(m: &MysqlSinkConfig, version: &str, grants: &[String], vars: &[(String, String)]) -> Option<Check> {
    if m.row_events_min_rows == 0 || !version.contains("MariaDB") {
        return None;
    }
    let granted = grants.iter().map(|g| g.to_ascii_uppercase()).any(|g| {
        let privileges = g.split(" ON ").next().unwrap_or_default();
        ["ALL PRIVILEGES", "BINLOG REPLAY", "SUPER"].iter().any(|p| privileges.contains(p))
    });
    let mode = vars.iter().find(|(k, _)| k.eq_ignore_ascii_case("slave_exec_mode")).map(|(_, v)| v.as_str());
    Some(if !granted {
        Check::warn(
            "row_events",
            "the account lacks BINLOG REPLAY: inserts and updates go as upserts, which cost the target more CPU than row events \
             (a quarter to a third for updates); grant it (GRANT BINLOG REPLAY ON *.* TO ...), or set row_events_min_rows = 0 \
             to use upserts knowingly"
                .to_owned(),
        )
    } else if !crate::mysql::row_events::strict(mode) {
        Check::warn(
            "row_events",
            format!(
                "the target's slave_exec_mode is {}: under IDEMPOTENT, row events skip missing rows, so inserts and updates go \
                 as upserts while it is; SET GLOBAL slave_exec_mode = 'STRICT' (the default) for the cheaper path",
                mode.unwrap_or("unknown")
            ),
        )
    } else {
        Check::pass(
            "row_events",
            format!("runs of at least {} inserts or updates of existing rows go as row events (BINLOG statements)", m.row_events_min_rows),
        )
    })
}

/// The `AUTO_INCREMENT` settings of the sites of two-way pipelines, `(site, url, tls)` each:
/// sites that all accept inserts must not generate the same keys (a warning when they can);
/// `None` with fewer than two sites.
pub async fn auto_increment_sites(sites: &[(String, String, otter_core::mysql::conn::TlsConfig)]) -> Option<Check> {
    if sites.len() < 2 {
        return None;
    }
    let mut settings = Vec::new();
    for (site, url, tls) in sites {
        let got = async {
            let mut conn = ConnectOptions::new(url, tls)?.connect().await?;
            let v: Option<(u64, u64)> = conn
                .query_first("SELECT @@global.auto_increment_increment, @@global.auto_increment_offset")
                .await
                .map_err(|e| translate(e, "site"))?;
            Ok::<_, Error>(v.unwrap_or((1, 1)))
        };
        match got.await {
            Ok(v) => settings.push((site.clone(), v)),
            Err(e) => return Some(Check::fail("auto_increment", e.kind(), format!("site {site}: {e}"))),
        }
    }
    let mut clashes = Vec::new();
    for (i, (a, (ia, oa))) in settings.iter().enumerate() {
        for (b, (ib, ob)) in settings.iter().skip(i + 1) {
            // Sequences off_a + k*inc_a and off_b + k*inc_b meet unless their residues differ
            // modulo gcd(inc_a, inc_b).
            let g = gcd(*ia, *ib).max(1);
            if oa % g == ob % g {
                clashes.push(format!("{a} (increment {ia}, offset {oa}) and {b} (increment {ib}, offset {ob})"));
            }
        }
    }
    let n = settings.len();
    Some(if clashes.is_empty() {
        Check::pass("auto_increment", format!("{n} sites generate distinct AUTO_INCREMENT keys"))
    } else {
        Check::warn("auto_increment", format!(
            "AUTO_INCREMENT keys can collide between {}: if every site accepts inserts, set auto_increment_increment = {n} (or more) \
             on all sites and a different auto_increment_offset (1..{n}) on each",
            clashes.join("; ")
        ))
    })
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}


/// The tables of `tables` (target names) the target does not have.
pub async fn missing_tables(cfg: &MysqlSinkConfig, tables: &[(String, String)]) -> otter_core::Result<Vec<(String, String)>> {
    let opts = ConnectOptions::new(&cfg.url, &cfg.tls)?;
    let mut conn = opts.connect().await?;
    let have: Vec<(String, String)> = conn
        .query("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES")
        .await
        .map_err(|e| translate(e, "listing the target's tables"))?;
    let _ = conn.disconnect().await;
    let have: std::collections::HashSet<(String, String)> = have.into_iter().collect();
    Ok(tables.iter().filter(|k| !have.contains(*k)).cloned().collect())
}

/// Whether the target has the tables a pipeline writes (`tables`: source tables already mapped
/// to their target names), and what the pipeline will do about the missing ones: with
/// `snapshot_copies` (a first run with `snapshot = "initial"`), the snapshot creates and copies
/// them; otherwise their first change stops the pipeline.
pub async fn target_tables(cfg: &MysqlSinkConfig, tables: &[(String, String)], snapshot_copies: bool) -> Check {
    let missing: Vec<String> = match missing_tables(cfg, tables).await {
        Ok(m) => m.into_iter().map(|(d, t)| format!("{d}.{t}")).collect(),
        Err(e) => return Check { name: "target_tables", outcome: otter_core::preflight::Outcome::Fail(e) },
    };
    let shown = |m: &[String]| {
        let mut s = m.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
        if m.len() > 10 {
            s.push_str(&format!(" and {} more", m.len() - 10));
        }
        s
    };
    match (missing.is_empty(), snapshot_copies) {
        (true, _) => Check::pass("target_tables", format!("all {} included tables exist on the target", tables.len())),
        (false, true) => Check::pass(
            "target_tables",
            format!("{} of {} included tables are missing on the target ({}): the snapshot will create and copy them", missing.len(), tables.len(), shown(&missing)),
        ),
        (false, false) => Check::warn(
            "target_tables",
            format!(
                "{} of {} included tables are missing on the target ({}): the first change of one stops the pipeline; \
                 set snapshot = \"initial\" in the source (first run) to create and copy them online, or create them",
                missing.len(),
                tables.len(),
                shown(&missing)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otter_core::preflight::Outcome;

    fn grants(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn row_events_need_mariadb_binlog_replay_or_super_and_a_strict_exec_mode() {
        let cfg = MysqlSinkConfig::new("mysql://t");
        let maria = "10.11.19-MariaDB-0+deb12u1";
        let strict = vec![("slave_exec_mode".to_owned(), "STRICT".to_owned())];
        let outcome = |v: &str, g: &[&str]| row_events_check(&cfg, v, &grants(g), &strict).map(|c| c.outcome);
        assert!(matches!(outcome(maria, &["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`"]), Some(Outcome::Pass(_))));
        assert!(matches!(outcome(maria, &["GRANT INSERT, BINLOG REPLAY ON *.* TO `o`@`%`"]), Some(Outcome::Pass(_))));
        assert!(matches!(outcome(maria, &["GRANT SUPER ON *.* TO `o`@`%`"]), Some(Outcome::Pass(_))));
        // Only the privileges count, not a database or user named like one.
        let Some(Outcome::Warn(w)) = outcome(maria, &["GRANT INSERT, UPDATE ON `super`.* TO `o`@`%`"]) else { panic!("no warning") };
        assert!(w.contains("GRANT BINLOG REPLAY"), "{w}");
        assert!(outcome("8.0.36", &["GRANT ALL PRIVILEGES ON *.* TO `root`@`%`"]).is_none());
        let off = MysqlSinkConfig { row_events_min_rows: 0, ..MysqlSinkConfig::new("mysql://t") };
        assert!(row_events_check(&off, maria, &grants(&["GRANT INSERT ON *.* TO `o`@`%`"]), &strict).is_none());
        let idempotent = vec![("SLAVE_EXEC_MODE".to_owned(), "IDEMPOTENT".to_owned())];
        let root = grants(&["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`"]);
        let Some(Outcome::Warn(w)) = row_events_check(&cfg, maria, &root, &idempotent).map(|c| c.outcome) else { panic!("no warning") };
        assert!(w.contains("IDEMPOTENT") && w.contains("SET GLOBAL slave_exec_mode = 'STRICT'"), "{w}");
    }
}
