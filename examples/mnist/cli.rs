//! The command line: one flag per trainer option.

use microprop::Activation;
use microprop::init::FanMode;
use microprop::nn::{Init, LayerSpec};
use microprop::optim::{Adadelta, Adagrad, Adam, AdamW, Adamax, Lion, NAdam, RAdam, RmsProp, Sgd};
use microprop::schedule::{Plateau, Schedule, Warmup};
use microprop::train::{Clip, Config, EarlyStopping, Loss, LrSchedule, TrainOptimizer};
use std::path::{Path, PathBuf};
use std::str::FromStr;

const HELP: &str = "\
Trains a multilayer perceptron on MNIST (or any IDX set laid out like it).

usage: cargo run --release --example mnist -- [OPTIONS]

  --data DIR            IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
                        t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz [data/mnist]
  --hidden N,N,...      hidden layer sizes [256,128]
  --activation NAME     hidden activation: relu, leaky-relu, elu, gelu, silu, softplus,
                        tanh, sigmoid [relu]
  --init NAME           he-uniform, he-normal, glorot-uniform, glorot-normal [he-uniform]
  --optimizer NAME      adamw, adam, sgd, nadam, radam, adamax, adagrad, adadelta, rmsprop,
                        lion [adamw]
  --lr F                learning rate [1e-3; sgd 0.1, adadelta 1, lion 1e-4]
  --momentum F          momentum of sgd and rmsprop [sgd 0.9, rmsprop 0]
  --weight-decay F      weight decay on the weights (never the biases) [1e-4]
  --decay MODE          coupled (L2 in the gradient) or decoupled (AdamW's); decoupled
                        exists for adam, adamw, nadam and radam [decoupled where it exists]
  --schedule S          constant, cosine, step:EPOCHS:GAMMA, warmup:EPOCHS (then cosine),
                        plateau[:PATIENCE[:FACTOR]] (on the dev loss) [constant]
  --epochs N            epochs to train up to [10]
  --batch N             minibatch size [100]
  --dropout P           dropout after each hidden layer [0.2]
  --input-dropout P     dropout on the inputs [0]
  --clip-norm F         clip the gradient's global L2 norm to F
  --clip-value F        clip every gradient element to [-F, F]
  --patience N          early stopping after N epochs without a better dev loss
  --loss NAME           cross-entropy or mse [cross-entropy]
  --dev N               training images held out for development [5000]
  --seed N              seed of the weights, shuffles and dropout [2024]
  --threads N           threads for the large products; more than 1 needs
                        `cargo run --release --features parallel ...` [1]
  --out DIR             where checkpoint.safetensors, metrics.csv, metrics.svg go
                        [target/mnist-run]
  --resume              continue from DIR/checkpoint.safetensors up to --epochs
  -h, --help            this text
";

/// An optimizer chosen on the command line.
type Boxed = Box<dyn TrainOptimizer>;

/// The options that take a value.
const VALUED: [&str; 22] = [
    "--data",
    "--hidden",
    "--activation",
    "--init",
    "--optimizer",
    "--lr",
    "--momentum",
    "--weight-decay",
    "--decay",
    "--schedule",
    "--epochs",
    "--batch",
    "--dropout",
    "--input-dropout",
    "--clip-norm",
    "--clip-value",
    "--patience",
    "--loss",
    "--dev",
    "--seed",
    "--threads",
    "--out",
];

/// The parsed command line.
pub struct Args {
    pub data: PathBuf,
    hidden: Vec<usize>,
    activation: Activation,
    init: Init,
    optimizer: String,
    lr: Option<f64>,
    momentum: Option<f64>,
    weight_decay: f64,
    decoupled: Option<bool>,
    schedule: String,
    pub epochs: u64,
    batch: usize,
    dropout: f32,
    input_dropout: f32,
    clip: Clip,
    patience: Option<u64>,
    loss: Loss,
    pub dev: usize,
    seed: u64,
    pub threads: usize,
    pub out: PathBuf,
    pub resume: bool,
}

/// `value` parsed as a `T`, or an error naming `flag`.
fn number<T: FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} {value:?}: not a valid number"))
}

/// A dropout probability in `[0, 1)`.
fn probability(flag: &str, value: &str) -> Result<f32, String> {
    let p: f32 = number(flag, value)?;
    if (0.0..1.0).contains(&p) {
        Ok(p)
    } else {
        Err(bad(flag, value, "a probability in [0, 1)"))
    }
}

fn bad(flag: &str, value: &str, expected: &str) -> String {
    format!("{flag} {value:?}: expected {expected}")
}

