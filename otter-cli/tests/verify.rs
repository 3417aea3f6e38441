//! `otter verify` against real servers while `otter run` replicates A -> B and a writer keeps
//! changing rows: B is corrupted behind otter's back (100 rows changed, 50 deleted, 30 rows A
//! never had), and verify must name exactly those 180 keys — five runs in a row, none reporting
//! a row that was merely in flight — plus a case-only difference of a `utf8mb4_general_ci` key
//! and a difference in a routed table with a left-out column (whose own changes are not
//! differences); JSON spelled differently but equal is not a difference. `--repair` re-syncs the
//! keys through the pipeline and verify is clean afterwards. Wrong input exits 2.
//! `--continuous` with a small sample finds the corrupted keys pass after pass, exactly, serves
//! them as `otter_verify_differences`, keeps them until repaired and then shows 0. In a two-way
//! pair with both sites writing, the target site's own writes on their way back are not
//! differences.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, interrupt, scrape, spawn_run, Rng};
use otter_testkit::compare::{log_tail, Tables, Wait};
use otter_testkit::{MariaDb, Proxy, ServerConfig};

const ROWS: u64 = 5_000;

fn schema(a: &MariaDb) {
    a.sql(&format!(
        "CREATE DATABASE v;
         CREATE TABLE v.main (id INT NOT NULL PRIMARY KEY, name VARCHAR(40), amount DECIMAL(12,2), at DATETIME(6), doc JSON, bin BLOB, note VARCHAR(20) NULL);
         INSERT INTO v.main SELECT seq, CONCAT('name ', seq), seq * 1.25, TIMESTAMP'2026-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL seq MICROSECOND,
                JSON_OBJECT('a', seq, 'b', 'x'), UNHEX(MD5(seq)), IF(seq % 3 = 0, NULL, 'n') FROM v.seq_1_to_{ROWS};
         CREATE TABLE v.ci (k VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, v INT);
         INSERT INTO v.ci SELECT CONCAT('key', seq), seq FROM v.seq_1_to_500;
         CREATE TABLE v.people (id INT NOT NULL PRIMARY KEY, name VARCHAR(40), secret VARCHAR(40));
         INSERT INTO v.people SELECT seq, CONCAT('p', seq), 'hidden' FROM v.seq_1_to_500;
         CREATE TABLE v.nokey (a INT, b INT);
         INSERT INTO v.nokey SELECT seq % 7, seq FROM v.seq_1_to_300;"
    ))
    .unwrap();
}

fn config(dir: &Path, a: &MariaDb, b_url: &str) -> PathBuf {
    let text = format!(
        "state_dir = \"{}\"\n\
         [[pipeline]]\nname = \"a_to_b\"\n\
         [pipeline.source]\nurl = \"{}\"\ninclude = [\"v\\\\..*\"]\nheartbeat_secs = 1\nmax_reconnect_backoff_secs = 1\nsnapshot = \"initial\"\n\
         [pipeline.sink]\nkind = \"mysql\"\nurl = \"{b_url}\"\nworkers = 2\nmax_retry_backoff_secs = 1\n\
         [pipeline.batch]\nlinger_ms = 20\n\
         [[pipeline.transform]]\nkind = \"columns\"\ntable = \"v.people\"\nexclude = [\"secret\"]\n\
         [[pipeline.transform]]\nkind = \"route\"\nfrom = \"v.people\"\nto = \"v.people_copy\"\n",
        dir.join("state").display(),
        a.url(),
    );
    let path = dir.join("pipe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn verify(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otter")).args(["verify", "--config"]).arg(config).args(args).output().unwrap()
}

