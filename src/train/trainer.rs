//! The trainer: a [`Config`] checked once, and [`Trainer::fit`].

use super::{Dataset, Epoch, History, Observer, Step, TrainError, accuracy, shuffle};
use crate::init::FanMode;
use crate::nn::{Init, LayerSpec, Mlp};
use crate::optim::{
    Adadelta, Adagrad, Adam, AdamW, Adamax, Lion, NAdam, Optimizer, RAdam, RmsProp, Sgd,
};
use crate::schedule::{Plateau, ReduceOnPlateau, Schedule, Warmup};
use crate::{Activation, Dropout, clip, loss};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::boxed::Box;
use std::fmt;
use std::path::PathBuf;
use std::string::ToString;
use std::time::Instant;
use std::vec;
use std::vec::Vec;

/// An [`Optimizer`] whose learning rate the trainer sets at every step
/// (from the schedule), printable for checkpoints and logs. Every
/// optimizer of [`optim`](crate::optim) is one.
pub trait TrainOptimizer: Optimizer + fmt::Debug + Send + Sync {
    /// The learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate.
    fn set_lr(&mut self, lr: f64);
}

macro_rules! train_optimizer {
    ($($t:ty),*) => {$(
        impl TrainOptimizer for $t {
            fn lr(&self) -> f64 {
                self.lr
            }
            fn set_lr(&mut self, lr: f64) {
                self.lr = lr;
            }
        }
    )*};
}

train_optimizer!(
    Sgd, Adagrad, Adadelta, RmsProp, Adam, AdamW, Adamax, NAdam, RAdam, Lion
);

/// The loss minimised, on the network's outputs and the class labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy of the outputs as logits
    /// ([`loss::softmax_cross_entropy`]).
    SoftmaxCrossEntropy,
    /// Mean squared error against the one-hot encoding of the label
    /// ([`loss::mse`]).
    Mse,
}

/// Gradient clipping before every step, over all parameters together.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clip {
    /// No clipping.
    None,
    /// Scale the gradient down to this global L2 norm
    /// ([`clip::clip_grad_norm`]).
    Norm(f32),
    /// Clamp every element to `[-v, v]` ([`clip::clip_grad_value`]).
    Value(f32),
}

/// How the learning rate changes; applied to both optimizers, each from
/// its own base rate (the `lr` it had in the [`Config`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LrSchedule<'a> {
    /// The base rate throughout.
    Constant,
    /// A schedule of [`schedule`](crate::schedule), evaluated at every
    /// step (`t` is the number of steps taken before it).
    PerStep(Schedule<'a>),
    /// Linear warmup, then a schedule, per step.
    Warmup(Warmup<'a>),
    /// [`ReduceOnPlateau`] stepped after every epoch with the development
    /// loss (the training loss without a development set).
    OnPlateau(Plateau),
}

/// Early stopping: stop when the development loss has not improved by
/// more than `min_delta` for `patience` epochs, and restore the weights of
/// the best epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStopping {
    /// Epochs without improvement tolerated.
    pub patience: u64,
    /// The smallest decrease of the development loss that counts.
    pub min_delta: f64,
}

/// Everything about a run, checked once by [`Trainer::new`].
///
/// [`Config::new`] gives the defaults; change fields with struct update
/// syntax.
#[derive(Debug)]
pub struct Config<'a> {
    /// Input features per sample.
    pub inputs: usize,
    /// The layers: units, activation, and dropout on the layer's output
    /// (never on the last layer, whose outputs are the logits).
    pub layers: Vec<LayerSpec>,
    /// Dropout probability on the inputs, in `[0, 1)` (the usual value
    /// with dropout is 0.2).
    pub input_dropout: f32,
    /// How the weights are drawn.
    pub init: Init,
    /// The optimizer of the weights.
    pub weights: Box<dyn TrainOptimizer>,
    /// The optimizer of the biases (usually the same without weight decay).
    pub biases: Box<dyn TrainOptimizer>,
    /// The learning-rate schedule.
    pub schedule: LrSchedule<'a>,
    /// Samples per batch; the last batch of an epoch may be smaller.
    pub batch: usize,
    /// The epoch to train up to (a resumed run continues to it).
    pub epochs: u64,
    /// Seeds the initial weights (`seed`) and each epoch's shuffle and
    /// dropout (`seed + epoch`), so a resumed run repeats an uninterrupted
    /// one bit for bit.
    pub seed: u64,
    /// The last `dev` samples of the data given to [`Trainer::fit`] are
    /// held out as the development set (0: none).
    pub dev: usize,
    /// Gradient clipping.
    pub clip: Clip,
    /// Early stopping on the development loss (needs `dev > 0`).
    pub early_stopping: Option<EarlyStopping>,
    /// The loss.
    pub loss: Loss,
    /// Threads for the large products: more than 1 needs the `parallel`
    /// feature, and gives the same bits as 1.
    pub threads: usize,
    /// If set, the run is saved here after every epoch
    /// ([`Trainer::save`]).
    pub checkpoint: Option<PathBuf>,
}

