//! Learning curves of thirteen optimizers on one network, each at the
//! learning rate that did best on a small grid, and SGD with schedules
//! against Adam.

use super::lab::{self, Ctx, Page, Result, Run, SEED, pct, rows, table};
use super::plot::{self, Series};
use microprop::Activation::{Identity, Relu};
use microprop::nn::LayerSpec;
use microprop::optim::{Adadelta, Adagrad, Adam, AdamW, Adamax, Lion, NAdam, RAdam, RmsProp, Sgd};
use microprop::schedule::Schedule;
use microprop::train::{Config, Dataset, LrSchedule, TrainOptimizer, Trainer};
use std::fmt::Write;

/// An optimizer at learning rate `lr`.
type Make = fn(f64) -> Box<dyn TrainOptimizer>;

/// Each optimizer: its name, its grid of learning rates, and how to make it.
fn optimizers() -> Vec<(&'static str, [f64; 3], Make)> {
    let adam = [3e-4, 1e-3, 3e-3];
    vec![
        ("SGD", [0.03, 0.1, 0.3], |lr| {
            Box::new(Sgd {
                lr,
                ..Sgd::default()
            })
        }),
        ("momentum 0.9", [0.01, 0.03, 0.1], |lr| {
            Box::new(Sgd {
                lr,
                momentum: 0.9,
                ..Sgd::default()
            })
        }),
        ("Nesterov 0.9", [0.01, 0.03, 0.1], |lr| {
            Box::new(Sgd {
                lr,
                momentum: 0.9,
                nesterov: true,
                ..Sgd::default()
            })
        }),
        ("Adagrad", [3e-3, 1e-2, 3e-2], |lr| {
            Box::new(Adagrad {
                lr,
                ..Adagrad::default()
            })
        }),
        ("Adadelta", [0.3, 1.0, 3.0], |lr| {
            Box::new(Adadelta {
                lr,
                ..Adadelta::default()
            })
        }),
        ("RMSprop", [1e-4, 3e-4, 1e-3], |lr| {
            Box::new(RmsProp {
                lr,
                ..RmsProp::default()
            })
        }),
        ("Adam", adam, |lr| {
            Box::new(Adam {
                lr,
                ..Adam::default()
            })
        }),
        ("AMSGrad", adam, |lr| {
            Box::new(Adam {
                lr,
                amsgrad: true,
                ..Adam::default()
            })
        }),
        ("AdamW", adam, |lr| {
            Box::new(AdamW {
                lr,
                ..AdamW::default()
            })
        }),
        ("Adamax", [1e-3, 3e-3, 1e-2], |lr| {
            Box::new(Adamax {
                lr,
                ..Adamax::default()
            })
        }),
        ("NAdam", adam, |lr| {
            Box::new(NAdam {
                lr,
                ..NAdam::default()
            })
        }),
        ("RAdam", adam, |lr| {
            Box::new(RAdam {
                lr,
                ..RAdam::default()
            })
        }),
        ("Lion", [3e-5, 1e-4, 3e-4], |lr| {
            Box::new(Lion {
                lr,
                ..Lion::default()
            })
        }),
    ]
}

/// The data and length of every run.
struct Setup<'d> {
    train: &'d Dataset,
    dev: &'d Dataset,
    epochs: u64,
}

impl Setup<'_> {
    /// One run of `make` at `lr` (the biases' optimizer is the same one;
    /// AdamW's and Lion's decoupled decay then applies to them too).
    fn run(&self, make: Make, lr: f64, schedule: LrSchedule) -> Result<Run> {
        let layers = [
            LayerSpec::new(256, Relu),
            LayerSpec::new(128, Relu),
            LayerSpec::new(10, Identity),
        ];
        let mut trainer = Trainer::new(Config {
            weights: make(lr),
            biases: make(lr),
            schedule,
            epochs: self.epochs,
            seed: SEED,
            ..Config::new(784, &layers)
        })?;
        lab::fit(&mut trainer, self.train, None, self.dev)
    }
}

