//! One training epoch on MNIST, single thread, against PyTorch and against
//! the matrix-multiply floor, measured in the same run.
//!
//! ```sh
//! cargo bench --bench train                       # 3 rounds
//! MICROPROP_TRAIN_ROUNDS=5 cargo bench --bench train --features parallel
//! ```
//!
//! Two networks, batch 100, softmax cross-entropy:
//!
//! - `relu-adamw`: 784-256-128-10 ReLU, dropout 0.2 after each hidden
//!   layer, AdamW lr 1e-3 (weight decay 1e-4 on the weights), the first
//!   55,000 training images;
//! - `tanh-sgd`: 784-500-300-10 tanh, SGD lr 0.1, all 60,000 (the network
//!   of the ADADELTA paper).
//!
//! Each round trains one epoch of each network with microprop, then (if
//! `python3 -c "import torch"` works) one epoch of each with PyTorch, by
//! running `benches/train_torch.py`, so the two share the machine's state;
//! the summary gives the median of the per-round ratios. The floor is the
//! epoch's multiply-adds (forward, weight gradient, and input gradient
//! except for the first layer) at the rate of a 512-cube product measured
//! here. With the `parallel` feature each round also trains each network
//! with 2 threads. Without `--bench` (as `cargo test --benches`
//! runs it) one small epoch of each network checks that the bench works.

use microprop::matmul::{gemm, gemm_workspace_len};
use microprop::nn::LayerSpec;
use microprop::optim::{AdamW, Sgd};
use microprop::train::{Config, Dataset, History, Observer, TrainError, TrainOptimizer, Trainer};
use microprop::{Activation, MatMut, MatRef};
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Ends `fit` after every epoch, so each call trains one.
struct OneEpoch;

impl Observer for OneEpoch {
    fn on_epoch(&mut self, _: &History) -> Result<ControlFlow<()>, TrainError> {
        Ok(ControlFlow::Break(()))
    }
}

struct Net {
    name: &'static str,
    layers: Vec<LayerSpec>,
    samples: usize,
}

impl Net {
    /// Multiply-adds of an epoch, times 2: the forward product and the
    /// weight gradient of every layer, and the input gradient of every
    /// layer but the first.
    fn flops(&self) -> f64 {
        let mut fan_in = 784;
        let mut per_sample = 0;
        for (l, spec) in self.layers.iter().enumerate() {
            let products = if l == 0 { 2 } else { 3 };
            per_sample += 2 * products * fan_in * spec.units;
            fan_in = spec.units;
        }
        (per_sample * self.samples) as f64
    }

    fn trainer(&self, threads: usize) -> Trainer<'static> {
        let adamw = self.name == "relu-adamw";
        let (weights, biases): (Box<dyn TrainOptimizer>, Box<dyn TrainOptimizer>) = if adamw {
            let w = AdamW {
                lr: 1e-3,
                weight_decay: 1e-4,
                ..AdamW::default()
            };
            (
                Box::new(w),
                Box::new(AdamW {
                    weight_decay: 0.0,
                    ..w
                }),
            )
        } else {
            let s = Sgd {
                lr: 0.1,
                ..Sgd::default()
            };
            (Box::new(s), Box::new(s))
        };
        Trainer::new(Config {
            weights,
            biases,
            epochs: u64::MAX,
            seed: 2024,
            threads,
            ..Config::new(784, &self.layers)
        })
        .expect("a valid configuration")
    }
}

/// The best GFLOP/s of a 512-cube product on one thread.
fn gemm_rate() -> f64 {
    let n = 512;
    let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..n * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0.0; n * n];
    let mut ws = vec![0.0; gemm_workspace_len(n, n, n)];
    let mut best = f64::INFINITY;
    for _ in 0..20 {
        let start = Instant::now();
        gemm(
            1.0,
            MatRef::new(&a, n, n).unwrap(),
            MatRef::new(&b, n, n).unwrap(),
            0.0,
            MatMut::new(&mut c, n, n).unwrap(),
            &mut ws,
        )
        .unwrap();
        best = best.min(start.elapsed().as_secs_f64());
    }
    2.0 * (n * n * n) as f64 / best / 1e9
}

/// One epoch of `trainer` on `data`: the training pass's seconds.
fn epoch(trainer: &mut Trainer, data: &Dataset) -> f64 {
    let h = trainer.fit(data, OneEpoch).expect("an epoch");
    h.last().expect("an epoch").seconds
}

