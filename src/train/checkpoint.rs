//! Checkpoints: the state of a training run in one file, written
//! atomically and read back only if intact.
//!
//! # Format
//!
//! All integers and floats little-endian:
//!
//! | bytes | content |
//! | --- | --- |
//! | 8 | magic `MPROPCK1` (format version 1) |
//! | 8 | `epoch`, `u64` |
//! | 8 | `step`, `u64` |
//! | 8 | number of parameters `p`, `u64` |
//! | 8 | number of optimizer-state floats `s`, `u64` |
//! | 4 `p` | the parameters, `f32` |
//! | 4 `s` | the optimizer state, `f32` |
//! | 4 | CRC-32 (IEEE 802.3) of all the bytes before it, `u32` |
//!
//! A file that is shorter or longer than its header says, or whose checksum
//! does not match, is rejected with an error: a torn write or a flipped bit
//! never loads as a model.

use std::fs::File;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use super::file::{io_error, read_bounded, read_prefix, write_atomic};
use super::idx::{DataError, format_error};
use crate::error::{Result, check_len};

const MAGIC: &[u8; 8] = b"MPROPCK1";
/// Magic and four `u64` fields.
const HEADER: usize = 8 + 4 * 8;
const CRC_LEN: usize = 4;

/// The state of a training run: where it is, the parameters and the
/// optimizer state, enough to resume it.
///
/// ```
/// use microprop::train::Checkpoint;
///
/// let ck = Checkpoint { epoch: 3, step: 1800, params: vec![0.5; 10], state: vec![0.0; 20] };
/// let bytes = ck.to_bytes();
/// assert_eq!(Checkpoint::from_bytes("in memory", &bytes)?, ck);
/// // A torn file is an error, not a model.
/// assert!(Checkpoint::from_bytes("in memory", &bytes[..bytes.len() - 1]).is_err());
/// # Ok::<(), microprop::train::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Epochs completed.
    pub epoch: u64,
    /// Optimizer steps taken (the next step is `step + 1`).
    pub step: u64,
    /// The network's parameters, e.g. `Mlp::param_len` floats.
    pub params: Vec<f32>,
    /// The optimizer state, e.g. `Mlp::state_len` floats.
    pub state: Vec<f32>,
}