impl Config<'_> {
    /// The defaults for a network of `inputs` features and `layers`: no
    /// input dropout, He-uniform init, AdamW (torch's defaults: lr 1e-3,
    /// weight decay 1e-2) on the weights and the same without decay on the
    /// biases, a constant rate, batches of 100, 10 epochs, seed 0, no
    /// development set, no clipping, no early stopping, softmax
    /// cross-entropy, one thread, no checkpoint.
    pub fn new(inputs: usize, layers: &[LayerSpec]) -> Self {
        Self {
            inputs,
            layers: layers.to_vec(),
            input_dropout: 0.0,
            init: Init::HeUniform(FanMode::In),
            weights: Box::new(AdamW::default()),
            biases: Box::new(AdamW {
                weight_decay: 0.0,
                ..AdamW::default()
            }),
            schedule: LrSchedule::Constant,
            batch: 100,
            epochs: 10,
            seed: 0,
            dev: 0,
            clip: Clip::None,
            early_stopping: None,
            loss: Loss::SoftmaxCrossEntropy,
            threads: 1,
            checkpoint: None,
        }
    }

    /// Checks every field, naming the first that is wrong.
    fn validate(&self) -> Result<(), TrainError> {
        let last = self.layers.len().saturating_sub(1);
        for (i, l) in self.layers.iter().enumerate() {
            if l.units == 0 {
                return Err(TrainError::config(
                    std::format!("layers[{i}].units"),
                    "is 0, must be at least 1",
                ));
            }
            if !(0.0..1.0).contains(&l.dropout) {
                return Err(TrainError::config(
                    std::format!("layers[{i}].dropout"),
                    std::format!("is {}, must be in [0, 1)", l.dropout),
                ));
            }
            if i == last && l.dropout > 0.0 {
                return Err(TrainError::config(
                    std::format!("layers[{i}].dropout"),
                    std::format!(
                        "is {}, but layer {i} is the output layer: dropout on the outputs \
                         would drop logits; put it on the inputs or hidden layers",
                        l.dropout
                    ),
                ));
            }
            l.activation.validate().map_err(|e| {
                TrainError::config(std::format!("layers[{i}].activation"), e.to_string())
            })?;
        }
        Mlp::new(self.inputs, &self.layers)
            .map_err(|e| TrainError::config("layers", e.to_string()))?;
        if !(0.0..1.0).contains(&self.input_dropout) {
            return Err(TrainError::config(
                "input_dropout",
                std::format!("is {}, must be in [0, 1)", self.input_dropout),
            ));
        }
        for (field, opt) in [("weights", &self.weights), ("biases", &self.biases)] {
            // An empty tensor: checks the hyperparameters and nothing else.
            let mut state = vec![0.0; opt.state_len(0)];
            opt.step(1, &mut [], &[], &mut state)
                .map_err(|e| TrainError::config(field, e.to_string()))?;
            self.schedule
                .check(opt.lr())
                .map_err(|e| TrainError::config("schedule", e.to_string()))?;
        }
        if self.batch == 0 {
            return Err(TrainError::config("batch", "is 0, must be at least 1"));
        }
        match self.clip {
            Clip::Norm(v) | Clip::Value(v) if !(v.is_finite() && v >= 0.0) => {
                return Err(TrainError::config(
                    "clip",
                    std::format!("is {v}, must be finite and >= 0"),
                ));
            }
            _ => {}
        }
        if let Some(e) = self.early_stopping {
            if self.dev == 0 {
                return Err(TrainError::config(
                    "early_stopping",
                    "needs a development set (`dev` > 0) to watch",
                ));
            }
            if !(e.min_delta.is_finite() && e.min_delta >= 0.0) {
                return Err(TrainError::config(
                    "early_stopping.min_delta",
                    std::format!("is {}, must be finite and >= 0", e.min_delta),
                ));
            }
        }
        if self.threads == 0 {
            return Err(TrainError::config("threads", "is 0, must be at least 1"));
        }
        if self.threads > 1 && !cfg!(feature = "parallel") {
            return Err(TrainError::config(
                "threads",
                std::format!(
                    "is {}, but more than 1 needs the `parallel` feature",
                    self.threads
                ),
            ));
        }
        Ok(())
    }
}