/// One epoch of each network with PyTorch, if it is installed: seconds by
/// network name.
fn torch_round() -> Option<Vec<(String, f64)>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/train_torch.py");
    let out = Command::new("python3").arg(script).arg("1").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    text.lines()
        .map(|l| {
            let mut w = l.split_whitespace().skip(1);
            Some((w.next()?.to_string(), w.next()?.parse().ok()?))
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut all, _) = Dataset::mnist(root.join("data/mnist")).expect("the bundled MNIST");
    let hidden = |units: &[usize], act| -> Vec<LayerSpec> {
        let dropout = if act == Activation::Relu { 0.2 } else { 0.0 };
        let mut l: Vec<LayerSpec> = units
            .iter()
            .map(|&u| LayerSpec::new(u, act).with_dropout(dropout))
            .collect();
        l.push(LayerSpec::new(10, Activation::Identity));
        l
    };
    if !full {
        // A smoke test: 1,000 images per network.
        all.split_off(1_000).expect("60,000 images");
    }
    let mut first = all.clone();
    first.split_off(all.len() * 55 / 60).expect("fewer images");
    let nets = [
        Net {
            name: "relu-adamw",
            layers: hidden(&[256, 128], Activation::Relu),
            samples: first.len(),
        },
        Net {
            name: "tanh-sgd",
            layers: hidden(&[500, 300], Activation::Tanh),
            samples: all.len(),
        },
    ];
    let data = [&first, &all];
    let rate = gemm_rate();
    println!(
        "SIMD {}; 512-cube gemm on one thread: {rate:.1} GFLOP/s",
        microprop::simd_backend()
    );
    let rounds: usize = if full {
        std::env::var("MICROPROP_TRAIN_ROUNDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3)
    } else {
        1
    };
    let torch = full
        && Command::new("python3")
            .args(["-c", "import torch"])
            .output()
            .is_ok_and(|o| o.status.success());
    if full && !torch {
        println!("PyTorch not found (python3 -c \"import torch\" failed): microprop only");
    }
    let mut trainers: Vec<Trainer> = nets.iter().map(|n| n.trainer(1)).collect();
    let parallel = cfg!(feature = "parallel");
    let mut two: Vec<Trainer> = if parallel {
        nets.iter().map(|n| n.trainer(2)).collect()
    } else {
        Vec::new()
    };
    // Per network: microprop's seconds, torch's, and the 2-thread ones.
    let mut ours = vec![Vec::new(); nets.len()];
    let mut theirs = vec![Vec::new(); nets.len()];
    let mut threaded = vec![Vec::new(); nets.len()];
    for round in 1..=rounds {
        for (i, net) in nets.iter().enumerate() {
            let s = epoch(&mut trainers[i], data[i]);
            println!("round {round}  microprop {:<11} {s:.3} s", net.name);
            ours[i].push(s);
        }
        for (i, t) in two.iter_mut().enumerate() {
            let s = epoch(t, data[i]);
            println!(
                "round {round}  microprop {:<11} {s:.3} s with 2 threads",
                nets[i].name
            );
            threaded[i].push(s);
        }
        if torch {
            for (name, s) in torch_round().unwrap_or_default() {
                if let Some(i) = nets.iter().position(|n| n.name == name) {
                    println!("round {round}  torch     {name:<11} {s:.3} s");
                    theirs[i].push(s);
                }
            }
        }
    }
    println!();
    for (i, net) in nets.iter().enumerate() {
        let gflop = net.flops() / 1e9;
        let floor = gflop / rate;
        let ours_median = median(&mut ours[i].clone());
        print!(
            "{:<11} microprop {ours_median:.3} s (median of {}), floor {floor:.3} s ({gflop:.1} GFLOP at {rate:.0} GFLOP/s): {:.2}x the floor",
            net.name,
            ours[i].len(),
            ours_median / floor
        );
        if theirs[i].len() == ours[i].len() {
            let mut ratios: Vec<f64> = theirs[i].iter().zip(&ours[i]).map(|(t, o)| t / o).collect();
            print!(
                "; torch {:.3} s, torch / microprop {:.2}x (median of per-round ratios)",
                median(&mut theirs[i].clone()),
                median(&mut ratios)
            );
        }
        println!();
    }
    for (i, net) in nets
        .iter()
        .enumerate()
        .filter(|(i, _)| !threaded[*i].is_empty())
    {
        let mut ratios: Vec<f64> = ours[i]
            .iter()
            .zip(&threaded[i])
            .map(|(o, t)| o / t)
            .collect();
        println!(
            "{:<11} 2 threads {:.3} s: {:.2}x one thread (median of per-round ratios)",
            net.name,
            median(&mut threaded[i].clone()),
            median(&mut ratios)
        );
    }
}
