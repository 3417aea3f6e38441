//! Malformed documents are errors that say what is wrong, never panics or silent damage.

use super::super::{PortableBatch, PortableDecimal, PortableEvent, PortableGtid, PortableValue};
use super::format::small_batch;
use crate::error::{Error, ErrorKind};

/// The portable form of the small batch, for editing.
fn doc() -> PortableBatch {
    PortableBatch::from(&small_batch())
}

/// The first change of the first event.
fn first_change(p: &mut PortableBatch) -> &mut super::super::PortableChange {
    match p.events.first_mut() {
        Some(PortableEvent::Rows(c)) => c.changes.first_mut().unwrap(),
        other => panic!("{other:?}"),
    }
}

/// Asserts `e` is a parse error whose message contains every one of `parts`.
fn assert_parse_error(e: Error, parts: &[&str]) {
    assert_eq!(e.kind(), ErrorKind::Parse, "{e}");
    for p in parts {
        assert!(e.message().contains(p), "{p:?} not in {:?}", e.message());
    }
}

#[test]
fn another_version_is_refused_in_every_form() {
    let expected = "portable batch format version 2 is not supported: this build reads version 1 only";
    let mut p = doc();
    p.version = 2;
    let json = p.to_json().unwrap();
    assert_parse_error(PortableBatch::from_json(&json).unwrap_err(), &[expected]);
    // Also when the version is not the first field, and the rest no longer matches either.
    let reordered = br#"{"events": "a new shape", "version": 2}"#;
    assert_parse_error(PortableBatch::from_json(reordered).unwrap_err(), &[expected]);
    assert_parse_error(p.clone().into_batch().unwrap_err(), &[expected]);
    // Binary: the version field is read first and refused with the same words.
    let mut cbor = Vec::new();
    ciborium::into_writer(&p, &mut cbor).unwrap();
    let e = ciborium::from_reader::<PortableBatch, _>(cbor.as_slice()).unwrap_err();
    assert!(e.to_string().contains(expected), "{e}");
    // No version at all, or one that is not a number.
    assert_parse_error(PortableBatch::from_json(br#"{"seq": 1}"#).unwrap_err(), &["no \"version\" field"]);
    assert_parse_error(PortableBatch::from_json(br#"{"version": "1"}"#).unwrap_err(), &["version \"1\" is not a number"]);
    assert_parse_error(PortableBatch::from_json(b"[1, 2").unwrap_err(), &["not a readable portable batch"]);
}

#[test]
fn a_change_naming_a_missing_schema_is_refused() {
    let mut p = doc();
    first_change(&mut p).table = 5;
    assert_parse_error(
        p.into_batch().unwrap_err(),
        &["malformed portable batch: event 0: change 0: refers to table schema 5, but the batch carries 1 schema(s)"],
    );
    let mut p = doc();
    p.schemas.clear();
    assert_parse_error(p.into_batch().unwrap_err(), &["refers to table schema 0, but the batch carries 0 schema(s)"]);
}

#[test]
fn an_image_of_the_wrong_width_is_refused() {
    let mut p = doc();
    first_change(&mut p).after.as_mut().unwrap().push(PortableValue::Null);
    assert_parse_error(p.into_batch().unwrap_err(), &["event 0: change 0: after image has 4 values but table shop.items has 3 columns"]);
    let mut p = doc();
    first_change(&mut p).before = Some(vec![]);
    assert_parse_error(p.into_batch().unwrap_err(), &["before image has 0 values"]);
}

#[test]
fn a_key_naming_a_missing_column_is_refused() {
    let mut p = doc();
    p.schemas[0].primary_key = vec![3];
    assert_parse_error(
        p.into_batch().unwrap_err(),
        &["table schema 0 (shop.items): key PRIMARY names column position 3, but the table has 3 columns"],
    );
}

#[test]
fn a_decimal_that_is_not_canonical_is_refused() {
    for (text, precision, scale) in [("-12.5", 6, 2), ("12.500", 6, 2), ("1e1", 6, 2), ("-12.50", 70, 2)] {
        let mut p = doc();
        first_change(&mut p).after.as_mut().unwrap()[2] = PortableValue::Decimal(PortableDecimal { precision, scale, text: text.into() });
        assert_parse_error(
            p.into_batch().unwrap_err(),
            &["event 0: change 0: after image, column 2 (price): ", &format!("DECIMAL({precision},{scale}) value \"{text}\"")],
        );
    }
}

#[test]
fn bad_gtid_text_and_bad_bytes_are_refused() {
    let mut p = doc();
    if let Some(PortableEvent::Progress(m)) = p.events.get_mut(1) {
        m.position.gtid = Some(PortableGtid::Mariadb("0-1".into()));
    }
    assert_parse_error(p.into_batch().unwrap_err(), &["event 1: position GTID state: invalid MariaDB GTID \"0-1\""]);
    let mut p = doc();
    p.position = Some(super::super::PortablePosition {
        coord: super::super::PortableCoord { file: "f.000001".into(), offset: 4 },
        gtid: Some(PortableGtid::Mysql("not-a-uuid:1".into())),
        skip_rows: 0,
        snapshot: None,
    });
    assert_parse_error(p.into_batch().unwrap_err(), &["batch position: position GTID state: invalid MySQL GTID set"]);
    let json = String::from_utf8(doc().to_json().unwrap()).unwrap().replace("cGVuAA==", "cGVuAA=!");
    assert_parse_error(PortableBatch::from_json(json.as_bytes()).unwrap_err(), &["bytes are not valid standard base64"]);
    let json = String::from_utf8(doc().to_json().unwrap()).unwrap().replace(r#"{"uint":7}"#, r#"{"uint":-7}"#);
    assert_parse_error(PortableBatch::from_json(json.as_bytes()).unwrap_err(), &["not a readable portable batch"]);
}
