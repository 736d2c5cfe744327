//! The training/development gap of an over-parameterised network on a
//! small training set: no regularisation, L2, dropout, and both.

use super::lab::{self, Ctx, Page, Result, SEED, pct, rows, table};
use super::plot::{self, Series};
use microprop::Activation::{Identity, Relu};
use microprop::nn::LayerSpec;
use microprop::optim::Sgd;
use microprop::train::{Config, Trainer};
use std::fmt::Write;

const LR: f64 = 0.01;
const MOMENTUM: f64 = 0.9;
/// The L2 penalty of the runs with it (in the gradient, on the weights).
const L2: f64 = 5e-3;
const INPUT_DROPOUT: f32 = 0.2;
const HIDDEN_DROPOUT: f32 = 0.5;
const HIDDEN: usize = 512;

pub fn run(ctx: &Ctx) -> Result<()> {
    let page = Page::new(
        ctx,
        "regularization",
        "Regularisation: the training/development gap on a small training set",
    )?;
    let (all, test) = ctx.mnist()?;
    let n = ctx.pick(2_000, 500);
    let train = rows(&all, 0..n)?;
    let dev_rows = ctx.pick(50_000..53_000, 1_000..1_500);
    let dev = rows(&all, dev_rows.clone())?;
    let epochs = ctx.pick(40, 1);
    let mut runs = Vec::new();
    for (name, l2, dropout) in [
        ("none", false, false),
        ("L2", true, false),
        ("dropout", false, true),
        ("L2 + dropout", true, true),
    ] {
        let hidden = if dropout { HIDDEN_DROPOUT } else { 0.0 };
        let layers = [
            LayerSpec::new(HIDDEN, Relu).with_dropout(hidden),
            LayerSpec::new(HIDDEN, Relu).with_dropout(hidden),
            LayerSpec::new(10, Identity),
        ];
        let o = Sgd {
            lr: LR,
            momentum: MOMENTUM,
            weight_decay: if l2 { L2 } else { 0.0 },
            ..Sgd::default()
        };
        let mut trainer = Trainer::new(Config {
            input_dropout: if dropout { INPUT_DROPOUT } else { 0.0 },
            weights: Box::new(o),
            biases: Box::new(Sgd {
                weight_decay: 0.0,
                ..o
            }),
            epochs,
            seed: SEED,
            ..Config::new(784, &layers)
        })?;
        let run = lab::fit(&mut trainer, &train, Some(&train), &dev)?;
        let test = trainer.evaluate(&test)?;
        println!(
            "{name}: test {}% ({:.0} s)",
            pct(test.accuracy),
            run.seconds
        );
        runs.push((name, run, test.accuracy));
    }
    let gap =
        |p: &lab::Point| 100.0 * (p.train.map_or(f64::NAN, |e| e.accuracy) - p.held_out.accuracy);
    let series: Vec<Series> = runs
        .iter()
        .map(|(name, run, _)| {
            Series::new(
                *name,
                run.points
                    .iter()
                    .map(|p| (p.epoch as f64, gap(p)))
                    .collect(),
            )
        })
        .collect();
    plot::lines(
        &page.file("gap.svg"),
        "training minus development accuracy per epoch",
        ("epoch", "gap (points)"),
        &series,
        false,
    )?;
    let mut curves = Vec::new();
    for (name, run, _) in &runs {
        let curve = |f: &dyn Fn(&lab::Point) -> f64| -> Vec<(f64, f64)> {
            run.points
                .iter()
                .map(|p| (p.epoch as f64, 100.0 * f(p)))
                .collect()
        };
        curves.push(Series::new(
            format!("{name}: development"),
            curve(&|p| p.held_out.accuracy),
        ));
        curves.push(Series {
            faint: true,
            ..Series::new(
                format!("{name}: training"),
                curve(&|p| p.train.map_or(f64::NAN, |e| e.accuracy)),
            )
        });
    }
    plot::lines(
        &page.file("accuracy.svg"),
        "accuracy per epoch",
        ("epoch", "accuracy (%)"),
        &curves,
        false,
    )?;
    let mut s = format!(
        "An over-parameterised MLP, 784-{HIDDEN}-{HIDDEN}-10 ReLU (He uniform init, {} \
         parameters), trains on only the first {n} MNIST training images for {epochs} epochs of \
         SGD (lr {LR}, momentum {MOMENTUM}, batch 100), with no regularisation, with L2 \
         ({L2:e} times the weights added to their gradient; biases free), with dropout \
         ({INPUT_DROPOUT} on the inputs, {HIDDEN_DROPOUT} on both hidden layers), and with \
         both. The development set is {} other training images (nos. {}-{}), the test set \
         MNIST's {} test images. Training accuracy is measured on the training images in \
         evaluation mode (no dropout) after every epoch; the gap is training minus \
         development accuracy in points.\n\n",
        784 * HIDDEN + HIDDEN * HIDDEN + HIDDEN * 10 + 2 * HIDDEN + 10,
        dev.len(),
        dev_rows.start,
        dev_rows.end - 1,
        test.len(),
    );
    let header = [
        "regularisation",
        "train acc. (%)",
        "dev acc. (%)",
        "gap (points)",
        "largest gap (points), epoch",
        "best dev acc. (%), epoch",
        "test acc. (%)",
    ];
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|(name, run, test)| {
            let last = run.last();
            let widest = run
                .points
                .iter()
                .max_by(|a, b| gap(a).total_cmp(&gap(b)))
                .unwrap_or(&last);
            let best = run
                .points
                .iter()
                .max_by(|a, b| a.held_out.accuracy.total_cmp(&b.held_out.accuracy))
                .unwrap_or(&last);
            vec![
                name.to_string(),
                pct(last.train.map_or(f64::NAN, |e| e.accuracy)),
                pct(last.held_out.accuracy),
                format!("{:.2}", gap(&last)),
                format!("{:.2}, {}", gap(widest), widest.epoch),
                format!("{}, {}", pct(best.held_out.accuracy), best.epoch),
                pct(*test),
            ]
        })
        .collect();
    s.push_str(&table(&header, &rows));
    let _ = write!(
        s,
        "\n![gap](gap.svg)\n\nBold lines: development accuracy; pale lines of the same colour: \
         training accuracy.\n\n![accuracy](accuracy.svg)\n"
    );
    page.write(&s, None)
}
