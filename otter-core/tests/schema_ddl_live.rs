//! The catalog against a real MariaDB: a long DDL script runs on the server and through
//! `Catalog::apply`, and after every statement every table the catalog knows must match what
//! the server reports in `information_schema` (columns in order, types, nullability, character
//! sets, generated and invisible columns, keys in the server's order). Then one row is written to
//! every table and the column types of the TABLE_MAP events the server logs are compared with
//! `SqlType::binlog_type_code`, column by column, hidden long-unique hash columns included, and
//! their metadata with `Column::binlog_meta` wherever it gives one.

use std::collections::BTreeMap;
use std::process::Command;

use otter_core::schema::{
    Catalog, Flavor, Generated, IndexKind, Settings, SqlMode, SqlType, TableSchema,
};
use otter_testkit::{MariaDb, ServerConfig};

const DATABASES: [&str; 3] = ["live", "live2", "live3"];

#[derive(Debug, PartialEq)]
struct ColumnView {
    name: String,
    sql_type: SqlType,
    unsigned: bool,
    nullable: bool,
    charset: Option<String>,
    collation: Option<String>,
    generated: Option<&'static str>,
    invisible: bool,
    auto_increment: bool,
}

#[derive(Debug, PartialEq)]
struct KeyView {
    name: String,
    kind: &'static str,
    columns: Vec<(String, Option<u32>)>,
}

#[derive(Debug, PartialEq, Default)]
struct TableView {
    collation: Option<String>,
    engine: String,
    columns: Vec<ColumnView>,
    primary: Vec<String>,
    uniques: Vec<KeyView>,
    indexes: Vec<KeyView>,
}

type Views = BTreeMap<(String, String), TableView>;

struct Live {
    server: MariaDb,
    catalog: Catalog,
}

fn null(v: &str) -> Option<String> {
    (v != "NULL").then(|| v.to_owned())
}

impl Live {
    fn start() -> Live {
        let server = MariaDb::start(ServerConfig::new(1)).expect("start MariaDB");
        let value = |sql: &str| server.value(sql).expect(sql);
        let mut settings = Settings::new(
            Flavor::MariaDb,
            &value("SELECT @@character_set_server"),
            &value("SELECT @@collation_server"),
        );
        let version = value("SELECT VERSION()");
        let parts: Vec<u32> = version
            .split(['.', '-'])
            .take(3)
            .filter_map(|p| p.parse().ok())
            .collect();
        settings.server_version = match parts.as_slice() {
            [major, minor, patch] => Some(major * 10_000 + minor * 100 + patch),
            _ => None,
        };
        settings.explicit_defaults_for_timestamp =
            value("SELECT @@explicit_defaults_for_timestamp") == "1";
        settings.default_storage_engine = value("SELECT @@default_storage_engine");
        let mut live = Live {
            server,
            catalog: Catalog::new(settings),
        };
        live.step("mysql", "CREATE DATABASE live");
        live
    }

    /// Runs `sql` on the server (after `session` statements) and through the catalog, then
    /// compares every table.
    fn step_with(&mut self, db: &str, session: &str, sql: &str) {
        self.server
            .sql(&format!("USE `{db}`; {session} {sql}"))
            .unwrap_or_else(|e| panic!("server rejected {sql}: {e}"));
        self.catalog
            .apply(Some(db), sql)
            .unwrap_or_else(|e| panic!("catalog rejected {sql}: {e}"));
        let (server, catalog) = (self.server_views(), catalog_views(&self.catalog));
        assert_eq!(
            server.keys().collect::<Vec<_>>(),
            catalog.keys().collect::<Vec<_>>(),
            "tables after {sql}"
        );
        for (name, view) in &server {
            assert_eq!(catalog.get(name), Some(view), "table {name:?} after {sql}");
        }
    }

    fn step(&mut self, db: &str, sql: &str) {
        self.step_with(db, "", sql);
    }

