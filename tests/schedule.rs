//! Schedules against the learning rates recorded from
//! `torch.optim.lr_scheduler` (`tests/golden/schedules.txt`).

use microprop::Error;
use microprop::schedule::{
    self, Plateau, PlateauMode, ReduceOnPlateau, Schedule, ThresholdMode, Warmup,
};
use std::collections::BTreeMap;

const BASE: f64 = 0.1;

fn hex64(s: &str) -> f64 {
    f64::from_bits(u64::from_str_radix(s, 16).unwrap())
}

/// (kind, parameters, metrics, learning rates) per recorded schedule.
type Recorded = (String, BTreeMap<String, String>, Vec<f64>, Vec<f64>);

fn load() -> Vec<Recorded> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/schedules.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: Vec<Recorded> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("sched") => {
                let kind = words.next().unwrap().to_string();
                let kw = words
                    .map(|w| {
                        let (k, v) = w.split_once('=').unwrap();
                        (k.to_string(), v.to_string())
                    })
                    .collect();
                out.push((kind, kw, Vec::new(), Vec::new()));
            }
            Some("metrics") => out.last_mut().unwrap().2 = words.map(hex64).collect(),
            Some("lr") => out.last_mut().unwrap().3 = words.map(hex64).collect(),
            _ => {}
        }
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-13 * b.abs().max(1e-300)
}

#[test]
fn schedules_match_torch() {
    let recorded = load();
    assert_eq!(recorded.len(), 13);
    for (kind, kw, metrics, lrs) in &recorded {
        let f = |k: &str| kw[k].parse::<f64>().unwrap();
        let u = |k: &str| kw[k].parse::<u64>().unwrap();
        let milestones: Vec<u64> = kw
            .get("milestones")
            .map(|m| m.split(',').map(|x| x.parse().unwrap()).collect())
            .unwrap_or_default();
        if kind == "plateau" {
            let config = Plateau {
                mode: if kw["mode"] == "min" {
                    PlateauMode::Min
                } else {
                    PlateauMode::Max
                },
                factor: f("factor"),
                patience: u("patience"),
                threshold: f("threshold"),
                threshold_mode: if kw["threshold_mode"] == "rel" {
                    ThresholdMode::Rel
                } else {
                    ThresholdMode::Abs
                },
                cooldown: u("cooldown"),
                min_lr: f("min_lr"),
                ..Plateau::default()
            };
            let mut sched = ReduceOnPlateau::new(config, BASE).unwrap();
            for (k, (&m, &lr)) in metrics.iter().zip(lrs).enumerate() {
                assert_eq!(sched.step(m), lr, "{kind} {kw:?} evaluation {k}");
            }
            assert!(
                lrs.last().unwrap() < &BASE,
                "the recorded run reduces the rate"
            );
            continue;
        }
        for (t, &expected) in lrs.iter().enumerate() {
            let t = t as u64;
            let ours = match kind.as_str() {
                "step" => schedule::step(BASE, f("gamma"), u("step_size"), t),
                "multistep" => schedule::multi_step(BASE, f("gamma"), &milestones, t),
                "exponential" => schedule::exponential(BASE, f("gamma"), t),
                "cosine" => schedule::cosine(BASE, f("min_lr"), u("total"), t),
                "inverse_time" => schedule::inverse_time(BASE, f("decay"), t),
                "warmup_constant" => {
                    schedule::linear_warmup(BASE, f("start_factor"), u("warmup"), t)
                }
                "warmup_cosine" | "warmup_step" | "warmup_exponential" => {
                    let then = match kind.as_str() {
                        "warmup_cosine" => Schedule::Cosine {
                            min_lr: f("min_lr"),
                            total: u("total"),
                        },
                        "warmup_step" => Schedule::Step {
                            step_size: u("step_size"),
                            gamma: f("gamma"),
                        },
                        _ => Schedule::Exponential { gamma: f("gamma") },
                    };
                    Warmup {
                        steps: u("warmup"),
                        start_factor: f("start_factor"),
                        then,
                    }
                    .lr(BASE, t)
                }
                other => panic!("unknown schedule {other}"),
            }
            .unwrap();
            assert!(
                close(ours, expected),
                "{kind} {kw:?} t={t}: {ours} vs torch {expected}"
            );
        }
    }
}

