//! The parser never panics, never hangs and never allocates without bound, whatever the bytes:
//! - every corpus file cut at every event boundary parses cleanly up to the cut, and cut inside an
//!   event (at every byte of the first events, and at random offsets) ends in a typed error;
//! - random byte flips — with the CRC32 left stale, and with it recomputed so that the flipped
//!   bytes reach the body decoders — only ever produce typed errors.
//!
//! Runs are bounded: a seeded generator picks the mutations, so failures reproduce.

use std::path::{Path, PathBuf};

use otter_binlog::summary::summarize;
use otter_binlog::{FileReader, Limits, Parser};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mysql-testsuite");

/// xorshift64*: tiny, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with("reference-") && p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    files.into_iter().map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())).collect()
}

/// Small limits so that hostile sizes are refused quickly instead of allocating gigabytes.
fn parser() -> Parser {
    Parser::new().with_limits(Limits { max_event_size: 1 << 22, max_decompressed: 1 << 22 })
}

/// Event start offsets of a well-formed prefix of `data`.
fn boundaries(data: &[u8]) -> Vec<usize> {
    let mut out = vec![4];
    let mut reader = FileReader::with_parser(data, parser()).unwrap();
    while let Ok(Some(f)) = reader.next_event() {
        if !f.in_payload {
            out.push(f.offset as usize + f.event.header.event_len as usize);
        }
    }
    out
}

#[test]
fn truncation_at_every_boundary_and_inside_events() {
    let mut rng = Rng(0x5eed_0001);
    for (name, data) in corpus() {
        let bounds = boundaries(&data);
        for &b in &bounds {
            let s = summarize(&data[..b.min(data.len())], parser());
            // A cut at a boundary of the clean prefix is a clean, shorter file.
            if b <= data.len() && bounds.last() != Some(&b) {
                assert!(s.error.is_none(), "{name} cut at boundary {b}: {:?}", s.error);
            }
        }
        // Every byte of the first few events, then random offsets.
        let first = bounds.get(4).copied().unwrap_or(data.len()).min(data.len());
        for cut in (0..first).chain((0..64).map(|_| rng.below(data.len()))) {
            if bounds.contains(&cut) {
                continue;
            }
            let s = summarize(&data[..cut], parser());
            assert!(s.error.is_some(), "{name} cut inside an event at {cut} parsed without error");
        }
    }
}

/// Recomputes the CRC32 footer of every event in `data` (v4 files with checksums only), so that
/// mutated bodies get past the checksum check.
fn fix_checksums(data: &mut [u8], bounds: &[usize]) {
    for w in bounds.windows(2) {
        let (start, end) = (w[0], w[1]);
        if end > data.len() || end < start + 23 {
            continue;
        }
        let crc = crc32fast::hash(&data[start..end - 4]);
        data[end - 4..end].copy_from_slice(&crc.to_le_bytes());
    }
}

fn has_crc32(path: &Path) -> bool {
    let mut r = FileReader::open(path).unwrap();
    let _ = r.next_event();
    r.parser().checksum() == otter_binlog::ChecksumAlg::Crc32
}

#[test]
fn random_byte_flips_never_panic() {
    let mut rng = Rng(0x5eed_0002);
    for (name, data) in corpus() {
        let crc = has_crc32(&Path::new(CORPUS).join(&name));
        let bounds = boundaries(&data);
        for round in 0..200 {
            let mut m = data.clone();
            let flips = 1 + rng.below(4);
            for _ in 0..flips {
                let at = 4 + rng.below(m.len().saturating_sub(4));
                if at < m.len() {
                    m[at] ^= 1 << rng.below(8);
                }
            }
            if crc && round % 2 == 0 {
                fix_checksums(&mut m, &bounds);
            }
            // Only the absence of panics and hangs is asserted: any result is acceptable.
            let _ = summarize(&m[..], parser());
        }
    }
}

#[test]
fn replicated_stream_style_parsing_never_panics() {
    // The network path: frames handed to `Parser::parse` one buffer at a time.
    let mut rng = Rng(0x5eed_0003);
    for (_, data) in corpus() {
        for _ in 0..50 {
            let mut m = data[4..].to_vec();
            if !m.is_empty() {
                let at = rng.below(m.len());
                m[at] = rng.next() as u8;
            }
            let mut p = parser();
            let mut buf = &m[..];
            while let Ok(otter_binlog::Status::Complete((_, used))) = p.parse(buf) {
                buf = &buf[used..];
            }
        }
    }
}