/// The differing keys of a JSON report: `(table, kind, key, columns)`.
fn keys(report: &Path) -> BTreeSet<(String, String, String, String)> {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for entry in json.as_array().unwrap() {
        let t = &entry["table"];
        for d in t["differences"].as_array().unwrap() {
            let key: Vec<String> = d["key"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect();
            let cols: Vec<String> = d["columns"].as_array().map(|c| c.iter().map(|x| x.as_str().unwrap().to_owned()).collect()).unwrap_or_default();
            out.insert((t["source"].as_str().unwrap().to_owned(), d["kind"].as_str().unwrap().to_owned(), key.join(","), cols.join(",")));
        }
    }
    out
}

/// Runs verify with `args` and a JSON `report`, which must name exactly the keys of `expected`
/// (exit 1); returns verify's output (`log`: otter run's, shown on failure).
fn verify_reports(config: &Path, report: &Path, args: &[&str], expected: &BTreeSet<(String, String, String, String)>, log: &Path) -> String {
    let out = verify(config, &[args, &["--report", report.to_str().unwrap()]].concat());
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{}: differences exit 1:\n{text}\n{}", report.display(), log_tail(log, 20));
    let found = keys(report);
    let extra: Vec<_> = found.difference(expected).take(5).collect();
    let missed: Vec<_> = expected.difference(&found).take(5).collect();
    assert!(extra.is_empty() && missed.is_empty(), "{}: reported but not corrupted {extra:?}; corrupted but not reported {missed:?}\n{text}", report.display());
    text
}

/// Changes rows with ids 1..=2500 of v.main (and v.ci, v.people) at about `tps` transactions a
/// second over one connection until `stop`; counts transactions sent.
fn writer(client: otter_testkit::Client, tps: u64, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) {
    let mut rng = Rng(0x7e57);
    let mut stream = client.stream().unwrap();
    let started = Instant::now();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let id = 1 + rng.below(2_500);
        let sql = match rng.below(6) {
            0 => format!("UPDATE v.main SET amount = amount + 1, at = NOW(6), doc = JSON_OBJECT('a', {i}) WHERE id = {id}"),
            1 => format!("DELETE FROM v.main WHERE id = {id}"),
            2 => format!("REPLACE INTO v.main VALUES ({id}, 'w{i}', {i}.5, NOW(6), '{{\"w\": {i}}}', x'00ff', NULL)"),
            3 => format!("UPDATE v.ci SET v = {i} WHERE k = 'key{}'", 1 + rng.below(250)),
            4 => format!("UPDATE v.people SET secret = 's{i}', name = 'n{i}' WHERE id = {}", 1 + rng.below(250)),
            _ => format!("INSERT INTO v.main VALUES ({}, 'new', 1, NOW(6), NULL, NULL, NULL) ON DUPLICATE KEY UPDATE name = 'again'", 1 + rng.below(2_500)),
        };
        stream.send(&sql).unwrap();
        done.fetch_add(1, Ordering::Relaxed);
        // Paced: transaction i is due at i / tps seconds.
        let due = Duration::from_secs_f64(i as f64 / tps as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    stream.finish().unwrap();
}

#[test]
fn verify_names_exactly_the_corrupted_keys_while_live_and_repair_makes_it_equal() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &a, &b.url());
    let log = dir.path().join("run.log");
    let otter = spawn_run(&config, &log);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("Online snapshot finished") {
        assert!(Instant::now() < deadline, "no copy:\n{}", log_tail(&log, 40));
        std::thread::sleep(Duration::from_millis(50));
    }
    Wait::pair(&a, &b, Tables::Named(&["v.main", "v.ci", "v.nokey"]), 60).log(&log).run();

    // Corrupt B where the writer never writes: 100 changed, 50 deleted, 30 extra rows.
    b.sql("UPDATE v.main SET amount = amount + 0.01 WHERE id BETWEEN 2601 AND 2700").unwrap();
    b.sql("DELETE FROM v.main WHERE id BETWEEN 3001 AND 3050").unwrap();
    b.sql("INSERT INTO v.main (id, name) SELECT -seq, 'extra' FROM v.seq_1_to_30").unwrap();
    // Equal JSON spelled differently, and a DATETIME(6) written the same: not differences.
    b.sql("UPDATE v.main SET doc = CONCAT('{\"b\" : \"x\",   \"a\": ', id, '}') WHERE id BETWEEN 4001 AND 4010").unwrap();
    // A key of a _ci collation spelled differently, and a routed table's row changed.
    b.sql("UPDATE v.ci SET k = 'KEY400' WHERE k = 'key400'").unwrap();
    b.sql("UPDATE v.people_copy SET name = 'changed' WHERE id = 400").unwrap();
    let mut expected: BTreeSet<(String, String, String, String)> = BTreeSet::new();
    for id in 2601..=2700 {
        expected.insert(("v.main".into(), "different".into(), id.to_string(), "amount".into()));
    }
    for id in 3001..=3050 {
        expected.insert(("v.main".into(), "missing".into(), id.to_string(), String::new()));
    }
    for id in 1..=30 {
        expected.insert(("v.main".into(), "extra".into(), format!("-{id}"), String::new()));
    }
    expected.insert(("v.ci".into(), "different".into(), "key400".into(), "k".into()));
    expected.insert(("v.people".into(), "different".into(), "400".into(), "name".into()));

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let w = {
        let (client, stop, done) = (a.client(), Arc::clone(&stop), Arc::clone(&done));
        std::thread::spawn(move || writer(client, 1_000, stop, done))
    };
    let started = Instant::now();
    let runs: usize = std::env::var("OTTER_VERIFY_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    for run in 0..runs {
        let t0 = Instant::now();
        let report = dir.path().join(format!("report{run}.json"));
        // One run cuts differing ranges down to 200 rows before comparing rows.
        let diff_rows = if run == 1 { "200" } else { "20000" };
        let text = verify_reports(&config, &report, &["--chunk-rows", "1000", "--diff-rows", diff_rows], &expected, &log);
        assert!(text.contains("v.nokey"), "the keyless table is compared whole:\n{text}");
        eprintln!("verify run {run}: {:.1}s", t0.elapsed().as_secs_f64());
    }
    let tps = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    eprintln!("writer: {tps:.0} transactions/s sent during the verify runs");

    // Repair what can be re-synced (the routed table with a left-out column cannot), then verify.
    let out = verify(&config, &["--repair", "--tables", "v\\.(main|ci)"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "after --repair the tables are equal:\n{text}\n{}", log_tail(&log, 30));
    assert!(text.contains("repaired 180 keys; now equal") && text.contains("repaired 1 keys; now equal"), "{text}");
    let report = dir.path().join("after.json");
    let out = verify(&config, &["--report", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let left = keys(&report);
    assert_eq!(left, BTreeSet::from([("v.people".to_owned(), "different".to_owned(), "400".to_owned(), "name".to_owned())]));
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    // Byte for byte too, once the JSON is spelled as the source spells it.
    b.sql("UPDATE v.main SET doc = JSON_OBJECT('a', id, 'b', 'x') WHERE id BETWEEN 4001 AND 4010").unwrap();
    Wait::pair(&a, &b, Tables::Named(&["v.main", "v.ci", "v.nokey"]), 60).log(&log).run();
    // --print-sql prints statements and writes nothing.
    b.sql("DELETE FROM v.main WHERE id = 4500").unwrap();
    let out = verify(&config, &["--print-sql", "--tables", "v.main"]);
    let sql = String::from_utf8_lossy(&out.stdout);
    assert!(sql.contains("REPLACE INTO `v`.`main`") && sql.contains("4500"), "{sql}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(b.value("SELECT COUNT(*) FROM v.main WHERE id = 4500").unwrap().trim(), "0");
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 30));
}

/// Writes at both sites of a two-way pair A <-> B, each on keys of its own, deletes included:
/// verify of the direction A -> B names exactly the rows changed on B behind otter's back (not
/// logged), and none of the rows B's own writer changed that were on their way back to A, nor
/// the tables the pair does not sync.
#[test]
fn in_a_two_way_pair_the_target_sites_own_writes_in_flight_are_not_differences() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    a.sql("CREATE DATABASE w; CREATE TABLE w.t (id INT NOT NULL PRIMARY KEY, n INT NOT NULL, site CHAR(1) NOT NULL); \
           INSERT INTO w.t SELECT seq, 0, 'A' FROM w.seq_1_to_4000")
        .unwrap();
    // A table the pair does not sync (an edge carries a subset of tables): not compared.
    for (site, rows) in [(&a, 10), (&b, 0)] {
        site.sql(&format!("SET sql_log_bin = 0; CREATE DATABASE x; CREATE TABLE x.other (id INT PRIMARY KEY); INSERT INTO x.other SELECT seq FROM x.seq_0_to_{rows}"))
            .unwrap();
    }
    // B's writes reach A a moment late (another datacenter): the way back lags the way there.
    let far = Proxy::start_delayed(&format!("127.0.0.1:{}", b.port()), Duration::from_millis(40)).unwrap();
    let b_far = b.url().replace(&format!("127.0.0.1:{}", b.port()), &format!("127.0.0.1:{}", far.port()));
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("state_dir = \"{}\"\n", dir.path().join("state").display());
    for (from, to, su, tu) in [("A", "B", a.url(), b.url()), ("B", "A", b_far, a.url())] {
        text.push_str(&format!(
            "[[pipeline]]\nname = \"{f}_to_{t}\"\n[pipeline.batch]\nlinger_ms = 20\n\
             [pipeline.source]\nurl = \"{su}\"\nfrom = \"earliest\"\ninclude = [\"w\\\\..*\"]\nheartbeat_secs = 1\n\
             [pipeline.two_way]\nsource_site = \"{f}\"\ntarget_site = \"{t}\"\n\
             [pipeline.sink]\nkind = \"mysql\"\nurl = \"{tu}\"\nworkers = 2\n",
            f = from.to_lowercase(),
            t = to.to_lowercase(),
        ));
    }
    let config = dir.path().join("pair.toml");
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("run.log");
    let otter = spawn_run(&config, &log);
    Wait::pair(&a, &b, Tables::Named(&["w.t"]), 120).log(&log).run();

    // Each site changes its own keys (A 1..=1500, B 1501..=3000) at about 300 transactions a
    // second: updates, deletes and re-inserts.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = [(a.client(), 'A', 1), (b.client(), 'B', 1501)]
        .into_iter()
        .map(|(client, site, low)| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut rng = Rng(0x2a2a + low);
                let mut stream = client.stream().unwrap();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let id = low + rng.below(1_500);
                    let sql = match rng.below(4) {
                        0 => format!("DELETE FROM w.t WHERE id = {id}"),
                        1 => format!("INSERT INTO w.t VALUES ({id}, {i}, '{site}') ON DUPLICATE KEY UPDATE n = {i}"),
                        _ => format!("UPDATE w.t SET n = n + 1, site = '{site}' WHERE id = {id}"),
                    };
                    stream.send(&sql).unwrap();
                    std::thread::sleep(Duration::from_micros(3_300));
                }
                stream.finish().unwrap();
            })
        })
        .collect();
    // The way back runs (A holds B's writes).
    let deadline = Instant::now() + Duration::from_secs(60);
    while a.value("SELECT COUNT(*) FROM w.t WHERE site = 'B'").unwrap().trim() == "0" {
        assert!(Instant::now() < deadline, "B's writes never reached A:\n{}", log_tail(&log, 30));
        std::thread::sleep(Duration::from_millis(50));
    }
    // B changed behind otter's back (not logged, so no pipeline sees it), where nobody writes.
    b.sql("SET sql_log_bin = 0; UPDATE w.t SET n = -1 WHERE id BETWEEN 3001 AND 3020; DELETE FROM w.t WHERE id BETWEEN 3101 AND 3110; \
           INSERT INTO w.t VALUES (9001, 1, 'X'), (9002, 1, 'X'), (9003, 1, 'X')")
        .unwrap();
    let mut expected: BTreeSet<(String, String, String, String)> = BTreeSet::new();
    for id in 3001..=3020 {
        expected.insert(("w.t".into(), "different".into(), id.to_string(), "n".into()));
    }
    for id in 3101..=3110 {
        expected.insert(("w.t".into(), "missing".into(), id.to_string(), String::new()));
    }
    for id in 9001..=9003 {
        expected.insert(("w.t".into(), "extra".into(), id.to_string(), String::new()));
    }
    for run in 0..2 {
        let report = dir.path().join(format!("pair{run}.json"));
        let text = verify_reports(&config, &report, &["--pipeline", "a_to_b", "--chunk-rows", "500"], &expected, &log);
        assert!(!text.contains("x.other"), "run {run}: a table the pair does not sync was compared:\n{text}");
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 30));
}