impl Args {
    /// The arguments, or `None` after printing the help.
    pub fn parse() -> Result<Option<Self>, String> {
        use lexopt::prelude::*;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut a = Args {
            data: root.join("data/mnist"),
            hidden: vec![256, 128],
            activation: Activation::Relu,
            init: Init::HeUniform(FanMode::In),
            optimizer: "adamw".into(),
            lr: None,
            momentum: None,
            weight_decay: 1e-4,
            decoupled: None,
            schedule: "constant".into(),
            epochs: 10,
            batch: 100,
            dropout: 0.2,
            input_dropout: 0.0,
            clip: Clip::None,
            patience: None,
            loss: Loss::SoftmaxCrossEntropy,
            dev: 5_000,
            seed: 2024,
            threads: 1,
            out: root.join("target/mnist-run"),
            resume: false,
        };
        let mut parser = lexopt::Parser::from_env();
        let err = |e: lexopt::Error| format!("{e}; see --help");
        while let Some(arg) = parser.next().map_err(err)? {
            let flag = match arg {
                Long(f) => format!("--{f}"),
                Short(c) => format!("-{c}"),
                Value(v) => return Err(format!("unexpected argument {v:?}; see --help")),
            };
            match flag.as_str() {
                "--help" | "-h" => {
                    print!("{HELP}");
                    return Ok(None);
                }
                "--resume" => {
                    a.resume = true;
                    continue;
                }
                f if !VALUED.contains(&f) => {
                    return Err(format!("unknown option {flag}; see --help"));
                }
                _ => {}
            }
            let value = parser.value().map_err(err)?;
            let value = value
                .into_string()
                .map_err(|v| format!("{flag} {v:?}: not valid UTF-8"))?;
            let v = value.as_str();
            match flag.as_str() {
                "--data" => a.data = v.into(),
                "--hidden" => {
                    a.hidden = v
                        .split(',')
                        .map(|s| number(&flag, s))
                        .collect::<Result<_, _>>()?
                }
                "--activation" => a.activation = activation(v)?,
                "--init" => {
                    a.init = match v {
                        "he-uniform" => Init::HeUniform(FanMode::In),
                        "he-normal" => Init::HeNormal(FanMode::In),
                        "glorot-uniform" => Init::GlorotUniform,
                        "glorot-normal" => Init::GlorotNormal,
                        _ => {
                            return Err(bad(
                                &flag,
                                v,
                                "he-uniform, he-normal, glorot-uniform or glorot-normal",
                            ));
                        }
                    }
                }
                "--optimizer" => a.optimizer = v.into(),
                "--lr" => a.lr = Some(number(&flag, v)?),
                "--momentum" => a.momentum = Some(number(&flag, v)?),
                "--weight-decay" => a.weight_decay = number(&flag, v)?,
                "--decay" => {
                    a.decoupled = Some(match v {
                        "coupled" => false,
                        "decoupled" => true,
                        _ => return Err(bad(&flag, v, "coupled or decoupled")),
                    })
                }
                "--schedule" => a.schedule = v.into(),
                "--epochs" => a.epochs = number(&flag, v)?,
                "--batch" => a.batch = number(&flag, v)?,
                "--dropout" => a.dropout = probability(&flag, v)?,
                "--input-dropout" => a.input_dropout = probability(&flag, v)?,
                "--clip-norm" => a.clip = Clip::Norm(number(&flag, v)?),
                "--clip-value" => a.clip = Clip::Value(number(&flag, v)?),
                "--patience" => a.patience = Some(number(&flag, v)?),
                "--loss" => {
                    a.loss = match v {
                        "cross-entropy" => Loss::SoftmaxCrossEntropy,
                        "mse" => Loss::Mse,
                        _ => return Err(bad(&flag, v, "cross-entropy or mse")),
                    }
                }
                "--dev" => a.dev = number(&flag, v)?,
                "--seed" => a.seed = number(&flag, v)?,
                "--threads" => a.threads = number(&flag, v)?,
                "--out" => a.out = v.into(),
                _ => return Err(format!("unknown option {flag}; see --help")),
            }
        }
        Ok(Some(a))
    }

