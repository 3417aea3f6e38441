//! A second instance started by mistake never disturbs the first: `otter run` of the same config
//! fails at once naming the running process (state lock); the same pipeline from another state
//! directory (as from another machine) fails naming the holder of the target's lease; a second
//! `otter tail` with the same server id fails while the first keeps streaming, and two tails
//! with default server ids both run. SIGTERM ends `otter run` while the target is unreachable.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{config_sink, interrupt, schema, spawn_run, wait_equal};
use otter_testkit::{MariaDb, ServerConfig};

fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Waits until `log` contains `needle`.
fn wait_log(log: &Path, needle: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !log_text(log).contains(needle) {
        assert!(Instant::now() < deadline, "{needle:?} not logged in {secs}s:\n{}", log_text(log));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `otter` with `args` to its end (at most `secs`); returns (exit code, stderr).
fn run_to_end(args: &[&str], secs: u64) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_otter")).args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("otter {args:?} still running after {secs}s:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_second_run_of_a_pipeline_fails_at_once_and_the_first_keeps_running() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let dir = tempfile::tempdir().unwrap();
    let config = config_sink(dir.path(), &a, &b.url(), 2, "w\\\\..*", "", "");
    let log = dir.path().join("first.log");
    let first = spawn_run(&config, &log);
    wait_log(&log, "Loader ready", 60);

    // The same config again: the state directory is taken.
    let (code, err) = run_to_end(&["run", "--config", config.to_str().unwrap()], 30);
    assert_eq!(code, Some(2), "{err}");
    let holder = format!("pid {} on host", first.id());
    assert!(err.contains("is already in use by") && err.contains(&holder), "{err}");

    // The same pipeline and target from another state directory (another machine): the target's
    // lease is held.
    let other = tempfile::tempdir().unwrap();
    let config2 = config_sink(other.path(), &a, &b.url(), 2, "w\\\\..*", "", "");
    let (code, err) = run_to_end(&["run", "--config", config2.to_str().unwrap()], 30);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("pipeline a_to_b is already running") && err.contains(&holder) && err.contains("epoch 1"), "{err}");

    // The first one was not disturbed.
    a.sql("INSERT INTO w.sb1 VALUES (1, 1, 'c', 'p'); INSERT INTO w.nokey VALUES (1, 'b', 1.5)").unwrap();
    wait_equal(&a, &b, 60, &log);
    assert!(interrupt(first).success(), "{}", log_text(&log));
    assert!(!log_text(&log).contains("ERROR"), "{}", log_text(&log));
}

fn spawn_tail(url: &str, out: &Path, server_id: Option<&str>, log: &Path) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otter"));
    cmd.args(["tail", "--source", url, "--from", "latest", "--include", "w\\..*", "--output"]).arg(out);
    if let Some(id) = server_id {
        cmd.args(["--server-id", id]);
    }
    cmd.stdout(Stdio::null()).stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap());
    otter_testkit::spawn_tied_to_process(cmd).unwrap()
}

fn lines(out: &Path) -> usize {
    std::fs::read_to_string(out).unwrap_or_default().lines().count()
}

#[test]
fn two_tails_of_one_server() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    a.sql("CREATE DATABASE w; CREATE TABLE w.t (id INT PRIMARY KEY)").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (out1, out2, out3) = (dir.path().join("1.jsonl"), dir.path().join("2.jsonl"), dir.path().join("3.jsonl"));
    let (log1, log2) = (dir.path().join("1.log"), dir.path().join("2.log"));

    // One server id, given twice: the second fails clearly, the first keeps streaming.
    let first = spawn_tail(&a.url(), &out1, Some("4343"), &log1);
    wait_log(&log1, "Starting capture", 60);
    std::thread::sleep(Duration::from_millis(500));
    let (code, err) = run_to_end(&["tail", "--source", &a.url(), "--from", "latest", "--server-id", "4343", "--output", out2.to_str().unwrap()], 30);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("server id 4343 is already streaming from this server") && err.contains("server_id"), "{err}");
    // The same output file: taken.
    let (code, err) = run_to_end(&["tail", "--source", &a.url(), "--output", out1.to_str().unwrap()], 30);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("pid {} on host", first.id())), "{err}");

    // Default server ids differ per process: a second tail streams alongside the first.
    let second = spawn_tail(&a.url(), &out3, None, &log2);
    wait_log(&log2, "Starting capture", 60);
    std::thread::sleep(Duration::from_millis(500));
    a.sql("INSERT INTO w.t VALUES (1); INSERT INTO w.t VALUES (2)").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while (lines(&out1) < 2 || lines(&out3) < 2) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!((lines(&out1), lines(&out3)), (2, 2), "first:\n{}\nsecond:\n{}", log_text(&log1), log_text(&log2));
    assert!(interrupt(first).success());
    assert!(interrupt(second).success());
    assert!(!log_text(&log1).contains("ERROR"), "{}", log_text(&log1));
}

#[test]
fn sigterm_ends_a_run_whose_target_is_unreachable() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    schema(&a);
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = config_sink(dir.path(), &a, &format!("mysql://root@127.0.0.1:{port}"), 2, "w\\\\..*", "", "");
    let log = dir.path().join("run.log");
    let child = spawn_run(&config, &log);
    wait_log(&log, "Cannot reach the target; retrying", 60);
    let pid = child.id().to_string();
    let sent = Instant::now();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        assert!(sent.elapsed() < Duration::from_secs(10), "SIGTERM ignored for 10 s:\n{}", log_text(&log));
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}:\n{}", log_text(&log));
}

#[test]
fn a_pipeline_that_fails_is_logged_at_once_while_the_others_run() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "state_dir = \"{state}\"\n\
         [[pipeline]]\nname = \"good\"\n[pipeline.source]\nurl = \"{a}\"\nfrom = \"earliest\"\ninclude = [\"w\\\\..*\"]\n\
         [pipeline.sink]\nkind = \"mysql\"\nurl = \"{b}\"\n\
         [[pipeline]]\nname = \"bad\"\n[pipeline.source]\nurl = \"{a}\"\nfrom = \"earliest\"\ninclude = [\"w\\\\..*\"]\n\
         [pipeline.sink]\nkind = \"mysql\"\nurl = \"{bad}\"\ncheckpoint_schema = \"otter_bad\"\n",
        state = dir.path().join("state").display(),
        a = a.url(),
        b = b.url(),
        bad = b.url_for("nobody", "wrong"),
    );
    let config = dir.path().join("pipe.toml");
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("run.log");
    let mut child = spawn_run(&config, &log);
    // The second pipeline's failure is logged while the first one still runs.
    wait_log(&log, "Pipeline failed. pipeline=bad", 60);
    assert!(child.try_wait().unwrap().is_none(), "{}", log_text(&log));
    a.sql("INSERT INTO w.sb1 VALUES (1, 1, 'c', 'p')").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while b.value("SELECT COUNT(*) FROM w.sb1").unwrap_or_default() != "1" {
        assert!(Instant::now() < deadline, "{}", log_text(&log));
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = interrupt(child);
    assert_eq!(status.code(), Some(2), "the failed pipeline's error decides the exit code");
}
