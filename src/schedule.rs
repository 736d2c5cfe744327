//! Learning-rate schedules with the closed forms of
//! `torch.optim.lr_scheduler`.
//!
//! # Step index
//!
//! Every schedule takes `t`, the number of scheduler steps taken so far:
//! torch's `last_epoch` after `t` calls of `scheduler.step()`. The first
//! optimizer step uses `t = 0`, so with the optimizers' step count
//! (which starts at 1) pass `t = step - 1`.
//!
//! torch computes most schedules recursively (each lr from the previous
//! one); these closed forms agree with it to about 1e-15 relative (tested
//! against values recorded from torch).
//!
//! ```
//! use microprop::schedule::{self, Schedule, Warmup};
//! // lr for the 11th optimizer step: cosine from 0.1 down to 0.001 over 100.
//! let lr = schedule::cosine(0.1, 0.001, 100, 10)?;
//! assert!(lr < 0.1 && lr > 0.09);
//! // 5 steps of linear warmup from 0.01, then the same cosine.
//! let w = Warmup { steps: 5, start_factor: 0.1, then: Schedule::Cosine { min_lr: 0.001, total: 100 } };
//! assert_eq!(w.lr(0.1, 0)?, 0.1 * 0.1);
//! assert_eq!(w.lr(0.1, 5)?, 0.1);
//! # Ok::<(), microprop::Error>(())
//! ```

use crate::error::{Error, Result, check_non_negative};

fn invalid(arg: &'static str, value: f64, expected: &'static str) -> Error {
    Error::InvalidParameter {
        arg,
        value,
        expected,
    }
}

fn positive_steps(arg: &'static str, value: u64) -> Result<()> {
    if value > 0 {
        Ok(())
    } else {
        Err(invalid(arg, 0.0, ">= 1"))
    }
}

/// `base_lr * gamma^k` for an integer `k`, as Python's `base_lr * gamma **
/// k`, or an error naming `gamma` once `gamma > 1` has grown the rate past
/// f64's range (where Python would return infinity, or NaN for a zero
/// `base_lr`).
fn decayed(base_lr: f64, gamma: f64, k: u64) -> Result<f64> {
    let lr = base_lr * libm::pow(gamma, k as f64);
    if lr.is_finite() {
        Ok(lr)
    } else {
        Err(invalid(
            "gamma",
            gamma,
            "small enough that base_lr * gamma^k stays finite",
        ))
    }
}

/// `StepLR(step_size, gamma)`: `base_lr * gamma^floor(t / step_size)`.
///
/// # Errors
///
/// `base_lr` or `gamma` negative or not finite, `step_size == 0`, or a rate
/// that overflows f64.
pub fn step(base_lr: f64, gamma: f64, step_size: u64, t: u64) -> Result<f64> {
    check_non_negative("base_lr", base_lr)?;
    check_non_negative("gamma", gamma)?;
    positive_steps("step_size", step_size)?;
    decayed(base_lr, gamma, t / step_size)
}

/// `MultiStepLR(milestones, gamma)`: `base_lr * gamma^m`, where `m` counts
/// the milestones `<= t` (a repeated milestone counts as often as it
/// appears, as in torch).
///
/// # Errors
///
/// `base_lr` or `gamma` negative or not finite, or a rate that overflows
/// f64.
pub fn multi_step(base_lr: f64, gamma: f64, milestones: &[u64], t: u64) -> Result<f64> {
    check_non_negative("base_lr", base_lr)?;
    check_non_negative("gamma", gamma)?;
    let passed = milestones.iter().filter(|&&m| m <= t).count();
    decayed(base_lr, gamma, passed as u64)
}

/// `ExponentialLR(gamma)`: `base_lr * gamma^t`.
///
/// # Errors
///
/// `base_lr` or `gamma` negative or not finite, or a rate that overflows
/// f64.
pub fn exponential(base_lr: f64, gamma: f64, t: u64) -> Result<f64> {
    check_non_negative("base_lr", base_lr)?;
    check_non_negative("gamma", gamma)?;
    decayed(base_lr, gamma, t)
}

