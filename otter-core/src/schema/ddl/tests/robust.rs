//! Odd spellings, error kinds, non-DDL statements, classification, and property tests: no input
//! panics, and a failed statement leaves the catalog unchanged.

use proptest::prelude::*;

use super::*;

#[test]
fn executable_comments_and_odd_spelling() {
    let mut c = maria();
    run(&mut c, "/*!40101 SET NAMES utf8mb4 */");
    run(&mut c, "  -- leading comment\n/* c */ CREATE /*!32312 TABLE*/ `we``ird` (\n`Id` INT(11) NOT NULL /*M!100301 INVISIBLE */,\n\t`v` VARCHAR ( 10 ) /*!50000 CHARACTER SET latin1 */ # trailing\n, PRIMARY KEY (`id`)) /*!50100 PARTITION BY HASH (id) PARTITIONS 2 */;");
    let t = table(&c, "we`ird");
    assert_eq!(t.primary_key, vec![0]);
    assert!(t.columns.first().is_some_and(|c| c.invisible));
    assert_eq!(column(&c, "we`ird", "V").charset.as_deref(), Some("latin1"));
    c.settings_mut().sql_mode = SqlMode(4);
    run(&mut c, "CREATE TABLE \"q\" (\"a\" int)");
    assert!(c.table("d", "q").is_some());
}

#[test]
fn errors_are_reported_by_kind_and_leave_the_catalog_alone() {
    let mut c = maria();
    run(&mut c, "CREATE TABLE t (a int, b varchar(10))");
    let before = c.clone();
    type Check = fn(&DdlError) -> bool;
    let cases: Vec<(&str, Check)> = vec![
        ("ALTER TABLE nope ADD x int", |e| {
            matches!(e, DdlError::UnknownTable { .. })
        }),
        ("CREATE TABLE t2 LIKE nope", |e| {
            matches!(e, DdlError::UnknownTable { .. })
        }),
        ("ALTER TABLE t DROP COLUMN zz", |e| {
            matches!(e, DdlError::UnknownColumn { .. })
        }),
        ("ALTER TABLE t ADD KEY (zz)", |e| {
            matches!(e, DdlError::UnknownColumn { .. })
        }),
        ("ALTER TABLE t ADD a int", |e| {
            matches!(e, DdlError::Conflict(_))
        }),
        ("ALTER TABLE t FROBNICATE", |e| {
            matches!(e, DdlError::Syntax { offset: 14, .. })
        }),
        ("CREATE TABLE t5 (a int,)", |e| {
            matches!(e, DdlError::Syntax { .. })
        }),
        ("CREATE TABLE t5 (a frobtype)", |e| {
            matches!(e, DdlError::Unsupported(_))
        }),
        ("CREATE TABLE t5 SELECT 1 AS a", |e| {
            matches!(e, DdlError::Unsupported(_))
        }),
        ("CREATE TABLE t5 (a int) AS SELECT 1 AS b", |e| {
            matches!(e, DdlError::Unsupported(_))
        }),
        ("CREATE TABLE t5 (a varchar(10) COMPRESSED)", |e| {
            matches!(e, DdlError::Unsupported(_))
        }),
        ("CREATE TABLE t5 (a int) WITH SYSTEM VERSIONING", |e| {
            matches!(e, DdlError::Unsupported(_))
        }),
        ("CREATE TABLE t5 (a int, KEY ((a + 1)))", |e| {
            matches!(e, DdlError::Unsupported(_))
        }),
        ("CREATE TABLE t5 (a int, b varchar(5), KEY (b(6)))", |e| {
            matches!(e, DdlError::Conflict(_))
        }),
        ("ALTER TABLE IF EXISTS nope ADD x int", |e| {
            matches!(e, DdlError::UnknownTable { .. })
        }),
        ("RENAME TABLE t TO t6, nope TO t7", |e| {
            matches!(e, DdlError::UnknownTable { .. })
        }),
        ("ALTER TABLE t ADD c int, ADD c int", |e| {
            matches!(e, DdlError::Conflict(_))
        }),
        ("CREATE TABLE t8 (a int) CHARSET nope", |e| {
            matches!(e, DdlError::Unsupported(_))
        }),
        ("CREATE TABLE t8 (a int) COMMENT 'unterminated", |e| {
            matches!(e, DdlError::Syntax { offset: 32, .. })
        }),
    ];
    for (sql, expected) in cases {
        match c.apply(Some("d"), sql) {
            Err(e) if expected(&e) => {}
            other => panic!("{sql}: {other:?}"),
        }
        assert_eq!(c, before, "{sql} changed the catalog");
    }
    assert_eq!(
        c.apply(None, "CREATE TABLE x (a int)"),
        Err(DdlError::NoDatabase("x".into()))
    );
}

#[test]
fn non_ddl_changes_nothing() {
    let mut c = maria();
    let before = c.clone();
    for sql in [
        "BEGIN",
        "INSERT INTO t VALUES ('unterminated",
        "GRANT ALL ON *.* TO x",
        "CREATE VIEW v AS SELECT 1",
        "CREATE DEFINER=`u`@`%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1",
        "DROP PROCEDURE IF EXISTS p",
        "ANALYZE TABLE t",
        "CREATE USER u",
        "FLUSH LOGS",
        "",
    ] {
        assert_eq!(c.apply(Some("d"), sql), Ok(vec![]), "{sql}");
    }
    assert_eq!(c, before);
}

