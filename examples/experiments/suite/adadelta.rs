//! ADADELTA's Tables 1 and 2 (Zeiler 2012): MNIST test error after 6
//! epochs of SGD, momentum and Adagrad at five learning rates, and of
//! Adadelta over its (rho, eps) grid, with tanh and with ReLU units.

use super::lab::{self, Ctx, Page, Result, Run, SEED, table};
use super::plot::{self, Series};
use microprop::Activation::{self, Identity, Relu, Tanh};
use microprop::init::FanMode;
use microprop::nn::{Init, LayerSpec};
use microprop::optim::{Adadelta, Adagrad, Sgd};
use microprop::train::{Config, Dataset, TrainOptimizer, Trainer};
use std::fmt::Write;

const LRS: [f64; 5] = [1.0, 1e-1, 1e-2, 1e-3, 1e-4];
const METHODS: [&str; 3] = ["SGD", "MOMENTUM", "ADAGRAD"];
/// Table 1, test error (%) by learning rate (rows) and method (columns).
const TABLE1: [[f64; 3]; 5] = [
    [2.26, 89.68, 43.76],
    [2.51, 2.03, 2.82],
    [7.02, 2.68, 1.79],
    [17.01, 6.98, 5.21],
    [58.10, 16.98, 12.59],
];
const RHOS: [f64; 3] = [0.9, 0.95, 0.99];
const EPSS: [f64; 4] = [1e-2, 1e-4, 1e-6, 1e-8];
/// Table 2, test error (%) by eps (rows) and rho (columns).
const TABLE2: [[f64; 3]; 4] = [
    [2.59, 2.58, 2.32],
    [2.05, 1.99, 2.28],
    [1.90, 1.83, 2.05],
    [2.29, 2.13, 2.00],
];
const NONLINEARITIES: [(Activation, &str, Init, &str); 2] = [
    (
        Tanh,
        "tanh",
        Init::GlorotUniform,
        "Glorot uniform, gain 5/3",
    ),
    (Relu, "ReLU", Init::HeUniform(FanMode::In), "He uniform"),
];

/// A cell of either table: its row and column, and its paper value.
#[derive(Clone, Copy)]
struct Cell {
    table: usize,
    row: usize,
    col: usize,
}

impl Cell {
    fn paper(self) -> f64 {
        if self.table == 1 {
            TABLE1[self.row][self.col]
        } else {
            TABLE2[self.row][self.col]
        }
    }

    fn name(self) -> String {
        if self.table == 1 {
            format!("{} lr {:e}", METHODS[self.col], LRS[self.row])
        } else {
            format!("ADADELTA rho {} eps {:e}", RHOS[self.col], EPSS[self.row])
        }
    }

    fn optimizer(self) -> Box<dyn TrainOptimizer> {
        let lr = LRS[self.row];
        match (self.table, self.col) {
            (1, 0) => Box::new(Sgd {
                lr,
                ..Sgd::default()
            }),
            (1, 1) => Box::new(Sgd {
                lr,
                momentum: 0.9,
                ..Sgd::default()
            }),
            (1, _) => Box::new(Adagrad {
                lr,
                ..Adagrad::default()
            }),
            _ => Box::new(Adadelta {
                lr: 1.0,
                rho: RHOS[self.col],
                eps: EPSS[self.row],
                ..Adadelta::default()
            }),
        }
    }
}

/// A finished cell: per nonlinearity, its run.
struct Done {
    cell: Cell,
    runs: [Run; 2],
}

impl Done {
    /// The test error (%) of nonlinearity `i` after the last epoch.
    fn error(&self, i: usize) -> f64 {
        100.0 * (1.0 - self.runs[i].last().held_out.accuracy)
    }

