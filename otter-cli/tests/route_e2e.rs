//! `otter run` with a `route` transform, A -> B on real servers: schema `shop` is applied on B as
//! `shop_copy`, DDL included (the `CREATE TABLE`, an `ALTER TABLE` mid-stream and a `RENAME
//! TABLE` reach B under the new names), and nothing is written under the source's names.

mod common;

use std::time::{Duration, Instant};

use common::{config_with, interrupt, spawn_run};
use otter_testkit::{MariaDb, ServerConfig};

/// The rows of `table` as text, or the error (a missing table) as text.
fn rows(db: &MariaDb, table: &str) -> String {
    match db.query(&format!("SELECT * FROM {table} ORDER BY id")) {
        Ok(r) => format!("{r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn route_renames_tables_and_their_ddl_on_the_target() {
    let a = MariaDb::start(ServerConfig::new(1)).unwrap();
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    b.sql("CREATE DATABASE shop_copy").unwrap();
    a.sql(
        "CREATE DATABASE shop;
         CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20));
         CREATE TABLE shop.log (id INT PRIMARY KEY, msg VARCHAR(20));
         INSERT INTO shop.items VALUES (1, 'one'), (2, 'two'), (3, 'three');
         INSERT INTO shop.log VALUES (1, 'created');
         ALTER TABLE shop.items ADD COLUMN price INT NOT NULL DEFAULT 7;
         UPDATE shop.items SET price = id * 100 WHERE id < 3;
         DELETE FROM shop.items WHERE id = 3;
         INSERT INTO shop.items VALUES (4, 'four', 400);
         RENAME TABLE shop.log TO shop.log_old;
         INSERT INTO shop.log_old VALUES (2, 'after rename');",
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("otter.log");
    let route = "[[pipeline.transform]]\nkind = \"route\"\nfrom = \"shop\\\\.(.*)\"\nto = \"shop_copy.$1\"\n";
    let child = spawn_run(&config_with(dir.path(), &a, &b, 2, "shop\\\\..*", route), &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    let pairs = [("shop.items", "shop_copy.items"), ("shop.log_old", "shop_copy.log_old")];
    while pairs.iter().any(|(x, y)| rows(&a, x) != rows(&b, y)) {
        assert!(
            Instant::now() < deadline,
            "B never matched A: {:?}\nlog:\n{}",
            pairs.iter().map(|(x, y)| (rows(&a, x), rows(&b, y))).collect::<Vec<_>>(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(interrupt(child).success(), "{}", std::fs::read_to_string(&log).unwrap_or_default());

    // The ALTER reached B's copy (same columns), the rename left no old table behind, and no
    // table was created under the source's schema.
    let columns = |db: &MariaDb, schema: &str| {
        db.query(&format!(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{schema}' ORDER BY 1, ORDINAL_POSITION"
        ))
        .unwrap()
    };
    assert_eq!(columns(&a, "shop"), columns(&b, "shop_copy"));
    assert_eq!(b.value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'").unwrap(), "0");
    assert_eq!(rows(&b, "shop_copy.items"), r#"[["1", "one", "100"], ["2", "two", "200"], ["4", "four", "400"]]"#);
}