/// A run's final development accuracy, 0 if it diverged.
fn score(run: &Run) -> f64 {
    if run.diverged.is_some() {
        0.0
    } else {
        run.last().held_out.accuracy
    }
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let page = Page::new(
        ctx,
        "optimizers",
        "Optimizers: learning curves at tuned learning rates",
    )?;
    let (all, _) = ctx.mnist()?;
    let train = rows(&all, 0..ctx.pick(10_000, 1_000))?;
    let dev = rows(&all, ctx.pick(50_000..55_000, 1_000..1_500))?;
    let setup = Setup {
        train: &train,
        dev: &dev,
        epochs: ctx.pick(10, 1),
    };
    let mut tuned = Vec::new();
    let mut grid_rows = Vec::new();
    for (name, grid, make) in optimizers() {
        let grid = if ctx.quick { &grid[1..2] } else { &grid[..] };
        let mut best: Option<(f64, Run)> = None;
        let mut cells = Vec::new();
        for &lr in grid {
            let run = setup.run(make, lr, LrSchedule::Constant)?;
            println!(
                "{name} lr {lr:e}: dev {}% ({:.1} s)",
                pct(score(&run)),
                run.seconds
            );
            cells.push(match run.diverged {
                Some(e) => format!("{lr:e}: diverged (epoch {e})"),
                None => format!("{lr:e}: {}", pct(score(&run))),
            });
            if best.as_ref().is_none_or(|(_, b)| score(&run) > score(b)) {
                best = Some((lr, run));
            }
        }
        let (lr, run) = best.ok_or("an empty grid")?;
        grid_rows.push(vec![name.to_string(), cells.join("; "), format!("{lr:e}")]);
        tuned.push((name, make, lr, run));
    }
    let curves = |f: fn(&lab::Point) -> f64| -> Vec<Series> {
        tuned
            .iter()
            .map(|(name, _, lr, run)| {
                Series::new(
                    format!("{name} (lr {lr:e})"),
                    run.points.iter().map(|p| (p.epoch as f64, f(p))).collect(),
                )
            })
            .collect()
    };
    plot::lines(
        &page.file("train-loss.svg"),
        "training loss per epoch (mean over the epoch's batches)",
        ("epoch", "training loss (log)"),
        &curves(|p| p.train_loss),
        true,
    )?;
    plot::lines(
        &page.file("dev-accuracy.svg"),
        "development accuracy per epoch",
        ("epoch", "development accuracy (%)"),
        &curves(|p| 100.0 * p.held_out.accuracy),
        false,
    )?;
    // Momentum at its tuned rate, constant, stepped and cosine, against Adam.
    let find = |n: &str| tuned.iter().find(|t| t.0 == n).ok_or("missing optimizer");
    let (_, momentum, m_lr, m_run) = find("momentum 0.9")?;
    let (_, _, a_lr, a_run) = find("Adam")?;
    let steps = setup.epochs * train.len().div_ceil(100) as u64;
    let step = LrSchedule::PerStep(Schedule::Step {
        step_size: (steps / 2).max(1),
        gamma: 0.1,
    });
    let cosine = LrSchedule::PerStep(Schedule::Cosine {
        min_lr: 0.0,
        total: steps,
    });
    let stepped = setup.run(*momentum, *m_lr, step)?;
    let cosined = setup.run(*momentum, *m_lr, cosine)?;
    let schedules: [(String, &Run); 4] = [
        (format!("momentum, constant lr {m_lr:e}"), m_run),
        ("momentum, x0.1 at half-way".to_string(), &stepped),
        ("momentum, cosine to 0".to_string(), &cosined),
        (format!("Adam, constant lr {a_lr:e}"), a_run),
    ];
    let mut series = Vec::new();
    for (name, run) in &schedules {
        series.push(Series::new(
            format!("{name}: dev accuracy"),
            run.points
                .iter()
                .map(|p| (p.epoch as f64, 100.0 * p.held_out.accuracy))
                .collect(),
        ));
    }
    plot::lines(
        &page.file("schedules.svg"),
        "SGD with momentum and a schedule against Adam",
        ("epoch", "development accuracy (%)"),
        &series,
        false,
    )?;
    let mut s = format!(
        "One network, 784-256-128-10 ReLU (He uniform init, batch 100, seed {SEED}), trains for \
         {} epochs on the first {} MNIST training images with each optimizer, at each learning \
         rate of a three-point grid around its usual rate; the development set is {} other \
         training images. The tuned rate is the one with the best final development accuracy; \
         its run's curves are plotted. Other hyperparameters are the crate's defaults (torch's): \
         Adagrad eps 1e-10, Adadelta rho 0.9 eps 1e-6, RMSprop alpha 0.99, Adam betas (0.9, \
         0.999), AdamW weight decay 1e-2, Lion betas (0.9, 0.99). The biases use the same \
         optimizer.\n\n",
        setup.epochs,
        train.len(),
        dev.len(),
    );
    let header = [
        "optimizer",
        "tuned lr",
        "final train loss",
        "final dev acc. (%)",
        "best dev acc. (%), epoch",
        "dev acc. after epoch 1 (%)",
    ];
    let rows: Vec<Vec<String>> = tuned
        .iter()
        .map(|(name, _, lr, run)| {
            let best = run
                .points
                .iter()
                .max_by(|a, b| a.held_out.accuracy.total_cmp(&b.held_out.accuracy))
                .copied()
                .unwrap_or(run.last());
            vec![
                name.to_string(),
                format!("{lr:e}"),
                format!("{:.4}", run.last().train_loss),
                pct(run.last().held_out.accuracy),
                format!("{}, {}", pct(best.held_out.accuracy), best.epoch),
                pct(run.points[0].held_out.accuracy),
            ]
        })
        .collect();
    s.push_str(&table(&header, &rows));
    s.push_str(
        "\n![training loss](train-loss.svg)\n\n![development accuracy](dev-accuracy.svg)\n\n\
         ### The grids (final development accuracy, %)\n\n",
    );
    s.push_str(&table(&["optimizer", "lr: dev acc.", "chosen"], &grid_rows));
    let _ = write!(
        s,
        "\n### Schedules\n\nSGD with momentum 0.9 at its tuned rate, constant, multiplied by \
         0.1 half-way ({} of {steps} steps), and cosine-annealed to 0 over the run, against \
         Adam at its tuned rate:\n\n",
        (steps / 2).max(1)
    );
    let rows: Vec<Vec<String>> = schedules
        .iter()
        .map(|(name, run)| {
            vec![
                name.clone(),
                format!("{:.4}", run.last().train_loss),
                pct(run.last().held_out.accuracy),
            ]
        })
        .collect();
    s.push_str(&table(
        &["run", "final train loss", "final dev acc. (%)"],
        &rows,
    ));
    s.push_str("\n![schedules](schedules.svg)\n");
    page.write(&s, None)
}
