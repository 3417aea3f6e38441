//! A whole binlog file: every event, row and value decoded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otter_binlog::{summary::summarize, Parser};

fuzz_target!(|data: &[u8]| {
    let _ = summarize(data, Parser::new().with_limits(otter_fuzz::limits()));
});
