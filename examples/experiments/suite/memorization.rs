//! Zhang et al. 2017 on MNIST: a one-hidden-layer MLP fits random labels
//! as well as true ones, with and without explicit regularisation.

use super::lab::{self, Ctx, Page, Result, Run, SEED, pct, rows, table};
use super::plot::{self, Series};
use microprop::Activation::{Identity, Relu};
use microprop::nn::LayerSpec;
use microprop::optim::AdamW;
use microprop::train::{Config, Dataset, Trainer};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::fmt::Write;

/// The learning rate of every run (AdamW).
const LR: f64 = 1e-3;
/// The weight decay of the runs with it (AdamW's decoupled decay).
const DECAY: f64 = 1e-2;
/// Dropout on the hidden layer in the runs with it.
const DROPOUT: f32 = 0.5;

/// The paper's MLP 1x512 rows on CIFAR-10 (train, test accuracy in %),
/// by regulariser and labels.
fn paper(regulariser: &str, random: bool) -> Option<(f64, f64)> {
    match (regulariser, random) {
        ("none", false) => Some((100.0, 50.51)),
        ("none", true) => Some((99.34, 10.61)),
        ("weight decay", false) => Some((99.80, 50.39)),
        _ => None,
    }
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let page = Page::new(
        ctx,
        "memorization",
        "Memorisation: an MLP fits random labels (Zhang et al. 2017, on MNIST)",
    )?;
    let (train, test) = ctx.mnist()?;
    let n = ctx.pick(10_000, 1_000);
    let truth = rows(&train, 0..n)?;
    let random = random_labels(&truth)?;
    let epochs = ctx.pick(100, 1);
    let mut runs = Vec::new();
    for regulariser in ["none", "weight decay", "dropout"] {
        for (labels, data) in [(false, &truth), (true, &random)] {
            let dropout = if regulariser == "dropout" {
                DROPOUT
            } else {
                0.0
            };
            let decay = if regulariser == "weight decay" {
                DECAY
            } else {
                0.0
            };
            let layers = [
                LayerSpec::new(512, Relu).with_dropout(dropout),
                LayerSpec::new(10, Identity),
            ];
            let o = AdamW {
                lr: LR,
                weight_decay: decay,
                ..AdamW::default()
            };
            let mut trainer = Trainer::new(Config {
                weights: Box::new(o),
                biases: Box::new(AdamW {
                    weight_decay: 0.0,
                    ..o
                }),
                epochs,
                seed: SEED,
                ..Config::new(784, &layers)
            })?;
            let run = lab::fit(&mut trainer, data, Some(data), &test)?;
            let last = run.last();
            println!(
                "{regulariser}, {} labels: train {}% test {}% ({:.0} s)",
                if labels { "random" } else { "true" },
                pct(last.train.map_or(f64::NAN, |e| e.accuracy)),
                pct(last.held_out.accuracy),
                run.seconds
            );
            runs.push((regulariser, labels, run));
        }
    }
    let mut series = Vec::new();
    for (regulariser, random, run) in &runs {
        let name = format!("{regulariser}, {}", if *random { "random" } else { "true" });
        let curve = |f: &dyn Fn(&lab::Point) -> f64| -> Vec<(f64, f64)> {
            run.points
                .iter()
                .map(|p| (p.epoch as f64, 100.0 * f(p)))
                .collect()
        };
        series.push(Series::new(
            format!("{name}: training"),
            curve(&|p| p.train.map_or(f64::NAN, |e| e.accuracy)),
        ));
        series.push(Series {
            faint: true,
            ..Series::new(format!("{name}: test"), curve(&|p| p.held_out.accuracy))
        });
    }
    plot::lines(
        &page.file("accuracy.svg"),
        "accuracy per epoch (training set in evaluation mode)",
        ("epoch", "accuracy (%)"),
        &series,
        false,
    )?;
    page.write(&render(&runs, n, test.len(), epochs), None)
}

/// `data` with every label replaced by a uniform draw from the classes,
/// fixed once (a draw may hit the true label).
fn random_labels(data: &Dataset) -> Result<Dataset> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let classes = data.classes() as u64;
    let labels = data
        .labels()
        .iter()
        .map(|_| ((u64::from(rng.next_u32()) * classes) >> 32) as u32)
        .collect();
    Ok(Dataset::new(
        data.inputs().to_vec(),
        labels,
        data.features(),
        data.classes(),
    )?)
}

/// The first epoch at which the training accuracy reached `at` (a fraction).
fn reached(run: &Run, at: f64) -> String {
    run.points
        .iter()
        .find(|p| p.train.is_some_and(|e| e.accuracy >= at))
        .map_or("not reached".into(), |p| p.epoch.to_string())
}

fn render(runs: &[(&str, bool, Run)], n: usize, test: usize, epochs: u64) -> String {
    let mut s = format!(
        "The paper trained on CIFAR-10 (50,000 images, SGD with momentum 0.9, lr 0.01 decayed \
         by 0.95 per epoch). This runs the same kind of network, one hidden layer of 512 ReLU \
         units (784-512-10, He uniform init), on the first {n} MNIST training images with their \
         true labels and with every label replaced by a uniform random class (seed {SEED}, \
         fixed for the run), {epochs} epochs of AdamW (lr {LR:e}, batch 100), then with weight \
         decay (AdamW's decoupled decay {DECAY:e} on the weights) and with dropout \
         ({DROPOUT} on the hidden layer). AdamW rather than the paper's SGD schedule because it \
         fits random labels in a budget this machine can afford; the paper's MLP rows never \
         used dropout (\u{2014} below). Training accuracy is measured on the training set \
         (with the labels trained on) in evaluation mode after each epoch; test accuracy on \
         the {test} MNIST test images with their true labels.\n\n"
    );
    let header = [
        "regulariser",
        "labels",
        "train acc. (%)",
        "test acc. (%)",
        "epoch reaching 99% train",
        "paper CIFAR-10 train (%)",
        "paper CIFAR-10 test (%)",
    ];
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|(regulariser, random, run)| {
            let last = run.last();
            let p = paper(regulariser, *random);
            vec![
                regulariser.to_string(),
                if *random { "random" } else { "true" }.into(),
                pct(last.train.map_or(f64::NAN, |e| e.accuracy)),
                pct(last.held_out.accuracy),
                reached(run, 0.99),
                p.map_or("\u{2014}".into(), |p| format!("{:.2}", p.0)),
                p.map_or("\u{2014}".into(), |p| format!("{:.2}", p.1)),
            ]
        })
        .collect();
    s.push_str(&table(&header, &rows));
    let _ = write!(
        s,
        "\nBold lines: training accuracy; pale lines of the same colour: test accuracy.\n\n\
         ![accuracy](accuracy.svg)\n"
    );
    s
}
