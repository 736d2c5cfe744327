//! What a training run measured, epoch by epoch.

use std::string::{String, ToString};
use std::vec::Vec;

/// The measurements of one epoch.
///
/// The training loss and accuracy are those of the epoch's training
/// batches as they were trained (in training mode, with dropout, before
/// each batch's step), weighted by batch size; the development figures
/// come from an evaluation pass (no dropout) after the epoch. Without a
/// development set they are NaN.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// The epoch, counting from 1.
    pub epoch: u64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Fraction of training samples classified correctly.
    pub train_accuracy: f64,
    /// Mean loss on the development set.
    pub dev_loss: f64,
    /// Fraction of the development set classified correctly.
    pub dev_accuracy: f64,
    /// The weights' learning rate at the epoch's last step.
    pub lr: f64,
    /// Per layer, first first: the L2 norm of the layer's gradient
    /// (weights and biases), averaged over the epoch's steps, before
    /// clipping.
    pub grad_l2: Vec<f64>,
    /// Per layer: `grad_l2` divided by the square root of the layer's
    /// parameter count, the root mean square per parameter, so layers of
    /// different sizes compare.
    pub grad_rms: Vec<f64>,
    /// Per layer: the fraction of units whose pre-activation was never
    /// positive on any training sample of the epoch (dead ReLU units); NaN
    /// for layers whose activation is not ReLU.
    pub dead: Vec<f64>,
    /// Wall-clock seconds of the epoch: training and evaluation.
    pub seconds: f64,
}

/// The epochs of a run, first first, and how it ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One entry per completed epoch.
    pub epochs: Vec<Epoch>,
    /// With early stopping: the epoch with the lowest development loss,
    /// whose weights the trainer holds at the end.
    pub best_epoch: Option<u64>,
    /// Whether early stopping ended the run before its last epoch.
    pub stopped_early: bool,
}

/// The columns of [`History::to_csv`] before the per-layer ones.
const SCALARS: [&str; 7] = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "dev_loss",
    "dev_accuracy",
    "lr",
    "seconds",
];

impl Epoch {
    /// The scalar fields in the order of [`SCALARS`], then the per-layer
    /// ones: every L2 norm, every RMS, every dead fraction.
    pub(crate) fn row(&self) -> impl Iterator<Item = f64> + '_ {
        [
            self.epoch as f64,
            self.train_loss,
            self.train_accuracy,
            self.dev_loss,
            self.dev_accuracy,
            self.lr,
            self.seconds,
        ]
        .into_iter()
        .chain(self.grad_l2.iter().copied())
        .chain(self.grad_rms.iter().copied())
        .chain(self.dead.iter().copied())
    }

    /// The inverse of [`Epoch::row`] for a network of `layers` layers;
    /// `None` unless `row` has the length `row` gives.
    pub(crate) fn from_row(row: &[f64], layers: usize) -> Option<Self> {
        if row.len() != Self::columns(layers) {
            return None;
        }
        let (s, per) = row.split_at(SCALARS.len());
        let (l2, rest) = per.split_at(layers);
        let (rms, dead) = rest.split_at(layers);
        Some(Epoch {
            epoch: s[0] as u64,
            train_loss: s[1],
            train_accuracy: s[2],
            dev_loss: s[3],
            dev_accuracy: s[4],
            lr: s[5],
            seconds: s[6],
            grad_l2: l2.to_vec(),
            grad_rms: rms.to_vec(),
            dead: dead.to_vec(),
        })
    }

    /// The length of [`Epoch::row`] for `layers` layers.
    pub(crate) fn columns(layers: usize) -> usize {
        SCALARS.len() + 3 * layers
    }
}

impl History {
    /// The last epoch, if any.
    pub fn last(&self) -> Option<&Epoch> {
        self.epochs.last()
    }

    /// The history as CSV: a header line, then one line per epoch with the
    /// columns `epoch, train_loss, train_accuracy, dev_loss, dev_accuracy,
    /// lr, seconds`, then `grad_l2_{i}`, `grad_rms_{i}` and `dead_{i}` for
    /// each layer `i` from 0.
    pub fn to_csv(&self) -> String {
        let layers = self.last().map_or(0, |e| e.grad_l2.len());
        let mut header: Vec<String> = SCALARS.iter().map(|s| String::from(*s)).collect();
        for name in ["grad_l2", "grad_rms", "dead"] {
            header.extend((0..layers).map(|i| std::format!("{name}_{i}")));
        }
        let mut out = header.join(",");
        out.push('\n');
        for e in &self.epochs {
            let row: Vec<String> = e.row().map(|v| v.to_string()).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }
}
