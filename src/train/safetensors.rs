//! Checkpoints in the safetensors format, written atomically and read
//! with every name, shape, type and the checksum checked. The format is
//! documented in the [module docs](super#checkpoints).

use super::file::write_atomic;
use super::trainer::state_lens;
use super::{DataError, Epoch, TrainError, Trainer};
use crate::nn::Mlp;
use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

/// The `format` metadata of this version.
const FORMAT: &str = "microprop.trainer.v1";

/// The largest header accepted, far more than a checkpoint's.
const MAX_HEADER: u64 = 1 << 24;

/// A format error about `what`.
fn invalid(what: &Path, reason: impl Into<String>) -> TrainError {
    DataError::Format {
        what: what.display().to_string(),
        reason: reason.into(),
    }
    .into()
}

/// Little-endian bytes of the floats.
fn bytes<T: Copy, const N: usize>(values: &[T], to_le: fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to_le(v)).collect()
}

/// One tensor of a checkpoint: name, dtype, shape, little-endian data.
type Tensor = (String, Dtype, Vec<usize>, Vec<u8>);

impl Trainer<'_> {
    /// The metadata of a checkpoint, as (key, value) pairs.
    fn metadata(&self) -> Vec<(&'static str, String)> {
        let c = &self.config;
        let layers: Vec<String> = c
            .layers
            .iter()
            .map(|l| std::format!("{}:{:?}:{}", l.units, l.activation, l.dropout))
            .collect();
        let mut m = std::vec![
            ("format", FORMAT.to_string()),
            ("epoch", self.epoch.to_string()),
            ("step", self.step.to_string()),
            ("seed", c.seed.to_string()),
            ("inputs", c.inputs.to_string()),
            ("layers", layers.join(",")),
            ("input_dropout", c.input_dropout.to_string()),
            ("loss", std::format!("{:?}", c.loss)),
            ("weights.optimizer", std::format!("{:?}", c.weights)),
            ("biases.optimizer", std::format!("{:?}", c.biases)),
            ("schedule", std::format!("{:?}", c.schedule)),
        ];
        if c.early_stopping.is_some() {
            let best = self.history.best_epoch.map_or(0, |e| e);
            m.push(("best_epoch", best.to_string()));
            m.push(("stopped_early", self.history.stopped_early.to_string()));
        }
        m
    }

    /// The tensors of a checkpoint.
    fn tensors(&self) -> Result<Vec<Tensor>, TrainError> {
        let net = self.net()?;
        let f32s = |v: &[f32]| bytes(v, f32::to_le_bytes);
        let mut out = Vec::new();
        for l in 0..net.layers().len() {
            let (w, b) = net.layer(&self.params, l)?;
            let units = b.len();
            let name = |part| std::format!("layers.{l}.{part}");
            out.push((
                name("weight"),
                Dtype::F32,
                std::vec![units, w.len() / units],
                f32s(w),
            ));
            out.push((name("bias"), Dtype::F32, std::vec![units], f32s(b)));
        }
        let (sw, sb) = self.split_state()?;
        out.push((
            "optimizer.weights".into(),
            Dtype::F32,
            std::vec![sw],
            f32s(&self.state[..sw]),
        ));
        out.push((
            "optimizer.biases".into(),
            Dtype::F32,
            std::vec![sb],
            f32s(&self.state[sw..]),
        ));
        let columns = Epoch::columns(net.layers().len());
        let rows: Vec<f64> = self.history.epochs.iter().flat_map(Epoch::row).collect();
        out.push((
            "history".into(),
            Dtype::F64,
            std::vec![self.history.epochs.len(), columns],
            bytes(&rows, f64::to_le_bytes),
        ));
        if !self.best.is_empty() {
            out.push((
                "best".into(),
                Dtype::F32,
                std::vec![self.best.len()],
                f32s(&self.best),
            ));
        }
        Ok(out)
    }

    /// The lengths of the weights' and the biases' optimizer state.
    fn split_state(&self) -> crate::Result<(usize, usize)> {
        let [sa, sb, sbias] = state_lens(&self.net()?, &*self.config.weights, &*self.config.biases);
        Ok((sa + sb, sbias))
    }

    /// The checkpoint as the bytes of a safetensors file.
    ///
    /// # Errors
    ///
    /// [`TrainError::Data`] if the safetensors encoder fails (it does not
    /// for the tensors a trainer holds).
    pub fn to_safetensors(&self) -> Result<Vec<u8>, TrainError> {
        let tensors = self.tensors()?;
        let views = tensors.iter().map(|(name, dtype, shape, data)| {
            let view = TensorView::new(*dtype, shape.clone(), data).map_err(|e| e.to_string())?;
            Ok((name.as_str(), view))
        });
        let views: Result<Vec<_>, String> = views.collect();
        let mut metadata = self.metadata();
        let crc = checksum(
            metadata.iter().map(|(k, v)| (*k, v.as_str())),
            tensors
                .iter()
                .map(|(n, d, s, data)| (n.as_str(), *d, &s[..], &data[..])),
        );
        metadata.push(("crc32", std::format!("{crc:08x}")));
        let metadata = metadata
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        views
            .and_then(|v| ::safetensors::serialize(v, Some(metadata)).map_err(|e| e.to_string()))
            .map_err(|reason| invalid(Path::new("checkpoint"), reason))
    }

    /// Saves the run (parameters, optimizer state, position, history) to
    /// `path` atomically: into a new temporary file in the same directory,
    /// flushed to disk, then renamed over `path`. A crash or a full disk
    /// leaves the previous file at `path` as it was.
    ///
    /// # Errors
    ///
    /// [`TrainError::Data`] naming the file that could not be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), TrainError> {
        write_atomic(path.as_ref(), &self.to_safetensors()?)?;
        Ok(())
    }

    /// Loads a checkpoint written by [`Trainer::save`] for the same network
    /// and optimizers, to resume: the next [`Trainer::fit`] continues after
    /// its epoch exactly as the saved run would have.
    ///
    /// Reads at most as many bytes as a checkpoint of this network can
    /// have, so a huge file is rejected before it is read.
    ///
    /// # Errors
    ///
    /// [`TrainError::Data`] if the file cannot be read, is not a
    /// safetensors file, is not a microprop checkpoint, or is one of
    /// another network or optimizer, saying which name, shape, type or
    /// field differs. The trainer is unchanged then.
    pub fn load(&mut self, path: impl AsRef<Path>) -> Result<(), TrainError> {
        let path = path.as_ref();
        let data: u64 = self.tensors()?.iter().map(|t| t.3.len() as u64).sum();
        // The history may have grown up to the configured epochs.
        let columns = Epoch::columns(self.config.layers.len()) as u64;
        let history = (8 * columns).saturating_mul(self.config.epochs.max(self.epoch));
        let max = (8 + MAX_HEADER + data).saturating_add(history);
        self.restore(path, &read_bounded(path, max)?)
    }

    /// [`Trainer::load`] from the bytes of a file, as
    /// [`Trainer::to_safetensors`] gives them.
    ///
    /// # Errors
    ///
    /// As [`Trainer::load`].
    pub fn load_safetensors(&mut self, bytes: &[u8]) -> Result<(), TrainError> {
        self.restore(Path::new("checkpoint"), bytes)
    }

    /// Checks the checkpoint `bytes` read from `path` against this
    /// trainer, and only then restores it.
    fn restore(&mut self, path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
        let expected = self.tensors()?;
        let columns = Epoch::columns(self.config.layers.len()) as u64;
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| invalid(path, std::format!("not a valid safetensors file: {e}")))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| invalid(path, std::format!("not a valid safetensors file: {e}")))?;
        let meta = |key: &str| header.metadata().as_ref().and_then(|m| m.get(key)).cloned();
        if meta("format").as_deref() != Some(FORMAT) {
            return Err(invalid(
                path,
                std::format!(
                    "not a microprop checkpoint: metadata `format` is {:?}, expected {FORMAT:?}",
                    meta("format")
                ),
            ));
        }
        let stored = header.metadata().iter().flatten();
        let views: Vec<_> = st.iter().collect();
        let crc = checksum(
            stored
                .filter(|(k, _)| *k != "crc32")
                .map(|(k, v)| (k.as_str(), v.as_str())),
            views
                .iter()
                .map(|(n, t)| (*n, t.dtype(), t.shape(), t.data())),
        );
        if meta("crc32") != Some(std::format!("{crc:08x}")) {
            return Err(invalid(
                path,
                std::format!(
                    "checksum {:?} does not match the contents ({crc:08x}): the file is corrupt",
                    meta("crc32")
                ),
            ));
        }
        // The network and the optimizers' kinds must match; their
        // hyperparameters may differ (resuming with another rate is fine).
        let ours = self.metadata();
        let ours = |key: &str| ours.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
        let kind =
            |v: Option<String>| v.map(|s| s.split([' ', '{']).next().unwrap_or("").to_string());
        for key in ["inputs", "layers", "loss"] {
            if meta(key) != ours(key) {
                return Err(invalid(
                    path,
                    std::format!(
                        "a checkpoint of another network: `{key}` is {:?}, this trainer's is {:?}",
                        meta(key),
                        ours(key)
                    ),
                ));
            }
        }
        for key in ["weights.optimizer", "biases.optimizer"] {
            if kind(meta(key)) != kind(ours(key)) {
                return Err(invalid(
                    path,
                    std::format!(
                        "`{key}` is {:?}, this trainer's is {:?}: the optimizer state would not fit",
                        meta(key),
                        ours(key)
                    ),
                ));
            }
        }
        let number = |key: &str| -> Result<u64, TrainError> {
            meta(key).and_then(|v| v.parse().ok()).ok_or_else(|| {
                invalid(
                    path,
                    std::format!("metadata `{key}` missing or not a number"),
                )
            })
        };
        let (epoch, step) = (number("epoch")?, number("step")?);
        let mut names: Vec<&str> = st.names();
        names.sort_unstable();
        let mut wanted: Vec<&str> = expected.iter().map(|t| t.0.as_str()).collect();
        wanted.retain(|&n| n != "history");
        for name in &names {
            if *name != "history" && !wanted.contains(name) {
                return Err(invalid(path, std::format!("unexpected tensor `{name}`")));
            }
        }
        let mut loaded: Vec<Vec<u8>> = Vec::new();
        for (name, dtype, shape, _) in expected.iter().filter(|t| t.0 != "history") {
            let t = st
                .tensor(name)
                .map_err(|_| invalid(path, std::format!("tensor `{name}` missing")))?;
            if t.dtype() != *dtype || t.shape() != &shape[..] {
                return Err(invalid(
                    path,
                    std::format!(
                        "tensor `{name}` is {:?} {:?}, expected {dtype:?} {shape:?}",
                        t.dtype(),
                        t.shape()
                    ),
                ));
            }
            loaded.push(t.data().to_vec());
        }
        let h = st
            .tensor("history")
            .map_err(|_| invalid(path, "tensor `history` missing"))?;
        if h.dtype() != Dtype::F64 || h.shape().len() != 2 || h.shape()[1] as u64 != columns {
            return Err(invalid(
                path,
                std::format!(
                    "tensor `history` is {:?} {:?}, expected F64 [epochs, {columns}]",
                    h.dtype(),
                    h.shape()
                ),
            ));
        }
        let rows: Vec<f64> = h
            .data()
            .as_chunks::<8>()
            .0
            .iter()
            .map(|b| f64::from_le_bytes(*b))
            .collect();
        let layers = self.config.layers.len();
        let epochs: Vec<Epoch> = rows
            .chunks_exact(columns as usize)
            .filter_map(|r| Epoch::from_row(r, layers))
            .collect();
        if epochs.len() as u64 != epoch {
            return Err(invalid(
                path,
                std::format!(
                    "`history` has {} epochs, metadata `epoch` is {epoch}",
                    epochs.len()
                ),
            ));
        }
        let best_epoch = match number("best_epoch") {
            Ok(0) | Err(_) => None,
            Ok(b) if b <= epoch => Some(b),
            Ok(b) => {
                return Err(invalid(
                    path,
                    std::format!("`best_epoch` {b} is after epoch {epoch}"),
                ));
            }
        };
        // Everything checked: only now is the trainer changed.
        let floats = |b: &[u8]| -> Vec<f32> {
            b.as_chunks::<4>()
                .0
                .iter()
                .map(|b| f32::from_le_bytes(*b))
                .collect()
        };
        let net = self.net()?;
        let mut params = std::vec![0.0; net.param_len()];
        let mut state = Vec::with_capacity(self.state.len());
        for (l, pair) in loaded.chunks(2).take(layers).enumerate() {
            let (w, b) = Mlp::layer_mut(&net, &mut params, l)?;
            w.copy_from_slice(&floats(&pair[0]));
            b.copy_from_slice(&floats(&pair[1]));
        }
        state.extend(floats(&loaded[2 * layers]));
        state.extend(floats(&loaded[2 * layers + 1]));
        if let Some(best) = loaded.get(2 * layers + 2) {
            self.best = floats(best);
        }
        self.params = params;
        self.state = state;
        self.epoch = epoch;
        self.step = step;
        self.history.epochs = epochs;
        self.history.best_epoch = best_epoch;
        self.history.stopped_early = meta("stopped_early").as_deref() == Some("true");
        self.replay_plateau()?;
        Ok(())
    }
}

