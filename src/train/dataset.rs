//! An in-memory classification data set, minibatches and accuracy.

use super::file::io_error;
use super::idx::{DataError, format_error, read_u8};
use crate::error::{Error, Result, check_capacity, check_len};
use rand_core::Rng;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::string::ToString;
use std::vec::Vec;

/// Samples with `features` `f32` inputs each and a class label in
/// `0..classes`, held in memory.
#[derive(Clone, Debug)]
pub struct Dataset {
    features: usize,
    classes: usize,
    inputs: Vec<f32>,
    labels: Vec<u32>,
}

impl Dataset {
    /// Wraps `inputs` (`labels.len()` rows of `features`, row-major) and
    /// their labels.
    ///
    /// Fails if `features` is 0, the lengths disagree or a label is not
    /// below `classes`.
    pub fn new(
        inputs: Vec<f32>,
        labels: Vec<u32>,
        features: usize,
        classes: usize,
    ) -> Result<Self> {
        if features == 0 {
            return Err(Error::InvalidParameter {
                arg: "features",
                value: 0.0,
                expected: "at least 1",
            });
        }
        let needed = labels
            .len()
            .checked_mul(features)
            .ok_or(Error::SizeOverflow { arg: "inputs" })?;
        check_len("inputs", inputs.len(), needed)?;
        check_labels(&labels, classes)?;
        Ok(Self {
            features,
            classes,
            inputs,
            labels,
        })
    }

    /// Reads an IDX image file (3 dimensions: count, rows, columns) and an
    /// IDX label file (1 dimension) from memory, gzip-compressed or raw.
    /// Pixels are scaled from `0..=255` to `[0, 1]`.
    ///
    /// Fails on a truncated or corrupt gzip stream, a wrong magic number, a
    /// length that does not match the dimensions, images of no pixels,
    /// different image and label counts, or a label not below `classes`.
    /// A gzip stream is inflated only as far as its header justifies.
    pub fn from_idx(
        images: &[u8],
        labels: &[u8],
        classes: usize,
    ) -> core::result::Result<Self, DataError> {
        Self::read_idx(("images", images), ("labels", labels), classes)
    }

    /// Loads an image and a label file in IDX format (see
    /// [`Dataset::from_idx`]); errors name the file.
    ///
    /// Each file is read through its header first, then only as far as the
    /// header justifies: the peak memory is about 1.5 times that of the
    /// data set it makes, whatever the files hold.
    pub fn load_idx(
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        classes: usize,
    ) -> core::result::Result<Self, DataError> {
        let open = |path: &Path| {
            let what = path.display().to_string();
            let file = File::open(path).map_err(io_error(&what))?;
            Ok::<_, DataError>((what, BufReader::new(file)))
        };
        let (images, labels) = (open(images.as_ref())?, open(labels.as_ref())?);
        Self::read_idx((&images.0, images.1), (&labels.0, labels.1), classes)
    }

    /// [`Dataset::from_idx`] of two named streams.
    fn read_idx(
        (images_what, images): (&str, impl BufRead),
        (labels_what, labels): (&str, impl BufRead),
        classes: usize,
    ) -> core::result::Result<Self, DataError> {
        let (dims, pixels) = read_u8(images_what, images, 3)?;
        let features = dims[1].checked_mul(dims[2]).ok_or_else(|| {
            format_error(images_what, std::format!("dimensions {dims:?} overflow"))
        })?;
        if features == 0 {
            return Err(format_error(
                images_what,
                std::format!("images of {} x {} pixels", dims[1], dims[2]),
            ));
        }
        let (label_dims, labels) = read_u8(labels_what, labels, 1)?;
        if dims[0] != label_dims[0] {
            return Err(format_error(
                labels_what,
                std::format!("{} labels for {} images", label_dims[0], dims[0]),
            ));
        }
        let inputs = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
        drop(pixels);
        let labels = labels.iter().map(|&y| u32::from(y)).collect();
        // The lengths agree by now: only a label can be wrong.
        Self::new(inputs, labels, features, classes)
            .map_err(|e| format_error(labels_what, std::format!("{e}")))
    }

