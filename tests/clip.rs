//! Gradient clipping against `torch.nn.utils` (`tests/golden/clip.txt`) and
//! an f64 oracle.

mod common;

use common::{TestRng, lengths, offsets, ulp_distance};
use microprop::Error;
use microprop::clip::{clip_grad_norm, clip_grad_value};

fn hex32(s: &str) -> f32 {
    f32::from_bits(u32::from_str_radix(s, 16).unwrap())
}

/// (kind, [argument, torch's norm], before/after pairs) per recorded call.
type Recorded = (String, Vec<f32>, Vec<(Vec<f32>, Vec<f32>)>);

fn load() -> Vec<Recorded> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/clip.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: Vec<Recorded> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let tag = words.next().unwrap_or("#");
        if tag.starts_with('#') {
            continue;
        }
        let values: Vec<f32> = words.map(hex32).collect();
        match tag {
            "clip_norm" | "clip_value" => out.push((tag.to_string(), values, Vec::new())),
            "before" => out.last_mut().unwrap().2.push((values, Vec::new())),
            "after" => out.last_mut().unwrap().2.last_mut().unwrap().1 = values,
            _ => {}
        }
    }
    out
}

#[test]
#[cfg_attr(
    miri,
    ignore = "parses golden data: minutes under Miri, and no kernel path the others miss"
)]
fn clipping_matches_torch() {
    let recorded = load();
    assert_eq!(recorded.len(), 10);
    for (kind, args, tensors) in recorded {
        let mut grads: Vec<Vec<f32>> = tensors.iter().map(|(b, _)| b.clone()).collect();
        let mut views: Vec<&mut [f32]> = grads.iter_mut().map(|g| &mut g[..]).collect();
        if kind == "clip_norm" {
            let norm = clip_grad_norm(&mut views, args[0]).unwrap();
            assert!(
                ulp_distance(norm, args[1]) <= 1,
                "norm {norm} vs torch {}",
                args[1]
            );
        } else {
            clip_grad_value(&mut views, args[0]).unwrap();
        }
        for (ours, (_, theirs)) in grads.iter().zip(&tensors) {
            for (a, b) in ours.iter().zip(theirs) {
                assert!(
                    ulp_distance(*a, *b) <= 1,
                    "{kind} {args:?}: {a} vs torch {b}"
                );
            }
        }
    }
}

#[test]
fn norm_is_accurate_on_every_length_and_offset() {
    let mut rng = TestRng(5);
    for n in lengths() {
        for offset in offsets() {
            let a = rng.vec(n + offset, -3.0, 3.0);
            let b = rng.vec(7, -3.0, 3.0);
            let exact: f64 = a[offset..]
                .iter()
                .chain(&b)
                .map(|&x| f64::from(x).powi(2))
                .sum();
            let exact = exact.sqrt();
            let (mut a2, mut b2) = (a.clone(), b.clone());
            let max_norm = (exact / 2.0) as f32;
            let norm = clip_grad_norm(&mut [&mut a2[offset..], &mut b2[..]], max_norm).unwrap();
            assert!(
                ulp_distance(norm, exact as f32) == 0,
                "n={n}: {norm} vs {exact}"
            );
            let scale = (1.0 / (norm + 1e-6)) * max_norm;
            for (x, y) in a[offset..]
                .iter()
                .zip(&a2[offset..])
                .chain(b.iter().zip(&b2))
            {
                assert_eq!(*y, x * scale);
            }
            assert_eq!(a[..offset], a2[..offset], "outside the slice is untouched");
            // A large enough bound leaves the gradients alone.
            let before = a2.clone();
            clip_grad_norm(&mut [&mut a2[offset..]], 1e30).unwrap();
            assert_eq!(before, a2);
        }
    }
}

#[test]
fn large_gradients_do_not_overflow_the_norm() {
    let mut g = [3e30f32, 4e30];
    let norm = clip_grad_norm(&mut [&mut g[..]], 1.0).unwrap();
    assert_eq!(norm, 5e30);
    assert!(
        (g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6,
        "{g:?}"
    );
}

#[test]
fn gradients_near_f32_max_are_clipped_not_rejected() {
    let mut g = [3e38f32, 3e38];
    let norm = clip_grad_norm(&mut [&mut g[..]], 1.0).unwrap();
    // The true norm, 4.2e38, is above f32::MAX: rounded, it is infinite.
    assert_eq!(norm, f32::INFINITY);
    let half = std::f32::consts::FRAC_1_SQRT_2;
    assert!(g.iter().all(|x| (x - half).abs() < 1e-6), "{g:?}");
    let mut g = [f32::MAX, -f32::MAX, f32::MAX];
    clip_grad_norm(&mut [&mut g[..]], 3.0).unwrap();
    assert!(
        g.iter().all(|x| (x.abs() - 3f32.sqrt()).abs() < 1e-6),
        "{g:?}"
    );
}

#[test]
fn non_finite_norm_is_an_error_and_changes_nothing() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let (mut a, mut b) = ([1.0f32, 2.0], [bad, 5.0]);
        let err = clip_grad_norm(&mut [&mut a[..], &mut b[..]], 0.1).unwrap_err();
        assert!(
            matches!(err, Error::NonFinite { arg: "grads", .. }),
            "{err:?}"
        );
        assert_eq!(a, [1.0, 2.0]);
        assert_eq!(b[1], 5.0);
    }
}

#[test]
fn clip_by_value_clamps_every_length_and_keeps_nan() {
    let mut rng = TestRng(9);
    for n in lengths() {
        let mut g = rng.vec(n, -2.0, 2.0);
        if n > 2 {
            g[1] = f32::NAN;
            g[2] = f32::NEG_INFINITY;
        }
        let before = g.clone();
        clip_grad_value(&mut [&mut g[..]], 0.5).unwrap();
        for (x, y) in before.iter().zip(&g) {
            if x.is_nan() {
                assert!(y.is_nan());
            } else {
                assert_eq!(*y, x.clamp(-0.5, 0.5));
            }
        }
    }
}

#[test]
fn bad_bounds_are_errors() {
    let mut g = [1.0f32];
    for bad in [-1.0, f32::NAN] {
        assert!(matches!(
            clip_grad_norm(&mut [&mut g[..]], bad),
            Err(Error::InvalidParameter {
                arg: "max_norm",
                ..
            })
        ));
        assert!(matches!(
            clip_grad_value(&mut [&mut g[..]], bad),
            Err(Error::InvalidParameter {
                arg: "clip_value",
                ..
            })
        ));
    }
    assert_eq!(g, [1.0]);
    assert_eq!(clip_grad_norm(&mut [], 1.0), Ok(0.0));
}
