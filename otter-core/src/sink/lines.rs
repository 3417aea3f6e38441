//! A file of JSON lines, each transaction's line carrying the `position` to resume from after it
//! (what `otter tail --output` writes): where a restart resumes.
//!
//! Invariant: only complete lines count; a torn last line (a write cut by a crash) is removed, so
//! the line written again after the restart is the only copy.

use std::fs::OpenOptions;
use std::io::{self, BufRead};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::position::Position;

/// The position stored in the last complete line of `path` (`None` when there is no file or no
/// line carries one); a torn last line is cut off the file first.
pub fn resume_point(path: &Path) -> Result<Option<Position>> {
    let Ok(file) = OpenOptions::new().read(true).write(true).open(path) else { return Ok(None) };
    let mut reader = io::BufReader::new(&file);
    let mut last: Option<Position> = None;
    let mut good_len = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| Error::new(ErrorKind::State, "cannot read the output file").with_source(e))?;
        if n == 0 {
            break;
        }
        if !line.ends_with('\n') {
            break; // torn write
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            if let Ok(p) = serde_json::from_value::<Position>(v["position"].clone()) {
                last = Some(p);
            }
        }
        good_len += n as u64;
    }
    file.set_len(good_len).map_err(|e| Error::new(ErrorKind::State, "cannot repair the output file").with_source(e))?;
    Ok(last)
}

