//! DDL marks matched by session, against a real MariaDB: two sessions interleave `ddl_mark` rows
//! and DDL statements the server logs rewritten without comments (views, triggers); the capture
//! gives each DDL the mark its own session wrote just before (a leading comment mark wins), never
//! another session's, never one voided by a later non-DDL statement, also across a binlog
//! rotation; and it never emits otter's own triggers (`otter_…`).

mod common;

use common::{collect_until, config};
use mysql_async::prelude::Queryable;
use otter_core::change::Event;
use otter_core::source::mysql::{MysqlSource, SourceOptions};
use otter_core::two_way::MarkRules;
use otter_testkit::{MariaDb, ServerConfig};

/// Marks the session's next DDL the loader's way: its previous mark deleted, the new one inserted.
async fn mark(c: &mut mysql_async::Conn, origin: &str) {
    let [delete, insert] = otter_core::two_way::ddl_mark_sql("otter");
    c.query_drop(delete).await.unwrap();
    c.exec_drop(insert, (origin, origin)).await.unwrap();
}

async fn run(c: &mut mysql_async::Conn, sql: &str) {
    c.query_drop(sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_way_ddl_marks_are_matched_by_session() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    db.sql(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY);
         CREATE DATABASE otter;
         CREATE TABLE otter.ddl_mark (conn_id BIGINT UNSIGNED NOT NULL PRIMARY KEY, origin VARCHAR(64) NOT NULL,
           via VARCHAR(64) NOT NULL, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB",
    )
    .unwrap();
    let opts = mysql_async::Opts::from_url(&format!("{}/d", db.url())).unwrap();
    let (mut one, mut two) = (mysql_async::Conn::new(opts.clone()).await.unwrap(), mysql_async::Conn::new(opts).await.unwrap());
    mark(&mut one, "B").await;
    run(&mut two, "CREATE VIEW v_other AS SELECT 1 AS x").await; // another session: unmarked
    run(&mut one, "CREATE VIEW v_b AS SELECT 2 AS x").await; // from B: not sent to B
    mark(&mut one, "B").await;
    run(&mut two, "FLUSH BINARY LOGS").await; // a new binlog file between a mark and its DDL
    run(&mut one, "CREATE VIEW v_b2 AS SELECT 6 AS x").await; // from B: not sent to B
    mark(&mut one, "C").await;
    run(&mut one, "CREATE VIEW v_c AS SELECT 3 AS x").await; // from C: forwarded (tree edge), origin C
    // A DDL that fails is never logged: the session's next statement voids its mark.
    mark(&mut one, "B").await;
    assert!(one.query_drop("CREATE VIEW v_bad AS SELECT * FROM missing").await.is_err());
    run(&mut one, "ANALYZE TABLE t").await;
    run(&mut one, "CREATE VIEW v_after AS SELECT 4 AS x").await; // unmarked
    // A leading comment mark wins over the session's row; either one marks one DDL only.
    mark(&mut one, "C").await;
    run(&mut one, "/* otter:mark origin=B via=B */ CREATE TABLE t2 (id INT PRIMARY KEY)").await; // from B
    run(&mut one, "CREATE VIEW v_last AS SELECT 5 AS x").await; // unmarked
    // otter's own triggers are never sent (created or dropped, any case); others are.
    run(&mut two, "CREATE DEFINER=root@localhost TRIGGER otter_tomb_t AFTER DELETE ON t FOR EACH ROW SET @x = 1").await;
    run(&mut two, "CREATE TRIGGER app_t AFTER DELETE ON t FOR EACH ROW SET @y = 1").await;
    run(&mut two, "DROP TRIGGER IF EXISTS d.OTTER_tomb_t").await;
    run(&mut two, "CREATE TABLE done (id INT PRIMARY KEY)").await;
    one.disconnect().await.unwrap();
    two.disconnect().await.unwrap();

    let mut cfg = config(&db.url(), "earliest");
    cfg.include = vec!["d\\..*".into()];
    let marks = MarkRules { schema: "otter".into(), target_site: Some("B".into()), forward: true };
    let mut source = MysqlSource::start(cfg, SourceOptions { marks, ..SourceOptions::default() });
    let is_done = |e: &Event| matches!(e, Event::Ddl(d) if d.statement.contains("done"));
    let events = collect_until(&mut source, 60, |e| e.iter().any(is_done)).await;
    drop(source);
    let ddl: Vec<(String, Option<String>)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Ddl(d) if !d.statement.starts_with("CREATE DATABASE") && !d.statement.starts_with("CREATE TABLE d.t ") => {
                let words: Vec<&str> = d.statement.split_whitespace().collect();
                let name = words.iter().position(|w| *w == "VIEW" || *w == "TRIGGER" || *w == "TABLE").and_then(|i| words.get(i + 1));
                Some((name.map_or_else(|| d.statement.clone(), |n| n.replace('`', "")), d.meta.origin.clone()))
            }
            _ => None,
        })
        .collect();
    let c = Some("C".to_owned());
    assert_eq!(
        ddl,
        [
            ("v_other".to_owned(), None),
            ("v_c".to_owned(), c),
            ("v_after".to_owned(), None),
            ("v_last".to_owned(), None),
            ("app_t".to_owned(), None),
            ("done".to_owned(), None),
        ]
    );
}
