//! `otter_core::mysql::quote` against a real MariaDB: every tricky string comes back exactly as
//! it was, with `NO_BACKSLASH_ESCAPES` off (the server default) and on, and as a table name.

use mysql_async::prelude::Queryable;
use otter_core::mysql::quote;
use otter_testkit::{MariaDb, ServerConfig};

const STRINGS: &[&str] = &["plain", "it's", "ends with \\", "\\'", "a\\nb", "''\\''", "nul\0byte", "tab\tnew\nline", "üñï 🦦", "", "`x`", "\"q\""];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literals_mean_the_same_in_every_sql_mode() {
    let db = MariaDb::start(ServerConfig::new(1)).unwrap();
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&db.url()).unwrap()).await.unwrap();
    for mode in ["", "NO_BACKSLASH_ESCAPES", "ANSI_QUOTES,NO_BACKSLASH_ESCAPES", "ANSI_QUOTES"] {
        conn.query_drop(format!("SET SESSION sql_mode = '{mode}'")).await.unwrap();
        for s in STRINGS {
            let got: Option<Vec<u8>> = conn.query_first(format!("SELECT {}", quote::text(s))).await.unwrap();
            assert_eq!(got.as_deref(), Some(s.as_bytes()), "sql_mode {mode:?}, string {s:?}");
        }
    }
    conn.query_drop("CREATE DATABASE q").await.unwrap();
    for name in ["a`b", "we ird\\", "ü"] {
        conn.query_drop(format!("CREATE TABLE q.{} (v VARCHAR(20))", quote::ident(name))).await.unwrap();
        let exists: Option<String> = conn
            .exec_first("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'q' AND TABLE_NAME = ?", (name,))
            .await
            .unwrap();
        assert_eq!(exists.as_deref(), Some(name));
    }
}