/// CRC-32 of a checkpoint's contents: every metadata entry (but the
/// checksum) in key order, then every tensor's name, dtype, shape and data
/// in name order. A flipped bit anywhere in a file either breaks its
/// structure or changes this.
fn checksum<'a>(
    metadata: impl Iterator<Item = (&'a str, &'a str)>,
    tensors: impl Iterator<Item = (&'a str, Dtype, &'a [usize], &'a [u8])>,
) -> u32 {
    let mut metadata: Vec<_> = metadata.collect();
    metadata.sort_unstable();
    let mut tensors: Vec<_> = tensors.collect();
    tensors.sort_unstable_by_key(|t| t.0);
    let mut crc = Crc(!0);
    for (k, v) in metadata {
        crc.update(k.as_bytes());
        crc.update(&[0]);
        crc.update(v.as_bytes());
        crc.update(&[0]);
    }
    for (name, dtype, shape, data) in tensors {
        crc.update(name.as_bytes());
        crc.update(std::format!("\0{dtype:?}\0").as_bytes());
        for &d in shape {
            crc.update(&(d as u64).to_le_bytes());
        }
        crc.update(data);
    }
    !crc.0
}

/// A CRC-32 being computed: the complement of the value so far.
struct Crc(u32);

impl Crc {
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 >> 8) ^ CRC_TABLE[usize::from((self.0 as u8) ^ b)];
        }
    }
}

