//! The key spread stored with the checkpoint rows (a real server): rows of versions that did
//! not store it read as hashed keys, and the spread that counts is that of the watermarks past
//! the resume point — what a run after a `kill -9` must keep.

use mysql_async::prelude::Queryable;
use otter_core::change::ChangeId;
use otter_core::position::{BinlogCoord, Position};
use otter_core::ErrorKind;
use otter_load::mysql::checkpoint_table::CheckpointTable;
use otter_load::target::Spread;
use otter_testkit::{MariaDb, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_spread_is_that_of_the_watermarks_past_the_resume_point() {
    let b = MariaDb::start(ServerConfig::new(2)).unwrap();
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&b.url()).unwrap()).await.unwrap();
    let t = CheckpointTable::new("otter", "p");
    t.ensure(&mut conn).await.unwrap();
    let resume = Position { coord: BinlogCoord::new("mysql-bin.000001", 500), gtid: None, skip_rows: 0, snapshot: None, applied: None };
    let at = |offset: u64| ChangeId { txn: BinlogCoord::new("mysql-bin.000001", offset), row: 0 };
    let write = |part: usize, spread: Spread, wm: ChangeId| t.write_sql(part, 2, spread, 1, Some(&resume), Some(&wm), None).unwrap();

    // An earlier version's table and rows (no spread column), killed after partition 1 applied
    // changes past the resume point: read as hashed keys, before and after the upgrade.
    conn.query_drop(write(0, Spread::KeyHash, at(400))).await.unwrap();
    conn.query_drop(write(1, Spread::KeyHash, at(700))).await.unwrap();
    conn.query_drop("ALTER TABLE otter.checkpoint DROP COLUMN spread").await.unwrap();
    let old = t.load(&mut conn).await.unwrap();
    assert!(!old.clean());
    assert_eq!((old.spread, Spread::for_run(&old)), (Spread::KeyHash, Spread::KeyHash));
    t.ensure(&mut conn).await.unwrap();
    let upgraded = t.load(&mut conn).await.unwrap();
    assert_eq!((upgraded.spread, Spread::for_run(&upgraded)), (Spread::KeyHash, Spread::KeyHash));

    // A run in blocks wrote past the resume point; the other row's watermark is covered (written
    // by an earlier run that hashed): the run after must keep the blocks.
    conn.query_drop(write(0, Spread::KeyHash, at(300))).await.unwrap();
    conn.query_drop(write(1, Spread::IntBlocks, at(900))).await.unwrap();
    let stored = t.load(&mut conn).await.unwrap();
    assert_eq!((stored.spread, Spread::for_run(&stored)), (Spread::IntBlocks, Spread::IntBlocks));

    // A clean stop frees the choice.
    conn.query_drop(write(1, Spread::KeyHash, at(450))).await.unwrap();
    let clean = t.load(&mut conn).await.unwrap();
    assert!(clean.clean());
    assert_eq!(Spread::for_run(&clean), Spread::PREFERRED);

    // Rows of a newer version's spread past the resume point: refused, not guessed.
    conn.query_drop("UPDATE otter.checkpoint SET spread = 9, wm_pos = 800 WHERE part = 1").await.unwrap();
    let e = t.load(&mut conn).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("newer otter"), "{e}");
}