    fn query(&self, sql: &str) -> Vec<Vec<String>> {
        self.server
            .query(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    fn server_views(&self) -> Views {
        let schemas = DATABASES.map(|d| format!("'{d}'")).join(",");
        let mut views = Views::new();
        let tables = format!("SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_COLLATION, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({schemas})");
        for row in self.query(&tables) {
            if let [db, table, collation, engine] = row.as_slice() {
                let view = TableView {
                    collation: null(collation),
                    engine: engine.to_lowercase(),
                    ..TableView::default()
                };
                views.insert((db.clone(), table.clone()), view);
            }
        }
        let columns = format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, IS_GENERATED \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({schemas}) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
        );
        for row in self.query(&columns) {
            let [db, table, name, column_type, nullable, charset, collation, extra, generated] =
                row.as_slice()
            else {
                panic!("{row:?}")
            };
            let parsed = otter_core::schema::SqlType::parse(column_type)
                .unwrap_or_else(|e| panic!("{column_type}: {e}"));
            let view = views
                .get_mut(&(db.clone(), table.clone()))
                .expect("table of column");
            view.columns.push(ColumnView {
                name: name.clone(),
                sql_type: parsed.sql_type,
                unsigned: parsed.unsigned,
                nullable: nullable == "YES",
                charset: null(charset),
                collation: null(collation),
                generated: (generated == "ALWAYS").then(|| {
                    if extra.contains("STORED") {
                        "STORED"
                    } else {
                        "VIRTUAL"
                    }
                }),
                invisible: extra.contains("INVISIBLE"),
                auto_increment: extra.contains("auto_increment"),
            });
        }
        let stats = format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, NON_UNIQUE, INDEX_NAME, COLUMN_NAME, SUB_PART, INDEX_TYPE \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN ({schemas})"
        );
        for row in self.query(&stats) {
            let [db, table, non_unique, index, column, sub_part, index_type] = row.as_slice()
            else {
                panic!("{row:?}")
            };
            let view = views
                .get_mut(&(db.clone(), table.clone()))
                .expect("table of index");
            // SPATIAL keys report the 32-byte MBR as SUB_PART; they have no column prefix.
            let prefix = if index_type == "SPATIAL" {
                None
            } else {
                sub_part.parse().ok()
            };
            let part = (column.clone(), prefix);
            if index == "PRIMARY" {
                view.primary.push(column.clone());
                continue;
            }
            let kind = match index_type.as_str() {
                "HASH" if view.engine != "memory" => "LONG HASH",
                "FULLTEXT" | "SPATIAL" => {
                    if index_type == "FULLTEXT" {
                        "FULLTEXT"
                    } else {
                        "SPATIAL"
                    }
                }
                _ => "BTREE",
            };
            let keys = if non_unique == "0" {
                &mut view.uniques
            } else {
                &mut view.indexes
            };
            match keys.last_mut() {
                Some(k) if &k.name == index => k.columns.push(part),
                _ => keys.push(KeyView {
                    name: index.clone(),
                    kind,
                    columns: vec![part],
                }),
            }
        }
        views
    }
}

fn catalog_views(catalog: &Catalog) -> Views {
    catalog
        .tables()
        .filter(|t| DATABASES.contains(&t.db.as_str()))
        .map(|t| ((t.db.clone(), t.name.clone()), table_view(t)))
        .collect()
}

