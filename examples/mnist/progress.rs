//! The terminal display: a progress bar per epoch (batches per second and
//! the running loss) and one summary line per epoch with the monitoring
//! warnings. When stdout is not a terminal, only the summary lines.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use microprop::train::{History, Observer, Rules, Step, TrainError};
use std::io::IsTerminal;
use std::ops::ControlFlow;

pub struct Progress {
    bar: ProgressBar,
    epochs: u64,
    terminal: bool,
    /// Loss summed over the epoch's batches so far.
    loss_sum: f64,
}

impl Progress {
    /// A display for a run of `epochs` epochs.
    pub fn new(epochs: u64) -> Self {
        Self {
            bar: ProgressBar::hidden(),
            epochs,
            terminal: std::io::stdout().is_terminal(),
            loss_sum: 0.0,
        }
    }
}

/// Formats per-layer figures as `[a, b, c]`.
fn list(values: &[f64], format: impl Fn(f64) -> String) -> String {
    let items: Vec<String> = values.iter().map(|&v| format(v)).collect();
    format!("[{}]", items.join(", "))
}

impl Observer for Progress {
    fn on_epoch_start(&mut self, epoch: u64, batches: usize) {
        self.loss_sum = 0.0;
        if self.terminal {
            self.bar =
                ProgressBar::with_draw_target(Some(batches as u64), ProgressDrawTarget::stdout());
            self.bar.set_style(
                ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} batches, {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            self.bar.set_prefix(format!("{epoch:>2}/{}", self.epochs));
        }
    }

    fn on_step(&mut self, step: &Step) {
        self.loss_sum += f64::from(step.loss);
        if self.terminal {
            self.bar.inc(1);
            if step.batch.is_multiple_of(10) || step.batch == step.batches {
                let rate = step.batch as f64 / self.bar.elapsed().as_secs_f64();
                self.bar.set_message(format!(
                    "{rate:.0}/s, loss {:.4}",
                    self.loss_sum / step.batch as f64
                ));
            }
        }
    }

    fn on_epoch(&mut self, history: &History) -> Result<ControlFlow<()>, TrainError> {
        self.bar.finish_and_clear();
        let Some(e) = history.last() else {
            return Ok(ControlFlow::Continue(()));
        };
        let dead = if e.dead.iter().all(|d| d.is_nan()) {
            String::new()
        } else {
            let dead: Vec<f64> = e.dead.iter().copied().filter(|d| !d.is_nan()).collect();
            format!("  dead {}", list(&dead, |d| format!("{:.0}%", 100.0 * d)))
        };
        // Without a development set (`--dev 0`) its figures are NaN.
        let dev = if e.dev_loss.is_nan() {
            String::new()
        } else {
            format!("  dev {:.4} {:.2}%", e.dev_loss, 100.0 * e.dev_accuracy)
        };
        println!(
            "epoch {:>2}  loss {:.4}  train {:.2}%{dev}  lr {:.2e}  grad rms {}{}  {:.1} s",
            e.epoch,
            e.train_loss,
            100.0 * e.train_accuracy,
            e.lr,
            list(&e.grad_rms, |g| format!("{g:.1e}")),
            dead,
            e.seconds
        );
        for w in Rules::default().check(history) {
            println!("  warning: {w}");
        }
        if history.stopped_early {
            println!(
                "early stopping: no better dev loss for the patience; weights of epoch {} restored",
                history.best_epoch.unwrap_or(0)
            );
        }
        Ok(ControlFlow::Continue(()))
    }
}
