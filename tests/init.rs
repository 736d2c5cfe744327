//! Weight initialisation: the SIMD samplers against the scalar reference,
//! the exact bounds, the moments, and argument checks.

mod common;

use common::{lengths, offsets};
use microprop::init::{self, FanMode};
use microprop::{Activation, Error, reference};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

fn seeded(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

#[test]
fn samplers_match_the_reference_for_every_length_and_offset() {
    for n in lengths() {
        for off in offsets() {
            let seed = (n * 17 + off) as u64;
            let mut w = vec![f32::NAN; n + off + 1];
            let mut w_ref = vec![f32::NAN; n];
            init::uniform(&mut w[off..off + n], 0.37, &mut seeded(seed)).unwrap();
            reference::init::uniform(&mut w_ref, 0.37, &mut seeded(seed));
            assert_eq!(w[off..off + n], w_ref[..], "uniform n={n} off={off}");
            assert!(w[n + off].is_nan());

            init::normal(&mut w[off..off + n], 1.7, &mut seeded(seed)).unwrap();
            reference::init::normal(&mut w_ref, 1.7, &mut seeded(seed));
            assert_eq!(w[off..off + n], w_ref[..], "normal n={n} off={off}");
            assert!(w[n + off].is_nan());
        }
    }
}

#[test]
fn bad_fans_and_gains_are_errors() {
    let mut w = [0.0f32; 8];
    let mut rng = seeded(1);
    let bad = |r: microprop::Result<()>, arg: &str| {
        assert!(
            matches!(r, Err(Error::InvalidParameter { arg: a, .. }) if a == arg),
            "{arg}: {r:?}"
        );
    };
    bad(init::glorot_uniform(&mut w, 0, 4, 1.0, &mut rng), "fan_in");
    bad(init::glorot_uniform(&mut w, 4, 0, 1.0, &mut rng), "fan_out");
    bad(init::glorot_normal(&mut w, 0, 4, 1.0, &mut rng), "fan_in");
    bad(init::glorot_normal(&mut w, 4, 0, 1.0, &mut rng), "fan_out");
    bad(init::he_uniform(&mut w, 0, 1.0, &mut rng), "fan");
    bad(init::he_normal(&mut w, 0, 1.0, &mut rng), "fan");
    for g in [-1.0, f32::NAN, f32::INFINITY, -f32::MIN_POSITIVE] {
        bad(init::glorot_uniform(&mut w, 4, 4, g, &mut rng), "gain");
        bad(init::glorot_normal(&mut w, 4, 4, g, &mut rng), "gain");
        bad(init::he_uniform(&mut w, 4, g, &mut rng), "gain");
        bad(init::he_normal(&mut w, 4, g, &mut rng), "gain");
        bad(init::uniform(&mut w, g, &mut rng), "bound");
        bad(init::normal(&mut w, g, &mut rng), "std");
    }
    // A finite gain whose bound overflows f32 is the gain's fault.
    bad(
        init::glorot_uniform(&mut w, 1, 1, f32::MAX, &mut rng),
        "gain",
    );
    bad(init::he_uniform(&mut w, 1, f32::MAX, &mut rng), "gain");
    assert_eq!(FanMode::In.fan(10, 3), 3);
    assert_eq!(FanMode::Out.fan(10, 3), 10);
}

/// Uniform samples stay within the bound, reach close to it, and have mean
/// 0 and variance bound^2 / 3 within 5 standard errors.
#[test]
#[cfg_attr(miri, ignore = "statistics over a million draws: hours under Miri")]
fn uniform_bounds_are_exact_and_moments_right() {
    const N: usize = 1 << 20;
    let mut w = vec![0.0f32; N];
    for (fan_in, fan_out, gain) in [(784, 128, 1.0f32), (3, 5, 5.0 / 3.0), (1, 1, 1.0)] {
        init::glorot_uniform(&mut w, fan_in, fan_out, gain, &mut seeded(21)).unwrap();
        let a = (f64::from(gain) * (6.0 / (fan_in + fan_out) as f64).sqrt()) as f32;
        check_uniform(&w, a);
        init::he_uniform(&mut w, fan_in, gain, &mut seeded(22)).unwrap();
        let a = (f64::from(gain) * (3.0 / fan_in as f64).sqrt()) as f32;
        check_uniform(&w, a);
    }
    // PyTorch's nn.Linear default: he_uniform with gain sqrt(1/3) is
    // U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    init::he_uniform(&mut w, 256, (1.0f32 / 3.0).sqrt(), &mut seeded(23)).unwrap();
    check_uniform(&w, 1.0 / 16.0);
    init::uniform(&mut w, 0.0, &mut seeded(24)).unwrap();
    assert!(w.iter().all(|&v| v == 0.0));
}

fn check_uniform(w: &[f32], a: f32) {
    let n = w.len() as f64;
    let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(max <= a, "max {max} > bound {a}");
    assert!(
        f64::from(max) > f64::from(a) * (1.0 - 20.0 / n),
        "max {max} far below {a}"
    );
    let a = f64::from(a);
    let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = w.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / n;
    assert!(mean.abs() <= 5.0 * a / (3.0 * n).sqrt(), "mean {mean}");
    // Var(v^2) for U(-a, a) is 4 a^4 / 45
    let expected = a * a / 3.0;
    assert!(
        (var - expected).abs() <= 5.0 * (4.0 / 45.0 / n).sqrt() * a * a,
        "var {var} vs {expected}"
    );
}

/// Normal samples have mean 0, variance std^2, and the kurtosis of a
/// Gaussian, within 5 standard errors.
#[test]
#[cfg_attr(miri, ignore = "statistics over a million draws: hours under Miri")]
fn normal_moments_are_right() {
    const N: usize = 1 << 20;
    let mut w = vec![0.0f32; N];
    for (fan_in, fan_out, gain) in [(784, 128, 1.0f32), (3, 5, 2.0f32.sqrt())] {
        init::glorot_normal(&mut w, fan_in, fan_out, gain, &mut seeded(31)).unwrap();
        check_normal(
            &w,
            f64::from(gain) * (2.0 / (fan_in + fan_out) as f64).sqrt(),
        );
        init::he_normal(&mut w, fan_out, gain, &mut seeded(32)).unwrap();
        check_normal(&w, f64::from(gain) / (fan_out as f64).sqrt());
    }
}

fn check_normal(w: &[f32], std: f64) {
    let n = w.len() as f64;
    let z: Vec<f64> = w.iter().map(|&v| f64::from(v) / std).collect();
    let mean = z.iter().sum::<f64>() / n;
    let m2 = z.iter().map(|v| v * v).sum::<f64>() / n;
    let m4 = z.iter().map(|v| v.powi(4)).sum::<f64>() / n;
    assert!(mean.abs() <= 5.0 / n.sqrt(), "mean {mean}");
    // Var(z^2) = 2, Var(z^4) = 96
    assert!((m2 - 1.0).abs() <= 5.0 * (2.0 / n).sqrt(), "variance {m2}");
    assert!(
        (m4 - 3.0).abs() <= 5.0 * (96.0 / n).sqrt(),
        "fourth moment {m4}"
    );
    let max = z.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(max <= 5.78, "max |z| {max}");
}

#[test]
fn constant_and_zeros_fill() {
    let mut b = [1.0f32; 5];
    init::zeros(&mut b);
    assert_eq!(b, [0.0; 5]);
    init::constant(&mut b, 0.25);
    assert_eq!(b, [0.25; 5]);
}

/// FNV-1a over 32-bit words.
fn fnv1a(words: impl IntoIterator<Item = u32>) -> u64 {
    words.into_iter().fold(0xCBF2_9CE4_8422_2325, |h, w| {
        w.to_le_bytes()
            .iter()
            .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
    })
}

/// A fixed seed gives known weights on every SIMD width and target (CI runs
/// this at the SSE2 baseline and natively).
#[test]
fn a_fixed_seed_gives_known_weights() {
    let mut w = vec![0.0f32; 999];
    init::glorot_uniform(&mut w, 30, 33, 1.0, &mut seeded(2024)).unwrap();
    let uniform = fnv1a(w.iter().map(|v| v.to_bits()));
    init::he_normal(&mut w, 30, 2.0f32.sqrt(), &mut seeded(2024)).unwrap();
    let normal = fnv1a(w.iter().map(|v| v.to_bits()));
    assert_eq!(
        (uniform, normal),
        (0x9725_acc0_4b21_0aa8, 0xe9bb_a375_e0cf_eae1),
        "uniform {uniform:#018x}, normal {normal:#018x}"
    );
}

/// torch.nn.init.calculate_gain's values (computed by PyTorch in f64, here
/// rounded to f32), and ReLU's gain for the ReLU-like activations it lacks.
#[test]
fn gains_are_torchs() {
    let cases = [
        (Activation::Identity, 1.0),
        (Activation::Sigmoid, 1.0),
        (Activation::Tanh, 5.0 / 3.0),
        (Activation::Relu, 2.0f64.sqrt()),
        (Activation::LeakyRelu(0.01), 1.414_142_856_997_835_4), // calculate_gain('leaky_relu')
        (Activation::LeakyRelu(-1.0), 1.0),
        (Activation::Elu(1.0), 2.0f64.sqrt()),
        (Activation::Gelu, 2.0f64.sqrt()),
        (Activation::GeluTanh, 2.0f64.sqrt()),
        (Activation::Silu, 2.0f64.sqrt()),
        (Activation::Softplus, 2.0f64.sqrt()),
    ];
    for (activation, expected) in cases {
        assert_eq!(
            init::gain(activation).unwrap(),
            expected as f32,
            "{activation:?}"
        );
    }
    // nn.Linear's default, kaiming_uniform_(a = sqrt(5)): gain sqrt(1/3)
    let linear = init::gain(Activation::LeakyRelu(5.0f32.sqrt())).unwrap();
    assert!((f64::from(linear) - (1.0f64 / 3.0).sqrt()).abs() < 1e-7);
    for slope in [f32::NAN, f32::INFINITY] {
        assert!(matches!(
            init::gain(Activation::LeakyRelu(slope)),
            Err(Error::InvalidParameter { .. })
        ));
    }
    assert!(init::gain(Activation::Elu(-1.0)).is_err());
}
