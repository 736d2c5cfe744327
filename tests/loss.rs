//! Losses: SIMD against the f64 reference over every length and offset,
//! finite-difference gradients, edge cases and argument errors.

mod common;

use common::{TestRng, lengths, offsets, ulp_of};
use microprop::Error;
use microprop::loss::{bce_with_logits, mse, softmax_cross_entropy};
use microprop::reference::loss as reference;

fn close_loss(got: f32, want: f64, what: &str) {
    let tol = 1e-6 * want.abs() + 1e-7;
    assert!(
        (f64::from(got) - want).abs() <= tol,
        "{what}: loss {got} want {want}"
    );
}

fn close_grads(got: &[f32], want: &[f32], ulps: f64, abs: f64, what: &str) {
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = ulps * ulp_of(f64::from(w)) + abs;
        assert!(
            (f64::from(g) - f64::from(w)).abs() <= tol,
            "{what}: grad[{i}] {g} want {w}"
        );
    }
}

#[test]
fn elementwise_losses_match_reference_for_every_length_and_offset() {
    let mut rng = TestRng(11);
    for n in lengths().filter(|&n| n > 0) {
        for off in offsets() {
            let a = rng.vec(n + off, -20.0, 20.0);
            let t = rng.vec(n + off, -3.0, 3.0);
            let (a, t) = (&a[off..], &t[off..]);
            let mut g = vec![f32::NAN; n];
            let mut w = vec![0.0; n];
            let loss = mse(a, t, &mut g).unwrap();
            close_loss(loss, reference::mse(a, t, &mut w), "mse");
            close_grads(&g, &w, 2.0, 0.0, "mse");

            let t01: Vec<f32> = t.iter().map(|v| (v + 3.0) / 6.0).collect();
            let loss = bce_with_logits(a, &t01, &mut g).unwrap();
            close_loss(loss, reference::bce_with_logits(a, &t01, &mut w), "bce");
            close_grads(&g, &w, 3.0, 1e-7 / n as f64, "bce");
        }
    }
}

#[test]
fn cross_entropy_matches_reference_for_many_shapes() {
    let mut rng = TestRng(12);
    for classes in lengths().filter(|&c| c > 0) {
        for batch in [1usize, 2, 5] {
            for off in [0usize, 3, 9] {
                let n = batch * classes;
                let x = rng.vec(n + off, -40.0, 40.0);
                let x = &x[off..];
                let labels: Vec<u32> = (0..batch)
                    .map(|_| (rng.next_u64() % classes as u64) as u32)
                    .collect();
                let mut g = vec![f32::NAN; n];
                let mut w = vec![0.0; n];
                let loss = softmax_cross_entropy(x, &labels, classes, &mut g).unwrap();
                let want = reference::softmax_cross_entropy(x, &labels, classes, &mut w);
                close_loss(loss, want, "cross-entropy");
                close_grads(&g, &w, 4.0, 1e-7 / batch as f64, "cross-entropy");
                // Every gradient row sums to zero.
                for r in g.chunks(classes) {
                    let s: f64 = r.iter().map(|&v| f64::from(v)).sum();
                    assert!(s.abs() < 1e-6, "row sum {s}");
                }
            }
        }
    }
}