/// `CosineAnnealingLR(T_max = total, eta_min = min_lr)`:
/// `min_lr + (base_lr - min_lr) * (1 + cos(pi t / total)) / 2` for
/// `t <= total`, and `min_lr` after that (torch's recursion would rise again
/// with period `2 total`, which is rarely what a caller wants; use
/// [`Warmup`] or restart `t` for restarts).
///
/// # Errors
///
/// `base_lr` or `min_lr` negative or not finite, or `total == 0`.
pub fn cosine(base_lr: f64, min_lr: f64, total: u64, t: u64) -> Result<f64> {
    check_non_negative("base_lr", base_lr)?;
    check_non_negative("min_lr", min_lr)?;
    positive_steps("total", total)?;
    if t >= total {
        return Ok(min_lr);
    }
    let phase = core::f64::consts::PI * t as f64 / total as f64;
    Ok(min_lr + (base_lr - min_lr) * (1.0 + libm::cos(phase)) / 2.0)
}

/// Inverse-time decay, `LambdaLR(lambda t: 1 / (1 + decay * t))`:
/// `base_lr * (1 / (1 + decay * t))`. Adagrad's `lr_decay` is the same
/// decay with `t = step - 1`.
///
/// # Errors
///
/// `base_lr` or `decay` negative or not finite.
pub fn inverse_time(base_lr: f64, decay: f64, t: u64) -> Result<f64> {
    check_non_negative("base_lr", base_lr)?;
    check_non_negative("decay", decay)?;
    Ok(base_lr * (1.0 / (1.0 + decay * t as f64)))
}

/// `LinearLR(start_factor, end_factor = 1, total_iters = steps)`, the usual
/// linear warmup: `base_lr * (start_factor + (1 - start_factor) * min(t,
/// steps) / steps)`.
///
/// # Errors
///
/// `base_lr` negative or not finite, `start_factor` outside `(0, 1]`, or
/// `steps == 0`.
pub fn linear_warmup(base_lr: f64, start_factor: f64, steps: u64, t: u64) -> Result<f64> {
    check_non_negative("base_lr", base_lr)?;
    check_start_factor(start_factor)?;
    positive_steps("steps", steps)?;
    let done = t.min(steps) as f64 / steps as f64;
    Ok(base_lr * (start_factor + (1.0 - start_factor) * done))
}

fn check_start_factor(start_factor: f64) -> Result<()> {
    if start_factor > 0.0 && start_factor <= 1.0 {
        Ok(())
    } else {
        Err(invalid("start_factor", start_factor, "in (0, 1]"))
    }
}

/// A schedule chosen at run time; [`Schedule::lr`] evaluates the matching
/// function of this module.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule<'a> {
    /// The base learning rate throughout (`ConstantLR` with factor 1).
    Constant,
    /// [`step`].
    Step {
        /// Steps between decays.
        step_size: u64,
        /// Factor applied at each decay.
        gamma: f64,
    },
    /// [`multi_step`].
    MultiStep {
        /// Steps at which the rate decays.
        milestones: &'a [u64],
        /// Factor applied at each milestone.
        gamma: f64,
    },
    /// [`exponential`].
    Exponential {
        /// Factor applied at every step.
        gamma: f64,
    },
    /// [`cosine`].
    Cosine {
        /// The floor reached at `total`.
        min_lr: f64,
        /// Steps from the base rate to the floor.
        total: u64,
    },
    /// [`inverse_time`].
    InverseTime {
        /// Decay rate per step.
        decay: f64,
    },
}

impl Schedule<'_> {
    /// The learning rate for scheduler step `t`.
    ///
    /// # Errors
    ///
    /// As the function the variant names.
    pub fn lr(&self, base_lr: f64, t: u64) -> Result<f64> {
        match *self {
            Schedule::Constant => check_non_negative("base_lr", base_lr).map(|()| base_lr),
            Schedule::Step { step_size, gamma } => step(base_lr, gamma, step_size, t),
            Schedule::MultiStep { milestones, gamma } => multi_step(base_lr, gamma, milestones, t),
            Schedule::Exponential { gamma } => exponential(base_lr, gamma, t),
            Schedule::Cosine { min_lr, total } => cosine(base_lr, min_lr, total, t),
            Schedule::InverseTime { decay } => inverse_time(base_lr, decay, t),
        }
    }
}