fn table_view(t: &TableSchema) -> TableView {
    let name = |i: &usize| {
        t.columns
            .get(*i)
            .map(|c| c.name.clone())
            .unwrap_or_default()
    };
    let parts = |cols: &[usize], prefixes: &[Option<u32>]| -> Vec<(String, Option<u32>)> {
        cols.iter()
            .enumerate()
            .map(|(i, c)| (name(c), prefixes.get(i).copied().flatten()))
            .collect()
    };
    TableView {
        collation: t.collation.clone(),
        engine: t.engine.clone().unwrap_or_default().to_lowercase(),
        columns: t
            .visible_columns()
            .map(|c| ColumnView {
                name: c.name.clone(),
                sql_type: c.sql_type.clone(),
                unsigned: c.unsigned,
                nullable: c.nullable,
                charset: c.charset.clone(),
                collation: c.collation.clone(),
                generated: c.generated.map(|g| {
                    if g == Generated::Stored {
                        "STORED"
                    } else {
                        "VIRTUAL"
                    }
                }),
                invisible: c.invisible,
                auto_increment: c.auto_increment,
            })
            .collect(),
        primary: t.primary_key.iter().map(name).collect(),
        uniques: t
            .unique_keys
            .iter()
            .map(|k| KeyView {
                name: k.name.clone(),
                kind: if k.long_hash { "LONG HASH" } else { "BTREE" },
                columns: parts(&k.columns, &k.prefix_lengths),
            })
            .collect(),
        indexes: t
            .indexes
            .iter()
            .map(|k| {
                let kind = match k.kind {
                    IndexKind::FullText => "FULLTEXT",
                    IndexKind::Spatial => "SPATIAL",
                    _ => "BTREE",
                };
                KeyView {
                    name: k.name.clone(),
                    kind,
                    columns: parts(&k.columns, &k.prefix_lengths),
                }
            })
            .collect(),
    }
}

