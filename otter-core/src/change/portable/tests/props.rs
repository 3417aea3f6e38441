//! Property tests: arbitrary values of every variant round-trip through the portable form, in
//! JSON and in CBOR, exactly.

use std::borrow::Cow;

use otter_binlog::temporal::{Date, DateTime, Time, Timestamp};
use otter_binlog::Value;
use proptest::prelude::*;

use super::super::decimal::{from_text, to_text};
use super::super::PortableValue;
use super::same_value;

/// Any byte string, NUL and invalid UTF-8 included.
fn any_bytes() -> impl Strategy<Value = Cow<'static, [u8]>> {
    proptest::collection::vec(any::<u8>(), 0..300).prop_map(Cow::Owned)
}

/// Any decimal of any declaration: `(precision, scale, negative, integer digits, fraction digits)`.
fn any_decimal() -> impl Strategy<Value = Value<'static>> {
    (1u8..=65)
        .prop_flat_map(|p| (Just(p), 0..=p.min(30)))
        .prop_flat_map(|(p, s)| {
            let int_digits = proptest::string::string_regex(&format!("[0-9]{{0,{}}}", p - s)).unwrap();
            let frac_digits = proptest::string::string_regex(&format!("[0-9]{{{s}}}")).unwrap();
            (Just(p), Just(s), any::<bool>(), int_digits, frac_digits)
        })
        .prop_map(|(p, s, negative, int, frac)| {
            let int = match int.trim_start_matches('0') {
                "" => "0",
                t => t,
            };
            let text = format!("{}{int}{}{frac}", if negative { "-" } else { "" }, if s > 0 { "." } else { "" });
            let d = from_text(&text, p, s).unwrap();
            assert_eq!(to_text(&d), text);
            Value::Decimal(d)
        })
}

/// Any value of any variant; floats from arbitrary bit patterns (NaNs, infinities, subnormals,
/// -0.0), temporal values with arbitrary fields (nothing is validated on the way).
fn any_value() -> impl Strategy<Value = Value<'static>> {
    prop_oneof![
        Just(Value::Null),
        Just(Value::Absent),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::UInt),
        any::<u32>().prop_map(|b| Value::Float(f32::from_bits(b))),
        any::<u64>().prop_map(|b| Value::Double(f64::from_bits(b))),
        any_decimal(),
        any::<u16>().prop_map(Value::Year),
        any::<(u16, u8, u8)>().prop_map(|(year, month, day)| Value::Date(Date { year, month, day })),
        (any::<bool>(), any::<u16>(), any::<(u8, u8)>(), any::<u32>(), 0u8..=6).prop_map(
            |(negative, hour, (minute, second), micros, fsp)| Value::Time(Time { negative, hour, minute, second, micros, fsp })
        ),
        (any::<(u16, u8, u8)>(), any::<(u8, u8, u8)>(), any::<u32>(), 0u8..=6).prop_map(
            |((year, month, day), (hour, minute, second), micros, fsp)| {
                Value::DateTime(DateTime { year, month, day, hour, minute, second, micros, fsp })
            }
        ),
        (any::<u32>(), any::<u32>(), 0u8..=6).prop_map(|(seconds, micros, fsp)| Value::Timestamp(Timestamp { seconds, micros, fsp })),
        any_bytes().prop_map(Value::Bytes),
        any::<u64>().prop_map(Value::Bit),
        any::<u16>().prop_map(Value::Enum),
        any::<u64>().prop_map(Value::Set),
        any_bytes().prop_map(Value::Json),
        any_bytes().prop_map(Value::JsonDiff),
        any_bytes().prop_map(Value::Geometry),
        any_bytes().prop_map(Value::Vector),
        any_bytes().prop_map(Value::Compressed),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn values_round_trip(v in any_value()) {
        let p = PortableValue::from(&v);
        let json = serde_json::to_vec(&p).unwrap();
        let from_json: PortableValue = serde_json::from_slice(&json).unwrap();
        let mut cbor = Vec::new();
        ciborium::into_writer(&p, &mut cbor).unwrap();
        let from_cbor: PortableValue = ciborium::from_reader(cbor.as_slice()).unwrap();
        prop_assert_eq!(&from_json, &p);
        prop_assert_eq!(&from_cbor, &p);
        for back in [from_json.into_value().unwrap(), from_cbor.into_value().unwrap()] {
            prop_assert!(same_value(&v, &back), "{:?} became {:?}", v, back);
        }
    }

    #[test]
    fn rows_of_values_round_trip(row in proptest::collection::vec(any_value(), 0..20)) {
        let p: Vec<PortableValue> = row.iter().map(PortableValue::from).collect();
        let json = serde_json::to_vec(&p).unwrap();
        let back: Vec<PortableValue> = serde_json::from_slice(&json).unwrap();
        prop_assert_eq!(back.len(), row.len());
        for (v, b) in row.iter().zip(back) {
            let b = b.into_value().unwrap();
            prop_assert!(same_value(v, &b), "{:?} became {:?}", v, b);
        }
    }
}
