//! Activations: SIMD against the scalar reference over every length and
//! offset, precision against f64 oracles (a strided sample by default, every
//! finite f32 with `MICROPROP_EXHAUSTIVE=1`), finite-difference gradients,
//! edge cases and argument errors.

mod common;

use common::{EDGE_CASES, TestRng, lengths, offsets, special_agrees, ulp_error, ulp_of};
use microprop::activation::{log_softmax, softmax};
use microprop::reference::activation as reference;
use microprop::{Activation, Error};
use std::time::Instant;

/// Every variant, with typical and unusual hyperparameters.
const ALL: [Activation; 14] = [
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::LeakyRelu(0.01),
    Activation::LeakyRelu(-0.5),
    Activation::Elu(1.0),
    Activation::Elu(0.3),
    Activation::Elu(0.0),
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::Silu,
    Activation::Softplus,
    Activation::LeakyRelu(1.5),
];

/// The documented forward bound in ulp (see the `activation` module docs);
/// 0.5 is correct rounding of the f64 value.
fn forward_ulp(act: Activation) -> f64 {
    match act {
        Activation::Identity | Activation::Relu | Activation::LeakyRelu(_) => 0.5,
        Activation::Elu(_) | Activation::Softplus => 2.0,
        Activation::Sigmoid | Activation::Tanh => 2.5,
        Activation::GeluTanh | Activation::Silu => 3.5,
        Activation::Gelu => 7.0,
    }
}

/// The documented backward bound for `grad_out = 1`: (absolute, ulp).
fn backward_bound(act: Activation) -> (f64, f64) {
    match act {
        Activation::Identity | Activation::Relu | Activation::LeakyRelu(_) => (0.0, 0.5),
        Activation::Sigmoid => (1e-7, 0.0),
        Activation::Tanh => (3e-7, 0.0),
        Activation::Elu(a) => (1e-7 * f64::from(a.max(1.0)), 0.0),
        Activation::Softplus => (0.0, 2.5),
        Activation::Gelu | Activation::GeluTanh | Activation::Silu => (1e-7, 4.0),
    }
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn simd_matches_reference_for_every_length_and_offset() {
    let mut rng = TestRng(1);
    for act in ALL {
        let (ab, ub) = backward_bound(act);
        // The product with grad_out rounds once more, except where the
        // derivative is exact (then the product is the only rounding).
        let ub = if ab == 0.0 && ub == 0.5 { ub } else { ub + 0.5 };
        for n in lengths() {
            for off in offsets() {
                let x = rng.vec(n + off, -12.0, 12.0);
                let x = &x[off..];
                let g = rng.vec(n + off, -2.0, 2.0);
                let g = &g[off..];
                let mut y = vec![f32::NAN; n + off];
                act.forward(x, &mut y[off..]).unwrap();
                let y = &y[off..];
                for i in 0..n {
                    check_value(act, x[i], y[i]);
                }
                let mut z = x.to_vec();
                act.forward_in_place(&mut z).unwrap();
                assert!(
                    z.iter().zip(y).all(|(a, b)| same(*a, *b)),
                    "{act:?} in place"
                );

                let mut gi = vec![f32::NAN; n + off];
                act.backward(x, y, g, &mut gi[off..]).unwrap();
                let gi = &gi[off..];
                for i in 0..n {
                    let w = f64::from(g[i]) * reference::derivative(act, f64::from(x[i]));
                    let tol = ab * f64::from(g[i].abs()) + ub * ulp_of(w);
                    assert!(
                        (f64::from(gi[i]) - w).abs() <= tol,
                        "{act:?} backward n={n} off={off} x={} g={} got {} want {w}",
                        x[i],
                        g[i],
                        gi[i]
                    );
                }
                let mut gp = vec![f32::NAN; n + off];
                gp[off..].copy_from_slice(g);
                act.backward_in_place(x, y, &mut gp[off..]).unwrap();
                assert!(
                    gp[off..].iter().zip(gi).all(|(a, b)| same(*a, *b)),
                    "{act:?} bip"
                );
            }
        }
    }
}

/// Checks one forward result against the f64 oracle and the documented
/// bound: its error in ulp (0 outside the normal range), or why it fails.
fn forward_error(act: Activation, x: f32, got: f32) -> Result<f64, String> {
    let want = reference::value(act, f64::from(x));
    let fail = |e: f64| format!("{act:?}({x:e}) = {got:e}, want {want:e} ({e:.2} ulp)");
    match special_agrees(got, want) {
        Some(true) => Ok(0.0),
        Some(false) => Err(fail(f64::INFINITY)),
        None => {
            let e = ulp_error(got, want);
            if e <= forward_ulp(act) {
                Ok(e)
            } else {
                Err(fail(e))
            }
        }
    }
}

fn check_value(act: Activation, x: f32, got: f32) {
    if let Err(msg) = forward_error(act, x, got) {
        panic!("{msg}");
    }
}

/// The outcome of a precision sweep over some inputs.
#[derive(Default)]
struct Report {
    /// The worst forward error seen, in ulp, and where.
    worst: f64,
    worst_at: f32,
    /// How many forward or backward results broke their bound, and the
    /// first of them.
    failures: u64,
    first_failure: Option<String>,
}

impl Report {
    fn fail(&mut self, msg: impl FnOnce() -> String) {
        self.failures += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(msg());
        }
    }

    fn merge(mut self, other: Report) -> Report {
        if other.worst > self.worst {
            self.worst = other.worst;
            self.worst_at = other.worst_at;
        }
        self.failures += other.failures;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self
    }
}