/// The CRC-32 (IEEE 802.3, reflected polynomial `0xEDB88320`, the checksum
/// of gzip and PNG) of each byte value, computed at compile time.
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

/// Reads the file at `path` if it is a plausible safetensors file of at
/// most `max` bytes: the size and the 8-byte header length are checked
/// before anything else is read.
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, TrainError> {
    let io = |source| DataError::Io {
        what: path.display().to_string(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > max {
        return Err(invalid(
            path,
            std::format!("{size} bytes, more than the {max} a checkpoint of this network can have"),
        ));
    }
    // The size comes first: a device such as `/dev/zero` reports 0 bytes
    // and would read as an endless file.
    let mut head = [0u8; 8];
    if size < 8 || file.read_exact(&mut head).is_err() {
        return Err(invalid(
            path,
            std::format!("{size} bytes, shorter than the 8-byte header length"),
        ));
    }
    let header = u64::from_le_bytes(head);
    if header > MAX_HEADER || header > size - 8 {
        return Err(invalid(
            path,
            std::format!(
                "header length {header}, but the file has {size} bytes (and at most {MAX_HEADER} \
                 are accepted): not a safetensors file, or truncated"
            ),
        ));
    }
    let mut bytes = head.to_vec();
    file.take(size - 8).read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_crc32() {
        // The check value of CRC-32/ISO-HDLC for the ASCII digits 1 to 9.
        let mut crc = Crc(!0);
        crc.update(b"123456789");
        assert_eq!(!crc.0, 0xCBF4_3926);
    }
}