/// Statements run in `live` unless they name another database.
const SCRIPT: &[&str] = &[
    // Every type, with synonyms, signs and sizes.
    "CREATE TABLE num (a tinyint, b tinyint unsigned, c smallint(3) zerofill, d mediumint unsigned, e int(10) unsigned, f bigint(20) unsigned zerofill, g decimal(65,30), h decimal(5), i numeric(12,2), j float, k float(7,3), l float(30), m double, n double precision, o real, p bit(64), q bit, r bool, s serial, t dec, u fixed(9,3), v int1, w int2, x int3, y int4, z int8, aa middleint, ab float4, ac float8, ad integer signed, ae decimal(10,2) unsigned, af decimal(0))",
    "CREATE TABLE tm (a date, b time, c time(6), d datetime, e datetime(3), f timestamp, g timestamp(6) null, h year, i year(4))",
    "CREATE TABLE str (a char(10), b char, c varchar(64), d binary(16), e binary, f varbinary(3), g tinyblob, h blob, i mediumblob, j longblob, k tinytext, l text, m mediumtext, n longtext, o enum('a','b''c','x y '), p set('x','y','z'), q json, r text(100), s blob(300), t varchar(255) charset latin1, u char(255))",
    "CREATE TABLE mdb (a inet4, b inet6, c uuid, d point, e geometry, f linestring, g polygon, h multipoint, i multilinestring, j multipolygon, k geometrycollection)",
    "CREATE TABLE syn (a nchar(3), b national varchar(4), c nvarchar(2), d long varchar, e long, f long varbinary, g char byte, h character varying(5), i varcharacter(3), j national char(2), k nchar varchar(3), l char(4) binary, m varchar(5) ascii, n varchar(5) unicode, o varchar(6) byte, p text(60), q text(64), r blob(255), s blob(256), t tinytext charset ucs2)",
    // Character sets from column, table, database and server.
    "CREATE DATABASE live2 CHARACTER SET latin1",
    "CREATE DATABASE IF NOT EXISTS live3 COLLATE utf8mb4_bin",
    "CREATE TABLE live2.l1 (a varchar(5), b text, c varchar(5) charset utf8mb4, d enum('x') collate latin1_bin)",
    "CREATE TABLE live3.t1 (a varchar(5), b char(3) charset latin1 binary, c varchar(2) charset utf8mb4)",
    "CREATE TABLE cs1 (a varchar(5) charset utf8mb4, b varchar(5) collate utf8mb4_bin, c varchar(5), d varchar(5) binary, e varchar(5) charset latin1 binary, f text charset binary, g char(3) charset binary, h varchar(3) charset binary, i enum('a') charset binary, k nchar(2) binary, l varchar(2) byte, p varchar(3) charset utf8mb4 collate utf8mb4_bin, r varchar(3) collate utf8mb4_bin default 'x' collate utf8mb4_bin) collate utf8mb4_unicode_ci",
    "CREATE TABLE cs2 (a varchar(5)) charset latin1 collate latin1_bin",
    "CREATE TABLE cs3 (a varchar(5)) collate latin1_german1_ci",
    "CREATE TABLE cs6 (a varchar(5)) DEFAULT CHARACTER SET = utf8",
    "ALTER DATABASE live2 CHARACTER SET utf8mb4",
    "CREATE TABLE live2.l2 (a varchar(3))",
    // Generated, invisible, nullability by attribute order.
    "CREATE TABLE gen (id int not null auto_increment primary key, a int, b int as (a+1) virtual, c int generated always as (a*2) stored, d varchar(10) as (concat('x', a)) persistent, e int invisible default 5)",
    "CREATE TABLE n2 (a int auto_increment null, key(a))",
    "CREATE TABLE n3 (a int null auto_increment, key(a))",
    // Keys: naming, sorting, prefixes, long unique hashes, foreign keys.
    "CREATE TABLE c4 (a int, b int, key(a), unique(a), unique(a,b), key a_5(b), unique(a), unique(a))",
    "CREATE TABLE ks (a int, b int not null, c varchar(20) not null, d int, e int not null, unique(a), key(d), unique(c(5)), fulltext(c), unique(b), unique(e,b), key(e))",
    "CREATE TABLE kp (a varchar(20), b text, c varchar(10), g point not null, unique(a(5)), key(b(10)), key(c(10)), spatial key(g))",
    "CREATE TABLE pk1 (a int, b int, c int primary key, unique key (a,b))",
    "ALTER TABLE pk1 DROP PRIMARY KEY, ADD PRIMARY KEY (a,b)",
    "ALTER TABLE pk1 MODIFY a int null",
    "CREATE TABLE h2 (id int, v varchar(1000), w varchar(700) charset latin1, unique(v), unique(w), unique(id,v(10)), unique(id))",
    "CREATE TABLE h3 (id int, t text, g blob, unique(t), unique(g), j int) engine=myisam",
    "CREATE TABLE k2 (a varchar(769), unique(a)); ",
    "CREATE TABLE k4 (i int not null, a varchar(768), unique(i,a))",
    "CREATE TABLE k8 (a varchar(1001) charset latin1 not null, unique(a)) engine=MyISAM",
    "CREATE TABLE lh3 (a int, unique(a) using hash, b int)",
    "CREATE TABLE lh4 (a varchar(1000) not null, b int not null, unique(a), unique(b))",
    "CREATE TABLE lh (a varchar(1000), unique(a), b int)",
    "ALTER TABLE lh MODIFY a varchar(10)",
    "ALTER TABLE lh ENGINE=MyISAM, MODIFY a varchar(300)",
    "ALTER TABLE lh3 ADD c int",
    "CREATE TABLE p (id int primary key)",
    "CREATE TABLE c1 (a int, b int, CONSTRAINT fk FOREIGN KEY (a) REFERENCES p(id))",
    "ALTER TABLE c1 ADD UNIQUE (a)",
    "CREATE TABLE c2 (a int, b int, FOREIGN KEY (a) REFERENCES p(id), unique(a))",
    "CREATE TABLE c7 (a int, b int, FOREIGN KEY fki (a) REFERENCES p (id) ON DELETE CASCADE ON UPDATE SET NULL)",
    "ALTER TABLE c7 ADD KEY (a, b)",
    "CREATE TABLE fkc (a int REFERENCES p(id), b int)",
    "CREATE TABLE fkc_like LIKE fkc",
    "ALTER TABLE fkc_like ADD UNIQUE (a)",
    "CREATE TABLE g1 (a int, CONSTRAINT fkg FOREIGN KEY (a) REFERENCES p(id))",
    "ALTER TABLE g1 DROP FOREIGN KEY fkg",
    "ALTER TABLE g1 ADD UNIQUE (a)",
    "ALTER TABLE c4 DROP INDEX a_5, ADD INDEX a_5 (a, b), ADD UNIQUE (a)",
    "ALTER TABLE h3 DROP INDEX t",
    "CREATE TABLE lh6 (a varchar(100), b int, unique(a), unique(b))",
    "ALTER TABLE lh6 MODIFY a varchar(1000)",
    "ALTER TABLE lh6 ADD c text, ADD UNIQUE (c), DROP INDEX b",
    "CREATE TABLE e4 (a varchar(100) not null, b int not null, x int, unique(a), unique(b), key kx(x))",
    "ALTER TABLE e4 MODIFY a varchar(1000) not null",
    "ALTER TABLE e4 FORCE",
    "ALTER TABLE e4 DROP INDEX kx, ADD INDEX kx (x, b)",
    "CREATE TABLE t1x (a varchar(1000) null, b int not null, p varchar(10) not null, unique(a), unique(b), unique(p(5)))",
    "ALTER TABLE t1x MODIFY a varchar(1000) not null, MODIFY b int null",
    "CREATE TABLE s1 (a int null, b int not null, c int, unique(a), unique(b), key kc(c))",
    "ALTER TABLE s1 MODIFY a int not null, MODIFY b int null",
    // ALTER TABLE, spec by spec and combined.
    "CREATE TABLE al (id int, a int, b varchar(10), c text, d int, primary key(id), unique key ua (a), key kb (b))",
    "ALTER TABLE al ADD COLUMN e int FIRST",
    "ALTER TABLE al ADD f int AFTER a, ADD g varchar(3) AFTER f",
    "ALTER TABLE al ADD COLUMN (h int, i int)",
    "ALTER TABLE al DROP COLUMN IF EXISTS nope, DROP i",
    "ALTER TABLE al MODIFY b varchar(20) NOT NULL AFTER id",
    "ALTER TABLE al CHANGE a a2 bigint unsigned, CHANGE d d2 int FIRST",
    "ALTER TABLE al RENAME COLUMN a2 TO a3, RENAME COLUMN h TO h2",
    "ALTER TABLE al ALTER COLUMN a3 SET DEFAULT 7, ALTER d2 DROP DEFAULT, MODIFY g varchar(3) INVISIBLE",
    "ALTER TABLE al DROP PRIMARY KEY, ADD PRIMARY KEY (id, b)",
    "ALTER TABLE al ADD UNIQUE KEY ub (b), ADD UNIQUE (g, h2), ADD INDEX (c(20)), ADD FULLTEXT KEY ft (c)",
    "ALTER TABLE al DROP INDEX ua, RENAME INDEX kb TO kb2",
    "ALTER TABLE al DROP KEY ub, ADD CONSTRAINT uc UNIQUE (a3), ADD CONSTRAINT chk CHECK (a3 > 0)",
    "ALTER TABLE al DROP CONSTRAINT chk, DROP CONSTRAINT uc",
    "ALTER TABLE al ENGINE=InnoDB, ALGORITHM=COPY, LOCK=SHARED, COMMENT='hi', AUTO_INCREMENT=10, ROW_FORMAT=DYNAMIC",
    "ALTER TABLE al FORCE",
    "ALTER TABLE al CONVERT TO CHARACTER SET latin1",
    "ALTER TABLE al DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci, ADD j varchar(5)",
    "ALTER TABLE al CHANGE COLUMN IF EXISTS nope x int, MODIFY COLUMN IF EXISTS j varchar(6), ADD COLUMN IF NOT EXISTS j int",
    "ALTER IGNORE TABLE al ADD l int",
    "ALTER TABLE al CHANGE e f int, CHANGE f e int",
    "ALTER TABLE al DROP COLUMN c",
    "ALTER ONLINE TABLE al ADD k int",
    "ALTER TABLE al ADD m int, ALTER m SET DEFAULT 3",
    "/*!50100 ALTER TABLE al ADD n int */",
    "ALTER TABLE al /*M!100301 ADD o int, */ ADD p int",
    "ALTER TABLE al RENAME TO al2",
    "ALTER TABLE al2 RENAME live2.al3",
    "RENAME TABLE live2.al3 TO al, al TO al4",
    "CREATE TABLE al_like LIKE al4",
    "CREATE OR REPLACE TABLE al_like (x int primary key)",
    "DROP TABLE IF EXISTS al_like, nope",
    "CREATE INDEX ix ON al4 (b)",
    "CREATE UNIQUE INDEX ux ON al4 (k)",
    "DROP INDEX ix ON al4",
    "TRUNCATE TABLE al4",
    "CREATE TABLE pt (id int primary key, v int) PARTITION BY HASH(id) PARTITIONS 2",
    "ALTER TABLE pt ADD w int",
    "ALTER TABLE pt REMOVE PARTITIONING",
    "ALTER TABLE pt PARTITION BY KEY() PARTITIONS 3",
    "ALTER TABLE pt COALESCE PARTITION 1",
    "ALTER TABLE pt TRUNCATE PARTITION p0",
    "CREATE TABLE a1 (a int, b int, c varchar(5), unique(a,b), key(b))",
    "ALTER TABLE a1 CHANGE a b int, CHANGE b a int",
    "CREATE TABLE a3 (a int, b int, key(a,b), unique(b))",
    "ALTER TABLE a3 DROP COLUMN a, ADD COLUMN a int",
    "CREATE TABLE a4 (a int, b int, c int)",
    "ALTER TABLE a4 RENAME COLUMN a TO b, RENAME COLUMN b TO a",
    "ALTER TABLE a4 RENAME COLUMN a TO x, ADD COLUMN y int AFTER x",
    "ALTER TABLE a4 ADD q2 int, MODIFY q2 bigint AFTER b",
    "ALTER TABLE a4 ADD z int, ALTER z SET DEFAULT 3, MODIFY c int INVISIBLE",
    "ALTER TABLE a4 CHANGE b b2 int FIRST, CHANGE x x2 int AFTER c, DROP y, ADD COLUMN (m int, n int, KEY (m))",
    "CREATE TABLE cv2 (a tinytext, b text, c mediumtext, d varchar(10), i tinytext charset utf8mb4, x text charset utf8mb4, y varbinary(3), e enum('q')) charset latin1",
    "ALTER TABLE cv2 CONVERT TO CHARACTER SET utf8mb4",
    "ALTER TABLE cv2 CONVERT TO CHARACTER SET binary",
    "ALTER TABLE cv2 DEFAULT CHARSET=latin1, ADD z varchar(3)",
    "CREATE TABLE odd (\n `Id` INT(11) NOT NULL DEFAULT 0 /*M!100301 INVISIBLE */,\n\t`v` VARCHAR ( 10 ) /*!50000 CHARACTER SET latin1 */, PRIMARY KEY (`id`)) /*!50100 PARTITION BY HASH (id) PARTITIONS 2 */",
    "CREATE TABLE `we``ird` (`a b` int, `select` int, unique key `k``1` (`a b`))",
    "CREATE TABLE pr (id int primary key, v varchar(3)) PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN (20))",
    "ALTER TABLE pr CONVERT PARTITION p1 TO TABLE pr1",
    "ALTER TABLE pr ADD w int",
    "ALTER TABLE pr1 ADD w int",
    "ALTER TABLE pr CONVERT TABLE pr1 TO PARTITION p1 VALUES LESS THAN (20)",
    "ALTER TABLE h3 ADD k int FIRST, DROP COLUMN j",
    "CREATE TABLE h3_copy LIKE h3",
    "CREATE TABLE h5 (id int primary key, t text, unique(t))",
    "ALTER TABLE h5 ADD COLUMN z int, ADD UNIQUE KEY (z) USING HASH",
    "ALTER TABLE kp MODIFY a varchar(4), MODIFY b varchar(8), MODIFY c varchar(30)",
    "ALTER TABLE kp MODIFY a int",
    "CREATE TABLE IF NOT EXISTS kp (x int)",
    "SET STATEMENT max_statement_time=60 FOR ALTER TABLE a4 ADD zz int",
    "CREATE TABLE kw (`key` int, date date, status int, type int, comment int, timestamp timestamp null, period int, vector int, primary key (`key`))",
    "ALTER TABLE kw ADD COLUMN first int FIRST, CHANGE comment `comment2` int AFTER date, COMMENT 'x'",
    "CREATE TABLE defs (a int DEFAULT -1, b int DEFAULT (1+1), c datetime(6) DEFAULT current_timestamp(6) ON UPDATE current_timestamp(6), d bit(3) DEFAULT b'101', e varchar(3) DEFAULT _utf8mb4'x' COLLATE utf8mb4_bin, f varbinary(2) DEFAULT 0x41, g char(36) DEFAULT uuid(), h int DEFAULT NULL, i double DEFAULT 1.5e3, j bool DEFAULT TRUE NOT NULL, k int NOT NULL DEFAULT '0' COMMENT 'c')",
    "CREATE TABLE j1 (a json, b varchar(3)) CHARSET latin1",
    "ALTER TABLE j1 CONVERT TO CHARACTER SET utf8mb4",
    "DROP TABLE pk1, c2",
    "CREATE SEQUENCE sq",
    "CREATE TABLE live2.x1 (a int)",
    "DROP DATABASE live3",
];

