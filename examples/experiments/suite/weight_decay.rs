//! Adam with L2 in the gradient against AdamW's decoupled weight decay at
//! the same lambda, over a grid of learning rates and lambdas.

use super::lab::{self, Ctx, Page, Result, SEED, pct, rows, table};
use super::plot::{self, Series};
use microprop::Activation::{Identity, Relu};
use microprop::nn::LayerSpec;
use microprop::optim::{Adam, AdamW};
use microprop::train::{Config, TrainOptimizer, Trainer};
use std::fmt::Write;

/// One run's end.
struct Cell {
    lr: f64,
    lambda: f64,
    decoupled: bool,
    accuracy: f64,
    norm: f64,
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let page = Page::new(
        ctx,
        "weight-decay",
        "Weight decay under Adam: L2 in the gradient against AdamW's decoupled decay",
    )?;
    let (train, test) = ctx.mnist()?;
    let train = rows(&train, 0..ctx.pick(20_000, train.len()))?;
    let lrs: &[f64] = ctx.pick(&[1e-4, 1e-3, 1e-2], &[1e-3]);
    let lambdas: &[f64] = ctx.pick(&[0.0, 1e-4, 1e-3, 1e-2, 1e-1], &[0.0, 1e-2]);
    let epochs = ctx.pick(10, 1);
    let layers = [LayerSpec::new(256, Relu), LayerSpec::new(10, Identity)];
    let mut cells = Vec::new();
    for &lr in lrs {
        for &lambda in lambdas {
            // With lambda 0 both are the same Adam: run it once.
            for decoupled in [false, true]
                .into_iter()
                .take(if lambda == 0.0 { 1 } else { 2 })
            {
                let (weights, biases): (Box<dyn TrainOptimizer>, Box<dyn TrainOptimizer>) =
                    if decoupled {
                        let o = AdamW {
                            lr,
                            weight_decay: lambda,
                            ..AdamW::default()
                        };
                        (
                            Box::new(o),
                            Box::new(AdamW {
                                weight_decay: 0.0,
                                ..o
                            }),
                        )
                    } else {
                        let o = Adam {
                            lr,
                            weight_decay: lambda,
                            ..Adam::default()
                        };
                        (
                            Box::new(o),
                            Box::new(Adam {
                                weight_decay: 0.0,
                                ..o
                            }),
                        )
                    };
                let mut trainer = Trainer::new(Config {
                    weights,
                    biases,
                    epochs,
                    seed: SEED,
                    ..Config::new(784, &layers)
                })?;
                let run = lab::fit(&mut trainer, &train, None, &test)?;
                let cell = Cell {
                    lr,
                    lambda,
                    decoupled,
                    accuracy: run.last().held_out.accuracy,
                    norm: lab::weight_norm(&trainer)?,
                };
                println!(
                    "lr {lr:e} lambda {lambda:e} {}: {}% |W| {:.1} ({:.1} s)",
                    if decoupled { "AdamW" } else { "Adam+L2" },
                    pct(cell.accuracy),
                    cell.norm,
                    run.seconds
                );
                cells.push(cell);
            }
        }
    }
    let mut series = Vec::new();
    for &lr in lrs {
        for decoupled in [false, true] {
            let points = cells
                .iter()
                .filter(|c| c.lr == lr && c.lambda > 0.0 && c.decoupled == decoupled)
                .map(|c| (c.lambda.log10(), c.norm))
                .collect();
            let name = if decoupled { "AdamW" } else { "Adam + L2" };
            series.push(Series {
                faint: decoupled,
                ..Series::new(format!("{name}, lr {lr:e}"), points)
            });
        }
    }
    plot::lines(
        &page.file("weight-norm.svg"),
        "weight norm after training against lambda",
        ("log10 lambda", "L2 norm of all weights (log)"),
        &series,
        true,
    )?;
    page.write(&render(&cells, train.len(), test.len(), epochs), None)
}

fn render(cells: &[Cell], train: usize, test: usize, epochs: u64) -> String {
    let mut s = format!(
        "A 784-256-10 ReLU MLP (He uniform init, batch 100) trains for {epochs} epochs on \
         {train} MNIST training images, once per learning rate and lambda with Adam whose \
         gradient carries the L2 term (`Adam {{ weight_decay: lambda }}`: g + lambda w enters \
         both moments), and once with AdamW (`AdamW {{ weight_decay: lambda }}`: w shrinks by \
         lr lambda w at every step, outside the moments). Biases are never decayed; betas \
         (0.9, 0.999), eps 1e-8. Lambda 0 is plain Adam, run once. Accuracy is on the {test} \
         test images; the norm is the L2 norm of all weights at the end.\n\n"
    );
    let header = [
        "lr",
        "lambda",
        "Adam + L2: test acc. (%)",
        "AdamW: test acc. (%)",
        "Adam + L2: weight norm",
        "AdamW: weight norm",
    ];
    let find = |c: &Cell, decoupled: bool| {
        cells.iter().find(|d| {
            d.lr == c.lr && d.lambda == c.lambda && (d.decoupled == decoupled || d.lambda == 0.0)
        })
    };
    let rows: Vec<Vec<String>> = cells
        .iter()
        .filter(|c| !c.decoupled)
        .map(|c| {
            let w = find(c, true).unwrap_or(c);
            vec![
                format!("{:e}", c.lr),
                format!("{:e}", c.lambda),
                pct(c.accuracy),
                pct(w.accuracy),
                format!("{:.1}", c.norm),
                format!("{:.1}", w.norm),
            ]
        })
        .collect();
    s.push_str(&table(&header, &rows));
    let _ = write!(
        s,
        "\nBold lines are Adam + L2, pale ones AdamW, one colour per learning rate.\n\n\
         ![weight norm](weight-norm.svg)\n"
    );
    s
}
