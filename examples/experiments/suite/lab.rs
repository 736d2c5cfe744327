//! What every experiment shares: the data, a run epoch by epoch, the
//! gradient figures, and the page.

use microprop::loss;
use microprop::nn::Mlp;
use microprop::train::{Dataset, Evaluation, History, Observer, TrainError, Trainer};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::fmt::Write;
use std::ops::{ControlFlow, Range};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The seed of every run: weights, shuffles, dropout, random labels.
pub const SEED: u64 = 2024;

/// How the experiments run.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// A data subset, one epoch, tiny grids.
    pub quick: bool,
    /// The MNIST IDX files.
    pub data: PathBuf,
    /// Where each experiment's folder goes.
    pub out: PathBuf,
}

impl Ctx {
    /// MNIST's training and test sets; in quick mode their first 1,500
    /// and 500 images.
    pub fn mnist(&self) -> Result<(Dataset, Dataset)> {
        let (train, test) =
            Dataset::mnist(&self.data).map_err(|e| format!("{}: {e}", self.data.display()))?;
        if self.quick {
            Ok((rows(&train, 0..1_500)?, rows(&test, 0..500)?))
        } else {
            Ok((train, test))
        }
    }

    /// `full` normally, `quick` in quick mode.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// The samples `range` of `data`.
pub fn rows(data: &Dataset, range: Range<usize>) -> Result<Dataset> {
    let f = data.features();
    let inputs = data.inputs()[range.start * f..range.end * f].to_vec();
    let labels = data.labels()[range].to_vec();
    Ok(Dataset::new(inputs, labels, f, data.classes())?)
}

/// One epoch's figures in evaluation mode (no dropout).
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub epoch: u64,
    /// The mean training loss as trained (training mode, before each step).
    pub train_loss: f64,
    /// The training set evaluated after the epoch, if asked for.
    pub train: Option<Evaluation>,
    /// The held-out set evaluated after the epoch.
    pub held_out: Evaluation,
}

/// A run: its epochs, and the epoch whose loss was not finite, if any.
#[derive(Clone, Debug)]
pub struct Run {
    pub points: Vec<Point>,
    pub diverged: Option<u64>,
    pub seconds: f64,
}

impl Run {
    /// The last epoch's figures.
    pub fn last(&self) -> Point {
        *self.points.last().expect("a run evaluates at least once")
    }
}

/// Stops `fit` after every epoch, so the caller evaluates between epochs.
struct OneEpoch;

impl Observer for OneEpoch {
    fn on_epoch(&mut self, _: &History) -> std::result::Result<ControlFlow<()>, TrainError> {
        Ok(ControlFlow::Break(()))
    }
}