    /// The error with a mark when the run diverged.
    fn shown(&self, i: usize) -> String {
        match self.runs[i].diverged {
            Some(e) => format!("{:.2} (NaN loss, epoch {e})", self.error(i)),
            None => format!("{:.2}", self.error(i)),
        }
    }
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let page = Page::new(
        ctx,
        "adadelta",
        "ADADELTA's Tables 1 and 2 (Zeiler 2012): MNIST test error after 6 epochs",
    )?;
    let (train, test) = ctx.mnist()?;
    let epochs = ctx.pick(6, 1);
    let (rows, rhos, epss) = if ctx.quick {
        (1..2, 1..2, 2..3)
    } else {
        (0..5, 0..3, 0..4)
    };
    let mut cells = Vec::new();
    for row in rows {
        cells.extend((0..3).map(|col| Cell { table: 1, row, col }));
    }
    for row in epss {
        cells.extend(rhos.clone().map(|col| Cell { table: 2, row, col }));
    }
    // The shape first, should the run be cut short: the three largest
    // rates of Table 1, then the paper's best eps of Table 2, then the rest.
    cells.sort_by_key(|c| match (c.table, c.row) {
        (1, r) if r < 3 => 0,
        (2, 2) => 1,
        (1, _) => 2,
        _ => 3,
    });
    let mut done: Vec<Done> = Vec::new();
    for (k, &cell) in cells.iter().enumerate() {
        // The two nonlinearities train side by side, each on its own thread.
        let (tanh, relu) = std::thread::scope(|s| {
            let tanh = s.spawn(|| one(cell, 0, &train, &test, epochs).map_err(|e| e.to_string()));
            let relu = one(cell, 1, &train, &test, epochs).map_err(|e| e.to_string());
            (tanh.join(), relu)
        });
        let tanh = tanh.map_err(|_| "the tanh run panicked")?;
        let d = Done {
            cell,
            runs: [tanh?, relu?],
        };
        println!(
            "{}: tanh {} ReLU {} (paper {}; {:.0} + {:.0} s)",
            cell.name(),
            d.shown(0),
            d.shown(1),
            cell.paper(),
            d.runs[0].seconds,
            d.runs[1].seconds
        );
        done.push(d);
        let progress = format!("{} of {} cells", k + 1, cells.len());
        let body = render(&done, &page, epochs, train.len(), test.len())?;
        page.write(&body, (k + 1 < cells.len()).then_some(progress.as_str()))?;
    }
    Ok(())
}

/// Trains cell `cell` with nonlinearity `i` and tests after every epoch.
fn one(cell: Cell, i: usize, train: &Dataset, test: &Dataset, epochs: u64) -> Result<Run> {
    let (act, _, init, _) = NONLINEARITIES[i];
    let layers = [
        LayerSpec::new(500, act),
        LayerSpec::new(300, act),
        LayerSpec::new(10, Identity),
    ];
    let mut trainer = Trainer::new(Config {
        init,
        weights: cell.optimizer(),
        biases: cell.optimizer(),
        batch: 100,
        epochs,
        seed: SEED,
        ..Config::new(784, &layers)
    })?;
    lab::fit(&mut trainer, train, None, test)
}

