//! Monitoring rules: what a [`History`] says about a run.

use super::History;
use std::fmt;
use std::vec::Vec;

/// The monitoring rules: what a [`History`] says about the run, as warnings
/// a person can act on.
///
/// Each rule reads only the history, so it can be tested on a history
/// built by hand and run on a saved one. [`Rules::check`] looks at the
/// last epoch; the thresholds are public fields with the defaults below.
///
/// | rule | fires when | usual cause |
/// |---|---|---|
/// | loss exploding | the training loss is above `explode_factor` (2) times the lowest so far | step size far too large |
/// | loss rising | the training loss rose in each of the last `rising_epochs` (2) epochs | step size too large |
/// | overfitting | training accuracy rose in each of the last `overfit_epochs` (3) epochs while development accuracy ended below where it started | too little regularisation; stop earlier |
/// | vanishing gradients | the first layer's RMS gradient is below `vanishing_ratio` (0.01) times the last layer's | saturating activations, bad init |
/// | dead units | more than `dead_fraction` (0.5) of a ReLU layer's units never fired in the epoch | step size too large, negative bias drift |
///
/// A non-finite loss is not a warning: training stops with
/// [`TrainError::NonFinite`](crate::train::TrainError::NonFinite).
///
/// ```
/// use microprop::train::{Epoch, History, Rules, Warning};
/// let epoch = |n: u64, loss: f64| Epoch {
///     epoch: n, train_loss: loss, train_accuracy: 0.9, dev_loss: loss, dev_accuracy: 0.9,
///     lr: 0.1, grad_l2: vec![1.0, 1.0], grad_rms: vec![0.01, 0.02], dead: vec![0.0, f64::NAN],
///     seconds: 1.0,
/// };
/// let history = History { epochs: vec![epoch(1, 0.5), epoch(2, 0.6), epoch(3, 0.7)], ..History::default() };
/// let warnings = Rules::default().check(&history);
/// assert!(matches!(warnings[..], [Warning::LossRising { epoch: 3, .. }]));
/// println!("{}", warnings[0]); // epoch 3: the training loss rose for 2 epochs ...
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    /// Loss above this times the lowest training loss so far: exploding.
    pub explode_factor: f64,
    /// Epochs of rising training loss before a warning.
    pub rising_epochs: usize,
    /// Epochs of rising training accuracy, with development accuracy
    /// lower at the end than at the start, before an overfitting warning.
    pub overfit_epochs: usize,
    /// First layer's RMS gradient below this times the last layer's:
    /// vanishing gradients.
    pub vanishing_ratio: f64,
    /// Fraction of a ReLU layer's units that may be dead before a warning.
    pub dead_fraction: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            explode_factor: 2.0,
            rising_epochs: 2,
            overfit_epochs: 3,
            vanishing_ratio: 0.01,
            dead_fraction: 0.5,
        }
    }
}

