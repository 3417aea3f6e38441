//! Catalog-level tests: statements in, tables out. Expected values are what MariaDB 10.11 reports
//! in `information_schema` for the same statements (the live test checks that against a server).

mod alter;
mod keys;
mod robust;

use super::*;
use crate::schema::model::{Column, TableSchema};
use crate::schema::sql_type::SqlType;

pub(super) fn catalog(flavor: Flavor) -> Catalog {
    let mut c = Catalog::new(Settings::new(flavor, "utf8mb4", "utf8mb4_general_ci"));
    run(&mut c, "CREATE DATABASE d");
    c
}

pub(super) fn maria() -> Catalog {
    catalog(Flavor::MariaDb)
}

pub(super) fn run(c: &mut Catalog, sql: &str) -> Vec<TableChange> {
    c.apply(Some("d"), sql)
        .unwrap_or_else(|e| panic!("{sql}\n=> {e}"))
}

pub(super) fn table<'a>(c: &'a Catalog, name: &str) -> &'a TableSchema {
    c.table("d", name)
        .unwrap_or_else(|| panic!("no table d.{name}"))
}

pub(super) fn column<'a>(c: &'a Catalog, t: &str, name: &str) -> &'a Column {
    let t = table(c, t);
    t.column_index(name)
        .and_then(|i| t.columns.get(i))
        .unwrap_or_else(|| panic!("no column {name}"))
}

pub(super) fn names(c: &Catalog, t: &str) -> Vec<String> {
    table(c, t)
        .visible_columns()
        .map(|c| c.name.clone())
        .collect()
}

pub(super) fn unique_keys(c: &Catalog, t: &str) -> Vec<(String, Vec<String>)> {
    let t = table(c, t);
    let col = |i: &usize| {
        t.columns
            .get(*i)
            .map(|c| c.name.clone())
            .unwrap_or_default()
    };
    t.unique_keys
        .iter()
        .map(|k| (k.name.clone(), k.columns.iter().map(col).collect()))
        .collect()
}

pub(super) fn charset(col: &Column) -> (Option<&str>, Option<&str>) {
    (col.charset.as_deref(), col.collation.as_deref())
}

#[test]
fn create_table_resolves_types_and_synonyms() {
    let mut c = maria();
    run(
        &mut c,
        "CREATE TABLE t (a int, b bigint(20) unsigned zerofill, c decimal, e float(30), h bool, i serial, \
         j long varchar, l nchar(3), n char(4) binary, o char byte, p inet4, s point, x json, \
         y varchar(10) character set latin1, z enum('a','b''c'), ab float(10), ag blob(70000), af text(100), \
         al timestamp, aw double(10,2), bi character varying(3), ap varbinary(4), u bit)",
    );
    let ty = |n: &str| column(&c, "t", n).sql_type.clone();
    assert_eq!(ty("a"), SqlType::Int);
    assert!(column(&c, "t", "b").unsigned);
    assert_eq!(
        ty("c"),
        SqlType::Decimal {
            precision: 10,
            scale: 0
        }
    );
    assert_eq!(ty("e"), SqlType::Double);
    assert_eq!(ty("h"), SqlType::TinyInt);
    let i = column(&c, "t", "i");
    assert!((i.sql_type == SqlType::BigInt) && i.unsigned && !i.nullable && i.auto_increment);
    assert_eq!(
        unique_keys(&c, "t"),
        [("i".to_owned(), vec!["i".to_owned()])]
    );
    assert_eq!(
        (ty("j"), charset(column(&c, "t", "j"))),
        (
            SqlType::MediumText,
            (Some("utf8mb4"), Some("utf8mb4_general_ci"))
        )
    );
    assert_eq!(
        charset(column(&c, "t", "l")),
        (Some("utf8mb3"), Some("utf8mb3_general_ci"))
    );
    assert_eq!(
        charset(column(&c, "t", "n")),
        (Some("utf8mb4"), Some("utf8mb4_bin"))
    );
    assert_eq!(
        (ty("o"), charset(column(&c, "t", "o"))),
        (SqlType::Binary(1), (None, None))
    );
    assert_eq!(ty("p"), SqlType::Inet4);
    assert_eq!(ty("s"), SqlType::Geometry("point".into()));
    assert_eq!(
        (ty("x"), charset(column(&c, "t", "x"))),
        (SqlType::LongText, (Some("utf8mb4"), Some("utf8mb4_bin")))
    );
    assert_eq!(
        charset(column(&c, "t", "y")),
        (Some("latin1"), Some("latin1_swedish_ci"))
    );
    assert_eq!(ty("z"), SqlType::Enum(vec!["a".into(), "b'c".into()]));
    assert_eq!(ty("ab"), SqlType::Float);
    assert_eq!(ty("ag"), SqlType::MediumBlob);
    assert_eq!(ty("af"), SqlType::Text);
    assert!(column(&c, "t", "al").nullable);
    assert_eq!(ty("aw"), SqlType::Double);
    assert_eq!(ty("bi"), SqlType::VarChar(3));
    assert_eq!(ty("ap"), SqlType::VarBinary(4));
    assert_eq!(ty("u"), SqlType::Bit(1));
    let t = table(&c, "t");
    assert_eq!(
        (
            t.charset.as_deref(),
            t.collation.as_deref(),
            t.engine.as_deref()
        ),
        (Some("utf8mb4"), Some("utf8mb4_general_ci"), Some("InnoDB"))
    );
}

