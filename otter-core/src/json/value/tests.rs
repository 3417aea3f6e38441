use std::borrow::Cow;

use otter_binlog::column::{ColumnType, Kind};
use otter_binlog::temporal::Timestamp;
use serde_json::json;

use super::*;

fn map_column(charset: Option<u16>, members: Option<&[&str]>) -> otter_binlog::table_map::Column {
    otter_binlog::table_map::Column {
        column_type: ColumnType::String,
        meta: 0,
        nullable: true,
        kind: Kind::String(1),
        unsigned: None,
        charset,
        name: None,
        members: members.map(|m| m.iter().map(|s| s.as_bytes().to_vec().into_boxed_slice()).collect()),
        geometry_type: None,
        visible: None,
        vector_dimensions: None,
    }
}

fn dump(v: &Value<'_>, col: &otter_binlog::table_map::Column) -> Json {
    render(v, Some(col), Style::DUMP)
}

fn change(v: &Value<'_>, col: Option<&Column>) -> Json {
    render(v, col, Style::CHANGES)
}

#[test]
fn styles_differ_only_where_documented() {
    let text = map_column(Some(45), None);
    let ts = Value::Timestamp(Timestamp { seconds: 1_700_000_000, micros: 500_000, fsp: 1 });
    assert_eq!(dump(&Value::Absent, &text), json!({"absent": true}));
    assert_eq!(change(&Value::Absent, None), Json::Null);
    assert_eq!(dump(&Value::Float(1.1), &text), json!(f64::from(1.1f32)));
    assert_eq!(change(&Value::Float(1.1), None), json!(1.1));
    let vector = Value::Vector(Cow::Owned([1.1f32.to_le_bytes(), 2.0f32.to_le_bytes()].concat()));
    assert_eq!(dump(&vector, &text), json!([f64::from(1.1f32), 2.0]));
    assert_eq!(change(&vector, None), json!([1.1, 2.0]));
    assert_eq!(dump(&ts, &text), json!("2023-11-14 22:13:20.5"));
    assert_eq!(change(&ts, None), json!("2023-11-14T22:13:20.5Z"));
    let members = map_column(None, Some(&["a", "b"]));
    let enum_col = Column::new("e", SqlType::Enum(vec!["a".into(), "b".into()]));
    assert_eq!(dump(&Value::Enum(0), &members), json!(0));
    assert_eq!(change(&Value::Enum(0), Some(&enum_col)), json!(""));
    // The rest is the same in both styles.
    for (v, expected) in [
        (Value::Enum(2), json!("b")),
        (Value::Enum(3), json!(3)),
        (Value::Null, Json::Null),
        (Value::Int(-3), json!(-3)),
        (Value::Double(f64::NAN), json!("NaN")),
        (Value::Geometry(Cow::Borrowed(&[1, 0, 0, 0, 0xab])), json!({"srid": 1, "wkb": "ab"})),
        (Value::Compressed(Cow::Borrowed(&[0x0f])), json!({"compressed_hex": "0f"})),
        (Value::Json(Cow::Borrowed(&[])), Json::Null),
    ] {
        assert_eq!(dump(&v, &members), expected, "{v:?}");
        assert_eq!(change(&v, Some(&enum_col)), expected, "{v:?}");
    }
}

#[test]
fn text_follows_the_column() {
    let bytes = |b: &'static [u8]| Value::Bytes(Cow::Borrowed(b));
    // Table-map columns: only the binary collation is hex, else UTF-8 when valid.
    assert_eq!(dump(&bytes(b"ok"), &map_column(Some(63), None)), json!({"hex": "6f6b"}));
    assert_eq!(dump(&bytes(b"ok"), &map_column(Some(8), None)), json!("ok"));
    assert_eq!(dump(&bytes(b"\xe9"), &map_column(Some(8), None)), json!({"hex": "e9"}));
    // Schema columns: by character set and type.
    let latin1 = Column { charset: Some("latin1".into()), ..Column::new("c", SqlType::VarChar(9)) };
    assert_eq!(change(&bytes(b"\xe9"), Some(&latin1)), json!("é"));
    let sjis = Column { charset: Some("sjis".into()), ..Column::new("c", SqlType::VarChar(9)) };
    assert_eq!(change(&bytes(b"\x82"), Some(&sjis)), json!({"hex": "82", "charset": "sjis"}));
    assert_eq!(change(&bytes(b"ok"), Some(&Column::new("b", SqlType::Blob))), json!({"hex": "6f6b"}));
    // Without a column: UTF-8 or hex, in both styles.
    assert_eq!(render::<Column>(&bytes(b"\xff"), None, Style::DUMP), json!({"hex": "ff"}));
    assert_eq!(change(&bytes(b"ok"), None), json!("ok"));
    // SET members by bit, from either kind of column.
    let set_col = Column::new("s", SqlType::Set(vec!["x".into(), "y".into(), "z".into()]));
    assert_eq!(change(&Value::Set(0b101), Some(&set_col)), json!("x,z"));
    assert_eq!(dump(&Value::Set(0b110), &map_column(None, Some(&["x", "y", "z"]))), json!("y,z"));
    assert_eq!(change(&Value::Set(5), None), json!(5));
}