/// What a rule found, about the epoch it names.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Warning {
    /// The training loss is far above its lowest value so far.
    LossExploding {
        /// The epoch.
        epoch: u64,
        /// Its training loss.
        loss: f64,
        /// The lowest training loss before it.
        lowest: f64,
    },
    /// The training loss rose epoch after epoch.
    LossRising {
        /// The last epoch.
        epoch: u64,
        /// Epochs it rose for.
        epochs: usize,
        /// The training loss before the rise.
        from: f64,
        /// The training loss now.
        to: f64,
    },
    /// Training accuracy rose while development accuracy fell.
    Overfitting {
        /// The last epoch.
        epoch: u64,
        /// Epochs the pattern lasted.
        epochs: usize,
        /// Development accuracy at the start of those epochs.
        dev_from: f64,
        /// Development accuracy now.
        dev_to: f64,
    },
    /// The first layer learns far more slowly than the last.
    VanishingGradients {
        /// The epoch.
        epoch: u64,
        /// RMS gradient per parameter of the first layer.
        first: f64,
        /// RMS gradient per parameter of the last layer.
        last: f64,
    },
    /// Many units of a ReLU layer never fired.
    DeadUnits {
        /// The epoch.
        epoch: u64,
        /// The layer, from 0.
        layer: usize,
        /// The fraction of its units that never fired.
        fraction: f64,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Warning::LossExploding {
                epoch,
                loss,
                lowest,
            } => write!(
                f,
                "epoch {epoch}: the training loss {loss:.4} is {:.1}x its lowest ({lowest:.4}): \
                 exploding; lower the step size",
                loss / lowest
            ),
            Warning::LossRising {
                epoch,
                epochs,
                from,
                to,
            } => write!(
                f,
                "epoch {epoch}: the training loss rose for {epochs} epochs ({from:.4} to \
                 {to:.4}); the step size is probably too large"
            ),
            Warning::Overfitting {
                epoch,
                epochs,
                dev_from,
                dev_to,
            } => write!(
                f,
                "epoch {epoch}: training accuracy rose for {epochs} epochs while development \
                 accuracy fell ({:.2}% to {:.2}%): overfitting; regularise or stop earlier",
                100.0 * dev_from,
                100.0 * dev_to
            ),
            Warning::VanishingGradients { epoch, first, last } => write!(
                f,
                "epoch {epoch}: the first layer's RMS gradient ({first:.2e}) is {:.0}x below \
                 the last's ({last:.2e}): vanishing gradients",
                last / first
            ),
            Warning::DeadUnits {
                epoch,
                layer,
                fraction,
            } => write!(
                f,
                "epoch {epoch}: {:.0}% of layer {layer}'s ReLU units never fired",
                100.0 * fraction
            ),
        }
    }
}

impl Rules {
    /// The warnings about the last epoch of `history` (none for an empty
    /// history), in the order of the table in the docs of [`Rules`].
    pub fn check(&self, history: &History) -> Vec<Warning> {
        let mut out = Vec::new();
        let epochs = &history.epochs;
        let Some(now) = epochs.last() else {
            return out;
        };
        let epoch = now.epoch;
        let before = &epochs[..epochs.len() - 1];
        let lowest = before
            .iter()
            .map(|e| e.train_loss)
            .fold(f64::INFINITY, f64::min);
        if now.train_loss > self.explode_factor * lowest {
            out.push(Warning::LossExploding {
                epoch,
                loss: now.train_loss,
                lowest,
            });
        }
        // The last `n` transitions between epochs, if there are that many.
        let window = |n: usize| epochs.get(epochs.len().checked_sub(n.checked_add(1)?)?..);
        let rising = self.rising_epochs;
        if let Some(w) = window(rising).filter(|_| rising > 0)
            && w.windows(2).all(|p| p[1].train_loss > p[0].train_loss)
        {
            out.push(Warning::LossRising {
                epoch,
                epochs: rising,
                from: w[0].train_loss,
                to: now.train_loss,
            });
        }
        let overfit = self.overfit_epochs;
        if let Some(w) = window(overfit).filter(|_| overfit > 0) {
            let train_rose = w
                .windows(2)
                .all(|p| p[1].train_accuracy > p[0].train_accuracy);
            if train_rose && now.dev_accuracy < w[0].dev_accuracy {
                out.push(Warning::Overfitting {
                    epoch,
                    epochs: overfit,
                    dev_from: w[0].dev_accuracy,
                    dev_to: now.dev_accuracy,
                });
            }
        }
        if let (Some(&first), Some(&last)) = (now.grad_rms.first(), now.grad_rms.last())
            && now.grad_rms.len() > 1
            && first < self.vanishing_ratio * last
        {
            out.push(Warning::VanishingGradients { epoch, first, last });
        }
        for (layer, &fraction) in now.dead.iter().enumerate() {
            if fraction > self.dead_fraction {
                out.push(Warning::DeadUnits {
                    epoch,
                    layer,
                    fraction,
                });
            }
        }
        out
    }
}
