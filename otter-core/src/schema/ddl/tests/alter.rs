//! ALTER TABLE order, keys through ALTER, CONVERT TO, and what statements report.

use super::*;

#[test]
fn alter_follows_the_server_order() {
    let mut c = maria();
    run(&mut c, "CREATE TABLE a4 (a int, b int, c int)");
    run(
        &mut c,
        "ALTER TABLE a4 RENAME COLUMN a TO b, RENAME COLUMN b TO a",
    );
    assert_eq!(names(&c, "a4"), ["b", "a", "c"]);
    run(
        &mut c,
        "ALTER TABLE a4 RENAME COLUMN a TO x, ADD COLUMN y int AFTER x",
    );
    assert_eq!(names(&c, "a4"), ["b", "x", "y", "c"]);
    run(
        &mut c,
        "ALTER TABLE a4 ADD q2 int, MODIFY q2 bigint AFTER b",
    );
    assert_eq!(names(&c, "a4"), ["b", "q2", "x", "y", "c"]);
    assert_eq!(column(&c, "a4", "q2").sql_type, SqlType::BigInt);
    for bad in [
        "ALTER TABLE a4 RENAME COLUMN c TO z, MODIFY z bigint",
        "ALTER TABLE a4 CHANGE c z bigint, RENAME COLUMN c TO w",
        "ALTER TABLE a4 CHANGE c c2 int, DROP COLUMN c",
        "ALTER TABLE a4 ADD y2 int AFTER z2, ADD z2 int",
        "ALTER TABLE a4 ALTER c SET DEFAULT 1, ALTER c SET DEFAULT 2",
    ] {
        assert!(
            matches!(c.apply(Some("d"), bad), Err(DdlError::UnknownColumn { .. })),
            "{bad}"
        );
    }
    run(&mut c, "ALTER TABLE a4 MODIFY COLUMN IF EXISTS nope int, DROP COLUMN IF EXISTS nope2, ADD COLUMN IF NOT EXISTS a int, ADD COLUMN IF NOT EXISTS q int, ADD COLUMN IF NOT EXISTS q int");
    assert_eq!(names(&c, "a4"), ["b", "q2", "x", "y", "c", "a", "q"]);
    run(
        &mut c,
        "ALTER TABLE a4 ADD z int, ALTER z SET DEFAULT 3, ALTER c SET INVISIBLE",
    );
    assert_eq!(column(&c, "a4", "z").default.as_deref(), Some("3"));
    assert!(column(&c, "a4", "c").invisible);
    run(&mut c, "ALTER TABLE a4 CHANGE b b2 int FIRST, CHANGE x x2 int AFTER q, DROP y, ADD COLUMN (m int, n int)");
    assert_eq!(
        names(&c, "a4"),
        ["b2", "q2", "c", "a", "q", "x2", "z", "m", "n"]
    );
}

#[test]
fn keys_follow_their_columns_through_alter() {
    let mut c = maria();
    run(
        &mut c,
        "CREATE TABLE a1 (a int, b int, c varchar(5), unique(a,b), key(b))",
    );
    run(&mut c, "ALTER TABLE a1 CHANGE a b int, CHANGE b a int");
    assert_eq!(
        unique_keys(&c, "a1"),
        [("a".to_owned(), vec!["b".to_owned(), "a".to_owned()])]
    );
    run(
        &mut c,
        "CREATE TABLE a3 (a int, b int, key(a,b), unique(b))",
    );
    run(&mut c, "ALTER TABLE a3 DROP COLUMN a, ADD COLUMN a int");
    let t = table(&c, "a3");
    assert_eq!(
        t.indexes.first().map(|k| k.columns.clone()),
        Some(vec![1, 0]),
        "the dropped key part moves to the new `a`"
    );
    run(
        &mut c,
        "CREATE TABLE a5 (a int, b int, c int, key(a,b), unique(c), primary key (a,b))",
    );
    run(&mut c, "ALTER TABLE a5 DROP COLUMN c");
    assert!(table(&c, "a5").unique_keys.is_empty());
    assert!(matches!(
        c.apply(Some("d"), "ALTER TABLE a5 DROP COLUMN b"),
        Err(DdlError::Conflict(_))
    ));
    run(
        &mut c,
        "ALTER TABLE a5 DROP PRIMARY KEY, ADD UNIQUE KEY uk (b), RENAME INDEX a TO ab",
    );
    let t = table(&c, "a5");
    assert!(t.primary_key.is_empty());
    assert!(
        !column(&c, "a5", "a").nullable,
        "dropping the primary key keeps NOT NULL"
    );
    assert_eq!(t.indexes.first().map(|k| k.name.as_str()), Some("ab"));
    assert_eq!(t.key_columns(), Some(&[1usize][..]));
    run(&mut c, "DROP INDEX uk ON a5");
    assert!(table(&c, "a5").unique_keys.is_empty());
    run(&mut c, "CREATE UNIQUE INDEX u2 ON a5 (a)");
    run(
        &mut c,
        "ALTER TABLE a5 DROP CONSTRAINT u2, ADD PRIMARY KEY (b)",
    );
    assert_eq!(table(&c, "a5").primary_key, vec![1]);
    let mut mysql = catalog(Flavor::MySql);
    run(&mut mysql, "CREATE TABLE a2 (a int, b int, unique(a, b))");
    run(&mut mysql, "ALTER TABLE a2 DROP COLUMN a");
    assert_eq!(
        unique_keys(&mysql, "a2"),
        [("a".to_owned(), vec!["b".to_owned()])]
    );
}