/// Trains up to the configured epoch, evaluating `held_out` (and
/// `eval_train`, if given) after every epoch. A non-finite loss ends the
/// run as diverged; its last point is the held-out evaluation of the
/// parameters that produced it.
pub fn fit(
    trainer: &mut Trainer,
    train: &Dataset,
    eval_train: Option<&Dataset>,
    held_out: &Dataset,
) -> Result<Run> {
    let start = Instant::now();
    let (mut points, mut diverged) = (Vec::new(), None);
    while trainer.epoch() < trainer.config().epochs && diverged.is_none() {
        let train_loss = match trainer.fit(train, OneEpoch) {
            Ok(h) => h.last().map_or(f64::NAN, |e| e.train_loss),
            Err(TrainError::NonFinite { epoch, loss, .. }) => {
                diverged = Some(epoch);
                f64::from(loss)
            }
            Err(e) => return Err(e.into()),
        };
        let train = eval_train.map(|d| trainer.evaluate(d)).transpose()?;
        points.push(Point {
            epoch: trainer.epoch() + u64::from(diverged.is_some()),
            train_loss,
            train,
            held_out: trainer.evaluate(held_out)?,
        });
    }
    Ok(Run {
        points,
        diverged,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Per layer, first first: the root mean square of the gradient of the
/// mean cross-entropy over the parameters (weights and biases) of the
/// layer, on the samples of `data`, at `params`.
pub fn grad_rms(net: &Mlp, params: &[f32], data: &Dataset) -> Result<Vec<f64>> {
    let rows = data.len();
    let mut acts = vec![0.0; net.activations_len(rows)];
    let mut masks = vec![0; net.mask_len(rows)];
    let mut workspace = vec![0.0; net.workspace_len(rows)];
    // Draws nothing: these networks have no dropout.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let x = data.inputs();
    let out = net
        .forward(
            params,
            x,
            rows,
            &mut acts,
            &mut masks,
            &mut workspace,
            &mut rng,
        )?
        .to_vec();
    let mut grad_out = vec![0.0; out.len()];
    loss::softmax_cross_entropy(&out, data.labels(), net.output(), &mut grad_out)?;
    let mut grads = vec![0.0; net.param_len()];
    net.backward(
        params,
        x,
        rows,
        &mut acts,
        &masks,
        &grad_out,
        &mut grads,
        &mut workspace,
    )?;
    let mut norms = vec![0.0; net.layers().len()];
    net.grad_norms(&grads, &mut norms)?;
    (0..norms.len())
        .map(|l| {
            let (w, b) = net.layer(params, l)?;
            Ok(f64::from(norms[l]) / ((w.len() + b.len()) as f64).sqrt())
        })
        .collect()
}

/// The L2 norm of all the weights (not the biases) of `trainer`'s network.
pub fn weight_norm(trainer: &Trainer) -> Result<f64> {
    let net = trainer.net()?;
    let mut sum = 0.0;
    for l in 0..net.layers().len() {
        let (w, _) = net.layer(trainer.params(), l)?;
        sum += w.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
    }
    Ok(sum.sqrt())
}

/// A percentage with two decimals.
pub fn pct(fraction: f64) -> String {
    format!("{:.2}", 100.0 * fraction)
}

/// A markdown table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|", header.join(" | "));
    s.push_str(&"---|".repeat(header.len()));
    s.push('\n');
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

/// An experiment's page: `NAME/README.md` with the body the experiment
/// renders, how to reproduce it, where it ran and how long it took, and
/// the reading kept beside it in `NAME/reading.md`.
pub struct Page {
    pub dir: PathBuf,
    name: &'static str,
    title: &'static str,
    quick: bool,
    start: Instant,
    load: String,
}

impl Page {
    /// Starts the clock and creates the folder.
    pub fn new(ctx: &Ctx, name: &'static str, title: &'static str) -> Result<Self> {
        let dir = ctx.out.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Self {
            dir,
            name,
            title,
            quick: ctx.quick,
            start: Instant::now(),
            load: std::fs::read_to_string("/proc/loadavg")
                .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|_| "unknown".into()),
        })
    }

    /// A file of the page's folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes the page with `body`; `progress` is `None` when the
    /// experiment is complete, else what is done so far.
    pub fn write(&self, body: &str, progress: Option<&str>) -> Result<()> {
        let secs = self.start.elapsed().as_secs();
        let status = match progress {
            None => "complete".to_string(),
            Some(p) => format!("**partial**: {p}"),
        };
        let reading = std::fs::read_to_string(self.file("reading.md"))
            .unwrap_or_else(|_| "(No reading written for these results yet.)\n".into());
        let quick = if self.quick { " --quick" } else { "" };
        // A run capped to a lower SIMD level names the cap in its command.
        let flags = std::env::var("MICROPROP_SIMD")
            .map(|level| format!("MICROPROP_SIMD={level} "))
            .unwrap_or_default();
        let page = format!(
            "# {title}\n\n{body}\n## Reading\n\n{reading}\n## Reproduce\n\n\
             ```sh\n{flags}cargo run --release --example experiments -- {name}{quick}\n```\n\n\
             | | |\n|---|---|\n\
             | seed | {SEED} |\n\
             | machine | {cpu}, {cpus} logical CPUs, load average {load} at the start (shared) |\n\
             | SIMD | {simd} |\n\
             | threads | 1 per run |\n\
             | time | {m} min {s} s |\n\
             | status | {status} |\n\
             | code | `examples/experiments/suite/{file}.rs` |\n",
            title = self.title,
            name = self.name,
            cpu = cpu_model(),
            cpus = std::thread::available_parallelism().map_or(0, |n| n.get()),
            load = self.load,
            m = secs / 60,
            s = secs % 60,
            file = self.name.replace('-', "_"),
            simd = microprop::simd_backend(),
        );
        write(&self.file("README.md"), &page)
    }
}

/// The CPU model from `/proc/cpuinfo`, where there is one.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Writes `text` to `path`, naming the file in the error.
pub fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()).into())
}
