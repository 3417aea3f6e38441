//! Certificate and credential failures against real servers are definite: `otter run` stops
//! within seconds with exit code 2 and a message that says what to set, instead of retrying for
//! ever ("Cannot reach the target; retrying") — for the target and for the source alike. A
//! server that requires TLS (`require_secure_transport`, or an account created `REQUIRE SSL`)
//! answers a plain login with the same "access denied" as a wrong password; otter tells the two
//! apart and says to turn TLS on.


use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use otter_testkit::{Certs, MariaDb, ServerConfig};

/// A pipeline `p` from `source` to a MySQL `target`, with `extra` TOML appended (e.g. a
/// `[pipeline.sink.tls]` table).
fn pipeline(dir: &Path, source: &str, target: &str, extra: &str) -> PathBuf {
    let text = format!(
        "state_dir = \"{}\"\n\
         [[pipeline]]\nname = \"p\"\n\
         [pipeline.source]\nurl = \"{source}\"\nfrom = \"latest\"\nserver_id = 777\nmax_reconnect_backoff_secs = 1\n\
         [pipeline.sink]\nkind = \"mysql\"\nurl = \"{target}\"\nworkers = 1\nmax_retry_backoff_secs = 1\n{extra}",
        dir.join("state").display(),
    );
    let path = dir.join("pipe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `otter run` for at most `secs`; returns its exit code (`None` when it was still running
/// and had to be killed), the seconds it took and its log.
fn run_for(config: &Path, secs: u64) -> (Option<i32>, f64, String) {
    let log = config.with_extension("log");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_otter"))
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > Duration::from_secs(secs) {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (code, started.elapsed().as_secs_f64(), std::fs::read_to_string(&log).unwrap())
}

/// The log must show one definite failure: exit 2 within seconds, no retry.
fn assert_stopped_at_once(code: Option<i32>, secs: f64, log: &str) {
    assert_eq!(code, Some(2), "after {secs:.1}s, log:\n{log}");
    assert!(secs < 15.0, "took {secs:.1}s, log:\n{log}");
    assert!(!log.to_lowercase().contains("retrying"), "{log}");
}

#[test]
fn run_stops_when_the_target_certificate_does_not_verify() {
    let certs = Certs::generate().unwrap();
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2).tls(&certs)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // TLS required, but the CA that signed B's certificate is not trusted.
    let cfg = pipeline(dir.path(), &a.url(), &b.url(), "[pipeline.sink.tls]\nmode = \"required\"\n");
    let (code, secs, log) = run_for(&cfg, 40);
    assert_stopped_at_once(code, secs, &log);
    assert!(log.contains(&format!("127.0.0.1:{}", b.port())), "names the target: {log}");
    assert!(log.contains("TLS certificate does not verify (invalid peer certificate: UnknownIssuer)"), "{log}");
    assert!(log.contains("set tls.ca_file to the CA that signed the server certificate"), "{log}");

    // With the CA the same pipeline connects (and runs until stopped).
    let ca = format!("[pipeline.sink.tls]\nmode = \"required\"\nca_file = \"{}\"\n", certs.ca.display());
    let cfg = pipeline(dir.path(), &a.url(), &b.url(), &ca);
    let (code, _, log) = run_for(&cfg, 8);
    assert_eq!(code, None, "still running with the CA trusted: {log}");
    assert!(log.contains("Starting capture"), "{log}");
}

#[test]
fn run_stops_when_the_source_certificate_does_not_verify() {
    let certs = Certs::generate().unwrap();
    let a = MariaDb::start(ServerConfig::new(1).tls(&certs)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = pipeline(dir.path(), &a.url(), &b.url(), "[pipeline.source.tls]\nmode = \"required\"\n");
    let (code, secs, log) = run_for(&cfg, 40);
    assert_stopped_at_once(code, secs, &log);
    assert!(log.contains(&format!("127.0.0.1:{}", a.port())), "names the source: {log}");
    assert!(log.contains("TLS certificate does not verify (invalid peer certificate: UnknownIssuer)"), "{log}");
    assert!(log.contains("set tls.ca_file to the CA that signed the server certificate"), "{log}");
}

#[test]
fn run_stops_when_the_target_password_is_wrong() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    b.sql("CREATE USER 'loader'@'127.0.0.1' IDENTIFIED BY 'Right-pw-31'; GRANT ALL ON *.* TO 'loader'@'127.0.0.1'").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = pipeline(dir.path(), &a.url(), &b.url_for("loader", "Wrong-pw-47"), "");
    let (code, secs, log) = run_for(&cfg, 40);
    assert_stopped_at_once(code, secs, &log);
    assert!(log.contains("server error 1045") && log.contains("check the user and password"), "{log}");
    assert!(log.contains("mysql://loader:***@127.0.0.1"), "{log}");
    assert!(!log.contains("Wrong-pw-47"), "the password leaked: {log}");
}

/// Runs `otter check`; returns its exit code and its `source` rows.
fn check(config: &Path) -> (Option<i32>, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_otter")).args(["check", "--config"]).arg(config).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), text.lines().filter(|l| l.contains(" source ")).map(str::to_owned).collect())
}

fn connect_row(rows: &[String]) -> &str {
    rows.iter().find(|l| l.contains(" connect ")).unwrap_or_else(|| panic!("no connect row in {rows:#?}"))
}

/// What a plain login to a server that requires TLS must say.
fn assert_asks_for_tls(text: &str) {
    assert!(text.contains("the server requires TLS for this account"), "{text}");
    assert!(text.contains("mode = \"required\"") && text.contains("ca_file = <the CA that signed the server certificate>"), "{text}");
    assert!(text.contains("[pipeline.source.tls]"), "{text}");
    assert!(!text.contains("check the user and password"), "{text}");
}

#[test]
fn a_source_requiring_secure_transport_asks_for_tls() {
    let certs = Certs::generate().unwrap();
    let a = MariaDb::start(ServerConfig::new(1).tls(&certs).arg("--require-secure-transport=ON")).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = pipeline(dir.path(), &a.url(), &b.url(), "");
    let (code, rows) = check(&cfg);
    assert_eq!(code, Some(2), "{rows:#?}");
    let connect = connect_row(&rows);
    assert!(connect.contains("FAIL"), "{connect}");
    assert_asks_for_tls(connect);

    let (code, secs, log) = run_for(&cfg, 40);
    assert_stopped_at_once(code, secs, &log);
    assert_asks_for_tls(&log);

    // Doing what the message says works.
    let tls = format!("[pipeline.source.tls]\nmode = \"required\"\nca_file = \"{}\"\n", certs.ca.display());
    let cfg = pipeline(dir.path(), &a.url(), &b.url(), &tls);
    let (code, rows) = check(&cfg);
    assert_eq!(code, Some(0), "{rows:#?}");
    assert!(connect_row(&rows).contains("PASS"), "{rows:#?}");
}

#[test]
fn a_source_account_requiring_ssl_asks_for_tls() {
    let certs = Certs::generate().unwrap();
    let a = MariaDb::start(ServerConfig::new(1).tls(&certs)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'Repl-pw-19' REQUIRE SSL; GRANT ALL ON *.* TO 'repl'@'127.0.0.1'").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = pipeline(dir.path(), &a.url_for("repl", "Repl-pw-19"), &b.url(), "");
    let (code, rows) = check(&cfg);
    assert_eq!(code, Some(2), "{rows:#?}");
    let connect = connect_row(&rows);
    assert!(connect.contains("FAIL") && connect.contains("mysql://repl:***@127.0.0.1"), "{connect}");
    assert_asks_for_tls(connect);
    assert!(!rows.concat().contains("Repl-pw-19"), "the password leaked: {rows:#?}");

    let (code, secs, log) = run_for(&cfg, 40);
    assert_stopped_at_once(code, secs, &log);
    assert_asks_for_tls(&log);

    // A wrong password stays a wrong password, TLS or not.
    let cfg = pipeline(dir.path(), &a.url_for("repl", "Wrong-pw-23"), &b.url(), "");
    let (code, rows) = check(&cfg);
    assert_eq!(code, Some(2), "{rows:#?}");
    let connect = connect_row(&rows);
    assert!(connect.contains("server error 1045") && connect.contains("check the user and password"), "{connect}");
    assert!(!connect.contains("requires TLS"), "{connect}");

    // Doing what the message says works.
    let tls = format!("[pipeline.source.tls]\nmode = \"required\"\nca_file = \"{}\"\n", certs.ca.display());
    let cfg = pipeline(dir.path(), &a.url_for("repl", "Repl-pw-19"), &b.url(), &tls);
    let (code, rows) = check(&cfg);
    assert_eq!(code, Some(0), "{rows:#?}");
    assert!(connect_row(&rows).contains("PASS"), "{rows:#?}");
}
