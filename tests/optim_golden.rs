//! The optimizers against PyTorch's float32 trajectories (and a numpy
//! implementation of optax's Lion), from `tests/golden/optim.txt`, made by
//! `tests/golden/make_golden.py`.

mod common;

use common::ulp_distance;
use microprop::{
    Adadelta, Adagrad, Adam, AdamW, Adamax, Lion, NAdam, Optimizer, RAdam, RmsProp, Sgd,
};
use std::boxed::Box;
use std::collections::BTreeMap;

/// The problem of `make_golden.py`: initial parameters and the
/// parameter-dependent gradient, with the same f32 operations.
struct Problem {
    c: Vec<f32>,
    half: Vec<f32>,
    e: Vec<f32>,
}

const X: [f32; 7] = [0.5, -1.25, 2.0, 0.0, -0.75, 1.5, 3.75];
const M: [f32; 4] = [1.0, 1.25, 0.75, 1.5];
const E: [f32; 4] = [1.0, 1.0 / 16_777_216.0, 8.0, 1.0 / 1024.0];
const C: [f32; 5] = [0.5, 0.25, 1.0, 0.125, 2.0];
const W: [f32; 16] = [
    0.5, -0.25, 0.75, -1.0, 0.125, 0.375, -0.625, 0.875, -0.5, 0.25, -0.75, 1.0, -0.125, -0.375,
    0.625, -0.875,
];

impl Problem {
    fn new(n: usize, gsign: f32) -> (Self, Vec<f32>) {
        let p0: Vec<f32> = (0..n).map(|i| X[i % 7] * M[(i / 7) % 4]).collect();
        let c = (0..n).map(|i| gsign * C[i % 5]).collect();
        let half = p0.iter().map(|p| p * 0.5).collect();
        let e = (0..n).map(|i| E[i % 4]).collect();
        (Self { c, half, e }, p0)
    }

    fn grads(&self, t: usize, p: &[f32], g: &mut [f32]) {
        for i in 0..p.len() {
            g[i] = if i % 7 == 3 || (i + t).is_multiple_of(11) {
                0.0
            } else {
                let w = 1.0 + W[(3 * i + 5 * t) % 16] / 4.0;
                let s = -(self.c[i] * self.half[i]) * w;
                (self.c[i] * p[i] + s) * self.e[i]
            };
        }
    }
}

