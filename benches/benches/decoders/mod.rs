//! The decoders the parse benchmark times: otter, its two framing baselines, and the published
//! peers, each decoding every row value of a whole in-memory binlog file with its public API and
//! reporting what it saw ([`Counts`]). Shared by `benches/parse.rs` and `examples/decode.rs`.

use std::collections::HashMap;
use std::io::Cursor;

use otter_benches::{frame_file, Counts, OtterDecoder};

/// A decoder under test: the whole file in, what it saw out.
pub type DecodeFn = fn(&[u8]) -> Result<Counts, String>;

/// The four full decoders, otter first, then the peers (fastest first, as published).
pub const DECODERS: [(&str, DecodeFn); 4] = [
    ("otter", otter),
    ("mysql_cdc", mysql_cdc),
    ("mysql-binlog-connector-rust", connector_rust),
    ("mysql_common", mysql_common),
];

/// otter's framing baselines (not full decoders: rows and values stay 0).
pub const BASELINES: [(&str, DecodeFn); 2] = [("otter-framing+crc32", framing_crc), ("otter-framing", framing_only)];

/// otter: [`OtterDecoder::decode_file`].
fn otter(file: &[u8]) -> Result<Counts, String> {
    OtterDecoder::new().decode_file(file).map_err(|e| e.to_string())
}

/// otter's `Parser::parse` on every event, no row decoding.
fn framing_crc(file: &[u8]) -> Result<Counts, String> {
    frame_file(file, true).map_err(|e| e.to_string())
}

/// otter's `Parser::frame_len` on every event.
fn framing_only(file: &[u8]) -> Result<Counts, String> {
    frame_file(file, false).map_err(|e| e.to_string())
}

/// `mysql_cdc`: `EventParser::parse_event` decodes the rows of a rows event eagerly.
pub fn mysql_cdc(file: &[u8]) -> Result<Counts, String> {
    use mysql_cdc::events::binlog_event::BinlogEvent;
    use mysql_cdc::events::event_header::EventHeader;
    use mysql_cdc::events::event_parser::EventParser;
    use mysql_cdc::events::row_events::row_data::RowData;

    fn values(row: &RowData) -> u64 {
        row.cells.iter().filter(|v| v.is_some()).count() as u64
    }
    const HEADER_LEN: usize = 19;
    let err = |e: mysql_cdc::errors::Error| format!("{e:?}");
    let mut parser = EventParser::new();
    let mut c = Counts::default();
    let mut pos = 4;
    while pos < file.len() {
        let header = EventHeader::parse(file.get(pos..).ok_or("offset")?).map_err(err)?;
        let end = pos + header.event_length as usize;
        let body = file.get(pos + HEADER_LEN..end).ok_or_else(|| format!("truncated event at {pos}"))?;
        let event = parser.parse_event(&header, body).map_err(err)?;
        c.events += 1;
        match &event {
            BinlogEvent::WriteRowsEvent(e) => {
                c.rows += e.rows.len() as u64;
                c.values += e.rows.iter().map(values).sum::<u64>();
            }
            BinlogEvent::DeleteRowsEvent(e) => {
                c.rows += e.rows.len() as u64;
                c.values += e.rows.iter().map(values).sum::<u64>();
            }
            BinlogEvent::UpdateRowsEvent(e) => {
                c.rows += e.rows.len() as u64;
                c.values += e.rows.iter().map(|r| values(&r.before_update) + values(&r.after_update)).sum::<u64>();
            }
            _ => {}
        }
        std::hint::black_box(event);
        pos = end;
    }
    Ok(c)
}

/// `mysql-binlog-connector-rust`: `BinlogParser::next` decodes the rows of a rows event eagerly.
pub fn connector_rust(file: &[u8]) -> Result<Counts, String> {
    use mysql_binlog_connector_rust::binlog_parser::BinlogParser;
    use mysql_binlog_connector_rust::column::column_value::ColumnValue;
    use mysql_binlog_connector_rust::event::event_data::EventData;
    use mysql_binlog_connector_rust::event::row_event::RowEvent;

    fn values(row: &RowEvent) -> u64 {
        row.column_values.iter().filter(|v| !matches!(v, ColumnValue::None)).count() as u64
    }
    let err = |e: mysql_binlog_connector_rust::binlog_error::BinlogError| e.to_string();
    // Its own client starts with the negotiated checksum length; a file learns it from the FDE.
    let mut parser = BinlogParser { checksum_length: 0, table_map_event_by_table_id: HashMap::new() };
    let mut cursor = Cursor::new(file);
    parser.check_magic(&mut cursor).map_err(err)?;
    let mut c = Counts::default();
    while (cursor.position() as usize) < file.len() {
        let (_, data) = parser.next(&mut cursor).map_err(err)?;
        c.events += 1;
        match &data {
            EventData::WriteRows(e) => {
                c.rows += e.rows.len() as u64;
                c.values += e.rows.iter().map(values).sum::<u64>();
            }
            EventData::DeleteRows(e) => {
                c.rows += e.rows.len() as u64;
                c.values += e.rows.iter().map(values).sum::<u64>();
            }
            EventData::UpdateRows(e) => {
                c.rows += e.rows.len() as u64;
                c.values += e.rows.iter().map(|(b, a)| values(b) + values(a)).sum::<u64>();
            }
            _ => {}
        }
        std::hint::black_box(data);
    }
    Ok(c)
}

/// `mysql_common`: events are framed by `BinlogFile`; rows decode lazily through
/// `RowsEventData::rows` against the table map its reader keeps.
pub fn mysql_common(file: &[u8]) -> Result<Counts, String> {
    use mysql_common::binlog::consts::BinlogVersion;
    use mysql_common::binlog::events::EventData;
    use mysql_common::binlog::row::BinlogRow;
    use mysql_common::binlog::value::BinlogValue;
    use mysql_common::binlog::BinlogFile;
    use mysql_common::value::Value;

    fn values(row: &BinlogRow) -> u64 {
        (0..row.len()).filter(|&i| !matches!(row.as_ref(i), None | Some(BinlogValue::Value(Value::NULL)))).count()
            as u64
    }
    let mut binlog = BinlogFile::new(BinlogVersion::Version4, file).map_err(|e| e.to_string())?;
    let mut c = Counts::default();
    while let Some(event) = binlog.next() {
        let event = event.map_err(|e| e.to_string())?;
        c.events += 1;
        if let Some(EventData::RowsEvent(rows)) = event.read_data().map_err(|e| e.to_string())? {
            let table = binlog.reader().get_tme(rows.table_id()).ok_or("rows event without table map")?;
            for row in rows.rows(table) {
                let (before, after) = row.map_err(|e| e.to_string())?;
                c.rows += 1;
                c.values += before.as_ref().map_or(0, values) + after.as_ref().map_or(0, values);
                std::hint::black_box((before, after));
            }
        }
    }
    Ok(c)
}