#[test]
fn catalog_matches_the_server_statement_by_statement() {
    let mut live = Live::start();
    for sql in SCRIPT {
        live.step("live", sql);
    }
    live.catalog.settings_mut().explicit_defaults_for_timestamp = false;
    let off = "SET SESSION explicit_defaults_for_timestamp=0;";
    live.step_with("live", off, "CREATE TABLE ts1 (a timestamp, b timestamp, c timestamp null, d timestamp not null, e timestamp(3) default '2000-01-01')");
    live.step_with(
        "live",
        off,
        "ALTER TABLE ts1 ADD f timestamp, MODIFY a timestamp",
    );
    live.catalog.settings_mut().explicit_defaults_for_timestamp = true;
    let lax = "SET SESSION sql_mode='';";
    live.step_with("live", lax, "CREATE TABLE vo (a varbinary(65532))");
    live.step_with("live", lax, "CREATE TABLE vo2 (b varbinary(65533), c varbinary(65536), d varchar(30000), e varchar(70000) charset latin1)");
    live.catalog.settings_mut().sql_mode = SqlMode(4);
    live.step_with(
        "live",
        "SET SESSION sql_mode='ANSI_QUOTES';",
        "CREATE TABLE \"aq\" (\"a\" int, b varchar(3) default 'x')",
    );
    live.catalog.settings_mut().sql_mode = SqlMode::default();
    binlog_types_match(&live);
    live.step(
        "live2",
        "ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_bin",
    );
    live.step("live2", "CREATE TABLE l3 (a varchar(3))");
    live.step("live", "DROP DATABASE live2");
}

