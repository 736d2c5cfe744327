//! Per-layer gradient norms of a 10-hidden-layer network at initialisation
//! and after one epoch: sigmoid, tanh and ReLU under naive, Glorot and He
//! initialisations.

use super::lab::{self, Ctx, Page, Result, SEED, pct, rows, table};
use super::plot::{self, Series};
use microprop::Activation::{self, Identity, Relu, Sigmoid, Tanh};
use microprop::init::{self, FanMode};
use microprop::nn::{Init, LayerSpec};
use microprop::optim::Sgd;
use microprop::train::{Config, Trainer};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::fmt::Write;

/// How the weights start; biases start at 0.
#[derive(Clone, Copy)]
enum Start {
    /// U(-1, 1).
    Uniform,
    /// N(0, 1).
    Normal,
    /// The crate's scheme, with the activation's gain.
    Scheme(Init, &'static str),
}

impl Start {
    fn name(self) -> &'static str {
        match self {
            Start::Uniform => "U(-1, 1)",
            Start::Normal => "N(0, 1)",
            Start::Scheme(_, name) => name,
        }
    }
}

const STARTS: [Start; 4] = [
    Start::Uniform,
    Start::Normal,
    Start::Scheme(Init::GlorotUniform, "Glorot uniform"),
    Start::Scheme(Init::HeNormal(FanMode::In), "He normal"),
];

/// One network's measurements.
struct Row {
    activation: &'static str,
    start: &'static str,
    at_init: Vec<f64>,
    /// After one epoch; `None` if the epoch diverged.
    after: Option<Vec<f64>>,
    accuracy: f64,
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let page = Page::new(
        ctx,
        "vanishing",
        "Vanishing gradients: per-layer gradient norms of a 10-hidden-layer network",
    )?;
    let (train, test) = ctx.mnist()?;
    let width = ctx.pick(256, 32);
    let depth = 10;
    let probe = rows(&train, 0..ctx.pick(1_000, 200))?;
    let activations: [(Activation, &str); 3] =
        [(Sigmoid, "sigmoid"), (Tanh, "tanh"), (Relu, "ReLU")];
    let mut results = Vec::new();
    for (act, act_name) in activations {
        let mut layers = vec![LayerSpec::new(width, act); depth];
        layers.push(LayerSpec::new(10, Identity));
        for start in STARTS {
            let config = Config {
                init: match start {
                    Start::Scheme(i, _) => i,
                    _ => Init::GlorotUniform,
                },
                weights: Box::new(Sgd {
                    lr: 0.01,
                    momentum: 0.9,
                    ..Sgd::default()
                }),
                biases: Box::new(Sgd {
                    lr: 0.01,
                    momentum: 0.9,
                    ..Sgd::default()
                }),
                epochs: 1,
                seed: SEED,
                ..Config::new(784, &layers)
            };
            let mut trainer = Trainer::new(config)?;
            naive(&mut trainer, start)?;
            let at_init = lab::grad_rms(&trainer.net()?, trainer.params(), &probe)?;
            let run = lab::fit(&mut trainer, &train, None, &test)?;
            let after = match run.diverged {
                Some(_) => None,
                None => Some(lab::grad_rms(&trainer.net()?, trainer.params(), &probe)?),
            };
            println!("{act_name} {}: {:.1} s", start.name(), run.seconds);
            results.push(Row {
                activation: act_name,
                start: start.name(),
                at_init,
                after,
                accuracy: run.last().held_out.accuracy,
            });
        }
    }
    for (_, act_name) in activations {
        let mut series = Vec::new();
        for r in results.iter().filter(|r| r.activation == act_name) {
            let points = |v: &[f64]| -> Vec<(f64, f64)> {
                v.iter()
                    .enumerate()
                    .map(|(l, &g)| ((l + 1) as f64, g))
                    .collect()
            };
            series.push(Series::new(
                format!("{} at init", r.start),
                points(&r.at_init),
            ));
            if let Some(after) = &r.after {
                series.push(Series {
                    faint: true,
                    ..Series::new(format!("{} after 1 epoch", r.start), points(after))
                });
            }
        }
        plot::lines(
            &page.file(&format!("{act_name}.svg")),
            &format!("{act_name}: RMS gradient per parameter, by layer"),
            (
                "layer (1 = first hidden, 11 = output)",
                "RMS gradient (log)",
            ),
            &series,
            true,
        )?;
    }
    page.write(
        &render(&results, width, depth, probe.len(), train.len()),
        None,
    )
}

