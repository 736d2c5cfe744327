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
//! - [`Trainer::save`] and [`Trainer::load`] write and read checkpoints in
//!   the safetensors format that PyTorch loads (layout in
//!   [`Trainer::to_safetensors`]'s module docs: `layers.{i}.weight`,
//!   `layers.{i}.bias`, ...), atomically, checked on reading.
//! - [`Dataset`] loads classification data in the IDX format of MNIST
//!   (gzip-compressed or raw).
//!
//! ```no_run
//! use microprop::train::Dataset;
//! let (train, test) = Dataset::mnist("data/mnist")?;
//! assert_eq!((train.len(), test.len(), train.features()), (60_000, 10_000, 784));
//! # Ok::<(), microprop::train::DataError>(())
//! ```

mod dataset;
mod error;
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