#[test]
fn column_character_sets_follow_the_server_rules() {
    let mut c = maria();
    run(
        &mut c,
        "CREATE TABLE cs1 (a varchar(5) charset utf8mb4, b varchar(5) collate utf8mb4_bin, c varchar(5), \
         d varchar(5) binary, e varchar(5) charset latin1 binary, f text charset binary, g char(3) charset binary, \
         h varchar(3) charset binary, i enum('a') charset binary, k nchar(2) binary, l varchar(2) byte, \
         n varchar(2) ascii, o varchar(2) unicode, r varchar(3) collate utf8mb4_bin default 'x' collate utf8mb4_bin) \
         collate utf8mb4_unicode_ci",
    );
    let got = |n: &str| {
        let col = column(&c, "cs1", n);
        (
            col.sql_type.clone(),
            col.charset.clone(),
            col.collation.clone(),
        )
    };
    let text = |t: SqlType, cs: &str, coll: &str| (t, Some(cs.to_owned()), Some(coll.to_owned()));
    assert_eq!(
        got("a"),
        text(SqlType::VarChar(5), "utf8mb4", "utf8mb4_general_ci")
    );
    assert_eq!(
        got("b"),
        text(SqlType::VarChar(5), "utf8mb4", "utf8mb4_bin")
    );
    assert_eq!(
        got("c"),
        text(SqlType::VarChar(5), "utf8mb4", "utf8mb4_unicode_ci")
    );
    assert_eq!(
        got("d"),
        text(SqlType::VarChar(5), "utf8mb4", "utf8mb4_bin")
    );
    assert_eq!(got("e"), text(SqlType::VarChar(5), "latin1", "latin1_bin"));
    assert_eq!(got("f"), (SqlType::Blob, None, None));
    assert_eq!(got("g"), (SqlType::Binary(3), None, None));
    assert_eq!(got("h"), (SqlType::VarBinary(3), None, None));
    assert_eq!(
        got("i"),
        text(SqlType::Enum(vec!["a".into()]), "binary", "binary")
    );
    assert_eq!(got("k"), text(SqlType::Char(2), "utf8mb3", "utf8mb3_bin"));
    assert_eq!(got("l"), (SqlType::VarBinary(2), None, None));
    assert_eq!(
        got("n"),
        text(SqlType::VarChar(2), "latin1", "latin1_swedish_ci")
    );
    assert_eq!(
        got("o"),
        text(SqlType::VarChar(2), "ucs2", "ucs2_general_ci")
    );
    assert_eq!(
        got("r"),
        text(SqlType::VarChar(3), "utf8mb4", "utf8mb4_bin")
    );
    assert_eq!(table(&c, "cs1").charset.as_deref(), Some("utf8mb4"));
}

#[test]
fn table_defaults_come_from_the_database() {
    let mut c = maria();
    run(&mut c, "CREATE DATABASE d3 COLLATE utf8mb4_bin");
    run(&mut c, "CREATE TABLE d3.t1 (a varchar(5))");
    run(&mut c, "CREATE TABLE d3.t2 (a varchar(5)) CHARSET utf8mb4");
    run(
        &mut c,
        "CREATE TABLE d3.t3 (a varchar(5)) DEFAULT CHARACTER SET = latin1",
    );
    let coll = |t: &str| {
        c.table("d3", t)
            .and_then(|t| t.columns.first())
            .and_then(|c| c.collation.clone())
    };
    assert_eq!(coll("t1").as_deref(), Some("utf8mb4_bin"));
    assert_eq!(coll("t2").as_deref(), Some("utf8mb4_general_ci"));
    assert_eq!(coll("t3").as_deref(), Some("latin1_swedish_ci"));
    assert_eq!(
        c.apply(Some("nodb"), "CREATE TABLE t (a int)"),
        Err(DdlError::UnknownDatabase("nodb".into()))
    );
    assert!(c
        .apply(Some("nodb"), "CREATE TABLE t (a int) CHARSET latin1")
        .is_ok());
}

