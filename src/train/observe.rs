//! Watching a run: the [`Observer`] callbacks and a CSV log.
//!
//! The trainer prints nothing; everything a person or a program sees of a
//! run (a progress bar, per-epoch lines, logs, plots, a decision to stop)
//! goes through an [`Observer`]. Observers combine as tuples: `(&mut a,
//! &mut b)` is an observer that calls `a`, then `b`.
//!
//! The crate ships [`CsvLog`], which needs nothing beyond `std`. A
//! progress bar and plots need terminal and plotting crates; the `mnist`
//! example implements both as observers (with `indicatif` and `plotters`)
//! in a few dozen lines, so the library does not make every user compile
//! them.

use super::file::write_atomic;
use super::{History, TrainError};
use std::ops::ControlFlow;
use std::path::PathBuf;

/// One training step, as [`Observer::on_step`] sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// The epoch, counting from 1.
    pub epoch: u64,
    /// Optimizer steps taken in the whole run, this one included.
    pub step: u64,
    /// Batches of this epoch done, this one included.
    pub batch: usize,
    /// Batches in this epoch.
    pub batches: usize,
    /// The batch's loss (before the step).
    pub loss: f32,
    /// The weights' learning rate of the step.
    pub lr: f64,
}

/// Callbacks through which a run is watched; every method has a default
/// that does nothing.
pub trait Observer {
    /// An epoch of `batches` training batches begins.
    fn on_epoch_start(&mut self, epoch: u64, batches: usize) {
        let _ = (epoch, batches);
    }

    /// A training step is done.
    fn on_step(&mut self, step: &Step) {
        let _ = step;
    }

    /// An epoch is done and evaluated: its figures are `history.last()`.
    /// Returning [`ControlFlow::Break`] ends the run after this epoch (its
    /// checkpoint is written first); an error ends it with that error.
    fn on_epoch(&mut self, history: &History) -> Result<ControlFlow<()>, TrainError> {
        let _ = history;
        Ok(ControlFlow::Continue(()))
    }
}

/// Observes nothing.
impl Observer for () {}

impl<T: Observer + ?Sized> Observer for &mut T {
    fn on_epoch_start(&mut self, epoch: u64, batches: usize) {
        (**self).on_epoch_start(epoch, batches);
    }
    fn on_step(&mut self, step: &Step) {
        (**self).on_step(step);
    }
    fn on_epoch(&mut self, history: &History) -> Result<ControlFlow<()>, TrainError> {
        (**self).on_epoch(history)
    }
}

/// Both observers, the first first; the run stops if either asks.
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn on_epoch_start(&mut self, epoch: u64, batches: usize) {
        self.0.on_epoch_start(epoch, batches);
        self.1.on_epoch_start(epoch, batches);
    }
    fn on_step(&mut self, step: &Step) {
        self.0.on_step(step);
        self.1.on_step(step);
    }
    fn on_epoch(&mut self, history: &History) -> Result<ControlFlow<()>, TrainError> {
        let a = self.0.on_epoch(history)?;
        let b = self.1.on_epoch(history)?;
        Ok(if a.is_break() { a } else { b })
    }
}

/// Writes the whole [`History::to_csv`] to a file after every epoch, so
/// the file always holds the run so far (a resumed run's history includes
/// the epochs before the checkpoint).
#[derive(Clone, Debug)]
pub struct CsvLog {
    path: PathBuf,
}

impl CsvLog {
    /// A log written to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl Observer for CsvLog {
    fn on_epoch(&mut self, history: &History) -> Result<ControlFlow<()>, TrainError> {
        write_atomic(&self.path, history.to_csv().as_bytes())?;
        Ok(ControlFlow::Continue(()))
    }
}