/// Writes a row to every table and compares the TABLE_MAP column types and nullability.
fn binlog_types_match(live: &Live) {
    live.server.sql("FLUSH BINARY LOGS").expect("flush");
    let first_new = live.server.binlog_files().expect("binlog files").len() - 1;
    for t in live.catalog.tables() {
        let table = format!("`{}`.`{}`", t.db, t.name.replace('`', "``"));
        let write = match t.name.as_str() {
            "sq" => format!("SELECT NEXTVAL({table})"),
            "kp" => format!("INSERT INTO {table} (g) VALUES (POINT(1, 1))"),
            _ => format!("INSERT IGNORE INTO {table} () VALUES ()"),
        };
        live.server
            .sql(&format!(
                "SET SESSION sql_mode=''; SET SESSION foreign_key_checks=0; {write}"
            ))
            .unwrap_or_else(|e| panic!("{write}: {e}"));
    }
    live.server.sql("FLUSH BINARY LOGS").expect("flush");
    let files = live.server.binlog_files().expect("binlog files");
    let mut seen = BTreeMap::new();
    let mut metas = 0;
    for file in files.iter().skip(first_new) {
        let out = Command::new("mariadb-binlog")
            .args(["--base64-output=decode-rows", "-vv"])
            .arg(file)
            .output()
            .expect("run mariadb-binlog");
        seen.extend(logged_columns(&String::from_utf8_lossy(&out.stdout)));
    }
    for t in live.catalog.tables() {
        let key = format!("`{}`.`{}`", t.db, t.name.replace('`', "``"));
        let logged = seen
            .get(&key)
            .unwrap_or_else(|| panic!("no row event for {key}"));
        let expected: Vec<(Option<u8>, bool)> = t
            .columns
            .iter()
            .map(|c| (c.sql_type.binlog_type_code(), c.nullable))
            .collect();
        let logged_codes: Vec<(Option<u8>, bool)> = logged
            .iter()
            .map(|(name, nullable, _)| (code_of(name), *nullable))
            .collect();
        // The metadata otter writes in its own TABLE_MAP events (row events on MariaDB
        // targets) is the server's, wherever the model gives one.
        for (c, (name, _, meta)) in t.columns.iter().zip(logged) {
            if let Some(ours) = c.binlog_meta() {
                assert_eq!(Some(ours), *meta, "{key}.{}: {name} logged with meta {meta:?}", c.name);
                metas += 1;
            }
        }
        assert!(
            logged_codes.iter().all(|(code, _)| code.is_some()),
            "{key}: unknown type in {logged:?}"
        );
        assert_eq!(logged_codes, expected, "{key}: logged {logged:?}");
    }
    assert!(seen.len() >= 40, "only {} tables logged", seen.len());
    assert!(metas >= 250, "only {metas} column metadata compared");
}