/// Forward and (with `backward`) backward results of `act` over `inputs`,
/// measured against the f64 oracles and the documented bounds.
fn precision_report(act: Activation, inputs: &[f32], backward: bool) -> Report {
    let (ab, ub) = backward_bound(act);
    let mut y = vec![0.0; inputs.len()];
    let mut d = vec![1.0; inputs.len()];
    act.forward(inputs, &mut y).unwrap();
    if backward {
        act.backward_in_place(inputs, &y, &mut d).unwrap();
    }
    let mut report = Report::default();
    for ((&x, &got), &dg) in inputs.iter().zip(&y).zip(&d) {
        match forward_error(act, x, got) {
            Ok(e) if e > report.worst => {
                report.worst = e;
                report.worst_at = x;
            }
            Ok(_) => {}
            Err(msg) => report.fail(|| msg),
        }
        if !backward {
            continue;
        }
        let dw = reference::derivative(act, f64::from(x));
        let ok = if dw.is_nan() {
            dg.is_nan()
        } else if dw.abs() < f64::from(f32::MIN_POSITIVE) {
            f64::from(dg.abs()) <= ab + 1e-37
        } else {
            (f64::from(dg) - dw).abs() <= ab + ub * ulp_of(dw)
        };
        if !ok {
            report.fail(|| format!("{act:?}'({x:e}) = {dg:e}, want {dw:e}"));
        }
    }
    report
}

/// About a million f32 spread over every exponent and sign, plus the edge
/// cases and each function's saturation points.
fn strided_sample() -> Vec<f32> {
    let mut v: Vec<f32> = (0..(1u64 << 20))
        .map(|i| f32::from_bits((i * 4093) as u32))
        .filter(|x| x.is_finite())
        .collect();
    v.extend_from_slice(&EDGE_CASES);
    v.extend_from_slice(&[
        -1.0e-40, 1.0e-40, -80.0, -87.3, -88.7, -103.9, -104.0, 16.7, 17.0, 88.7, 9.01, -9.01, 9.1,
        -12.0, -13.0, -13.2, -14.0, -20.0, 20.0, -40.0, 0.5, -0.5, 1.0e-4, -1.0e-4,
    ]);
    v
}

#[test]
fn precision_on_a_strided_sample_and_edge_cases() {
    let xs = strided_sample();
    for act in ALL {
        let r = precision_report(act, &xs, true);
        eprintln!(
            "{act:?}: worst forward error {:.2} ulp at {:e}",
            r.worst, r.worst_at
        );
        assert_eq!(
            r.failures,
            0,
            "{act:?}: {}",
            r.first_failure.unwrap_or_default()
        );
    }
}

