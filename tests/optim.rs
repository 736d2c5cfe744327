//! The fused optimizer kernels against their scalar references, and their
//! argument checks.

mod common;

use common::{EDGE_CASES, TestRng, lengths, offsets};
use microprop::reference::optim as reference;
use microprop::{
    Adadelta, Adagrad, Adam, AdamW, Adamax, Error, Lion, NAdam, Optimizer, RAdam, RmsProp, Sgd,
};

type Reference<'a> = Box<dyn Fn(u64, &mut [f32], &[f32], &mut [f32]) + 'a>;

/// Every optimizer in the flag combinations that take different code paths,
/// with its scalar reference.
fn configurations() -> Vec<(String, Box<dyn Optimizer>, Reference<'static>)> {
    let mut out: Vec<(String, Box<dyn Optimizer>, Reference<'static>)> = Vec::new();
    macro_rules! add {
        ($cfg:expr, $reference:path) => {{
            let cfg = $cfg;
            out.push((
                format!("{cfg:?}"),
                Box::new(cfg),
                Box::new(move |t, p: &mut [f32], g: &[f32], s: &mut [f32]| {
                    $reference(&cfg, t, p, g, s)
                }),
            ));
        }};
    }
    for maximize in [false, true] {
        let sgd = Sgd {
            lr: 0.1,
            maximize,
            ..Sgd::default()
        };
        add!(sgd, reference::sgd);
        add!(
            Sgd {
                weight_decay: 0.01,
                ..sgd
            },
            reference::sgd
        );
        add!(
            Sgd {
                momentum: 0.9,
                dampening: 0.3,
                weight_decay: 0.01,
                ..sgd
            },
            reference::sgd
        );
        add!(
            Sgd {
                momentum: 0.9,
                nesterov: true,
                ..sgd
            },
            reference::sgd
        );
        let adagrad = Adagrad {
            lr: 0.1,
            maximize,
            ..Adagrad::default()
        };
        add!(adagrad, reference::adagrad);
        add!(
            Adagrad {
                lr_decay: 0.1,
                weight_decay: 0.1,
                initial_accumulator_value: 0.5,
                ..adagrad
            },
            reference::adagrad
        );
        add!(
            Adadelta {
                maximize,
                ..Adadelta::default()
            },
            reference::adadelta
        );
        add!(
            Adadelta {
                maximize,
                weight_decay: 0.1,
                rho: 0.5,
                ..Adadelta::default()
            },
            reference::adadelta
        );
        let adam = Adam {
            lr: 0.01,
            maximize,
            ..Adam::default()
        };
        add!(adam, reference::adam);
        add!(
            Adam {
                weight_decay: 0.1,
                amsgrad: true,
                ..adam
            },
            reference::adam
        );
        add!(
            Adam {
                weight_decay: 0.1,
                decoupled_weight_decay: true,
                betas: (0.3, 0.9),
                ..adam
            },
            reference::adam
        );
        add!(
            AdamW {
                maximize,
                amsgrad: true,
                ..AdamW::default()
            },
            reference::adamw
        );
        add!(
            Adamax {
                maximize,
                weight_decay: 0.1,
                ..Adamax::default()
            },
            reference::adamax
        );
        let nadam = NAdam {
            maximize,
            ..NAdam::default()
        };
        add!(nadam, reference::nadam);
        add!(
            NAdam {
                weight_decay: 0.1,
                momentum_decay: 0.1,
                ..nadam
            },
            reference::nadam
        );
        add!(
            NAdam {
                weight_decay: 0.1,
                decoupled_weight_decay: true,
                ..nadam
            },
            reference::nadam
        );
        let radam = RAdam {
            maximize,
            ..RAdam::default()
        };
        add!(radam, reference::radam);
        add!(
            RAdam {
                weight_decay: 0.1,
                ..radam
            },
            reference::radam
        );
        add!(
            RAdam {
                weight_decay: 0.1,
                decoupled_weight_decay: true,
                ..radam
            },
            reference::radam
        );
        for (centered, momentum) in [(false, 0.0), (false, 0.9), (true, 0.0), (true, 0.9)] {
            add!(
                RmsProp {
                    maximize,
                    centered,
                    momentum,
                    weight_decay: 0.1,
                    ..RmsProp::default()
                },
                reference::rmsprop
            );
        }
    }
    add!(Lion::default(), reference::lion);
    add!(
        Lion {
            weight_decay: 0.0,
            betas: (0.5, 0.9),
            lr: 0.1
        },
        reference::lion
    );
    out
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Parameters, gradients and a plausible state (non-negative, so square
/// roots of second moments stay real), with edge cases mixed in.
fn inputs(rng: &mut TestRng, n: usize, state_len: usize, edges: bool) -> [Vec<f32>; 3] {
    let mut p = rng.vec(n, -2.0, 2.0);
    let mut g = rng.vec(n, -1.0, 1.0);
    let s = rng.vec(state_len, 0.0, 0.5);
    if edges {
        for (i, &e) in EDGE_CASES.iter().enumerate() {
            if i < n {
                g[i] = e;
                p[n - 1 - i] = e;
            }
        }
    }
    [p, g, s]
}

#[test]
fn fused_steps_equal_the_scalar_reference() {
    let mut rng = TestRng(42);
    // Under Miri, one step (with edge values) and four lengths: a step's
    // memory accesses depend only on the length and the offset, and these
    // are an empty slice, a tail alone, a body and a tail, and two bodies
    // and a tail of the 4-lane baseline.
    let (lengths, steps): (Vec<usize>, &[(u64, bool)]) = if cfg!(miri) {
        (vec![0, 3, 5, 9], &[(2, true)])
    } else {
        (
            lengths().collect(),
            &[
                (1, false),
                (2, true),
                (7, false),
                (40, false),
                (20_000, false),
            ],
        )
    };
    for (name, opt, reference) in configurations() {
        for &n in &lengths {
            for offset in offsets() {
                for &(t, edges) in steps {
                    let [p, g, s] = inputs(&mut rng, n + offset, opt.state_len(n) + offset, edges);
                    let (mut p1, mut s1) = (p.clone(), s.clone());
                    let (mut p2, mut s2) = (p.clone(), s.clone());
                    let range = offset..offset + n;
                    let srange = offset..offset + opt.state_len(n);
                    opt.step(
                        t,
                        &mut p1[range.clone()],
                        &g[range.clone()],
                        &mut s1[srange.clone()],
                    )
                    .unwrap();
                    reference(
                        t,
                        &mut p2[range.clone()],
                        &g[range.clone()],
                        &mut s2[srange],
                    );
                    for (i, (a, b)) in p1.iter().zip(&p2).enumerate() {
                        assert!(
                            same(*a, *b),
                            "{name} n={n} off={offset} t={t} p[{i}]: {a} vs {b}"
                        );
                    }
                    for (i, (a, b)) in s1.iter().zip(&s2).enumerate() {
                        assert!(
                            same(*a, *b),
                            "{name} n={n} off={offset} t={t} s[{i}]: {a} vs {b}"
                        );
                    }
                    // Nothing outside the slices was touched.
                    assert!(p1[..offset].iter().zip(&p).all(|(a, b)| same(*a, *b)));
                }
            }
        }
    }
}

#[test]
fn state_lengths_follow_the_documented_layout() {
    let n = 10;
    assert_eq!(Sgd::default().state_len(n), 0);
    assert_eq!(
        Sgd {
            momentum: 0.9,
            ..Sgd::default()
        }
        .state_len(n),
        n
    );
    assert_eq!(Adagrad::default().state_len(n), n);
    assert_eq!(Adadelta::default().state_len(n), 2 * n);
    assert_eq!(Adam::default().state_len(n), 2 * n);
    assert_eq!(
        Adam {
            amsgrad: true,
            ..Adam::default()
        }
        .state_len(n),
        3 * n
    );
    assert_eq!(AdamW::default().state_len(n), 2 * n);
    assert_eq!(Adamax::default().state_len(n), 2 * n);
    assert_eq!(NAdam::default().state_len(n), 2 * n + 1);
    assert_eq!(RAdam::default().state_len(n), 2 * n);
    assert_eq!(RmsProp::default().state_len(n), n);
    assert_eq!(
        RmsProp {
            centered: true,
            momentum: 0.5,
            ..RmsProp::default()
        }
        .state_len(n),
        3 * n
    );
    assert_eq!(Lion::default().state_len(n), n);
    assert_eq!(Adam::default().state_len(usize::MAX), usize::MAX);
}

#[test]
fn defaults_are_torchs() {
    let adam = Adam::default();
    assert_eq!(
        (adam.lr, adam.betas, adam.eps, adam.weight_decay),
        (1e-3, (0.9, 0.999), 1e-8, 0.0)
    );
    assert_eq!(AdamW::default().weight_decay, 1e-2);
    assert_eq!(Sgd::default().lr, 1e-3);
    let ag = Adagrad::default();
    assert_eq!(
        (ag.lr, ag.eps, ag.initial_accumulator_value),
        (1e-2, 1e-10, 0.0)
    );
    let ad = Adadelta::default();
    assert_eq!((ad.lr, ad.rho, ad.eps), (1.0, 0.9, 1e-6));
    assert_eq!((Adamax::default().lr, NAdam::default().lr), (2e-3, 2e-3));
    assert_eq!(NAdam::default().momentum_decay, 4e-3);
    assert_eq!(RAdam::default().lr, 1e-3);
    let r = RmsProp::default();
    assert_eq!(
        (r.lr, r.alpha, r.eps, r.momentum, r.centered),
        (1e-2, 0.99, 1e-8, 0.0, false)
    );
    assert_eq!(Lion::default().betas, (0.9, 0.99));
}

#[test]
fn first_steps_follow_torchs_rules() {
    // SGD's buffer starts as the gradient, without dampening.
    let sgd = Sgd {
        lr: 1.0,
        momentum: 0.9,
        dampening: 0.5,
        ..Sgd::default()
    };
    let (mut p, mut s) = ([1.0f32], [123.0f32]);
    sgd.step(1, &mut p, &[0.25], &mut s).unwrap();
    assert_eq!((p[0], s[0]), (0.75, 0.25));
    // Adagrad starts from initial_accumulator_value, whatever the buffer holds.
    let ag = Adagrad {
        lr: 1.0,
        initial_accumulator_value: 3.0,
        eps: 0.0,
        ..Adagrad::default()
    };
    let (mut p, mut s) = ([0.0f32], [99.0f32]);
    ag.step(1, &mut p, &[1.0], &mut s).unwrap();
    assert_eq!((p[0], s[0]), (-0.5, 4.0));
    // Adam's first step is lr * sign(g), whatever the magnitude.
    let adam = Adam {
        lr: 0.5,
        eps: 0.0,
        ..Adam::default()
    };
    for g in [1e-3f32, 7.0, -2.5] {
        let (mut p, mut s) = ([0.0f32], [0.0f32; 2]);
        adam.step(1, &mut p, &[g], &mut s).unwrap();
        assert!((p[0] + 0.5 * g.signum()).abs() < 1e-6, "{g}: {}", p[0]);
    }
    // Adadelta's first step is tiny: sqrt(eps / ((1 - rho) g^2)) g.
    let (mut p, mut s) = ([0.0f32], [0.0f32; 2]);
    Adadelta::default().step(1, &mut p, &[1.0], &mut s).unwrap();
    assert!((p[0] + (1e-6f32 / 0.1).sqrt()).abs() < 1e-6, "{}", p[0]);
    // NAdam's mu_product is stored and starts at 1.
    let nadam = NAdam::default();
    let (mut p, mut s) = ([0.0f32], [0.0f32, 0.0, 55.0]);
    nadam.step(1, &mut p, &[1.0], &mut s).unwrap();
    let mu1 = 0.9 * (1.0 - 0.5 * 0.96f64.powf(0.004));
    assert_eq!(s[2], mu1 as f32);
    nadam.step(2, &mut p, &[1.0], &mut s).unwrap();
    let mu2 = 0.9 * (1.0 - 0.5 * 0.96f64.powf(0.008));
    assert_eq!(s[2], mu1 as f32 * mu2 as f32);
}

#[test]
fn radam_rectifies_from_step_six() {
    // Before t = 6 the step is the bias-corrected momentum times lr; from
    // t = 6 it is divided by the second moment, so scaling g changes it.
    let radam = RAdam {
        lr: 0.1,
        ..RAdam::default()
    };
    let run = |scale: f32| {
        let (mut p, mut s) = ([0.0f32], [0.0f32; 2]);
        (1..=7)
            .map(|t| {
                let before = p[0];
                radam.step(t, &mut p, &[scale], &mut s).unwrap();
                p[0] - before
            })
            .collect::<Vec<_>>()
    };
    let (small, large) = (run(1.0), run(100.0));
    for t in 0..5 {
        assert!(
            (large[t] - 100.0 * small[t]).abs() <= 1e-4 * large[t].abs(),
            "t={}",
            t + 1
        );
    }
    for t in 5..7 {
        assert!(
            (large[t] - small[t]).abs() <= 1e-3 * small[t].abs(),
            "t={}",
            t + 1
        );
    }
}

fn assert_invalid(opt: &dyn Optimizer, field: &str) {
    let mut p = [1.0f32, 2.0];
    let mut s = vec![0.25f32; opt.state_len(2)];
    let err = opt.step(1, &mut p, &[0.5, 0.5], &mut s).unwrap_err();
    let again = opt.validate().unwrap_err();
    assert_eq!(
        again.to_string(),
        err.to_string(),
        "{field}: validate agrees"
    );
    match err {
        Error::InvalidParameter { arg, .. } => assert_eq!(arg, field, "{err}"),
        other => panic!("{field}: {other:?}"),
    }
    assert_eq!(p, [1.0, 2.0], "{field}: params untouched");
    assert!(s.iter().all(|&x| x == 0.25), "{field}: state untouched");
}

#[test]
fn hyperparameters_that_overflow_f32_are_errors_naming_the_field() {
    let big = 1e300;
    let cases: [(&dyn Optimizer, &str); 14] = [
        (
            &Sgd {
                lr: big,
                ..Sgd::default()
            },
            "lr",
        ),
        (
            &Sgd {
                lr: 3.5e38,
                ..Sgd::default()
            },
            "lr",
        ),
        (
            &Sgd {
                momentum: big,
                ..Sgd::default()
            },
            "momentum",
        ),
        (
            &Sgd {
                dampening: -1e39,
                ..Sgd::default()
            },
            "dampening",
        ),
        // lr / (1 - beta1) = 1e39 at t = 1.
        (
            &Adam {
                lr: 1e38,
                ..Adam::default()
            },
            "lr",
        ),
        (
            &Adamax {
                lr: 1e38,
                ..Adamax::default()
            },
            "lr",
        ),
        (
            &NAdam {
                lr: 1e38,
                ..NAdam::default()
            },
            "lr",
        ),
        // 1 - lr * weight_decay = -1e40.
        (
            &AdamW {
                lr: 1e20,
                weight_decay: 1e20,
                ..AdamW::default()
            },
            "weight_decay",
        ),
        (
            &RAdam {
                lr: 1e20,
                weight_decay: 1e20,
                decoupled_weight_decay: true,
                ..RAdam::default()
            },
            "weight_decay",
        ),
        (
            &Adagrad {
                initial_accumulator_value: 1e39,
                ..Adagrad::default()
            },
            "initial_accumulator_value",
        ),
        (
            &Adadelta {
                eps: 1e39,
                ..Adadelta::default()
            },
            "eps",
        ),
        (
            &RmsProp {
                alpha: 1e39,
                ..RmsProp::default()
            },
            "alpha",
        ),
        (
            &Lion {
                weight_decay: big,
                ..Lion::default()
            },
            "weight_decay",
        ),
        // beta1 rounds to 1 in f32, where NAdam keeps its momentum product.
        (
            &NAdam {
                betas: (1.0 - 1e-12, 0.999),
                ..NAdam::default()
            },
            "lr",
        ),
    ];
    for (opt, field) in cases {
        assert_invalid(opt, field);
    }
    // The largest values that fit are accepted.
    let max = f64::from(f32::MAX);
    let mut p = [1.0f32];
    for opt in [
        &Sgd {
            lr: max,
            dampening: -max,
            ..Sgd::default()
        } as &dyn Optimizer,
        &Adam {
            lr: max * 0.09,
            ..Adam::default()
        },
        &AdamW {
            lr: 1e19,
            weight_decay: 1e19,
            ..AdamW::default()
        },
        &RAdam {
            lr: 1e20,
            weight_decay: 1e20,
            ..RAdam::default()
        },
    ] {
        let mut s = vec![0.0; opt.state_len(1)];
        opt.step(1, &mut p, &[0.0], &mut s).unwrap();
    }
}

#[test]
fn bad_hyperparameters_are_errors_naming_the_field() {
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        assert_invalid(
            &Sgd {
                lr: bad,
                ..Sgd::default()
            },
            "lr",
        );
        assert_invalid(
            &Adam {
                lr: bad,
                ..Adam::default()
            },
            "lr",
        );
        assert_invalid(
            &Adam {
                eps: bad,
                ..Adam::default()
            },
            "eps",
        );
        assert_invalid(
            &AdamW {
                weight_decay: bad,
                ..AdamW::default()
            },
            "weight_decay",
        );
    }
    assert_invalid(
        &Sgd {
            momentum: -0.1,
            ..Sgd::default()
        },
        "momentum",
    );
    assert_invalid(
        &Sgd {
            weight_decay: -0.1,
            ..Sgd::default()
        },
        "weight_decay",
    );
    assert_invalid(
        &Sgd {
            nesterov: true,
            ..Sgd::default()
        },
        "nesterov",
    );
    assert_invalid(
        &Sgd {
            nesterov: true,
            momentum: 0.9,
            dampening: 0.1,
            ..Sgd::default()
        },
        "nesterov",
    );
    assert_invalid(
        &Adagrad {
            lr_decay: -1.0,
            ..Adagrad::default()
        },
        "lr_decay",
    );
    assert_invalid(
        &Adagrad {
            initial_accumulator_value: -1.0,
            ..Adagrad::default()
        },
        "initial_accumulator_value",
    );
    assert_invalid(
        &Adagrad {
            eps: -1.0,
            ..Adagrad::default()
        },
        "eps",
    );
    assert_invalid(
        &Adadelta {
            rho: 1.5,
            ..Adadelta::default()
        },
        "rho",
    );
    assert_invalid(
        &Adadelta {
            rho: -0.5,
            ..Adadelta::default()
        },
        "rho",
    );
    for betas in [(1.0, 0.999), (-0.1, 0.999)] {
        assert_invalid(
            &Adam {
                betas,
                ..Adam::default()
            },
            "betas.0",
        );
        assert_invalid(
            &Adamax {
                betas,
                ..Adamax::default()
            },
            "betas.0",
        );
        assert_invalid(
            &NAdam {
                betas,
                ..NAdam::default()
            },
            "betas.0",
        );
        assert_invalid(
            &RAdam {
                betas,
                ..RAdam::default()
            },
            "betas.0",
        );
    }
    assert_invalid(
        &AdamW {
            betas: (0.9, 1.0),
            ..AdamW::default()
        },
        "betas.1",
    );
    assert_invalid(
        &NAdam {
            momentum_decay: -1.0,
            ..NAdam::default()
        },
        "momentum_decay",
    );
    assert_invalid(
        &RAdam {
            weight_decay: -1.0,
            ..RAdam::default()
        },
        "weight_decay",
    );
    assert_invalid(
        &RmsProp {
            alpha: -0.1,
            ..RmsProp::default()
        },
        "alpha",
    );
    assert_invalid(
        &RmsProp {
            momentum: -0.1,
            ..RmsProp::default()
        },
        "momentum",
    );
    assert_invalid(
        &RmsProp {
            eps: -0.1,
            ..RmsProp::default()
        },
        "eps",
    );
    assert_invalid(
        &Lion {
            betas: (1.5, 0.99),
            ..Lion::default()
        },
        "betas.0",
    );
    assert_invalid(
        &Lion {
            weight_decay: -1.0,
            ..Lion::default()
        },
        "weight_decay",
    );
}

#[test]
fn bad_lengths_and_step_zero_are_errors() {
    for (name, opt, _) in configurations() {
        let n = 5;
        let len = opt.state_len(n);
        let mut p = [1.0f32; 5];
        let mut s = vec![0.0f32; len + 1];
        let err = opt.step(0, &mut p, &[0.1; 5], &mut s[..len]).unwrap_err();
        assert!(
            matches!(err, Error::InvalidParameter { arg: "t", .. }),
            "{name}: {err:?}"
        );
        let err = opt.step(1, &mut p, &[0.1; 4], &mut s[..len]).unwrap_err();
        assert_eq!(
            err,
            Error::LengthMismatch {
                arg: "grads",
                expected: 5,
                found: 4
            },
            "{name}"
        );
        let err = opt.step(1, &mut p, &[0.1; 5], &mut s).unwrap_err();
        assert_eq!(
            err,
            Error::LengthMismatch {
                arg: "state",
                expected: len,
                found: len + 1
            },
            "{name}"
        );
        if len > 0 {
            let err = opt
                .step(1, &mut p, &[0.1; 5], &mut s[..len - 1])
                .unwrap_err();
            assert!(
                matches!(err, Error::LengthMismatch { arg: "state", .. }),
                "{name}"
            );
        }
        assert_eq!(p, [1.0; 5], "{name}: params untouched");
        // Empty tensors are fine.
        let mut empty = vec![0.0f32; opt.state_len(0)];
        opt.step(1, &mut [], &[], &mut empty).unwrap();
    }
}