#[test]
fn classifies_queries() {
    use QueryKind::*;
    for (sql, kind) in [
        ("BEGIN", Begin),
        ("/* x */ begin work", Begin),
        ("START TRANSACTION READ ONLY", Begin),
        ("COMMIT", Commit),
        ("ROLLBACK", Rollback),
        ("ROLLBACK TO SAVEPOINT s", Savepoint),
        ("ROLLBACK WORK TO s", Savepoint),
        ("SAVEPOINT s", Savepoint),
        ("RELEASE SAVEPOINT s", Savepoint),
        ("XA START 'x'", Xa),
        ("/*!40000 ALTER TABLE t DISABLE KEYS */", Ddl),
        ("CREATE TABLE t (a int)", Ddl),
        ("TRUNCATE t", Ddl),
        ("RENAME TABLE a TO b", Ddl),
        ("DROP VIEW v", Ddl),
        ("CREATE USER u", Other),
        ("RENAME USER a TO b", Other),
        ("insert into t values (1)", Dml),
        ("LOAD DATA INFILE 'x' INTO TABLE t", Dml),
        ("WITH c AS (SELECT 1) UPDATE t SET a = 1", Dml),
        ("WITH c AS (SELECT 1) SELECT * FROM c", Other),
        (
            "SET STATEMENT max_statement_time=1 FOR ALTER TABLE t ADD b int",
            Ddl,
        ),
        ("BEGIN NOT ATOMIC SELECT 1; END", Other),
        ("GRANT SELECT ON *.* TO u", Other),
        ("", Other),
        ("'unterminated", Other),
    ] {
        assert_eq!(classify(sql), kind, "{sql}");
    }
}

const VALID: [&str; 12] = [
    "CREATE TABLE t (id int unsigned NOT NULL AUTO_INCREMENT, name varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT 'x', v json, e enum('a','b''c'), PRIMARY KEY (id), UNIQUE KEY uk (name(10)), KEY k (v(5))) ENGINE=InnoDB DEFAULT CHARSET=latin1",
    "ALTER TABLE t ADD COLUMN c datetime(6) NOT NULL DEFAULT current_timestamp(6) ON UPDATE current_timestamp(6) AFTER id, DROP KEY uk, ADD UNIQUE (c)",
    "ALTER TABLE t CHANGE name nm varchar(100) FIRST, MODIFY e set('x','y') NULL, ALGORITHM=INPLACE, LOCK=NONE",
    "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    "RENAME TABLE t TO t2, t2 TO d.t3",
    "CREATE TABLE u LIKE t3",
    "CREATE OR REPLACE TABLE w (a int, g int AS (a+1) VIRTUAL, b text, UNIQUE(b), FOREIGN KEY (a) REFERENCES t3 (id))",
    "DROP TABLE IF EXISTS `u` /* generated by server */",
    "CREATE INDEX i ON w (a) USING BTREE",
    "ALTER TABLE w RENAME COLUMN a TO aa, ALTER COLUMN b SET DEFAULT 'q', ADD PRIMARY KEY (aa)",
    "CREATE DATABASE IF NOT EXISTS x CHARACTER SET latin1",
    "/*!50100 ALTER DATABASE d CHARACTER SET utf8mb4 */",
];

fn valid_catalog() -> Catalog {
    let mut c = maria();
    for sql in VALID {
        run(&mut c, sql);
    }
    c
}

#[test]
fn the_valid_statements_apply() {
    let c = valid_catalog();
    assert_eq!(names(&c, "t3").first().map(String::as_str), Some("nm"));
    assert_eq!(column(&c, "w", "b").default.as_deref(), Some("'q'"));
    assert_eq!(table(&c, "w").primary_key, vec![0]);
}

/// Applies `sql`: must not panic, and an error must leave the catalog unchanged.
fn apply_checked(c: &mut Catalog, sql: &str) -> Result<(), TestCaseError> {
    let _ = classify(sql);
    let before = c.clone();
    if c.apply(Some("d"), sql).is_err() {
        prop_assert_eq!(&*c, &before);
    }
    Ok(())
}

fn mutate(sql: &str, kind: u8, at: usize, len: usize, insert: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + len).min(chars.len());
    let (head, tail) = (chars.iter().take(at), chars.iter().skip(end));
    match kind % 4 {
        0 => head.chain(tail).collect(),
        1 => head
            .copied()
            .chain(insert.chars())
            .chain(chars.iter().skip(at).copied())
            .collect(),
        2 => chars.iter().take(at).collect(),
        _ => head
            .copied()
            .chain(insert.chars())
            .chain(tail.copied())
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,80}", ascii in "[ -~\t\n]{0,120}") {
        let mut c = valid_catalog();
        apply_checked(&mut c, &s)?;
        apply_checked(&mut c, &ascii)?;
        apply_checked(&mut c, &format!("ALTER TABLE t3 {ascii}"))?;
        apply_checked(&mut c, &format!("CREATE TABLE z ({ascii})"))?;
    }

    #[test]
    fn mutated_ddl_never_panics(
        which in 0..VALID.len(),
        kind in any::<u8>(),
        at in any::<usize>(),
        len in 0usize..20,
        insert in prop::sample::select(vec!["(", ")", ",", "'", "`", "\"", "/*!", "*/", "--", " KEY ", " NULL ", "UNIQUE", "FIRST", "é", "\\", "1e", ".", ""]),
    ) {
        let mut c = maria();
        for sql in VALID.iter().take(which) {
            run(&mut c, sql);
        }
        let sql = VALID.get(which).copied().unwrap_or_default();
        apply_checked(&mut c, &mutate(sql, kind, at, len, insert))?;
    }
}