impl LrSchedule<'_> {
    /// Checks the schedule's hyperparameters against a base rate.
    fn check(&self, base: f64) -> crate::Result<()> {
        match self {
            LrSchedule::OnPlateau(p) => ReduceOnPlateau::new(*p, base).map(drop),
            _ => self.per_step(base, 0).map(drop),
        }
    }

    /// The rate of step `t` (steps taken before it), for every schedule
    /// but [`LrSchedule::OnPlateau`], which gives `base` here.
    fn per_step(&self, base: f64, t: u64) -> crate::Result<f64> {
        match self {
            LrSchedule::Constant | LrSchedule::OnPlateau(_) => Ok(base),
            LrSchedule::PerStep(s) => s.lr(base, t),
            LrSchedule::Warmup(w) => w.lr(base, t),
        }
    }
}

/// A model's loss and accuracy on a data set ([`Trainer::evaluate`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss per sample.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
}

/// Trains an [`Mlp`] as its [`Config`] says, in buffers allocated once.
///
/// ```no_run
/// use microprop::nn::LayerSpec;
/// use microprop::train::{Config, CsvLog, Dataset, Trainer};
/// use microprop::Activation::{Identity, Relu};
///
/// let (train, test) = Dataset::mnist("data/mnist")?;
/// let layers = [
///     LayerSpec::new(256, Relu).with_dropout(0.2),
///     LayerSpec::new(10, Identity),
/// ];
/// let config = Config { epochs: 5, dev: 5_000, input_dropout: 0.2, ..Config::new(784, &layers) };
/// let mut trainer = Trainer::new(config)?;
/// let history = trainer.fit(&train, CsvLog::new("metrics.csv"))?;
/// println!("dev {:.2}%", 100.0 * history.last().unwrap().dev_accuracy);
/// println!("test {:.2}%", 100.0 * trainer.evaluate(&test)?.accuracy);
/// trainer.save("model.safetensors")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Trainer<'a> {
    pub(crate) config: Config<'a>,
    /// The base rates of the weights and the biases.
    base_lr: (f64, f64),
    /// The plateau schedulers of the weights and the biases.
    plateau: Option<(ReduceOnPlateau, ReduceOnPlateau)>,
    pub(crate) params: Vec<f32>,
    pub(crate) state: Vec<f32>,
    /// The best epoch's parameters, with early stopping (else empty).
    pub(crate) best: Vec<f32>,
    pub(crate) epoch: u64,
    pub(crate) step: u64,
    pub(crate) history: History,
    buffers: Buffers,
    pool: Pool,
}

/// The buffers of one training step, all sized for a full batch; a
/// smaller batch uses their beginnings.
#[derive(Debug)]
struct Buffers {
    grads: Vec<f32>,
    acts: Vec<f32>,
    masks: Vec<u32>,
    workspace: Vec<f32>,
    /// The gathered batch, and the batch after input dropout.
    x: Vec<f32>,
    dropped: Vec<f32>,
    input_mask: Vec<u32>,
    labels: Vec<u32>,
    grad_out: Vec<f32>,
    /// One-hot targets of [`Loss::Mse`] (else empty).
    target: Vec<f32>,
    /// Per layer: this step's gradient norms, the epoch's sums.
    norms: Vec<f32>,
    norm_sums: Vec<f64>,
    /// Per unit of every layer: whether it fired this epoch.
    fired: Vec<bool>,
}

