//! Dropout: the SIMD kernels against the scalar reference, the statistics of
//! the mask, PyTorch's edge-case semantics, and argument checks.

mod common;

use common::{EDGE_CASES, TestRng, lengths, offsets};
use microprop::{Dropout, Error, reference};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

const PS: [f32; 8] = [0.0, 1.0e-6, 0.1, 0.25, 0.5, 0.9, 0.999_99, 1.0];

fn seeded(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    // Any NaN matches any NaN: Rust leaves the payload of a computed NaN
    // unspecified, and Miri picks it at random.
    let same = |x: &f32, y: &f32| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

/// Forward, in-place forward, backward and in-place backward all agree with
/// the reference bit for bit, for every length and start offset.
#[test]
fn matches_the_reference_for_every_length_and_offset() {
    let mut data = TestRng(1);
    // Under Miri, one p of each kind: nothing, some and everything dropped.
    let ps: &[f32] = if cfg!(miri) { &[0.0, 0.5, 1.0] } else { &PS };
    for &p in ps {
        let d = Dropout::new(p).unwrap();
        for n in lengths() {
            for off in offsets() {
                let seed = (n * 131 + off) as u64;
                let buf = data.vec(n + off, -4.0, 4.0);
                let x = &buf[off..];
                let words = Dropout::mask_len(n);

                let mut y_ref = vec![f32::NAN; n];
                let mut m_ref = vec![0xDEAD_BEEF; words];
                reference::dropout::forward(p, x, &mut y_ref, &mut m_ref, &mut seeded(seed));

                let mut y = vec![f32::NAN; n + off];
                let mut m = vec![0xDEAD_BEEF; words];
                d.forward(x, &mut y[off..], &mut m, &mut seeded(seed))
                    .unwrap();
                assert_eq!(m, m_ref, "mask p={p} n={n} off={off}");
                assert!(same_bits(&y[off..], &y_ref), "y p={p} n={n} off={off}");

                let mut z = buf.clone();
                let mut m2 = vec![0xDEAD_BEEF; words];
                d.forward_in_place(&mut z[off..], &mut m2, &mut seeded(seed))
                    .unwrap();
                assert_eq!(m2, m_ref);
                assert!(same_bits(&z[off..], &y_ref));

                let g = data.vec(n + off, -4.0, 4.0);
                let mut gi_ref = vec![f32::NAN; n];
                reference::dropout::backward(p, &m_ref, &g[off..], &mut gi_ref);
                let mut gi = vec![f32::NAN; n + off];
                d.backward(&m, &g[off..], &mut gi[off..]).unwrap();
                assert!(same_bits(&gi[off..], &gi_ref), "backward p={p} n={n}");
                let mut gz = g.clone();
                d.backward_in_place(&m, &mut gz[off..]).unwrap();
                assert!(same_bits(&gz[off..], &gi_ref));
            }
        }
    }
}

/// Dropped elements are `x * 0` and kept ones `x * scale`, for every edge
/// value; p = 0 is the identity and p = 1 zeroes as PyTorch does.
#[test]
fn edge_values_follow_torch() {
    let x: Vec<f32> = EDGE_CASES.iter().cycle().take(200).copied().collect();
    for p in PS {
        let d = Dropout::new(p).unwrap();
        let mut y = vec![f32::NAN; x.len()];
        let mut m = vec![0; Dropout::mask_len(x.len())];
        d.forward(&x, &mut y, &mut m, &mut seeded(9)).unwrap();
        for (i, (&xi, &yi)) in x.iter().zip(&y).enumerate() {
            let kept = m[i / 32] >> (i % 32) & 1 == 1;
            let expected = if p == 0.0 {
                xi
            } else if kept {
                xi * d.scale()
            } else {
                xi * 0.0
            };
            assert!(same_bits(&[yi], &[expected]), "p={p} x={xi} y={yi}");
        }
        match p {
            0.0 => assert!(same_bits(&x, &y)),
            1.0 => assert!(m.iter().all(|&w| w == 0)),
            _ => {}
        }
    }
    // torch: [1, inf, nan, -2] with p = 1 gives [0, nan, nan, -0]
    let mut y = [7.0f32; 4];
    let mut m = [1u32];
    Dropout::new(1.0)
        .unwrap()
        .forward(
            &[1.0, f32::INFINITY, f32::NAN, -2.0],
            &mut y,
            &mut m,
            &mut seeded(0),
        )
        .unwrap();
    assert_eq!(y[0].to_bits(), 0.0f32.to_bits());
    assert!(y[1].is_nan() && y[2].is_nan());
    assert_eq!(y[3].to_bits(), (-0.0f32).to_bits());
    assert_eq!(m, [0]);
}

#[test]
fn bad_p_and_lengths_are_errors() {
    for p in [-0.0f32, 0.0, 0.5, 1.0] {
        assert!(Dropout::new(p).is_ok(), "{p}");
    }
    for p in [
        f32::NAN,
        -1.0e-9,
        -0.5,
        1.000_001,
        2.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        assert!(
            matches!(
                Dropout::new(p),
                Err(Error::InvalidParameter { arg: "p", .. })
            ),
            "{p}"
        );
    }
    let d = Dropout::new(0.3).unwrap();
    let mut rng = seeded(0);
    let x = [1.0f32; 33];
    let mut y = [0.0f32; 33];
    let mut m = [0u32; 2];
    let len_err = |r: microprop::Result<()>, arg: &str| {
        assert!(
            matches!(r, Err(Error::LengthMismatch { arg: a, .. }) if a == arg),
            "{r:?}"
        );
    };
    len_err(d.forward(&x, &mut y[..32], &mut m, &mut rng), "y");
    len_err(d.forward(&x, &mut y, &mut m[..1], &mut rng), "mask");
    len_err(d.forward(&x[..32], &mut y[..32], &mut m, &mut rng), "mask");
    len_err(d.forward_in_place(&mut y, &mut [0; 3], &mut rng), "mask");
    len_err(d.backward(&m, &x, &mut y[..1]), "grad_in");
    len_err(d.backward(&m[..1], &x, &mut y), "mask");
    len_err(d.backward_in_place(&m, &mut y[..3]), "mask");
    assert!(d.forward(&[], &mut [], &mut [], &mut rng).is_ok());
    assert_eq!(Dropout::mask_len(0), 0);
    assert_eq!(Dropout::mask_len(1), 1);
    assert_eq!(Dropout::mask_len(32), 1);
    assert_eq!(Dropout::mask_len(33), 2);
}

/// The mask of `n` elements for drop probability `p`.
fn mask_of(p: f32, n: usize, seed: u64) -> (Dropout, Vec<u32>) {
    let d = Dropout::new(p).unwrap();
    let mut x = vec![1.0f32; n];
    let mut m = vec![0; Dropout::mask_len(n)];
    d.forward_in_place(&mut x, &mut m, &mut seeded(seed))
        .unwrap();
    (d, m)
}

fn bit(m: &[u32], i: usize) -> bool {
    m[i / 32] >> (i % 32) & 1 == 1
}

/// |observed - expected| within 5 standard deviations.
fn within_5_sigma(what: &str, observed: f64, expected: f64, sd: f64) {
    assert!(
        (observed - expected).abs() <= 5.0 * sd,
        "{what}: observed {observed}, expected {expected} +- 5 * {sd}"
    );
}

#[test]
#[cfg_attr(miri, ignore = "statistics over a million draws: hours under Miri")]
fn keep_rate_is_within_5_sigma_over_1e7_elements() {
    const N: usize = 10_000_000;
    for p in [0.1f32, 0.5, 0.9] {
        let (d, m) = mask_of(p, N, 11);
        let q = d.keep_probability();
        assert!(
            (q - (1.0 - f64::from(p))).abs() <= 1.0 / 131072.0,
            "p={p} q={q}"
        );
        let kept: u64 = m.iter().map(|w| u64::from(w.count_ones())).sum();
        let n = N as f64;
        within_5_sigma(
            &format!("keep rate p={p}"),
            kept as f64,
            n * q,
            (n * q * (1.0 - q)).sqrt(),
        );
    }
}

/// For lags 1..=64 (neighbours in a word, the two halves of one random word
/// at lag 16, consecutive outputs of one stream at lag 32) the number of
/// kept pairs is what independence predicts.
#[test]
#[cfg_attr(miri, ignore = "statistics over a million draws: hours under Miri")]
fn neighbouring_elements_are_uncorrelated() {
    const N: usize = 1 << 20;
    for p in [0.1f32, 0.5, 0.9] {
        let (d, m) = mask_of(p, N, 12);
        let q = d.keep_probability();
        for lag in 1..=64 {
            let pairs = N - lag;
            let both = (0..pairs)
                .filter(|&i| bit(&m, i) && bit(&m, i + lag))
                .count();
            let (q2, q3, q4) = (q * q, q * q * q, q * q * q * q);
            // overlapping pairs share an element: Cov = q^3 - q^4
            let var = pairs as f64 * (q2 - q4 + 2.0 * (q3 - q4));
            within_5_sigma(
                &format!("p={p} lag={lag}"),
                both as f64,
                pairs as f64 * q2,
                var.sqrt(),
            );
        }
    }
}

/// Every bit position of the mask words has the keep rate, and every pair of
/// positions within a word is independent.
#[test]
#[cfg_attr(miri, ignore = "statistics over a million draws: hours under Miri")]
fn bit_positions_are_uniform_and_uncorrelated() {
    const WORDS: usize = 1 << 15;
    for p in [0.1f32, 0.5, 0.9] {
        let (d, m) = mask_of(p, WORDS * 32, 13);
        let q = d.keep_probability();
        let n = WORDS as f64;
        for a in 0..32 {
            let ones = m.iter().filter(|&&w| w >> a & 1 == 1).count();
            within_5_sigma(
                &format!("p={p} bit {a}"),
                ones as f64,
                n * q,
                (n * q * (1.0 - q)).sqrt(),
            );
            for b in a + 1..32 {
                let both = m.iter().filter(|&&w| w >> a & w >> b & 1 == 1).count();
                let q2 = q * q;
                let sd = (n * q2 * (1.0 - q2)).sqrt();
                within_5_sigma(&format!("p={p} bits {a},{b}"), both as f64, n * q2, sd);
            }
        }
    }
}

/// Inverted dropout keeps the mean: E[y] = x * q * scale, within 2^-17 /
/// (1 - p) (the 16-bit threshold) of x.
#[test]
#[cfg_attr(miri, ignore = "statistics over a million draws: hours under Miri")]
fn expected_output_equals_input() {
    const N: usize = 1 << 20;
    let x = TestRng(5).vec(N, -3.0, 3.0);
    for p in [0.1f32, 0.5, 0.9] {
        let d = Dropout::new(p).unwrap();
        let (q, s) = (d.keep_probability(), f64::from(d.scale()));
        assert!((q * s - 1.0).abs() <= 1.0 / 131072.0 / (1.0 - f64::from(p)) + 1e-7);
        let mut y = vec![0.0f32; N];
        let mut m = vec![0; Dropout::mask_len(N)];
        d.forward(&x, &mut y, &mut m, &mut seeded(14)).unwrap();
        let sum_y: f64 = y.iter().map(|&v| f64::from(v)).sum();
        let sum_x: f64 = x.iter().map(|&v| f64::from(v)).sum();
        let sum_x2: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let sd = (sum_x2 * s * s * q * (1.0 - q)).sqrt();
        within_5_sigma(&format!("sum y p={p}"), sum_y, sum_x * q * s, sd);
    }
}

/// FNV-1a over 32-bit words.
fn fnv1a(words: impl IntoIterator<Item = u32>) -> u64 {
    words.into_iter().fold(0xCBF2_9CE4_8422_2325, |h, w| {
        w.to_le_bytes()
            .iter()
            .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
    })
}

/// A fixed seed gives known bits, whatever the SIMD width or target: CI runs
/// this at the SSE2 baseline (4 lanes) and natively (8 or 16 lanes).
#[test]
fn a_fixed_seed_gives_known_bits() {
    const N: usize = 1000;
    let x = TestRng(3).vec(N, -2.0, 2.0);
    let d = Dropout::new(0.3).unwrap();
    let mut y = vec![0.0f32; N];
    let mut m = vec![0; Dropout::mask_len(N)];
    d.forward(&x, &mut y, &mut m, &mut seeded(2024)).unwrap();
    let mask_sum = fnv1a(m.iter().copied());
    let y_sum = fnv1a(y.iter().map(|v| v.to_bits()));
    assert_eq!(
        (mask_sum, y_sum),
        (0x7de6_4b16_a79b_6553, 0x599f_bbfc_429e_01cf),
        "mask {mask_sum:#018x}, y {y_sum:#018x}"
    );
}
