//! The `std` layer: a trainer for an [`Mlp`](crate::nn::Mlp), data sets,
//! checkpoints and monitoring.
//!
//! This is the only module that allocates.
//!
//! - [`Trainer`] fits a network as a [`Config`] says (layers, dropout,
//!   optimizers, schedule, clipping, early stopping, loss, threads) in
//!   buffers allocated once, and returns a [`History`] of per-epoch
//!   figures.
//! - [`Observer`]s see the run step by step and epoch by epoch; the trainer
//!   prints nothing. [`CsvLog`] writes `metrics.csv`.
//! - [`Rules`] turn a history into [`Warning`]s: a diverging loss,
//!   overfitting, vanishing gradients, dead units.
//! - [`Trainer::save`] and [`Trainer::load`] write and read
//!   [checkpoints](#checkpoints) in the safetensors format, which PyTorch
//!   loads, atomically, checked on reading.
//! - [`Dataset`] loads classification data in the IDX format of MNIST
//!   (gzip-compressed or raw).
//!
//! The progress bar and the plot of the `mnist` example are observers
//! written there with `indicatif` and `plotters` (a few dozen lines each),
//! so that the library does not make every user compile them.
//!
//! # Checkpoints
//!
//! | tensor | dtype | shape | contents |
//! |---|---|---|---|
//! | `layers.{i}.weight` | F32 | `[out, in]` | layer `i`'s weights, as `torch.nn.Linear.weight` |
//! | `layers.{i}.bias` | F32 | `[out]` | layer `i`'s biases |
//! | `optimizer.weights` | F32 | `[n]` | the weights' optimizer state, as [`Trainer::state`] lays it out (the first half of all weights, then the rest) |
//! | `optimizer.biases` | F32 | `[n]` | the biases' optimizer state |
//! | `history` | F64 | `[epochs, columns]` | the [`History`], one row per epoch, columns as in [`History::to_csv`] |
//! | `best` | F32 | `[parameters]` | with early stopping: the best epoch's parameters in [`Mlp`](crate::nn::Mlp) layout |
//!
//! The metadata (strings, as safetensors requires) holds `format`
//! (`microprop.trainer.v1`), `epoch`, `step`, `seed`, `inputs`, `layers`
//! (`units:activation:dropout` per layer, comma-separated),
//! `input_dropout`, `loss`, `weights.optimizer` and `biases.optimizer`
//! (the optimizers with their hyperparameters, as Rust prints them),
//! `schedule`, with early stopping `best_epoch` and `stopped_early`, and
//! `crc32`: a CRC-32 of all the rest (metadata by key, then each tensor's
//! name, dtype, shape and data by name). Safetensors has no checksum of its
//! own, and a flipped bit in a float would otherwise load as a model.
//!
//! ```no_run
//! use microprop::train::Dataset;
//! let (train, test) = Dataset::mnist("data/mnist")?;
//! assert_eq!((train.len(), test.len(), train.features()), (60_000, 10_000, 784));
//! # Ok::<(), microprop::train::DataError>(())
//! ```

mod dataset;
mod error;
mod file;
mod history;
mod idx;
mod monitor;
mod observe;
mod safetensors;
mod trainer;

pub use dataset::{Dataset, accuracy, shuffle};
pub use error::TrainError;
pub use history::{Epoch, History};
pub use idx::DataError;
pub use monitor::{Rules, Warning};
pub use observe::{CsvLog, Observer, Step};
pub use trainer::{
    Clip, Config, EarlyStopping, Evaluation, Loss, LrSchedule, TrainOptimizer, Trainer,
};