/// Every finite f32 through every unary forward function, on four threads;
/// run with `MICROPROP_EXHAUSTIVE=1` (minutes per function). The backward
/// bounds are checked on the strided sample. `MICROPROP_EXHAUSTIVE_ONLY=Elu,Relu`
/// restricts the sweep to the named functions.
#[test]
fn precision_on_every_finite_f32() {
    if std::env::var("MICROPROP_EXHAUSTIVE").as_deref() != Ok("1") {
        return;
    }
    // The transcendental functions first: they carry the ulp bounds.
    let unary = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
        Activation::Softplus,
        Activation::Elu(1.0),
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu(0.01),
    ];
    let only = std::env::var("MICROPROP_EXHAUSTIVE_ONLY").unwrap_or_default();
    let selected = |act: &Activation| {
        let name = format!("{act:?}");
        only.is_empty() || only.split(',').any(|o| name.split('(').next() == Some(o))
    };
    let all = Instant::now();
    let mut failed = Vec::new();
    for act in unary.into_iter().filter(selected) {
        let start = Instant::now();
        let report = std::thread::scope(|s| {
            let parts: Vec<_> = (0..4u64)
                .map(|k| {
                    s.spawn(move || {
                        let mut report = Report::default();
                        let mut buf = Vec::with_capacity(1 << 16);
                        let lo = k << 30;
                        for chunk in (lo..lo + (1 << 30)).step_by(1 << 16) {
                            buf.clear();
                            buf.extend(
                                (chunk..chunk + (1 << 16))
                                    .map(|b| f32::from_bits(b as u32))
                                    .filter(|x| x.is_finite()),
                            );
                            report = report.merge(precision_report(act, &buf, false));
                        }
                        report
                    })
                })
                .collect();
            parts
                .into_iter()
                .map(|h| h.join().unwrap())
                .fold(Report::default(), Report::merge)
        });
        eprintln!(
            "exhaustive {act:?}: worst forward error {:.2} ulp at {:e}, {} failures, {:.0} s",
            report.worst,
            report.worst_at,
            report.failures,
            start.elapsed().as_secs_f64()
        );
        if let Some(msg) = report.first_failure {
            eprintln!("  first failure: {msg}");
            failed.push(act);
        }
    }
    eprintln!("exhaustive sweep took {:.0} s", all.elapsed().as_secs_f64());
    assert!(failed.is_empty(), "bounds broken by {failed:?}");
}

#[test]
fn limits_at_the_infinities_and_nan() {
    let cases: [(Activation, f32, f32); 16] = [
        (Activation::Sigmoid, f32::INFINITY, 1.0),
        (Activation::Sigmoid, f32::NEG_INFINITY, 0.0),
        (Activation::Tanh, f32::INFINITY, 1.0),
        (Activation::Tanh, f32::NEG_INFINITY, -1.0),
        (Activation::Relu, f32::NEG_INFINITY, 0.0),
        (Activation::Elu(1.0), f32::NEG_INFINITY, -1.0),
        (Activation::Gelu, f32::INFINITY, f32::INFINITY),
        (Activation::Gelu, f32::NEG_INFINITY, 0.0),
        (Activation::GeluTanh, f32::INFINITY, f32::INFINITY),
        (Activation::GeluTanh, f32::NEG_INFINITY, 0.0),
        (Activation::Silu, f32::INFINITY, f32::INFINITY),
        (Activation::Silu, f32::NEG_INFINITY, 0.0),
        (Activation::Softplus, f32::INFINITY, f32::INFINITY),
        (Activation::Softplus, f32::NEG_INFINITY, 0.0),
        (Activation::Tanh, -0.0, -0.0),
        (Activation::Sigmoid, 0.0, 0.5),
    ];
    for (act, x, want) in cases {
        let mut y = [0.0f32];
        act.forward(&[x], &mut y).unwrap();
        assert!(y[0] == want, "{act:?}({x}) = {}, want {want}", y[0]);
        if x == -0.0 && want == -0.0 {
            assert!(y[0].is_sign_negative());
        }
    }
    for act in ALL {
        let mut y = [0.0f32; 3];
        act.forward(&[f32::NAN, 1.0, f32::NAN], &mut y).unwrap();
        assert!(y[0].is_nan() && y[2].is_nan() && !y[1].is_nan(), "{act:?}");
        let mut g = [1.0f32];
        act.backward_in_place(&[f32::NAN], &[f32::NAN], &mut g)
            .unwrap();
        assert!(
            g[0].is_nan() || act == Activation::Identity,
            "{act:?}' (NaN) = {}",
            g[0]
        );
    }
}

