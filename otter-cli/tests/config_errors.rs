//! `otter run --config` with a wrong configuration: exit code 2, a message naming the offending
//! key, pattern or environment variable, and never the password of a source or target URL (also
//! one read from the environment). No server is needed: these fail before connecting.

use std::process::Command;

const PASSWORD: &str = "hunter2-Secret";

/// A valid configuration with `{SOURCE}` and `{EXTRA}` placeholders.
const BASE: &str = r#"
state_dir = "{STATE}"
[[pipeline]]
name = "a_to_b"
[pipeline.source]
url = "{SOURCE}"
from = "earliest"
include = ["shop\\..*"]
{EXTRA}
[pipeline.sink]
kind = "mysql"
url = "mysql://otter:hunter2-Secret@127.0.0.1:1"
"#;

/// Runs `otter run` on `text`; returns the exit code and stderr plus stdout.
fn run(text: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipe.toml");
    std::fs::write(&path, text.replace("{STATE}", &dir.path().join("state").display().to_string())).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otter"));
    cmd.args(["run", "--config"]).arg(&path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    (out.status.code(), text)
}

fn config(source: &str, extra: &str) -> String {
    BASE.replace("{SOURCE}", source).replace("{EXTRA}", extra)
}

/// Asserts exit code 2, every `needle` in the output and no password.
fn expect_error(text: &str, env: &[(&str, &str)], needles: &[&str]) {
    let (code, out) = run(text, env);
    assert_eq!(code, Some(2), "exit code; output:\n{out}");
    for n in needles {
        assert!(out.contains(n), "{n:?} missing from:\n{out}");
    }
    assert!(!out.contains(PASSWORD), "the password leaked:\n{out}");
}

#[test]
fn unknown_keys_are_named() {
    let url = format!("mysql://repl:{PASSWORD}@127.0.0.1:1");
    expect_error(&config(&url, "heartbeat_sec = 1"), &[], &["unknown field", "heartbeat_sec", "pipeline.source (pipeline \"a_to_b\")"]);
    expect_error(&format!("metrics_adr = \"127.0.0.1:9\"\n{}", config(&url, "")), &[], &["unknown field", "metrics_adr"]);
    let sink_typo = config(&url, "").replace("kind = \"mysql\"", "kind = \"mysql\"\nwrkers = 2");
    expect_error(&sink_typo, &[], &["unknown field", "wrkers", "pipeline.sink (pipeline \"a_to_b\")"]);
    let batch_typo = format!("{}[pipeline.batch]\nmax_row = 10\n", config(&url, ""));
    expect_error(&batch_typo, &[], &["unknown field", "max_row", "pipeline.batch (pipeline \"a_to_b\")"]);
}

#[test]
fn bad_include_pattern_is_named() {
    let url = format!("mysql://repl:{PASSWORD}@127.0.0.1:1");
    let text = config(&url, "").replace("shop\\\\..*", "shop\\\\.(orders");
    expect_error(&text, &[], &["invalid table pattern", "shop\\\\.(orders", "pipeline a_to_b"]);
    let text = config(&url, "exclude = [\"[a-\"]");
    expect_error(&text, &[], &["invalid table pattern", "\"[a-\""]);
}

#[test]
fn missing_variable_is_named_with_its_key() {
    let text = config("mysql://repl:${OTTER_TEST_SURELY_UNSET_PW}@127.0.0.1:1", "");
    expect_error(&text, &[], &["OTTER_TEST_SURELY_UNSET_PW", "source.url", "is not set"]);
}

#[test]
fn passwords_stay_out_of_messages() {
    // A password from the environment, in a URL that cannot be parsed.
    let text = config("mysql://repl:${OTTER_TEST_PW}@127.0.0.1:notaport", "");
    expect_error(&text, &[("OTTER_TEST_PW", PASSWORD)], &["invalid connection URL", "repl:***@"]);
    // A password containing '@' and ':' in the target URL, with another error elsewhere.
    let tricky = "p@ss:hunter2-Secret";
    let text = config("mysql://repl:x@127.0.0.1:1", "").replace("otter:hunter2-Secret@127.0.0.1:1", &format!("otter:{tricky}@127.0.0.1:notaport"));
    expect_error(&text, &[], &["invalid connection URL"]);
    // Invalid TOML on the line holding the password.
    let text = config(&format!("mysql://repl:{PASSWORD}@127.0.0.1:1\" broken"), "");
    expect_error(&text, &[], &["invalid TOML at line 6, column"]);
}

#[test]
fn a_key_given_twice_is_located() {
    let url = format!("mysql://repl:{PASSWORD}@127.0.0.1:1");
    // Line 12 of the file repeats the sink's `kind` (the text starts with an empty line).
    let text = config(&url, "").replace("kind = \"mysql\"\n", "kind = \"mysql\"\nkind = \"mysql\"\n");
    assert_eq!(text.lines().position(|l| l.starts_with("kind")).map(|i| i + 2), Some(12));
    expect_error(&text, &[], &["invalid TOML at line 12, column 1", "duplicate key"]);
}

#[test]
fn bad_snapshot_settings_are_named() {
    let url = format!("mysql://repl:{PASSWORD}@127.0.0.1:1");
    expect_error(&config(&url, "snapshot = \"initail\""), &[], &["pipeline.source.snapshot (pipeline \"a_to_b\")", "initail", "initial_only"]);
    expect_error(&config(&url, "snapshot = \"initial\"\nsnapshot_readers = 0"), &[], &["snapshot_readers is 0", "1 to 64"]);
    expect_error(&config(&url, "snapshot_chunk_ms = 0"), &[], &["snapshot_chunk_ms must be positive"]);
}