/// `otter_verify_differences` of `table`, when present.
fn differences(body: &str, table: &str) -> Option<u64> {
    let prefix = format!("otter_verify_differences{{pipeline=\"a_to_b\",table=\"{table}\"}} ");
    body.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap())
}

#[test]
fn continuous_sampling_finds_drift_keeps_it_until_repaired_and_serves_it_as_metrics() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    schema(&a);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &a, &b.url());
    let log = dir.path().join("run.log");
    let otter = spawn_run(&config, &log);
    Wait::pair(&a, &b, Tables::Named(&["v.main", "v.ci"]), 120).log(&log).run();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let w = {
        let (client, stop, done) = (a.client(), Arc::clone(&stop), Arc::clone(&done));
        std::thread::spawn(move || writer(client, 300, stop, done))
    };
    // Drift spread over the table (the writer keeps to ids up to 2500): 12 keys.
    b.sql("UPDATE v.main SET name = 'drift' WHERE id IN (2600, 3300, 4100, 4900)").unwrap();
    b.sql("DELETE FROM v.main WHERE id IN (2700, 3500, 4400, 5000)").unwrap();
    b.sql("INSERT INTO v.main (id, name) VALUES (-1, 'x'), (-2, 'x'), (9001, 'x'), (9002, 'x')").unwrap();
    let t0 = Instant::now();
    let addr = format!("127.0.0.1:{}", free_port());
    let report = dir.path().join("continuous.json");
    let vlog = dir.path().join("verify.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otter"));
    cmd.args(["verify", "--config"])
        .arg(&config)
        .args(["--continuous", "--sample", "0.5", "--every", "1", "--chunk-rows", "500", "--tables", "v\\.(main|ci)", "--metrics-addr", &addr, "--report"])
        .arg(&report)
        .stdout(std::fs::File::create(&vlog).unwrap())
        .stderr(std::fs::File::create(dir.path().join("verify.err")).unwrap());
    let watcher = otter_testkit::spawn_tied_to_process(cmd).unwrap();
    // Each pass compares about half of the chunks plus the ranges that differed: the count
    // only grows (never past the 12 drifted keys: no in-flight row is a difference) up to 12.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = Vec::new();
    loop {
        let body = if std::net::TcpStream::connect(&addr).is_ok() { scrape(&addr) } else { String::new() };
        if let Some(n) = differences(&body, "v.main") {
            if seen.last() != Some(&n) {
                seen.push(n);
                eprintln!("{:?}: {n} differences", t0.elapsed());
            }
            assert!(n <= 12, "more than the drifted keys: {seen:?}\n{}", std::fs::read_to_string(&vlog).unwrap_or_default());
            assert!(seen.windows(2).all(|p| p[0] <= p[1]), "a found difference disappeared before a repair: {seen:?}");
            if n == 12 {
                assert_eq!(differences(&body, "v.ci"), Some(0), "{body}");
                assert!(body.contains("otter_verify_passes_total "), "{body}");
                break;
            }
        }
        assert!(Instant::now() < deadline, "not all drift found: {seen:?}\n{}", log_tail(&dir.path().join("verify.err"), 40));
        std::thread::sleep(Duration::from_millis(300));
    }
    let found = keys(&report);
    let mut expected = BTreeSet::new();
    for id in [2600, 3300, 4100, 4900] {
        expected.insert(("v.main".to_owned(), "different".to_owned(), id.to_string(), "name".to_owned()));
    }
    for id in [2700, 3500, 4400, 5000] {
        expected.insert(("v.main".to_owned(), "missing".to_owned(), id.to_string(), String::new()));
    }
    for id in [-1, -2, 9001, 9002] {
        expected.insert(("v.main".to_owned(), "extra".to_owned(), id.to_string(), String::new()));
    }
    // The report is rewritten after each pass; it may be the pass before the last scrape.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut found = found;
    while found != expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        found = keys(&report);
    }
    assert_eq!(found, expected);
    eprintln!("{:?}: report complete", t0.elapsed());
    // A repair (through the pipeline), and the next passes show 0.
    let out = verify(&config, &["--repair", "--tables", "v.main"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(60);
    while differences(&scrape(&addr), "v.main") != Some(0) {
        assert!(Instant::now() < deadline, "the repair is not seen: {}", scrape(&addr));
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!("{:?}: repaired", t0.elapsed());
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    // SIGINT ends it; the last pass was equal: exit 0.
    let status = interrupt(watcher);
    assert_eq!(status.code(), Some(0), "{}", std::fs::read_to_string(&vlog).unwrap_or_default());
    assert!(interrupt(otter).success(), "{}", log_tail(&log, 30));
}

#[test]
fn wrong_input_exits_2_with_what_to_do() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // An unreachable target.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = config(dir.path(), &a, &format!("mysql://root@127.0.0.1:{closed}"));
    let out = verify(&config, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("check the URL"), "{err}");
    let out = verify(&config, &["--pipeline", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pipeline \"nope\""));
    let out = verify(&config, &["--where", "a = 1) OR (1 = 1"]);
    assert_eq!(out.status.code(), Some(2));
}