/// Linear warmup followed by another schedule, as torch's
/// `SequentialLR([LinearLR(start_factor, 1, steps), then], milestones=[steps])`:
/// [`linear_warmup`] for `t < steps`, then `then` evaluated at `t - steps`
/// (the second schedule starts from its own step 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warmup<'a> {
    /// Length of the warmup; 0 means no warmup.
    pub steps: u64,
    /// Fraction of the base rate at `t = 0`, in `(0, 1]`.
    pub start_factor: f64,
    /// The schedule after the warmup.
    pub then: Schedule<'a>,
}

impl Warmup<'_> {
    /// The learning rate for scheduler step `t`.
    ///
    /// # Errors
    ///
    /// `start_factor` outside `(0, 1]`, or as `then`, at every `t`: during
    /// the warmup `then` is checked at its step 0, so a bad configuration
    /// fails at the first step, not when the warmup ends.
    pub fn lr(&self, base_lr: f64, t: u64) -> Result<f64> {
        check_start_factor(self.start_factor)?;
        let after = self.then.lr(base_lr, t.saturating_sub(self.steps))?;
        if t < self.steps {
            linear_warmup(base_lr, self.start_factor, self.steps, t)
        } else {
            Ok(after)
        }
    }
}

/// Whether a lower or a higher metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How the improvement threshold is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdMode {
    /// Better means beyond `best * (1 -/+ threshold)`.
    Rel,
    /// Better means beyond `best -/+ threshold`.
    Abs,
}

/// The settings of [`ReduceOnPlateau`], named and defaulted as torch's
/// `ReduceLROnPlateau`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plateau {
    /// Whether lower or higher metrics are better (default `Min`).
    pub mode: PlateauMode,
    /// Factor applied to the rate on a plateau, in `[0, 1)` (default 0.1).
    pub factor: f64,
    /// Steps without improvement tolerated before reducing (default 10).
    pub patience: u64,
    /// Minimum improvement that counts (default 1e-4).
    pub threshold: f64,
    /// How `threshold` is applied (default `Rel`).
    pub threshold_mode: ThresholdMode,
    /// Steps to wait after a reduction before counting again (default 0).
    pub cooldown: u64,
    /// The rate never goes below this (default 0).
    pub min_lr: f64,
    /// Reductions smaller than this are skipped (default 1e-8).
    pub eps: f64,
}

impl Default for Plateau {
    fn default() -> Self {
        Self {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

/// torch's `ReduceLROnPlateau`: lowers the learning rate when a metric stops
/// improving. Call [`step`](Self::step) once per evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReduceOnPlateau {
    config: Plateau,
    lr: f64,
    best: f64,
    bad_steps: u64,
    cooldown_left: u64,
}

impl ReduceOnPlateau {
    /// Starts at learning rate `lr`.
    ///
    /// # Errors
    ///
    /// `lr`, `threshold`, `min_lr` or `eps` negative or not finite, or
    /// `factor` outside `[0, 1)`.
    pub fn new(config: Plateau, lr: f64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        if !(0.0..1.0).contains(&config.factor) {
            return Err(invalid("factor", config.factor, "in [0, 1)"));
        }
        check_non_negative("threshold", config.threshold)?;
        check_non_negative("min_lr", config.min_lr)?;
        check_non_negative("eps", config.eps)?;
        let best = match config.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        };
        Ok(Self {
            config,
            lr,
            best,
            bad_steps: 0,
            cooldown_left: 0,
        })
    }

    /// The current learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    fn is_better(&self, metric: f64) -> bool {
        let (best, th) = (self.best, self.config.threshold);
        match (self.config.mode, self.config.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => metric < best * (1.0 - th),
            (PlateauMode::Min, ThresholdMode::Abs) => metric < best - th,
            (PlateauMode::Max, ThresholdMode::Rel) => metric > best * (th + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => metric > best + th,
        }
    }

    /// Records one evaluation of the metric and returns the learning rate to
    /// use from now on. A NaN metric counts as no improvement.
    pub fn step(&mut self, metric: f64) -> f64 {
        if self.is_better(metric) {
            self.best = metric;
            self.bad_steps = 0;
        } else {
            self.bad_steps += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_steps = 0;
        }
        if self.bad_steps > self.config.patience {
            let reduced = (self.lr * self.config.factor).max(self.config.min_lr);
            if self.lr - reduced > self.config.eps {
                self.lr = reduced;
            }
            self.cooldown_left = self.config.cooldown;
            self.bad_steps = 0;
        }
        self.lr
    }
}
