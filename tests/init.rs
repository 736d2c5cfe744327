//! Weight initialisation: the SIMD samplers against the scalar reference,
//! the exact bounds, the moments, and argument checks.

mod common;

use common::{lengths, offsets};
use microprop::init::{self, FanMode};
use microprop::{Error, reference};
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
            init::uniform(&mut seeded(seed), &mut w[off..off + n], 0.37).unwrap();
            reference::init::uniform(&mut seeded(seed), &mut w_ref, 0.37);
            assert_eq!(w[off..off + n], w_ref[..], "uniform n={n} off={off}");
            assert!(w[n + off].is_nan());

            init::normal(&mut seeded(seed), &mut w[off..off + n], 1.7).unwrap();
            reference::init::normal(&mut seeded(seed), &mut w_ref, 1.7);
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
    bad(init::glorot_uniform(&mut rng, &mut w, 0, 4, 1.0), "fan_in");
    bad(init::glorot_uniform(&mut rng, &mut w, 4, 0, 1.0), "fan_out");
    bad(init::glorot_normal(&mut rng, &mut w, 0, 4, 1.0), "fan_in");
    bad(init::glorot_normal(&mut rng, &mut w, 4, 0, 1.0), "fan_out");
    bad(init::he_uniform(&mut rng, &mut w, 0, 1.0), "fan");
    bad(init::he_normal(&mut rng, &mut w, 0, 1.0), "fan");
    for g in [-1.0, f32::NAN, f32::INFINITY, -f32::MIN_POSITIVE] {
        bad(init::glorot_uniform(&mut rng, &mut w, 4, 4, g), "gain");
        bad(init::glorot_normal(&mut rng, &mut w, 4, 4, g), "gain");
        bad(init::he_uniform(&mut rng, &mut w, 4, g), "gain");
        bad(init::he_normal(&mut rng, &mut w, 4, g), "gain");
        bad(init::uniform(&mut rng, &mut w, g), "bound");
        bad(init::normal(&mut rng, &mut w, g), "std");
    }
    assert_eq!(FanMode::In.fan(10, 3), 3);
    assert_eq!(FanMode::Out.fan(10, 3), 10);
}