impl<'a> Trainer<'a> {
    /// Checks `config`, allocates every buffer and initialises the weights
    /// from `config.seed`.
    ///
    /// # Errors
    ///
    /// [`TrainError::Config`] naming the first bad field.
    pub fn new(config: Config<'a>) -> Result<Self, TrainError> {
        config.validate()?;
        let net = Mlp::new(config.inputs, &config.layers)?;
        let batch = config.batch;
        let (w, b) = (&*config.weights, &*config.biases);
        let mut params = vec![0.0; net.param_len()];
        net.init(
            &mut params,
            config.init,
            &mut Xoshiro256PlusPlus::seed_from_u64(config.seed),
        )?;
        // The activations hold every layer's outputs: when their length
        // fits, so do the masks' and the passes' per-layer lengths.
        let acts = batch_len(batch, net.activations_len(1), "activations")?;
        let inputs = batch_len(batch, config.inputs, "inputs")?;
        let classes = batch_len(batch, net.output(), "outputs")?;
        // The largest any batch size up to `batch` needs, per thread.
        let per_thread = (1..=batch).map(|n| net.workspace_len(n)).max();
        let per_thread = per_thread.unwrap_or(0);
        let threads = config.threads;
        let workspace = per_thread.checked_mul(threads).ok_or_else(|| {
            TrainError::config(
                "threads",
                std::format!(
                    "is {threads}: {threads} x {per_thread} workspace floats overflow usize"
                ),
            )
        })?;
        let units: usize = config.layers.iter().map(|l| l.units).sum();
        let buffers = Buffers {
            grads: vec![0.0; net.param_len()],
            acts: vec![0.0; acts],
            masks: vec![0; net.mask_len(batch)],
            workspace: vec![0.0; workspace],
            x: vec![0.0; inputs],
            dropped: vec![
                0.0;
                if config.input_dropout > 0.0 {
                    inputs
                } else {
                    0
                }
            ],
            input_mask: vec![0; Dropout::mask_len(inputs)],
            labels: vec![0; batch],
            grad_out: vec![0.0; classes],
            target: vec![0.0; if config.loss == Loss::Mse { classes } else { 0 }],
            norms: vec![0.0; config.layers.len()],
            norm_sums: vec![0.0; config.layers.len()],
            fired: vec![false; units],
        };
        let plateau = match config.schedule {
            LrSchedule::OnPlateau(p) => Some((
                ReduceOnPlateau::new(p, w.lr())?,
                ReduceOnPlateau::new(p, b.lr())?,
            )),
            _ => None,
        };
        Ok(Self {
            base_lr: (w.lr(), b.lr()),
            plateau,
            state: vec![0.0; state_lens(&net, w, b).iter().sum()],
            best: if config.early_stopping.is_some() {
                params.clone()
            } else {
                Vec::new()
            },
            params,
            epoch: 0,
            step: 0,
            history: History::default(),
            buffers,
            pool: Pool::new(config.threads)?,
            config,
        })
    }