fn render(done: &[Done], page: &Page, epochs: u64, train: usize, test: usize) -> Result<String> {
    let mut s = format!(
        "The network of both tables, 784-500-300-10 with softmax cross-entropy, trains for \
         {epochs} epochs on MNIST's {train} training images in batches of 100 (seed {SEED}), \
         once with tanh hidden units (Glorot uniform init, gain 5/3) and once with ReLU (He \
         uniform init); biases start at 0 and pixels are scaled to [0, 1]. The error is on the \
         {test} test images after the last epoch. SGD is plain; MOMENTUM is SGD with momentum \
         0.9 in torch's form (v = 0.9 v + g, w -= lr v, the effective step lr / (1 - 0.9)); \
         ADAGRAD is `Adagrad` with eps 1e-10 (the paper has none); ADADELTA is `Adadelta` with \
         lr 1, which is Zeiler's Algorithm 1. Biases use the same optimizer. A run whose loss \
         turned NaN stops there; its error is that of the parameters that produced the NaN \
         (their logits are NaN, so every image is classed 0).\n\n"
    );
    s.push_str("### Table 1: test error (%) by learning rate\n\n");
    let mut header = vec!["lr".to_string()];
    for m in METHODS {
        header.extend([
            format!("{m} paper"),
            format!("{m} tanh"),
            format!("{m} ReLU"),
        ]);
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let cell_of = |table, row, col| {
        done.iter()
            .find(|d| (d.cell.table, d.cell.row, d.cell.col) == (table, row, col))
    };
    let mut rows = Vec::new();
    for (row, lr) in LRS.iter().enumerate() {
        let mut r = vec![format!("{lr:e}")];
        for (col, paper) in TABLE1[row].iter().enumerate() {
            r.push(format!("{paper:.2}"));
            let d = cell_of(1, row, col);
            r.extend([0, 1].map(|i| d.map_or("\u{2014}".into(), |d| d.shown(i))));
        }
        rows.push(r);
    }
    s.push_str(&table(&header, &rows));
    s.push_str("\n### Table 2: ADADELTA test error (%) by eps and rho\n\n");
    let mut header = vec!["eps".to_string()];
    for rho in RHOS {
        header.extend([
            format!("rho {rho} paper"),
            format!("rho {rho} tanh"),
            format!("rho {rho} ReLU"),
        ]);
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut rows = Vec::new();
    for (row, eps) in EPSS.iter().enumerate() {
        let mut r = vec![format!("{eps:e}")];
        for (col, paper) in TABLE2[row].iter().enumerate() {
            r.push(format!("{paper:.2}"));
            let d = cell_of(2, row, col);
            r.extend([0, 1].map(|i| d.map_or("\u{2014}".into(), |d| d.shown(i))));
        }
        rows.push(r);
    }
    s.push_str(&table(&header, &rows));
    s.push_str("\n### Which nonlinearity reproduces the tables\n\n");
    let mut rows = Vec::new();
    for (i, (_, name, ..)) in NONLINEARITIES.iter().enumerate() {
        let diffs: Vec<f64> = done.iter().map(|d| d.error(i) - d.cell.paper()).collect();
        let mae = diffs.iter().map(|d| d.abs()).sum::<f64>() / diffs.len().max(1) as f64;
        let close = diffs.iter().filter(|d| d.abs() <= 1.0).count();
        let best = |table: usize, cols: std::ops::Range<usize>| -> String {
            cols.map(|col| {
                done.iter()
                    .filter(|d| d.cell.table == table && d.cell.col == col)
                    .min_by(|a, b| a.error(i).total_cmp(&b.error(i)))
                    .map_or("\u{2014}".into(), |d| d.cell.name())
            })
            .collect::<Vec<_>>()
            .join("; ")
        };
        rows.push(vec![
            name.to_string(),
            format!("{mae:.2}"),
            format!("{close} of {}", diffs.len()),
            best(1, 0..3),
        ]);
    }
    s.push_str(&table(
        &[
            "hidden units",
            "mean |ours - paper| (points)",
            "cells within 1 point",
            "best lr per method",
        ],
        &rows,
    ));
    s.push_str("\n### Cells more than a point from the paper\n\n");
    for d in done {
        let far: Vec<String> = [0, 1]
            .into_iter()
            .filter(|&i| (d.error(i) - d.cell.paper()).abs() > 1.0)
            .map(|i| format!("{} {}", NONLINEARITIES[i].1, d.shown(i)))
            .collect();
        if !far.is_empty() {
            let _ = writeln!(
                s,
                "- {} (paper {:.2}): {}",
                d.cell.name(),
                d.cell.paper(),
                far.join(", ")
            );
        }
    }
    // Test error per epoch of each method's best cell and the paper's
    // recommended ADADELTA cell.
    for (i, (_, name, ..)) in NONLINEARITIES.iter().enumerate() {
        let mut series = Vec::new();
        for col in 0..3 {
            let best = done
                .iter()
                .filter(|d| d.cell.table == 1 && d.cell.col == col)
                .min_by(|a, b| a.error(i).total_cmp(&b.error(i)));
            series.extend(best.map(|d| curve(d, i)));
        }
        series.extend(cell_of(2, 2, 1).map(|d| curve(d, i)));
        plot::lines(
            &page.file(&format!("{name}.svg")),
            &format!("{name}: test error per epoch, best lr per method"),
            ("epoch", "test error (%, log)"),
            &series,
            true,
        )?;
    }
    s.push_str(
        "\n### Test error per epoch\n\nEach method at its best learning rate, and ADADELTA at \
         rho 0.95, eps 1e-6:\n\n![tanh](tanh.svg)\n\n![ReLU](ReLU.svg)\n",
    );
    Ok(s)
}

/// The test error per epoch of `d` with nonlinearity `i`.
fn curve(d: &Done, i: usize) -> Series {
    Series::new(
        d.cell.name(),
        d.runs[i]
            .points
            .iter()
            .map(|p| (p.epoch as f64, 100.0 * (1.0 - p.held_out.accuracy)))
            .collect(),
    )
}