#[test]
fn text_sizes_and_overlong_varchars() {
    let mut c = maria();
    run(&mut c, "CREATE TABLE tx (a text(60), b text(64), c text(255) charset latin1, d text(256) charset latin1, e blob(255), f blob(256), i text(0)) CHARSET utf8mb4");
    let ty = |t: &str, n: &str| column(&c, t, n).sql_type.clone();
    assert_eq!(
        [ty("tx", "a"), ty("tx", "b"), ty("tx", "c"), ty("tx", "d")],
        [
            SqlType::TinyText,
            SqlType::Text,
            SqlType::TinyText,
            SqlType::Text
        ]
    );
    assert_eq!(
        [ty("tx", "e"), ty("tx", "f"), ty("tx", "i")],
        [SqlType::TinyBlob, SqlType::Blob, SqlType::Text]
    );
    let mut c = maria();
    let ty = |c: &Catalog, t: &str, n: &str| column(c, t, n).sql_type.clone();
    run(&mut c, "CREATE TABLE vo (a varbinary(65532), b varbinary(65533), c varbinary(65536), d varchar(30000), e varchar(70000) charset latin1)");
    assert_eq!(
        [
            ty(&c, "vo", "a"),
            ty(&c, "vo", "b"),
            ty(&c, "vo", "c"),
            ty(&c, "vo", "d"),
            ty(&c, "vo", "e")
        ],
        [
            SqlType::VarBinary(65532),
            SqlType::Blob,
            SqlType::MediumBlob,
            SqlType::MediumText,
            SqlType::MediumText
        ]
    );
}

#[test]
fn attribute_order_decides_nullability() {
    let mut c = maria();
    run(&mut c, "CREATE TABLE n (a int auto_increment null, b int null auto_increment, c int primary key, d timestamp)");
    assert!(column(&c, "n", "a").nullable);
    assert!(!column(&c, "n", "b").nullable);
    assert!(!column(&c, "n", "c").nullable);
    assert!(column(&c, "n", "d").nullable);
    c.settings_mut().explicit_defaults_for_timestamp = false;
    run(
        &mut c,
        "CREATE TABLE ts1 (a timestamp, c timestamp null, d timestamp not null)",
    );
    run(&mut c, "ALTER TABLE ts1 ADD f timestamp");
    let nullable: Vec<bool> = table(&c, "ts1")
        .columns
        .iter()
        .map(|c| c.nullable)
        .collect();
    assert_eq!(nullable, [false, true, false, false]);
}

#[test]
fn mysql8_show_create_table_output() {
    let mut c = catalog(Flavor::MySql);
    c.settings_mut().server_version = Some(80036);
    run(
        &mut c,
        "CREATE TABLE `orders` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `user_id` int NOT NULL,
  `status` enum('new','paid') CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci NOT NULL DEFAULT 'new',
  `total` decimal(12,2) NOT NULL DEFAULT '0.00',
  `note` text COLLATE utf8mb4_unicode_ci,
  `doc` json DEFAULT NULL,
  `created_at` timestamp NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  `loc` point NOT NULL /*!80003 SRID 4326 */,
  `v` int GENERATED ALWAYS AS ((`total` * 100)) VIRTUAL,
  `secret` varchar(10) DEFAULT NULL /*!80023 INVISIBLE */,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_user_created` (`user_id`,`created_at`),
  KEY `idx_status` (`status`) /*!80000 INVISIBLE */,
  SPATIAL KEY `sp` (`loc`),
  CONSTRAINT `fk_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE,
  CONSTRAINT `chk_total` CHECK ((`total` >= 0))
) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci /*!80016 DEFAULT ENCRYPTION='N' */ COMMENT='orders'",
    );
    let t = table(&c, "orders");
    assert_eq!(t.collation.as_deref(), Some("utf8mb4_0900_ai_ci"));
    assert_eq!(t.primary_key, vec![0]);
    assert_eq!(
        unique_keys(&c, "orders"),
        [(
            "uk_user_created".to_owned(),
            vec!["user_id".to_owned(), "created_at".to_owned()]
        )]
    );
    let index_names: Vec<&str> = t.indexes.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        index_names,
        ["idx_status", "sp"],
        "the foreign key is covered by uk_user_created"
    );
    assert_eq!(column(&c, "orders", "doc").sql_type, SqlType::Json);
    assert_eq!(
        charset(column(&c, "orders", "note")),
        (Some("utf8mb4"), Some("utf8mb4_unicode_ci"))
    );
    assert!(column(&c, "orders", "created_at").nullable);
    assert_eq!(
        column(&c, "orders", "updated_at").sql_type,
        SqlType::DateTime(3)
    );
    assert!(column(&c, "orders", "secret").invisible);
    assert_eq!(
        column(&c, "orders", "v").generated,
        Some(crate::schema::model::Generated::Virtual)
    );
    run(&mut c, "ALTER TABLE orders RENAME COLUMN note TO remark, ALTER INDEX idx_status VISIBLE, ADD COLUMN x int DEFAULT (1 + 2) AFTER id, ALGORITHM=INSTANT");
    assert_eq!(
        names(&c, "orders").get(..3),
        Some(&["id".to_owned(), "x".to_owned(), "user_id".to_owned()][..])
    );
    assert_eq!(
        column(&c, "orders", "x").default.as_deref(),
        Some("(1 + 2)")
    );
    assert!(table(&c, "orders").column_index("remark").is_some());
    run(&mut c, "CREATE TABLE plain (a varchar(3)) CHARSET utf8mb4");
    assert_eq!(
        column(&c, "plain", "a").collation.as_deref(),
        Some("utf8mb4_0900_ai_ci"),
        "MySQL 8's utf8mb4 default"
    );
}