/// A logged column: type name, nullable, metadata.
type Logged = (String, bool, Option<u16>);

/// `table → [(type name, nullable, metadata)]` from `mariadb-binlog -vv` output.
fn logged_columns(text: &str) -> BTreeMap<String, Vec<Logged>> {
    let mut tables = BTreeMap::new();
    let mut current: Option<(String, Vec<Logged>)> = None;
    for line in text.lines() {
        if let Some(table) = line.strip_prefix("### INSERT INTO ") {
            if let Some((name, cols)) = current.take() {
                tables.insert(name, cols);
            }
            current = Some((table.trim().to_owned(), Vec::new()));
        } else if line.starts_with("###   @") {
            let comment = line.rsplit_once("/* ").map(|(_, c)| c).unwrap_or_default();
            let type_name = comment
                .split(" meta=")
                .next()
                .unwrap_or_default()
                .to_owned();
            let meta = comment
                .split_once(" meta=")
                .and_then(|(_, m)| m.split(' ').next())
                .and_then(|m| m.parse().ok());
            if let Some((_, cols)) = current.as_mut() {
                cols.push((type_name, comment.contains("nullable=1"), meta));
            }
        } else if line != "### SET" {
            if let Some((name, cols)) = current.take() {
                tables.insert(name, cols);
            }
        }
    }
    tables.extend(current);
    tables
}

