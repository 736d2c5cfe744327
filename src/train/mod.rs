//! The `std` layer: data sets, batching and accuracy for training an
//! [`Mlp`](crate::nn::Mlp) on a desktop.
//!
//! This is the only module that allocates. It loads classification data
//! sets in the IDX format of MNIST (gzip-compressed or raw), shuffles and
//! gathers minibatches into caller buffers, counts correct predictions, and
//! saves and restores [`Checkpoint`]s (written atomically, checksummed).
//! The `mnist` example puts it together:
//!
//! ```no_run
//! use microprop::train::Dataset;
//! let (train, test) = Dataset::mnist("data/mnist")?;
//! assert_eq!((train.len(), test.len(), train.features()), (60_000, 10_000, 784));
//! # Ok::<(), microprop::train::DataError>(())
//! ```

mod checkpoint;
mod dataset;
mod file;
mod idx;

pub use checkpoint::Checkpoint;
pub use dataset::{Dataset, accuracy, shuffle};
pub use idx::DataError;