    /// The MNIST training and test sets from the four `*-ubyte.gz` files
    /// of the original distribution in `dir`.
    pub fn mnist(dir: impl AsRef<Path>) -> core::result::Result<(Self, Self), DataError> {
        let dir = dir.as_ref();
        let train = Self::load_idx(
            dir.join("train-images-idx3-ubyte.gz"),
            dir.join("train-labels-idx1-ubyte.gz"),
            10,
        )?;
        let test = Self::load_idx(
            dir.join("t10k-images-idx3-ubyte.gz"),
            dir.join("t10k-labels-idx1-ubyte.gz"),
            10,
        )?;
        Ok((train, test))
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of inputs per sample.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Number of classes; every label is below it.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// All inputs, row-major `(len, features)`.
    pub fn inputs(&self) -> &[f32] {
        &self.inputs
    }

    /// All labels.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// Splits off the samples from `at` on, keeping the first `at`: a
    /// held-out development set, as `Vec::split_off`.
    ///
    /// ```
    /// use microprop::train::Dataset;
    /// let mut train = Dataset::new(vec![0.0; 20], vec![0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 2, 3)?;
    /// let dev = train.split_off(8)?;
    /// assert_eq!((train.len(), dev.len()), (8, 2));
    /// assert_eq!(dev.labels(), [2, 0]);
    /// # Ok::<(), microprop::Error>(())
    /// ```
    ///
    /// Fails, leaving the set whole, if `at > self.len()`.
    pub fn split_off(&mut self, at: usize) -> Result<Self> {
        check_capacity("dataset", self.len(), at)?;
        Ok(Self {
            features: self.features,
            classes: self.classes,
            inputs: self.inputs.split_off(at * self.features),
            labels: self.labels.split_off(at),
        })
    }

    /// Copies the samples at `indices` into `inputs` (`indices.len()` rows)
    /// and `labels`, for a shuffled minibatch.
    ///
    /// Fails, writing nothing, if the buffers do not have `indices.len()`
    /// rows (or that size overflows `usize`) or an index is out of range.
    pub fn gather(&self, indices: &[usize], inputs: &mut [f32], labels: &mut [u32]) -> Result<()> {
        let len = indices
            .len()
            .checked_mul(self.features)
            .ok_or(Error::SizeOverflow { arg: "inputs" })?;
        check_len("inputs", inputs.len(), len)?;
        check_len("labels", labels.len(), indices.len())?;
        if let Some(position) = indices.iter().position(|&i| i >= self.len()) {
            return Err(Error::IndexOutOfRange {
                arg: "indices",
                position,
                index: indices[position],
                bound: self.len(),
            });
        }
        let rows = inputs
            .chunks_exact_mut(self.features)
            .zip(labels.iter_mut());
        for (&i, (row, label)) in indices.iter().zip(rows) {
            row.copy_from_slice(&self.inputs[i * self.features..][..self.features]);
            *label = self.labels[i];
        }
        Ok(())
    }
}

/// Fails on the first label that is not below `classes`.
fn check_labels(labels: &[u32], classes: usize) -> Result<()> {
    match labels.iter().position(|&y| y as usize >= classes) {
        Some(position) => Err(Error::IndexOutOfRange {
            arg: "labels",
            position,
            index: labels[position] as usize,
            bound: classes,
        }),
        None => Ok(()),
    }
}

/// Shuffles `items` uniformly (Fisher-Yates) with the caller's `rng`.
pub fn shuffle<T, R: Rng + ?Sized>(items: &mut [T], rng: &mut R) {
    for i in (1..items.len()).rev() {
        items.swap(i, below(i + 1, rng));
    }
}

/// A draw in `0..n` by Lemire's multiply-shift, unbiased enough for
/// shuffling batches: from a 32-bit word while `n` is at most `2^32` (the
/// product then fits in 64 bits), from a 64-bit word beyond.
fn below<R: Rng + ?Sized>(n: usize, rng: &mut R) -> usize {
    let n = n as u64;
    if n <= 1 << 32 {
        ((u64::from(rng.next_u32()) * n) >> 32) as usize
    } else {
        ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as usize
    }
}

/// Counts the rows of `logits` (`labels.len()` rows of `classes`) whose
/// largest entry is at the label's position (the first one on ties).
///
/// A row with a NaN logit counts as wrong, whatever its other entries: a
/// diverged model predicts nothing, and the loss reports the NaN.
///
/// Fails if `classes` is 0, `labels.len() * classes` overflows, the lengths
/// disagree or a label is not below `classes`.
pub fn accuracy(logits: &[f32], labels: &[u32], classes: usize) -> Result<usize> {
    if classes == 0 {
        return Err(Error::InvalidParameter {
            arg: "classes",
            value: 0.0,
            expected: "at least 1",
        });
    }
    let len = labels
        .len()
        .checked_mul(classes)
        .ok_or(Error::SizeOverflow { arg: "logits" })?;
    check_len("logits", logits.len(), len)?;
    check_labels(labels, classes)?;
    let correct = logits
        .chunks_exact(classes)
        .zip(labels)
        .filter(|(row, label)| {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |best, (j, &v)| if v > row[best] { j } else { best });
            best == **label as usize && !row.iter().any(|v| v.is_nan())
        })
        .count();
    Ok(correct)
}

#[cfg(test)]
mod tests {
    use super::below;
    use rand_core::SeedableRng;

    #[test]
    fn draws_stay_below_bounds_past_32_bits() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        for n in [1, 2, 3, usize::MAX / 2 + 1, usize::MAX] {
            for _ in 0..64 {
                assert!(below(n, &mut rng) < n);
            }
        }
    }
}