#[test]
fn schedule_enum_agrees_with_the_functions() {
    let milestones = [3, 5];
    for t in 0..20 {
        assert_eq!(Schedule::Constant.lr(0.5, t), Ok(0.5));
        assert_eq!(
            Schedule::MultiStep {
                milestones: &milestones,
                gamma: 0.5
            }
            .lr(0.5, t),
            schedule::multi_step(0.5, 0.5, &milestones, t)
        );
        assert_eq!(
            Schedule::InverseTime { decay: 0.1 }.lr(0.5, t),
            schedule::inverse_time(0.5, 0.1, t)
        );
        let no_warmup = Warmup {
            steps: 0,
            start_factor: 1.0,
            then: Schedule::Exponential { gamma: 0.9 },
        };
        assert_eq!(no_warmup.lr(0.5, t), schedule::exponential(0.5, 0.9, t));
    }
    // Past `total` the cosine holds its floor.
    assert_eq!(schedule::cosine(0.1, 0.01, 10, 11), Ok(0.01));
    assert_eq!(schedule::cosine(0.1, 0.01, 10, 1000), Ok(0.01));
}

#[test]
fn bad_schedule_arguments_are_errors() {
    let bad = |r: Result<f64, Error>, field: &str| match r {
        Err(Error::InvalidParameter { arg, .. }) => assert_eq!(arg, field),
        other => panic!("{field}: {other:?}"),
    };
    bad(schedule::cosine(0.1, 0.0, 0, 0), "total");
    bad(schedule::cosine(-0.1, 0.0, 10, 0), "base_lr");
    bad(schedule::cosine(0.1, f64::NAN, 10, 0), "min_lr");
    bad(schedule::step(0.1, 0.5, 0, 3), "step_size");
    bad(schedule::step(0.1, -0.5, 2, 3), "gamma");
    bad(schedule::exponential(0.1, f64::INFINITY, 3), "gamma");
    bad(schedule::inverse_time(0.1, -1.0, 3), "decay");
    bad(schedule::linear_warmup(0.1, 0.0, 5, 3), "start_factor");
    bad(schedule::linear_warmup(0.1, 1.5, 5, 3), "start_factor");
    bad(schedule::linear_warmup(0.1, 0.5, 0, 3), "steps");
    bad(schedule::multi_step(f64::NAN, 0.5, &[1], 3), "base_lr");
    let plateau = |config: Plateau, field: &str| match ReduceOnPlateau::new(config, 0.1) {
        Err(Error::InvalidParameter { arg, .. }) => assert_eq!(arg, field),
        other => panic!("{field}: {other:?}"),
    };
    plateau(
        Plateau {
            factor: 1.0,
            ..Plateau::default()
        },
        "factor",
    );
    plateau(
        Plateau {
            threshold: -1.0,
            ..Plateau::default()
        },
        "threshold",
    );
    plateau(
        Plateau {
            min_lr: -1.0,
            ..Plateau::default()
        },
        "min_lr",
    );
}

#[test]
fn warmup_checks_its_factor_and_its_schedule_at_every_step() {
    for start_factor in [f64::NAN, -1.0, 0.0, 2.0] {
        for steps in [0, 5] {
            let w = Warmup {
                steps,
                start_factor,
                then: Schedule::Constant,
            };
            for t in [0, 4, 5, 100] {
                assert!(
                    matches!(
                        w.lr(0.1, t),
                        Err(Error::InvalidParameter {
                            arg: "start_factor",
                            ..
                        })
                    ),
                    "{start_factor} {steps} {t}"
                );
            }
        }
    }
    let w = Warmup {
        steps: 5,
        start_factor: 0.5,
        then: Schedule::Cosine {
            min_lr: 0.0,
            total: 0,
        },
    };
    assert!(matches!(
        w.lr(0.1, 0),
        Err(Error::InvalidParameter { arg: "total", .. })
    ));
}

#[test]
fn a_rate_that_overflows_is_an_error() {
    for r in [
        schedule::exponential(1.0, 2.0, 2000),
        schedule::exponential(0.0, 2.0, 2000),
        schedule::step(1e300, 1e10, 1, 5),
        schedule::multi_step(1.0, 1e300, &[1, 2], 3),
    ] {
        assert!(
            matches!(r, Err(Error::InvalidParameter { arg: "gamma", .. })),
            "{r:?}"
        );
    }
    assert_eq!(schedule::exponential(1.0, 2.0, 10), Ok(1024.0));
}
