//! Single events as a replication stream delivers them, with checksums on or off.
#![no_main]
use libfuzzer_sys::fuzz_target;
use otter_binlog::{ChecksumAlg, Parser, Status};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut buf)) = data.split_first() else { return };
    let alg = if mode & 1 == 0 { ChecksumAlg::Off } else { ChecksumAlg::Crc32 };
    let mut parser = Parser::with_checksum(alg).with_limits(otter_fuzz::limits());
    while let Ok(Status::Complete((event, used))) = parser.parse(buf) {
        let _ = format!("{:?}", event.data);
        buf = &buf[used..];
    }
});