/// Central differences of the f32 forward kernel, in f64, at points away
/// from kinks: both backward paths must agree with them.
#[test]
fn gradients_match_finite_differences() {
    let mut rng = TestRng(7);
    for act in ALL {
        let x: Vec<f32> = (0..200)
            .map(|_| rng.uniform(-5.0, 5.0))
            .filter(|v| v.abs() > 0.05)
            .collect();
        let g = rng.vec(x.len(), -2.0, 2.0);
        let mut y = vec![0.0; x.len()];
        act.forward(&x, &mut y).unwrap();
        let mut gi = vec![0.0; x.len()];
        act.backward(&x, &y, &g, &mut gi).unwrap();
        let mut gp = g.clone();
        act.backward_in_place(&x, &y, &mut gp).unwrap();
        for i in 0..x.len() {
            let h = 1.0e-2f32;
            let (xp, xm) = (x[i] + h, x[i] - h);
            let mut f = [0.0f32; 2];
            act.forward(&[xp, xm], &mut f).unwrap();
            let fd = (f64::from(f[0]) - f64::from(f[1])) / (f64::from(xp) - f64::from(xm));
            let want = f64::from(g[i]) * fd;
            let tol = 1e-3 * (1.0 + want.abs());
            for got in [gi[i], gp[i]] {
                assert!(
                    (f64::from(got) - want).abs() <= tol,
                    "{act:?} at {}: backward {got}, finite difference {want}",
                    x[i]
                );
            }
        }
    }
}

#[test]
fn bad_hyperparameters_are_errors() {
    let bad = [
        Activation::LeakyRelu(f32::NAN),
        Activation::LeakyRelu(f32::INFINITY),
        Activation::Elu(-1.0),
        Activation::Elu(f32::NAN),
        Activation::Elu(f32::INFINITY),
    ];
    for act in bad {
        let x = [1.0f32];
        let mut y = [0.0f32];
        let mut g = [0.0f32];
        let is_param = |r: Result<(), Error>| matches!(r, Err(Error::InvalidParameter { .. }));
        assert!(is_param(act.validate()), "{act:?}");
        assert!(is_param(act.forward(&x, &mut y)), "{act:?}");
        assert!(is_param(act.forward_in_place(&mut y)), "{act:?}");
        assert!(is_param(act.backward(&x, &x, &x, &mut g)), "{act:?}");
        assert!(is_param(act.backward_in_place(&x, &x, &mut g)), "{act:?}");
    }
    for act in ALL {
        assert!(act.validate().is_ok(), "{act:?}");
    }
}

#[test]
fn every_length_mismatch_is_an_error() {
    let mismatch = |r: Result<(), Error>, arg: &str| match r {
        Err(Error::LengthMismatch {
            arg: a,
            expected: 4,
            found: 3,
        }) => a == arg,
        _ => false,
    };
    let (x4, x3) = ([0.5f32; 4], [0.5f32; 3]);
    for act in ALL {
        let (mut y3, mut y4) = ([0.0f32; 3], [0.0f32; 4]);
        assert!(mismatch(act.forward(&x4, &mut y3), "y"), "{act:?}");
        assert!(mismatch(act.backward(&x4, &x3, &x4, &mut y4), "y"));
        assert!(mismatch(act.backward(&x4, &x4, &x3, &mut y4), "grad_out"));
        assert!(mismatch(act.backward(&x4, &x4, &x4, &mut y3), "grad_in"));
        assert!(mismatch(act.backward_in_place(&x4, &x3, &mut y4), "y"));
        assert!(mismatch(act.backward_in_place(&x4, &x4, &mut y3), "grad"));
    }
    let mut y3 = [0.0f32; 3];
    assert!(mismatch(softmax(&x4, 2, &mut y3), "y"));
    assert!(mismatch(log_softmax(&x4, 2, &mut y3), "y"));
}