/// The `enum_field_types` code of a type as `mariadb-binlog` names it.
fn code_of(name: &str) -> Option<u8> {
    let (base, sized) = match name.split_once('(') {
        Some((base, _)) => (base, true),
        None => (name, false),
    };
    Some(match (base, sized) {
        ("TINYINT", _) => 1,
        ("SHORTINT", _) => 2,
        ("INT", _) => 3,
        ("FLOAT", _) => 4,
        ("DOUBLE", _) => 5,
        ("TIMESTAMP", false) => 7,
        ("LONGINT", _) => 8,
        ("MEDIUMINT", _) => 9,
        ("DATE", _) => 10,
        ("TIME", false) => 11,
        ("DATETIME", false) => 12,
        ("YEAR", _) => 13,
        ("VARSTRING", _) => 15,
        ("BIT", _) => 16,
        ("TIMESTAMP", true) => 17,
        ("DATETIME", true) => 18,
        ("TIME", true) => 19,
        ("DECIMAL", _) => 246,
        ("TINYBLOB/TINYTEXT" | "BLOB/TEXT" | "MEDIUMBLOB/MEDIUMTEXT" | "LONGBLOB/LONGTEXT", _) => {
            252
        }
        ("STRING" | "ENUM" | "SET", _) => 254,
        ("GEOMETRY", _) => 255,
        _ => return None,
    })
}