    /// The network.
    ///
    /// # Errors
    ///
    /// None in practice: [`Trainer::new`] checked the layers, and they
    /// cannot change since. The check is repeated rather than assumed.
    pub fn net(&self) -> crate::Result<Mlp<'_>> {
        Mlp::new(self.config.inputs, &self.config.layers)
    }

    /// The configuration.
    pub fn config(&self) -> &Config<'a> {
        &self.config
    }

    /// The parameters, in the layout of [`Mlp`].
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// The parameters, to change in place: for example to initialise them
    /// by a scheme [`Init`] lacks before the first [`Trainer::fit`].
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// The optimizer state: the weights' optimizer's for the first half of
    /// all weights (the first `weight_len / 2` in [`Mlp`] order), then for
    /// the rest, then the biases' optimizer's. The trainer steps the weights
    /// as these two tensors, on two threads when it has them; every
    /// optimizer works element by element, so the result is that of one
    /// tensor.
    pub fn state(&self) -> &[f32] {
        &self.state
    }

    /// Epochs completed.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Optimizer steps taken.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The history so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Trains on `data` (its last `config.dev` samples held out for
    /// development) from the epoch after [`Trainer::epoch`] up to
    /// `config.epochs`, or until early stopping or the observer ends it,
    /// and returns the history. Every epoch shuffles the training samples
    /// and trains on every one of them, the last batch possibly smaller.
    ///
    /// # Errors
    ///
    /// [`TrainError::Config`] if `data` does not fit the network (features,
    /// classes) or the development split; [`TrainError::NonFinite`] if a
    /// loss is NaN or infinite, with the epoch and step; a checkpoint or
    /// observer error.
    pub fn fit(
        &mut self,
        data: &Dataset,
        mut observer: impl Observer,
    ) -> Result<History, TrainError> {
        let train = self.check_data(data)?;
        let mut order: Vec<usize> = Vec::with_capacity(train);
        while self.epoch < self.config.epochs && !self.history.stopped_early {
            let epoch = self.epoch + 1;
            let start = Instant::now();
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.config.seed.wrapping_add(epoch));
            order.clear();
            order.extend(0..train);
            shuffle(&mut order, &mut rng);
            let batches = train.div_ceil(self.config.batch);
            observer.on_epoch_start(epoch, batches);
            self.buffers.norm_sums.fill(0.0);
            self.buffers.fired.fill(false);
            let (mut loss_sum, mut correct, mut lr) = (0.0f64, 0usize, self.base_lr.0);
            // A clone of the handle, so that the step may borrow `self`.
            let pool = self.pool.clone();
            for (i, chunk) in order.chunks(self.config.batch).enumerate() {
                lr = self.set_lr()?;
                // The whole step on one of the pool's threads: one hand-over
                // per step, not one per pass.
                let (loss, right) = pool.run(|| {
                    let (loss, right) = self.train_step(data, chunk, &mut rng)?;
                    if !loss.is_finite() {
                        return Err(TrainError::NonFinite {
                            epoch,
                            step: self.step + 1,
                            loss,
                        });
                    }
                    self.update()?;
                    Ok((loss, right))
                })?;
                loss_sum += f64::from(loss) * chunk.len() as f64;
                correct += right;
                observer.on_step(&Step {
                    epoch,
                    step: self.step,
                    batch: i + 1,
                    batches,
                    loss,
                    lr,
                });
            }
            let dev = (self.config.dev > 0)
                .then(|| self.evaluate_rows(data, train..data.len()))
                .transpose()?
                .unwrap_or(Evaluation {
                    loss: f64::NAN,
                    accuracy: f64::NAN,
                });
            self.epoch = epoch;
            self.end_epoch(
                Epoch {
                    epoch,
                    train_loss: loss_sum / train as f64,
                    train_accuracy: correct as f64 / train as f64,
                    dev_loss: dev.loss,
                    dev_accuracy: dev.accuracy,
                    lr,
                    grad_l2: Vec::new(),
                    grad_rms: Vec::new(),
                    dead: Vec::new(),
                    seconds: start.elapsed().as_secs_f64(),
                },
                batches,
            )?;
            if let Some(path) = &self.config.checkpoint {
                self.save(path)?;
            }
            if observer.on_epoch(&self.history)?.is_break() {
                break;
            }
        }
        Ok(self.history.clone())
    }

    /// Checks that `data` fits the network and the development split, and
    /// returns the number of training samples.
    fn check_data(&self, data: &Dataset) -> Result<usize, TrainError> {
        self.check_shape(data)?;
        if self.config.dev >= data.len() {
            return Err(TrainError::config(
                "dev",
                std::format!(
                    "is {}, but the data set has only {} samples: nothing would be left to train on",
                    self.config.dev,
                    data.len()
                ),
            ));
        }
        Ok(data.len() - self.config.dev)
    }

    /// Checks that `data` has the network's inputs and outputs.
    fn check_shape(&self, data: &Dataset) -> Result<(), TrainError> {
        let net = self.net()?;
        if data.features() != net.input() {
            return Err(TrainError::config(
                "inputs",
                std::format!(
                    "is {}, but the data set has {} features per sample",
                    net.input(),
                    data.features()
                ),
            ));
        }
        if data.classes() != net.output() {
            return Err(TrainError::config(
                std::format!("layers[{}].units", self.config.layers.len() - 1),
                std::format!(
                    "is {}, but the data set has {} classes",
                    net.output(),
                    data.classes()
                ),
            ));
        }
        Ok(())
    }

    /// Sets both optimizers' rates for the next step and returns the
    /// weights' rate.
    fn set_lr(&mut self) -> Result<f64, TrainError> {
        let (w, b) = match &self.plateau {
            Some((pw, pb)) => (pw.lr(), pb.lr()),
            None => {
                let s = &self.config.schedule;
                (
                    s.per_step(self.base_lr.0, self.step)?,
                    s.per_step(self.base_lr.1, self.step)?,
                )
            }
        };
        self.config.weights.set_lr(w);
        self.config.biases.set_lr(b);
        Ok(w)
    }

    /// Forward and backward on the samples at `indices`: returns the loss
    /// and the number classified correctly, and leaves the gradients in the
    /// buffers. `fit` calls it on the pool, whose threads the products
    /// share.
    fn train_step(
        &mut self,
        data: &Dataset,
        indices: &[usize],
        rng: &mut Xoshiro256PlusPlus,
    ) -> Result<(f32, usize), TrainError> {
        let net = Mlp::new(self.config.inputs, &self.config.layers)?;
        let rows = indices.len();
        let b = &mut self.buffers;
        // Two halves, on two threads if there are: the gather waits on
        // memory, rows scattered over the data set.
        let half = rows / 2;
        let (x1, x2) = b.x[..rows * net.input()].split_at_mut(half * net.input());
        let (y1, y2) = b.labels[..rows].split_at_mut(half);
        let (i1, i2) = indices.split_at(half);
        let (first, second) = self
            .pool
            .join(|| data.gather(i1, x1, y1), || data.gather(i2, x2, y2));
        first?;
        second?;
        let input_dropout = match self.config.input_dropout {
            0.0 => None,
            p => Some(Dropout::new(p)?),
        };
        let (params, loss) = (&self.params[..], self.config.loss);
        let result = b.forward_backward(&net, params, rows, loss, input_dropout, rng)?;
        b.count_fired(&net, rows);
        Ok(result)
    }

    /// Records the step's gradient norms, clips and steps.
    fn update(&mut self) -> Result<(), TrainError> {
        let net = Mlp::new(self.config.inputs, &self.config.layers)?;
        let b = &mut self.buffers;
        net.grad_norms(&b.grads, &mut b.norms)?;
        for (s, &n) in b.norm_sums.iter_mut().zip(&b.norms) {
            *s += f64::from(n);
        }
        match self.config.clip {
            Clip::None => {}
            Clip::Norm(max) => drop(clip::clip_grad_norm(&mut [&mut b.grads[..]], max)?),
            Clip::Value(v) => clip::clip_grad_value(&mut [&mut b.grads[..]], v)?,
        }
        self.step += 1;
        let [sa, sb, _] = state_lens(&net, &*self.config.weights, &*self.config.biases);
        let (w, bias, t) = (&*self.config.weights, &*self.config.biases, self.step);
        let (pw, pbias) = self.params.split_at_mut(net.weight_len());
        let (gw, gbias) = b.grads.split_at(net.weight_len());
        let (sw, sbias) = self.state.split_at_mut(sa + sb);
        let half = net.weight_len() / 2;
        let ((p1, p2), (g1, g2), (s1, s2)) = (
            pw.split_at_mut(half),
            gw.split_at(half),
            sw.split_at_mut(sa),
        );
        let (first, second) = self
            .pool
            .join(|| w.step(t, p1, g1, s1), || w.step(t, p2, g2, s2));
        first?;
        second?;
        bias.step(t, pbias, gbias, sbias)?;
        Ok(())
    }

    /// Completes `e` with the per-layer figures of the epoch's `steps`
    /// steps, records it, and applies the plateau schedule and early
    /// stopping.
    fn end_epoch(&mut self, mut e: Epoch, steps: usize) -> Result<(), TrainError> {
        let net = self.net()?;
        let b = &self.buffers;
        let mut first_unit = 0;
        for (l, spec) in self.config.layers.iter().enumerate() {
            let l2 = b.norm_sums[l] / steps as f64;
            let (w, bias) = net.layer(&self.params, l)?;
            e.grad_l2.push(l2);
            e.grad_rms.push(l2 / ((w.len() + bias.len()) as f64).sqrt());
            let fired = &b.fired[first_unit..first_unit + spec.units];
            first_unit += spec.units;
            e.dead.push(if spec.activation == Activation::Relu {
                fired.iter().filter(|&&f| !f).count() as f64 / spec.units as f64
            } else {
                f64::NAN
            });
        }
        let metric = if self.config.dev > 0 {
            e.dev_loss
        } else {
            e.train_loss
        };
        if let Some((pw, pb)) = &mut self.plateau {
            pw.step(metric);
            pb.step(metric);
        }
        self.early_stopping(&e);
        self.history.epochs.push(e);
        Ok(())
    }

    /// Tracks the best epoch and stops after `patience` epochs without
    /// improvement, restoring the best epoch's parameters; `now` is the
    /// epoch just completed, about to be recorded.
    fn early_stopping(&mut self, now: &Epoch) {
        let Some(rule) = self.config.early_stopping else {
            return;
        };
        let h = &mut self.history;
        let best = h
            .best_epoch
            .map_or(f64::INFINITY, |b| h.epochs[b as usize - 1].dev_loss);
        if now.dev_loss < best - rule.min_delta {
            h.best_epoch = Some(now.epoch);
            self.best.copy_from_slice(&self.params);
        } else if now.epoch - h.best_epoch.unwrap_or(0) >= rule.patience {
            h.stopped_early = true;
            self.params.copy_from_slice(&self.best);
        }
    }

    /// The loss and accuracy of the current parameters on `data`, in
    /// evaluation mode (no dropout), in batches of `config.batch` and a
    /// last smaller one: every sample counts once. Both are NaN for an
    /// empty data set.
    ///
    /// # Errors
    ///
    /// [`TrainError::Config`] if `data` does not fit the network.
    pub fn evaluate(&mut self, data: &Dataset) -> Result<Evaluation, TrainError> {
        self.check_shape(data)?;
        self.evaluate_rows(data, 0..data.len())
    }

    /// [`Trainer::evaluate`] on the samples `rows` of `data`.
    fn evaluate_rows(
        &mut self,
        data: &Dataset,
        rows: std::ops::Range<usize>,
    ) -> Result<Evaluation, TrainError> {
        let net = Mlp::new(self.config.inputs, &self.config.layers)?;
        let (f, n) = (data.features(), rows.len());
        let inputs = &data.inputs()[rows.start * f..rows.end * f];
        let labels = &data.labels()[rows];
        let (mut loss_sum, mut correct) = (0.0f64, 0);
        let (b, params, loss) = (&mut self.buffers, &self.params[..], self.config.loss);
        for (x, y) in inputs
            .chunks(self.config.batch * f)
            .zip(labels.chunks(self.config.batch))
        {
            let (l, c) = self.pool.run(|| b.evaluate(&net, params, x, y, loss))?;
            loss_sum += f64::from(l) * y.len() as f64;
            correct += c;
        }
        Ok(Evaluation {
            loss: loss_sum / n as f64,
            accuracy: correct as f64 / n as f64,
        })
    }

    /// Restores the plateau schedulers by replaying the recorded epochs.
    pub(crate) fn replay_plateau(&mut self) -> crate::Result<()> {
        if let LrSchedule::OnPlateau(p) = self.config.schedule {
            let fresh = |lr| ReduceOnPlateau::new(p, lr);
            let (mut pw, mut pb) = (fresh(self.base_lr.0)?, fresh(self.base_lr.1)?);
            for e in &self.history.epochs {
                let metric = if self.config.dev > 0 {
                    e.dev_loss
                } else {
                    e.train_loss
                };
                pw.step(metric);
                pb.step(metric);
            }
            self.plateau = Some((pw, pb));
        }
        Ok(())
    }
}

