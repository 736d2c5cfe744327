//! Reading and writing whole files safely: reads bounded by what a header
//! justifies, and atomic replacement. Every loader and saver of the `std`
//! layer goes through these.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::string::ToString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::vec::Vec;

use super::idx::{DataError, format_error};

/// An [`DataError::Io`] naming `what`.
pub(crate) fn io_error(what: &str) -> impl FnOnce(io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        what: what.into(),
        source,
    }
}

/// Reads the first `len` bytes of `reader`, or fewer if it ends first: a
/// header, which says how much more to read.
pub(crate) fn read_prefix(what: &str, reader: impl Read, len: usize) -> Result<Vec<u8>, DataError> {
    let mut header = Vec::with_capacity(len);
    reader
        .take(len as u64)
        .read_to_end(&mut header)
        .map_err(io_error(what))?;
    Ok(header)
}

/// Appends the rest of `reader` to `buf`, failing if it holds more than
/// `limit` bytes, the most that the header read before it justifies.
///
/// At most `limit + 1` bytes are read, so an endless file (`/dev/zero`) or a
/// gzip bomb costs no more than its header claims, and `buf` grows only as
/// bytes arrive, so a header that claims more than the file holds costs
/// nothing either: the memory is at most about twice what was read.
pub(crate) fn read_bounded(
    what: &str,
    reader: impl Read,
    limit: u64,
    buf: &mut Vec<u8>,
) -> Result<(), DataError> {
    let start = buf.len();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(buf)
        .map_err(io_error(what))?;
    if (buf.len() - start) as u64 > limit {
        return Err(format_error(
            what,
            std::format!("longer than the {limit} bytes after the header that it gives"),
        ));
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically: writes a new temporary file in
/// the same directory, flushes it to disk, renames it over `path` and makes
/// the rename durable. A crash or a full disk leaves the previous file at
/// `path` intact, and no other file is touched: the temporary file's name,
/// `.<name>.<pid>.<n>.tmp`, is created only if it does not exist yet.
///
/// Fails with [`DataError::Io`] naming the file that could not be created,
/// written, synced or renamed; the temporary file is removed then (if
/// that fails too, the error names it as left behind, and why).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let what = path.display().to_string();
    let (tmp, mut file) = create_temporary(path)?;
    let tmp_what = tmp.display().to_string();
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&tmp_what));
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path).map_err(io_error(&what))) {
        return Err(match fs::remove_file(&tmp) {
            Ok(()) => e,
            Err(left) => io_error(&std::format!("{tmp_what} (left behind after {e})"))(left),
        });
    }
    sync_parent(path).map_err(io_error(&what))
}

/// Creates a new file next to `path` under a name no other file has.
fn create_temporary(path: &Path) -> Result<(PathBuf, File), DataError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let Some(name) = path.file_name() else {
        return Err(format_error(
            &path.display().to_string(),
            "not a file name".into(),
        ));
    };
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(std::format!(".{}.{n}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            // A leftover of an earlier process with the same id.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(&tmp.display().to_string())(e)),
        }
    }
}

/// Makes the rename in `path`'s directory durable (Unix; elsewhere the
/// rename is all there is).
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
