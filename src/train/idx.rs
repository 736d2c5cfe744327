//! The IDX file format of MNIST, validated, optionally gzip-compressed.
//!
//! An IDX file is a 4-byte magic number (two zero bytes, a type code, and
//! the number of dimensions), one big-endian `u32` per dimension, then the
//! elements in row-major order. Only unsigned bytes (type `0x08`) occur in
//! MNIST and only they are accepted.

use std::fmt;
use std::io::Read;
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

/// Decompresses `bytes` if they start with the gzip magic, else returns
/// them as they are. A truncated stream or a bad checksum is an error.
pub(crate) fn maybe_gunzip(what: &str, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|source| DataError::Io {
            what: what.into(),
            source,
        })?;
    Ok(out)
}

/// Parses an IDX file of unsigned bytes with `ndim` dimensions and returns
/// the dimensions and the elements. The element count must match the
/// dimensions exactly: a short or over-long file is an error.
pub(crate) fn parse_u8<'a>(
    what: &str,
    bytes: &'a [u8],
    ndim: usize,
) -> Result<(Vec<usize>, &'a [u8]), DataError> {
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(format_error(
            what,
            std::format!(
                "{} bytes, shorter than the {header}-byte header",
                bytes.len()
            ),
        ));
    }
    let magic = [0, 0, 0x08, ndim as u8];
    if bytes[..4] != magic {
        return Err(format_error(
            what,
            std::format!("magic {:02x?}, expected {magic:02x?}", &bytes[..4]),
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format_error(what, std::format!("dimensions {dims:?} overflow")))?;
    let data = &bytes[header..];
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