impl Buffers {
    /// The forward pass (with input dropout), the loss and the backward
    /// pass of the `rows` gathered samples.
    fn forward_backward(
        &mut self,
        net: &Mlp,
        params: &[f32],
        rows: usize,
        loss: Loss,
        input_dropout: Option<Dropout>,
        rng: &mut Xoshiro256PlusPlus,
    ) -> Result<(f32, usize), TrainError> {
        let n = rows * net.input();
        let x = match input_dropout {
            Some(d) => {
                let mask = &mut self.input_mask[..Dropout::mask_len(n)];
                d.forward(&self.x[..n], &mut self.dropped[..n], mask, rng)?;
                &self.dropped[..n]
            }
            None => &self.x[..n],
        };
        let acts = &mut self.acts[..net.activations_len(rows)];
        let masks = &mut self.masks[..net.mask_len(rows)];
        let out = net.forward(params, x, rows, acts, masks, &mut self.workspace, rng)?;
        let labels = &self.labels[..rows];
        let grad = &mut self.grad_out[..rows * net.output()];
        let right = accuracy(out, labels, net.output())?;
        let l = loss_and_grad(loss, out, labels, &mut self.target, grad)?;
        net.backward(
            params,
            x,
            rows,
            acts,
            masks,
            grad,
            &mut self.grads,
            &mut self.workspace,
        )?;
        Ok((l, right))
    }