/// Replaces the weights of a naive start, drawn from `SEED`.
fn naive(trainer: &mut Trainer, start: Start) -> Result<()> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let net = trainer.net()?;
    let layers = net.layers().len();
    let weights: usize = (0..layers)
        .map(|l| net.layer(trainer.params(), l).map(|(w, _)| w.len()))
        .sum::<std::result::Result<_, _>>()?;
    // The weights of every layer come first in the parameters.
    let w = &mut trainer.params_mut()[..weights];
    match start {
        Start::Uniform => init::uniform(w, 1.0, &mut rng)?,
        Start::Normal => init::normal(w, 1.0, &mut rng)?,
        Start::Scheme(..) => {}
    }
    Ok(())
}

/// A gradient norm for the tables.
fn g(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2e}")
    } else {
        format!("{v}")
    }
}

fn render(results: &[Row], width: usize, depth: usize, probe: usize, train: usize) -> String {
    let mut s = format!(
        "A {depth}-hidden-layer MLP, 784-{width}x{depth}-10, with sigmoid, tanh or ReLU hidden \
         units, starts from naive weights, U(-1, 1) or N(0, 1), or from the crate's Glorot \
         uniform or He normal schemes (each with the activation's gain: 1 for sigmoid, 5/3 for \
         tanh, sqrt 2 for ReLU; biases 0). The gradient of the mean cross-entropy on the first \
         {probe} training images is taken at initialisation and again after one epoch of SGD \
         (lr 0.01, momentum 0.9, batch 100) over {train} MNIST training images. Each figure is \
         the root mean square of the gradient over a layer's parameters (weights and biases), so \
         layers of different sizes compare.\n\n\
         The ratio is the first hidden layer's RMS over the last hidden layer's (layer 1 over \
         layer {depth}); the factor is its {}th root, the average shrinking (below 1) or growth \
         per layer going down.\n\n",
        depth - 1
    );
    let header = [
        "activation",
        "init",
        "ratio at init",
        "factor per layer",
        "ratio after 1 epoch",
        "test accuracy after 1 epoch (%)",
    ];
    let ratio = |v: &[f64]| v[0] / v[depth - 1];
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let at = ratio(&r.at_init);
            vec![
                r.activation.to_string(),
                r.start.to_string(),
                g(at),
                format!("{:.3}", at.powf(1.0 / (depth - 1) as f64)),
                r.after
                    .as_deref()
                    .map_or("diverged".into(), |a| g(ratio(a))),
                pct(r.accuracy),
            ]
        })
        .collect();
    s.push_str(&table(&header, &rows));
    s.push_str("\n### RMS gradient per layer at initialisation\n\n");
    let mut header = vec!["activation".to_string(), "init".into()];
    header.extend((1..=depth + 1).map(|l| l.to_string()));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let per_layer = |pick: &dyn Fn(&Row) -> Option<&[f64]>| -> Vec<Vec<String>> {
        results
            .iter()
            .filter_map(|r| {
                let v = pick(r)?;
                let mut row = vec![r.activation.to_string(), r.start.to_string()];
                row.extend(v.iter().map(|&x| g(x)));
                Some(row)
            })
            .collect()
    };
    s.push_str(&table(&header, &per_layer(&|r| Some(&r.at_init))));
    s.push_str("\n### RMS gradient per layer after one epoch\n\n");
    s.push_str(&table(&header, &per_layer(&|r| r.after.as_deref())));
    let _ = write!(
        s,
        "\nBold lines are at initialisation, pale ones after the epoch (same colour, same \
         init).\n\n![sigmoid](sigmoid.svg)\n\n![tanh](tanh.svg)\n\n![ReLU](ReLU.svg)\n"
    );
    s
}
