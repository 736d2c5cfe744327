//! The IDX file format of MNIST, validated, optionally gzip-compressed.
//!
//! An IDX file is a 4-byte magic number (two zero bytes, a type code, and
//! the number of dimensions), one big-endian `u32` per dimension, then the
//! elements in row-major order. Only unsigned bytes (type `0x08`) occur in
//! MNIST and only they are accepted.

use super::file::{io_error, read_bounded, read_prefix};
use std::fmt;
use std::io::{BufRead, Read};
use std::string::String;
use std::vec::Vec;

/// Why a data set or a checkpoint could not be read, or a checkpoint not
/// written.
#[derive(Debug)]
pub enum DataError {
    /// Reading a file, or decompressing it, failed (a truncated or corrupt
    /// gzip stream shows up here).
    Io {
        /// The file or stream at fault.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not a valid IDX file of the expected kind (or the
    /// images and labels do not match), or not an intact checkpoint.
    Format {
        /// The file or stream at fault.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { what, source } => write!(f, "{what}: {source}"),
            DataError::Format { what, reason } => write!(f, "{what}: {reason}"),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            DataError::Format { .. } => None,
        }
    }
}

pub(crate) fn format_error(what: &str, reason: String) -> DataError {
    DataError::Format {
        what: what.into(),
        reason,
    }
}

/// Reads an IDX file of unsigned bytes with `ndim` dimensions from
/// `reader`, gzip-compressed or raw, and returns the dimensions and the
/// elements. The element count must match the dimensions exactly: a short
/// or over-long file is an error.
///
/// The header is read (and inflated) first, then at most the bytes it
/// gives, plus one to see that the file ends there: neither a long file nor
/// a gzip bomb costs more memory than the header justifies.
pub(crate) fn read_u8(
    what: &str,
    mut reader: impl BufRead,
    ndim: usize,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let head = reader.fill_buf().map_err(io_error(what))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        read_raw(what, flate2::bufread::GzDecoder::new(reader), ndim)
    } else {
        read_raw(what, reader, ndim)
    }
}

/// [`read_u8`] of an uncompressed stream.
fn read_raw(
    what: &str,
    mut reader: impl Read,
    ndim: usize,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let header_len = 4 + 4 * ndim;
    let header = read_prefix(what, &mut reader, header_len)?;
    if header.len() < header_len {
        return Err(format_error(
            what,
            std::format!(
                "{} bytes, shorter than the {header_len}-byte header",
                header.len()
            ),
        ));
    }
    let magic = [0, 0, 0x08, ndim as u8];
    if header[..4] != magic {
        return Err(format_error(
            what,
            std::format!("magic {:02x?}, expected {magic:02x?}", &header[..4]),
        ));
    }
    let dims: Vec<usize> = header[4..]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format_error(what, std::format!("dimensions {dims:?} overflow")))?;
    let mut data = Vec::new();
    read_bounded(what, reader, count as u64, &mut data)?;
    if data.len() != count {
        return Err(format_error(
            what,
            std::format!(
                "{} data bytes, but dimensions {dims:?} need {count}",
                data.len()
            ),
        ));
    }
    Ok((dims, data))
}