    /// Marks the units of ReLU layers whose pre-activation was positive
    /// for one of the `rows` samples of the last forward pass, reading the
    /// intermediates in the layout [`Mlp`] documents.
    fn count_fired(&mut self, net: &Mlp, rows: usize) {
        let (mut at, mut first_unit) = (0, 0);
        for spec in net.layers() {
            let units = spec.units;
            if spec.activation == Activation::Relu {
                let z = &self.acts[at..at + rows * units];
                let fired = &mut self.fired[first_unit..first_unit + units];
                for row in z.chunks_exact(units) {
                    for (f, &v) in fired.iter_mut().zip(row) {
                        *f |= v > 0.0;
                    }
                }
            }
            let slots = if spec.dropout > 0.0 { 3 } else { 2 };
            at += slots * rows * units;
            first_unit += units;
        }
    }

    /// The loss and the number classified correctly of the samples `x`
    /// with labels `y`, without dropout.
    fn evaluate(
        &mut self,
        net: &Mlp,
        params: &[f32],
        x: &[f32],
        y: &[u32],
        loss: Loss,
    ) -> Result<(f32, usize), TrainError> {
        let rows = y.len();
        let buffer = &mut self.acts[..net.infer_len(rows)];
        let out = net.infer(params, x, rows, buffer, &mut self.workspace)?;
        let grad = &mut self.grad_out[..rows * net.output()];
        let l = loss_and_grad(loss, out, y, &mut self.target, grad)?;
        Ok((l, accuracy(out, y, net.output())?))
    }
}

