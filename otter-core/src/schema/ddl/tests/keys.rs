//! Keys: naming, foreign-key indexes, sorting, long-unique hashes, primary keys.

use super::*;
use crate::schema::model::{Generated, IndexKind};

#[test]
fn unnamed_keys_are_named_like_the_server_does() {
    let mut c = maria();
    run(&mut c, "CREATE TABLE c4 (a int, b int, key(a), unique(a), unique(a,b), key a_5(b), unique(a), unique(a))");
    let t = table(&c, "c4");
    let names: Vec<&str> = t.unique_keys.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["a_2", "a_3", "a_4", "a_6"]);
    let plain: Vec<&str> = t.indexes.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(plain, ["a", "a_5"]);
    assert!(matches!(
        c.apply(Some("d"), "CREATE TABLE bad (a int, unique(a), key a (a))"),
        Err(DdlError::Conflict(_))
    ));
}

#[test]
fn foreign_key_indexes_give_way_to_covering_keys() {
    let mut c = maria();
    run(&mut c, "CREATE TABLE p (id int primary key)");
    run(
        &mut c,
        "CREATE TABLE c1 (a int, b int, CONSTRAINT fk FOREIGN KEY (a) REFERENCES p(id))",
    );
    assert_eq!(
        table(&c, "c1")
            .indexes
            .iter()
            .map(|i| (i.name.as_str(), i.kind))
            .collect::<Vec<_>>(),
        [("fk", IndexKind::ForeignKey)]
    );
    run(&mut c, "ALTER TABLE c1 ADD UNIQUE (a)");
    assert!(table(&c, "c1").indexes.is_empty());
    assert_eq!(
        unique_keys(&c, "c1"),
        [("a".to_owned(), vec!["a".to_owned()])]
    );
    run(
        &mut c,
        "CREATE TABLE c2 (a int, b int, FOREIGN KEY (a) REFERENCES p(id), UNIQUE(a))",
    );
    assert!(table(&c, "c2").indexes.is_empty());
    run(
        &mut c,
        "CREATE TABLE c7 (a int, b int, FOREIGN KEY (a) REFERENCES p (id) ON DELETE SET NULL)",
    );
    run(&mut c, "ALTER TABLE c7 ADD KEY (a, b)");
    assert_eq!(
        table(&c, "c7")
            .indexes
            .iter()
            .map(|i| (i.name.as_str(), i.columns.len()))
            .collect::<Vec<_>>(),
        [("a", 2)]
    );
    run(&mut c, "CREATE TABLE fkc (a int REFERENCES p(id), b int)");
    assert_eq!(table(&c, "fkc").indexes.len(), 1);
    let mut mysql = catalog(Flavor::MySql);
    run(
        &mut mysql,
        "CREATE TABLE fkc (a int REFERENCES p(id), b int)",
    );
    assert!(table(&mysql, "fkc").indexes.is_empty());
}

#[test]
fn keys_are_sorted_like_the_server() {
    let mut c = maria();
    run(&mut c, "CREATE TABLE ks (a int, b int not null, c varchar(20) not null, d int, e int not null, unique(a), key(d), unique(c(5)), fulltext(c), unique(b), unique(e,b), key(e))");
    let t = table(&c, "ks");
    assert_eq!(
        t.unique_keys
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        ["b", "e", "c", "a"]
    );
    assert_eq!(
        t.indexes
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        ["d", "e_2", "c_2"]
    );
    assert_eq!(t.key_columns(), Some(&[1usize][..]));
}

#[test]
fn long_unique_keys_get_hidden_hash_columns() {
    let mut c = maria();
    run(&mut c, "CREATE TABLE h2 (id int, v varchar(1000), w varchar(700) charset latin1, unique(v), unique(w), unique(id, v(10)), unique(id))");
    let t = table(&c, "h2");
    assert_eq!(t.columns.len(), 4);
    assert_eq!(
        t.columns.last().map(|c| (c.name.as_str(), c.generated)),
        Some(("DB_ROW_HASH_1", Some(Generated::LongUniqueHash)))
    );
    assert_eq!(
        t.unique_keys
            .iter()
            .filter(|k| k.long_hash)
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        ["v"]
    );
    run(
        &mut c,
        "CREATE TABLE h3 (id int, t text, g blob, unique(t), unique(g), j int) ENGINE=MyISAM",
    );
    assert_eq!(table(&c, "h3").columns.len(), 6);
    run(
        &mut c,
        "CREATE TABLE lh3 (a int, unique(a) using hash, b int)",
    );
    assert_eq!(table(&c, "lh3").columns.len(), 3);
    run(&mut c, "ALTER TABLE lh3 ADD c int");
    assert_eq!(
        table(&c, "lh3").columns.len(),
        3,
        "USING HASH is not kept by ALTER"
    );
    run(
        &mut c,
        "CREATE TABLE lh4 (a varchar(1000) not null, b int not null, unique(a), unique(b))",
    );
    let t = table(&c, "lh4");
    assert_eq!(
        t.unique_keys
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        ["b", "a"]
    );
    assert_eq!(t.columns.get(2).map(|c| c.nullable), Some(false));
    run(
        &mut c,
        "CREATE TABLE lh (a varchar(1000), unique(a), b int)",
    );
    run(&mut c, "ALTER TABLE lh MODIFY a varchar(10)");
    assert_eq!(table(&c, "lh").columns.len(), 2);
    run(
        &mut c,
        "ALTER TABLE lh ENGINE=MyISAM, MODIFY a varchar(300)",
    );
    assert_eq!(table(&c, "lh").columns.len(), 3);
    let mut mysql = catalog(Flavor::MySql);
    run(&mut mysql, "CREATE TABLE h (t text, unique(t(10)), j json)");
    assert_eq!(table(&mysql, "h").columns.len(), 2);
    assert_eq!(column(&mysql, "h", "j").sql_type, SqlType::Json);
}

#[test]
fn primary_key_columns_become_not_null() {
    let mut c = maria();
    run(
        &mut c,
        "CREATE TABLE pk1 (a int, b int, c int primary key, unique key (a,b))",
    );
    assert!(matches!(
        c.apply(Some("d"), "ALTER TABLE pk1 ADD PRIMARY KEY (a)"),
        Err(DdlError::Conflict(_))
    ));
    run(
        &mut c,
        "ALTER TABLE pk1 DROP PRIMARY KEY, ADD PRIMARY KEY (a,b)",
    );
    run(&mut c, "ALTER TABLE pk1 MODIFY a int null");
    assert!(table(&c, "pk1").columns.iter().all(|c| !c.nullable));
    assert_eq!(table(&c, "pk1").primary_key, vec![0, 1]);
}

#[test]
fn long_unique_keys_move_only_when_keys_are_added() {
    let mut c = maria();
    let order = |c: &Catalog| -> Vec<String> {
        table(c, "e4")
            .unique_keys
            .iter()
            .map(|k| k.name.clone())
            .collect()
    };
    run(&mut c, "CREATE TABLE e4 (a varchar(100) not null, b int not null, x int, unique(a), unique(b), key kx(x))");
    run(&mut c, "ALTER TABLE e4 MODIFY a varchar(1000) not null");
    assert_eq!(order(&c), ["a", "b"]);
    run(&mut c, "ALTER TABLE e4 FORCE");
    assert_eq!(order(&c), ["a", "b"]);
    run(&mut c, "ALTER TABLE e4 ADD UNIQUE (x)");
    assert_eq!(order(&c), ["b", "x", "a"]);
    assert_eq!(
        table(&c, "e4").columns.len(),
        4,
        "a, b, x and the hash of a"
    );
}