impl Checkpoint {
    /// The file's bytes, checksum included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let floats = self.params.len() + self.state.len();
        let mut out = Vec::with_capacity(HEADER + 4 * floats + CRC_LEN);
        out.extend_from_slice(MAGIC);
        for n in [
            self.epoch,
            self.step,
            self.params.len() as u64,
            self.state.len() as u64,
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for x in self.params.iter().chain(&self.state) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        let crc = crc32(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses a checkpoint; `what` names the source in errors.
    ///
    /// # Errors
    ///
    /// [`DataError::Format`] for a wrong magic or version, a length that
    /// does not match the header, or a checksum mismatch.
    pub fn from_bytes(what: &str, bytes: &[u8]) -> core::result::Result<Self, DataError> {
        let fail = |reason: String| format_error(what, reason);
        if bytes.len() < HEADER + CRC_LEN {
            return Err(fail(std::format!(
                "{} bytes, shorter than the {}-byte header and checksum",
                bytes.len(),
                HEADER + CRC_LEN
            )));
        }
        let header = Header::parse(what, bytes)?;
        if header.file_len != bytes.len() as u64 {
            return Err(fail(std::format!(
                "{} bytes, but a header for {} parameters and {} state floats needs {}",
                bytes.len(),
                header.params,
                header.state,
                header.file_len
            )));
        }
        let (body, stored) = bytes.split_at(bytes.len() - CRC_LEN);
        let stored = u32::from_le_bytes(stored.try_into().expect("4 bytes"));
        let computed = crc32(body);
        if stored != computed {
            return Err(fail(std::format!(
                "checksum {stored:08x} does not match the contents ({computed:08x}): \
                 the file is corrupt"
            )));
        }
        let floats = |bytes: &[u8]| -> Vec<f32> {
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect()
        };
        let (params, state) = body[HEADER..].split_at(4 * header.params as usize);
        Ok(Checkpoint {
            epoch: header.epoch,
            step: header.step,
            params: floats(params),
            state: floats(state),
        })
    }

    /// Writes the checkpoint to `path` atomically: into a new temporary
    /// file in the same directory, flushed to disk, then renamed over
    /// `path`. A crash or a full disk leaves the previous file at `path`
    /// intact, and no other file is touched.
    ///
    /// # Errors
    ///
    /// [`DataError::Io`] naming the file that could not be created, written,
    /// synced or renamed; the temporary file is removed.
    pub fn save(&self, path: impl AsRef<Path>) -> core::result::Result<(), DataError> {
        write_atomic(path.as_ref(), &self.to_bytes())
    }

    /// Reads and validates the checkpoint at `path`: its header first, then
    /// no more than the header gives, so a file that goes on (`/dev/zero`)
    /// costs no more memory than a checkpoint of that header.
    ///
    /// # Errors
    ///
    /// [`DataError::Io`] if it cannot be read, else as
    /// [`from_bytes`](Self::from_bytes) (and a file longer than its header
    /// gives is an error as soon as that is clear).
    pub fn load(path: impl AsRef<Path>) -> core::result::Result<Self, DataError> {
        let path = path.as_ref();
        let what = path.display().to_string();
        let mut file = File::open(path).map_err(io_error(&what))?;
        let mut bytes = read_prefix(&what, &mut file, HEADER)?;
        if bytes.len() == HEADER {
            let header = Header::parse(&what, &bytes)?;
            read_bounded(&what, file, header.file_len - HEADER as u64, &mut bytes)?;
        }
        Self::from_bytes(&what, &bytes)
    }

    /// Copies the parameters and optimizer state into the caller's buffers.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`](crate::Error::LengthMismatch) if a buffer's
    /// length differs from the checkpoint's (a checkpoint of another
    /// network or optimizer); nothing is copied then.
    pub fn restore(&self, params: &mut [f32], state: &mut [f32]) -> Result<()> {
        check_len("params", params.len(), self.params.len())?;
        check_len("state", state.len(), self.state.len())?;
        params.copy_from_slice(&self.params);
        state.copy_from_slice(&self.state);
        Ok(())
    }
}

/// The fixed-size start of a checkpoint file.
struct Header {
    epoch: u64,
    step: u64,
    params: u64,
    state: u64,
    /// The length of the whole file that the counts give.
    file_len: u64,
}

impl Header {
    /// Parses the first [`HEADER`] bytes of `bytes`: the magic, the fields,
    /// and the file length they give, which must fit in a `u64`.
    fn parse(what: &str, bytes: &[u8]) -> core::result::Result<Self, DataError> {
        if &bytes[..8] != MAGIC {
            return Err(format_error(
                what,
                std::format!(
                    "magic {:02x?}, expected {MAGIC:02x?} (\"MPROPCK1\")",
                    &bytes[..8]
                ),
            ));
        }
        let field = |i: usize| {
            let at = 8 + 8 * i;
            u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
        };
        let (params, state) = (field(2), field(3));
        let file_len = params
            .checked_add(state)
            .and_then(|n| n.checked_mul(4))
            .and_then(|n| n.checked_add((HEADER + CRC_LEN) as u64))
            .ok_or_else(|| {
                format_error(
                    what,
                    std::format!(
                        "a header for {params} parameters and {state} state floats \
                         needs more than 2^64 bytes"
                    ),
                )
            })?;
        Ok(Self {
            epoch: field(0),
            step: field(1),
            params,
            state,
            file_len,
        })
    }
}

/// CRC-32 of IEEE 802.3 (the checksum of gzip and PNG), reflected
/// polynomial `0xEDB88320`.
fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        (crc >> 8) ^ CRC_TABLE[usize::from((crc as u8) ^ b)]
    })
}

/// The CRC of each byte value, computed at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The check value of CRC-32/ISO-HDLC for the ASCII digits 1 to 9.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
