//! Row decoding: a TABLE_MAP body and a rows-event body, every row and value decoded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otter_binlog::{summary::decode_rows_deep, EventData, Parser};
use otter_fuzz::{frame, split_rows_input, ROWS_TYPES};

fuzz_target!(|data: &[u8]| {
    let Some((sel, tm, rows)) = split_rows_input(data) else { return };
    let mut parser = Parser::new().with_limits(otter_fuzz::limits());
    if parser.parse_frame(&frame(19, tm)).is_err() {
        return;
    }
    let rows_frame = frame(ROWS_TYPES[usize::from(sel) % ROWS_TYPES.len()], rows);
    let Ok(ev) = parser.parse_frame(&rows_frame) else { return };
    if let EventData::Rows(r) = &ev.data {
        if let Ok(table) = parser.table_for(r) {
            let _ = decode_rows_deep(r, table);
        }
    }
});