#[test]
fn convert_to_resizes_text_columns() {
    let mut c = maria();
    run(&mut c, "CREATE TABLE cv2 (a tinytext, b text, c mediumtext, d varchar(10), i tinytext charset utf8mb4, x text charset utf8mb4, y varbinary(3)) charset latin1");
    run(&mut c, "ALTER TABLE cv2 CONVERT TO CHARACTER SET utf8mb4");
    let types: Vec<SqlType> = table(&c, "cv2")
        .columns
        .iter()
        .map(|c| c.sql_type.clone())
        .collect();
    assert_eq!(
        types,
        [
            SqlType::Text,
            SqlType::MediumText,
            SqlType::LongText,
            SqlType::VarChar(10),
            SqlType::TinyText,
            SqlType::Text,
            SqlType::VarBinary(3)
        ]
    );
    assert_eq!(
        charset(column(&c, "cv2", "a")),
        (Some("utf8mb4"), Some("utf8mb4_general_ci"))
    );
    assert_eq!(charset(column(&c, "cv2", "y")), (None, None));
    run(&mut c, "ALTER TABLE cv2 CONVERT TO CHARACTER SET binary");
    assert_eq!(column(&c, "cv2", "a").sql_type, SqlType::Blob);
    assert_eq!(column(&c, "cv2", "d").sql_type, SqlType::VarBinary(10));
    assert_eq!(table(&c, "cv2").collation.as_deref(), Some("binary"));
    run(
        &mut c,
        "ALTER TABLE cv2 DEFAULT CHARSET=latin1, ADD z varchar(3)",
    );
    assert_eq!(
        charset(column(&c, "cv2", "z")),
        (Some("latin1"), Some("latin1_swedish_ci"))
    );
}

#[test]
fn table_level_statements_report_their_changes() {
    let mut c = maria();
    let created = |t: &str| TableChange::Created {
        db: "d".into(),
        table: t.into(),
    };
    assert_eq!(
        run(&mut c, "CREATE TABLE t1 (id int primary key)"),
        [created("t1")]
    );
    assert_eq!(run(&mut c, "CREATE TABLE IF NOT EXISTS t1 (x int)"), []);
    assert_eq!(run(&mut c, "CREATE TABLE t2 LIKE t1"), [created("t2")]);
    assert_eq!(table(&c, "t2").primary_key, vec![0]);
    assert_eq!(
        run(&mut c, "CREATE OR REPLACE TABLE t2 (x int)"),
        [
            TableChange::Dropped {
                db: "d".into(),
                table: "t2".into()
            },
            created("t2")
        ]
    );
    run(&mut c, "CREATE DATABASE e");
    let renamed = run(&mut c, "RENAME TABLE t1 TO e.t9, t2 TO t1");
    assert_eq!(renamed.len(), 2);
    assert!(c.table("e", "t9").is_some() && c.table("d", "t2").is_none());
    assert_eq!(names(&c, "t1"), ["x"]);
    let changes = run(&mut c, "ALTER TABLE t1 ADD y int, RENAME TO t3");
    assert_eq!(
        changes,
        [
            TableChange::Renamed {
                from_db: "d".into(),
                from_table: "t1".into(),
                db: "d".into(),
                table: "t3".into()
            },
            TableChange::Altered {
                db: "d".into(),
                table: "t3".into()
            },
        ]
    );
    assert_eq!(run(&mut c, "ALTER TABLE t3 ENGINE=InnoDB, COMMENT='x'"), []);
    assert_eq!(
        run(&mut c, "TRUNCATE TABLE t3"),
        [TableChange::Truncated {
            db: "d".into(),
            table: "t3".into()
        }]
    );
    assert_eq!(
        run(
            &mut c,
            "DROP TABLE IF EXISTS nope, t3 /* generated by server */"
        ),
        [TableChange::Dropped {
            db: "d".into(),
            table: "t3".into()
        }]
    );
    assert_eq!(
        run(&mut c, "DROP DATABASE e"),
        [
            TableChange::Dropped {
                db: "e".into(),
                table: "t9".into()
            },
            TableChange::DatabaseDropped("e".into())
        ]
    );
    assert!(c.database("e").is_none());
    assert_eq!(run(&mut c, "CREATE SEQUENCE s1"), [created("s1")]);
    assert_eq!(table(&c, "s1").columns.len(), 8);
    assert_eq!(run(&mut c, "CREATE TEMPORARY TABLE tmp (a int)"), []);
    assert!(c.table("d", "tmp").is_none());
}