#[test]
fn softmax_matches_reference_and_rows_sum_to_one() {
    let mut rng = TestRng(3);
    for cols in [1usize, 2, 3, 7, 8, 16, 17, 33, 100] {
        for rows in [1usize, 2, 5] {
            for off in [0usize, 1, 5] {
                let n = rows * cols;
                let buf = rng.vec(n + off, -30.0, 30.0);
                let x = &buf[off..];
                let mut y = vec![f32::NAN; n];
                let mut want = vec![0.0; n];
                softmax(x, cols, &mut y).unwrap();
                microprop::reference::activation::softmax(x, cols, &mut want);
                for i in 0..n {
                    if want[i] >= f32::MIN_POSITIVE {
                        let e = ulp_error(y[i], f64::from(want[i]));
                        assert!(
                            e <= 4.5,
                            "softmax cols={cols} {}: {} vs {}",
                            i,
                            y[i],
                            want[i]
                        );
                    } else {
                        assert!(y[i] <= f32::MIN_POSITIVE);
                    }
                }
                for r in y.chunks(cols) {
                    let s: f64 = r.iter().map(|&v| f64::from(v)).sum();
                    assert!((s - 1.0).abs() < 1e-5 * (cols as f64).sqrt(), "sum {s}");
                }
                let mut ly = vec![f32::NAN; n];
                log_softmax(x, cols, &mut ly).unwrap();
                microprop::reference::activation::log_softmax(x, cols, &mut want);
                for i in 0..n {
                    let e = (f64::from(ly[i]) - f64::from(want[i])).abs();
                    assert!(
                        e <= 2.0 * 1.2e-7 * f64::from(want[i].abs()) + 2e-7,
                        "log_softmax cols={cols}: {} vs {}",
                        ly[i],
                        want[i]
                    );
                }
            }
        }
    }
}

#[test]
fn softmax_edge_cases() {
    let mut y = [0.0f32; 3];
    softmax(&[f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY], 3, &mut y).unwrap();
    assert_eq!(y, [0.0, 1.0, 0.0]);
    log_softmax(&[f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY], 3, &mut y).unwrap();
    assert_eq!(y, [f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY]);
    softmax(&[1.0, f32::NAN, 2.0], 3, &mut y).unwrap();
    assert!(y.iter().all(|v| v.is_nan()));
    // Shift invariance, and the largest gap f32 can express.
    softmax(&[f32::MAX, 0.0, f32::MIN], 3, &mut y).unwrap();
    assert_eq!(y, [1.0, 0.0, 0.0]);
    softmax(&[1000.0, 1000.0, 999.0], 3, &mut y).unwrap();
    let e = (-1.0f64).exp();
    let want = [1.0 / (2.0 + e), 1.0 / (2.0 + e), e / (2.0 + e)];
    for (got, w) in y.iter().zip(want) {
        assert!(ulp_error(*got, w) <= 4.0, "{y:?}");
    }
    // Empty input is fine with any cols; otherwise cols must divide len.
    assert!(softmax(&[], 0, &mut []).is_ok());
    let bad = |r: Result<(), Error>| matches!(r, Err(Error::InvalidParameter { arg: "cols", .. }));
    assert!(bad(softmax(&[1.0; 4], 3, &mut [0.0; 4])));
    assert!(bad(softmax(&[1.0; 4], 0, &mut [0.0; 4])));
    assert!(bad(log_softmax(&[1.0; 4], 0, &mut [0.0; 4])));
}
