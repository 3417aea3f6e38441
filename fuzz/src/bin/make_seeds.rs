//! Builds the seed corpora of the fuzz targets from real binlogs.
//!
//! `make-seeds OUT_DIR PATH...` (files, or directories searched for files that start with the
//! binlog magic, up to 1 MiB each) writes `OUT_DIR/parse_file/*` (whole files),
//! `OUT_DIR/parse_stream/*` (files without the magic, checksum flag first) and
//! `OUT_DIR/decode_rows/*` (each rows event with its table map, in `decode_rows` input format).
use std::path::Path;

use otter_binlog::{EventData, FileReader};
use otter_fuzz::ROWS_TYPES;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, files) = args.split_first().expect("usage: make-seeds OUT_DIR FILE...");
    let out = Path::new(out);
    for d in ["parse_file", "parse_stream", "decode_rows"] {
        std::fs::create_dir_all(out.join(d)).unwrap();
    }
    let mut n = 0;
    let mut paths = Vec::new();
    for f in files {
        collect(Path::new(f), &mut paths);
    }
    for (i, file) in paths.iter().enumerate() {
        let data = std::fs::read(file).unwrap();
        std::fs::write(out.join("parse_file").join(format!("f{i}")), &data).unwrap();
        let mut stream = vec![1u8];
        stream.extend_from_slice(data.get(4..).unwrap_or(&[]));
        std::fs::write(out.join("parse_stream").join(format!("f{i}")), &stream).unwrap();
        let Ok(mut reader) = FileReader::new(&data[..]) else { continue };
        let mut table_maps = std::collections::HashMap::new();
        while let Ok(Some(f)) = reader.next_event() {
            if f.in_payload {
                continue;
            }
            let start = f.offset as usize + 19;
            let end = f.offset as usize + f.event.header.event_len as usize;
            let crc = if f.parser.checksum() == otter_binlog::ChecksumAlg::Crc32 { 4 } else { 0 };
            let Some(body) = data.get(start..end - crc) else { continue };
            match &f.event.data {
                EventData::TableMap(tm) => {
                    table_maps.insert(tm.table_id, body.to_vec());
                }
                EventData::Rows(r) => {
                    if let Some(tm) = table_maps.get(&r.table_id) {
                        let sel = ROWS_TYPES.iter().position(|&t| t == f.event.header.type_code).unwrap_or(0) as u8;
                        let mut seed = vec![sel];
                        seed.extend_from_slice(&(tm.len() as u16).to_le_bytes());
                        seed.extend_from_slice(tm);
                        seed.extend_from_slice(body);
                        std::fs::write(out.join("decode_rows").join(format!("r{n}")), seed).unwrap();
                        n += 1;
                    }
                }
                _ => {}
            }
        }
    }
    eprintln!("seeds: {} files, {n} rows events", paths.len());
}

/// Adds `p` if it is a file, or every binlog file below it if it is a directory.
fn collect(p: &Path, out: &mut Vec<std::path::PathBuf>) {
    if p.is_dir() {
        let Ok(entries) = std::fs::read_dir(p) else { return };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                collect(&path, out);
            } else if is_binlog(&path) {
                out.push(path);
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
}

fn is_binlog(p: &Path) -> bool {
    use std::io::Read;
    let small = std::fs::metadata(p).map(|m| m.len() > 13 && m.len() <= 1 << 20).unwrap_or(false);
    let mut head = [0u8; 4];
    small && std::fs::File::open(p).and_then(|mut f| f.read_exact(&mut head)).is_ok() && head == otter_binlog::MAGIC
}