/// `batch * per_sample`, the length of the buffer of `what` for a batch, or
/// an error naming `batch` if it overflows `usize`.
fn batch_len(batch: usize, per_sample: usize, what: &str) -> Result<usize, TrainError> {
    batch.checked_mul(per_sample).ok_or_else(|| {
        TrainError::config(
            "batch",
            std::format!("is {batch}: {batch} x {per_sample} {what} overflow usize"),
        )
    })
}

/// The lengths of the optimizer state of the first half of the weights, of
/// the rest, and of the biases (see [`Trainer::state`]).
pub(crate) fn state_lens(
    net: &Mlp,
    weights: &dyn TrainOptimizer,
    biases: &dyn TrainOptimizer,
) -> [usize; 3] {
    let (n, half) = (net.weight_len(), net.weight_len() / 2);
    [
        weights.state_len(half),
        weights.state_len(n - half),
        biases.state_len(net.param_len() - n),
    ]
}

/// The mean loss of `out` against `labels` and its gradient; `target` is
/// the one-hot scratch of [`Loss::Mse`].
fn loss_and_grad(
    loss: Loss,
    out: &[f32],
    labels: &[u32],
    target: &mut [f32],
    grad: &mut [f32],
) -> crate::Result<f32> {
    let classes = grad.len() / labels.len().max(1);
    match loss {
        Loss::SoftmaxCrossEntropy => loss::softmax_cross_entropy(out, labels, classes, grad),
        Loss::Mse => {
            let target = &mut target[..grad.len()];
            target.fill(0.0);
            for (row, &y) in target.chunks_exact_mut(classes).zip(labels) {
                row[y as usize] = 1.0;
            }
            loss::mse(out, target, grad)
        }
    }
}

/// Where the large products run: rayon's threads (feature `parallel`,
/// `threads > 1`) or the calling thread. Clones share the threads.
#[derive(Clone, Debug)]
struct Pool {
    #[cfg(feature = "parallel")]
    pool: Option<std::sync::Arc<rayon::ThreadPool>>,
}

impl Pool {
    fn new(threads: usize) -> Result<Self, TrainError> {
        #[cfg(feature = "parallel")]
        {
            let pool = (threads > 1)
                .then(|| rayon::ThreadPoolBuilder::new().num_threads(threads).build())
                .transpose()
                .map(|pool| pool.map(std::sync::Arc::new))
                .map_err(|e| TrainError::config("threads", e.to_string()))?;
            Ok(Self { pool })
        }
        #[cfg(not(feature = "parallel"))]
        {
            let _ = threads;
            Ok(Self {})
        }
    }

    /// Runs `a` and `b`, on two of the pool's threads if there is a pool.
    fn join<A: Send, B: Send>(
        &self,
        a: impl FnOnce() -> A + Send,
        b: impl FnOnce() -> B + Send,
    ) -> (A, B) {
        #[cfg(feature = "parallel")]
        if let Some(pool) = &self.pool {
            return pool.install(|| rayon::join(a, b));
        }
        (a(), b())
    }

    /// Runs `f` on the pool, whose threads the products inside it share.
    fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        #[cfg(feature = "parallel")]
        if let Some(pool) = &self.pool {
            return pool.install(f);
        }
        f()
    }
}