/// Central differences of each loss (as computed by the kernel) against
/// the kernel's own gradient.
#[test]
fn gradients_match_finite_differences() {
    let mut rng = TestRng(13);
    let n = 12;
    let x = rng.vec(n, -3.0, 3.0);
    let t = rng.vec(n, 0.0, 1.0);
    let labels = [2u32, 0, 3];
    type Loss<'a> = Box<dyn Fn(&[f32], &mut [f32]) -> f32 + 'a>;
    let cases: [(&str, Loss); 3] = [
        ("mse", Box::new(|x, g| mse(x, &t, g).unwrap())),
        ("bce", Box::new(|x, g| bce_with_logits(x, &t, g).unwrap())),
        (
            "cross-entropy",
            Box::new(|x, g| softmax_cross_entropy(x, &labels, 4, g).unwrap()),
        ),
    ];
    for (name, f) in cases {
        let mut g = vec![0.0; n];
        f(&x, &mut g);
        let mut scratch = vec![0.0; n];
        for i in 0..n {
            let h = 1e-2f32;
            let mut xp = x.clone();
            xp[i] += h;
            let mut xm = x.clone();
            xm[i] -= h;
            let fd = (f64::from(f(&xp, &mut scratch)) - f64::from(f(&xm, &mut scratch)))
                / (f64::from(xp[i]) - f64::from(xm[i]));
            assert!(
                (fd - f64::from(g[i])).abs() < 2e-4,
                "{name}: grad[{i}] {} vs finite difference {fd}",
                g[i]
            );
        }
    }
}

#[test]
fn extreme_logits_stay_finite() {
    let mut g = [0.0f32; 3];
    let loss = softmax_cross_entropy(&[1e30, -1e30, 0.0], &[0], 3, &mut g).unwrap();
    assert_eq!(loss, 0.0);
    assert_eq!(g, [0.0, 0.0, 0.0]);
    let loss = softmax_cross_entropy(&[1e30, -1e30, 0.0], &[2], 3, &mut g).unwrap();
    assert_eq!(loss, 1e30);
    assert_eq!(g, [1.0, 0.0, -1.0]);
    let mut g = [0.0f32; 2];
    let loss = bce_with_logits(&[100.0, -100.0], &[0.0, 1.0], &mut g).unwrap();
    assert_eq!(loss, 100.0);
    assert_eq!(g, [0.5, -0.5]);
    let loss = bce_with_logits(&[f32::NAN, 0.0], &[0.0, 1.0], &mut g).unwrap();
    assert!(loss.is_nan() && g[0].is_nan());
}

#[test]
fn empty_batches_give_nan() {
    assert!(mse(&[], &[], &mut []).unwrap().is_nan());
    assert!(bce_with_logits(&[], &[], &mut []).unwrap().is_nan());
    assert!(
        softmax_cross_entropy(&[], &[], 10, &mut [])
            .unwrap()
            .is_nan()
    );
}

#[test]
fn bad_arguments_are_errors() {
    let mismatch = |r: Result<f32, Error>, arg: &str| matches!(r, Err(Error::LengthMismatch { arg: a, .. }) if a == arg);
    let (x4, x3) = ([0.5f32; 4], [0.5f32; 3]);
    let (mut g3, mut g4) = ([0.0f32; 3], [0.0f32; 4]);
    assert!(mismatch(mse(&x4, &x3, &mut g4), "target"));
    assert!(mismatch(mse(&x4, &x4, &mut g3), "grad"));
    assert!(mismatch(bce_with_logits(&x4, &x3, &mut g4), "target"));
    assert!(mismatch(bce_with_logits(&x4, &x4, &mut g3), "grad"));
    assert!(mismatch(
        softmax_cross_entropy(&x3, &[0, 1], 2, &mut g4),
        "logits"
    ));
    assert!(mismatch(
        softmax_cross_entropy(&x4, &[0, 1], 2, &mut g3),
        "grad"
    ));
    let r = softmax_cross_entropy(&x4, &[1, 2], 2, &mut g4);
    assert_eq!(
        r,
        Err(Error::IndexOutOfRange {
            arg: "labels",
            position: 1,
            index: 2,
            bound: 2
        })
    );
    assert_eq!(g4, [0.0; 4], "nothing written on error");
    assert!(matches!(
        softmax_cross_entropy(&x4, &[0; 4], usize::MAX, &mut g4),
        Err(Error::SizeOverflow { .. })
    ));
    assert!(matches!(
        softmax_cross_entropy(&[], &[0], 0, &mut []),
        Err(Error::IndexOutOfRange { .. })
    ));
}