fn build(kind: &str, kw: &BTreeMap<String, String>) -> Box<dyn Optimizer> {
    let f = |k: &str, default: f64| kw.get(k).map_or(default, |v| v.parse().unwrap());
    let b = |k: &str| kw.get(k).is_some_and(|v| v == "true");
    let betas = |default: (f64, f64)| {
        kw.get("betas").map_or(default, |v| {
            let (a, b) = v.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
    };
    match kind {
        "Sgd" => {
            let d = Sgd::default();
            Box::new(Sgd {
                lr: f("lr", d.lr),
                momentum: f("momentum", d.momentum),
                dampening: f("dampening", d.dampening),
                weight_decay: f("weight_decay", d.weight_decay),
                nesterov: b("nesterov"),
                maximize: b("maximize"),
            })
        }
        "Adagrad" => {
            let d = Adagrad::default();
            Box::new(Adagrad {
                lr: f("lr", d.lr),
                lr_decay: f("lr_decay", d.lr_decay),
                weight_decay: f("weight_decay", d.weight_decay),
                initial_accumulator_value: f(
                    "initial_accumulator_value",
                    d.initial_accumulator_value,
                ),
                eps: f("eps", d.eps),
                maximize: b("maximize"),
            })
        }
        "Adadelta" => {
            let d = Adadelta::default();
            Box::new(Adadelta {
                lr: f("lr", d.lr),
                rho: f("rho", d.rho),
                eps: f("eps", d.eps),
                weight_decay: f("weight_decay", d.weight_decay),
                maximize: b("maximize"),
            })
        }
        "Adam" => {
            let d = Adam::default();
            Box::new(Adam {
                lr: f("lr", d.lr),
                betas: betas(d.betas),
                eps: f("eps", d.eps),
                weight_decay: f("weight_decay", d.weight_decay),
                amsgrad: b("amsgrad"),
                maximize: b("maximize"),
                decoupled_weight_decay: b("decoupled_weight_decay"),
            })
        }
        "AdamW" => {
            let d = AdamW::default();
            Box::new(AdamW {
                lr: f("lr", d.lr),
                betas: betas(d.betas),
                eps: f("eps", d.eps),
                weight_decay: f("weight_decay", d.weight_decay),
                amsgrad: b("amsgrad"),
                maximize: b("maximize"),
            })
        }
        "Adamax" => {
            let d = Adamax::default();
            Box::new(Adamax {
                lr: f("lr", d.lr),
                betas: betas(d.betas),
                eps: f("eps", d.eps),
                weight_decay: f("weight_decay", d.weight_decay),
                maximize: b("maximize"),
            })
        }
        "NAdam" => {
            let d = NAdam::default();
            Box::new(NAdam {
                lr: f("lr", d.lr),
                betas: betas(d.betas),
                eps: f("eps", d.eps),
                weight_decay: f("weight_decay", d.weight_decay),
                momentum_decay: f("momentum_decay", d.momentum_decay),
                decoupled_weight_decay: b("decoupled_weight_decay"),
                maximize: b("maximize"),
            })
        }
        "RAdam" => {
            let d = RAdam::default();
            Box::new(RAdam {
                lr: f("lr", d.lr),
                betas: betas(d.betas),
                eps: f("eps", d.eps),
                weight_decay: f("weight_decay", d.weight_decay),
                decoupled_weight_decay: b("decoupled_weight_decay"),
                maximize: b("maximize"),
            })
        }
        "RmsProp" => {
            let d = RmsProp::default();
            Box::new(RmsProp {
                lr: f("lr", d.lr),
                alpha: f("alpha", d.alpha),
                eps: f("eps", d.eps),
                weight_decay: f("weight_decay", d.weight_decay),
                momentum: f("momentum", d.momentum),
                centered: b("centered"),
                maximize: b("maximize"),
            })
        }
        "Lion" => {
            let d = Lion::default();
            Box::new(Lion {
                lr: f("lr", d.lr),
                betas: betas(d.betas),
                weight_decay: f("weight_decay", d.weight_decay),
            })
        }
        other => panic!("unknown optimizer {other}"),
    }
}

fn hex32(s: &str) -> f32 {
    f32::from_bits(u32::from_str_radix(s, 16).unwrap())
}

/// One recorded run: a case, a length and the parameters at some steps.
struct Run {
    case: String,
    kind: String,
    kw: BTreeMap<String, String>,
    gsign: f32,
    n: usize,
    snaps: BTreeMap<usize, Vec<f32>>,
}

fn load() -> Vec<Run> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/optim.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut runs: Vec<Run> = Vec::new();
    let mut header: Option<(String, String, BTreeMap<String, String>, f32)> = None;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("case") => {
                let case = words.next().unwrap().to_string();
                let kind = words.next().unwrap().to_string();
                let mut kw = BTreeMap::new();
                for w in words {
                    let (k, v) = w.split_once('=').unwrap();
                    kw.insert(k.to_string(), v.to_string());
                }
                let gsign = kw.remove("gsign").unwrap().parse().unwrap();
                header = Some((case, kind, kw, gsign));
            }
            Some("n") => {
                let (case, kind, kw, gsign) = header.clone().unwrap();
                runs.push(Run {
                    case,
                    kind,
                    kw,
                    gsign,
                    n: words.next().unwrap().parse().unwrap(),
                    snaps: BTreeMap::new(),
                });
            }
            Some("t") => {
                let t = words.next().unwrap().parse().unwrap();
                let values = words.map(hex32).collect();
                runs.last_mut().unwrap().snaps.insert(t, values);
            }
            _ => {}
        }
    }
    runs
}

/// The agreement the crate promises with PyTorch's float32 run: 8 ULP, or
/// 1e-6 relative.
fn close(ours: f32, torch: f32) -> bool {
    ours.to_bits() == torch.to_bits()
        || ulp_distance(ours, torch) <= 8
        || (ours - torch).abs() <= 1e-6 * torch.abs()
}

#[test]
fn trajectories_match_torch() {
    let runs = load();
    assert_eq!(
        runs.len(),
        40 * 4,
        "every case at lengths 1, 7, 37 and 1031"
    );
    let mut worst: BTreeMap<String, u32> = BTreeMap::new();
    let mut failures = Vec::new();
    for run in &runs {
        let opt = build(&run.kind, &run.kw);
        let (problem, mut p) = Problem::new(run.n, run.gsign);
        let mut g = vec![0.0; run.n];
        let mut state = vec![0.0; opt.state_len(run.n)];
        let last = *run.snaps.keys().last().unwrap();
        assert_eq!(last, 100, "{}: at least 100 steps", run.case);
        for t in 1..=last {
            problem.grads(t, &p, &mut g);
            opt.step(t as u64, &mut p, &g, &mut state).unwrap();
            if let Some(expected) = run.snaps.get(&t) {
                for (i, (&a, &b)) in p.iter().zip(expected).enumerate() {
                    let d = ulp_distance(a, b);
                    let w = worst.entry(run.case.clone()).or_default();
                    *w = (*w).max(d);
                    if !close(a, b) {
                        failures.push(format!(
                            "{} n={} t={t} [{i}]: {a:e} vs torch {b:e} ({d} ulp)",
                            run.case, run.n
                        ));
                    }
                }
            }
        }
    }
    for (case, ulp) in &worst {
        std::println!("{case:24} max {ulp} ulp");
    }
    assert!(
        failures.is_empty(),
        "{} mismatches, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(60)]
    );
}