    /// The trainer's configuration for `samples` training samples (the
    /// development set included) of `inputs` features and 10 classes,
    /// saving to `checkpoint` after every epoch.
    pub fn config(
        &self,
        inputs: usize,
        samples: usize,
        checkpoint: &Path,
    ) -> Result<Config<'static>, String> {
        let mut layers: Vec<LayerSpec> = self
            .hidden
            .iter()
            .map(|&n| LayerSpec::new(n, self.activation).with_dropout(self.dropout))
            .collect();
        layers.push(LayerSpec::new(10, Activation::Identity));
        let (weights, biases) = self.optimizers()?;
        let batches = samples.saturating_sub(self.dev).div_ceil(self.batch.max(1)) as u64;
        Ok(Config {
            input_dropout: self.input_dropout,
            init: self.init,
            weights,
            biases,
            schedule: schedule(&self.schedule, self.epochs, batches)?,
            batch: self.batch,
            epochs: self.epochs,
            seed: self.seed,
            dev: self.dev,
            clip: self.clip,
            early_stopping: self.patience.map(|patience| EarlyStopping {
                patience,
                min_delta: 0.0,
            }),
            loss: self.loss,
            threads: self.threads,
            checkpoint: Some(checkpoint.to_path_buf()),
            ..Config::new(inputs, &layers)
        })
    }

    /// The weights' optimizer and the biases' (the same without decay).
    fn optimizers(&self) -> Result<(Boxed, Boxed), String> {
        let name = self.optimizer.as_str();
        let wd = self.weight_decay;
        let decoupled = self.decoupled;
        let lr = |default: f64| self.lr.unwrap_or(default);
        let coupled_only = || match decoupled {
            Some(true) => Err(format!(
                "--decay decoupled: {name} has only coupled weight decay"
            )),
            _ => Ok(()),
        };
        // Each optimizer with weight decay `wd`, as a closure so the biases
        // get the same one with 0.
        let make = |wd: f64| -> Result<Boxed, String> {
            Ok(match name {
                "adamw" if decoupled != Some(false) => Box::new(AdamW {
                    lr: lr(1e-3),
                    weight_decay: wd,
                    ..AdamW::default()
                }),
                "adam" | "adamw" => Box::new(Adam {
                    lr: lr(1e-3),
                    weight_decay: wd,
                    decoupled_weight_decay: decoupled.unwrap_or(false),
                    ..Adam::default()
                }),
                "nadam" => Box::new(NAdam {
                    lr: lr(2e-3),
                    weight_decay: wd,
                    decoupled_weight_decay: decoupled.unwrap_or(true),
                    ..NAdam::default()
                }),
                "radam" => Box::new(RAdam {
                    lr: lr(1e-3),
                    weight_decay: wd,
                    decoupled_weight_decay: decoupled.unwrap_or(true),
                    ..RAdam::default()
                }),
                "sgd" => {
                    coupled_only()?;
                    Box::new(Sgd {
                        lr: lr(0.1),
                        momentum: self.momentum.unwrap_or(0.9),
                        weight_decay: wd,
                        ..Sgd::default()
                    })
                }
                "rmsprop" => {
                    coupled_only()?;
                    Box::new(RmsProp {
                        lr: lr(1e-3),
                        momentum: self.momentum.unwrap_or(0.0),
                        weight_decay: wd,
                        ..RmsProp::default()
                    })
                }
                "adamax" => {
                    coupled_only()?;
                    Box::new(Adamax {
                        lr: lr(2e-3),
                        weight_decay: wd,
                        ..Adamax::default()
                    })
                }
                "adagrad" => {
                    coupled_only()?;
                    Box::new(Adagrad {
                        lr: lr(1e-2),
                        weight_decay: wd,
                        ..Adagrad::default()
                    })
                }
                "adadelta" => {
                    coupled_only()?;
                    Box::new(Adadelta {
                        lr: lr(1.0),
                        weight_decay: wd,
                        ..Adadelta::default()
                    })
                }
                // Lion's decay is decoupled by definition.
                "lion" => Box::new(Lion {
                    lr: lr(1e-4),
                    weight_decay: wd,
                    ..Lion::default()
                }),
                _ => {
                    return Err(bad(
                        "--optimizer",
                        name,
                        "adamw, adam, sgd, nadam, radam, adamax, adagrad, adadelta, rmsprop or lion",
                    ));
                }
            })
        };
        Ok((make(wd)?, make(0.0)?))
    }
}

fn activation(v: &str) -> Result<Activation, String> {
    Ok(match v {
        "relu" => Activation::Relu,
        "leaky-relu" => Activation::LeakyRelu(0.01),
        "elu" => Activation::Elu(1.0),
        "gelu" => Activation::Gelu,
        "silu" => Activation::Silu,
        "softplus" => Activation::Softplus,
        "tanh" => Activation::Tanh,
        "sigmoid" => Activation::Sigmoid,
        _ => {
            return Err(bad(
                "--activation",
                v,
                "relu, leaky-relu, elu, gelu, silu, softplus, tanh or sigmoid",
            ));
        }
    })
}

/// The schedule `s`, over `epochs` epochs of `batches` steps.
fn schedule(s: &str, epochs: u64, batches: u64) -> Result<LrSchedule<'static>, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let expected =
        "constant, cosine, step:EPOCHS:GAMMA, warmup:EPOCHS or plateau[:PATIENCE[:FACTOR]]";
    let total = (epochs * batches).max(1);
    let cosine = Schedule::Cosine { min_lr: 0.0, total };
    Ok(match parts[..] {
        ["constant"] => LrSchedule::Constant,
        ["cosine"] => LrSchedule::PerStep(cosine),
        ["step", e, g] => LrSchedule::PerStep(Schedule::Step {
            step_size: number::<u64>("--schedule", e)? * batches,
            gamma: number("--schedule", g)?,
        }),
        ["warmup", e] => {
            let steps = number::<u64>("--schedule", e)? * batches;
            LrSchedule::Warmup(Warmup {
                steps,
                start_factor: 0.1,
                then: Schedule::Cosine {
                    min_lr: 0.0,
                    total: total.saturating_sub(steps).max(1),
                },
            })
        }
        ["plateau", ref rest @ ..] if rest.len() <= 2 => {
            let mut p = Plateau {
                patience: 2,
                factor: 0.5,
                ..Plateau::default()
            };
            if let Some(v) = rest.first() {
                p.patience = number("--schedule", v)?;
            }
            if let Some(v) = rest.get(1) {
                p.factor = number("--schedule", v)?;
            }
            LrSchedule::OnPlateau(p)
        }
        _ => return Err(bad("--schedule", s, expected)),
    })
}
