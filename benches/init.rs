//! Weight initialisation throughput: the four schemes, and a scalar uniform
//! loop over `Xoshiro256PlusPlus` for scale.
//!
//! `cargo bench --bench init`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use microprop::init;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

const SIZES: [usize; 2] = [65536, 1 << 20];

fn bench(c: &mut Criterion) {
    println!("SIMD backend: {}", microprop::simd_backend());
    let mut group = c.benchmark_group("init");
    group.sample_size(20);
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        let mut w = vec![0.0f32; n];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let (fan_in, fan_out) = (1024, n / 1024);
        let gain = core::f32::consts::SQRT_2;
        group.bench_function(BenchmarkId::new("glorot_uniform", n), |b| {
            b.iter(|| init::glorot_uniform(&mut w, fan_in, fan_out, black_box(gain), &mut rng))
        });
        group.bench_function(BenchmarkId::new("glorot_normal", n), |b| {
            b.iter(|| init::glorot_normal(&mut w, fan_in, fan_out, black_box(gain), &mut rng))
        });
        group.bench_function(BenchmarkId::new("he_uniform", n), |b| {
            b.iter(|| init::he_uniform(&mut w, fan_in, black_box(gain), &mut rng))
        });
        group.bench_function(BenchmarkId::new("he_normal", n), |b| {
            b.iter(|| init::he_normal(&mut w, fan_in, black_box(gain), &mut rng))
        });
        group.bench_function(BenchmarkId::new("scalar_xoshiro_uniform", n), |b| {
            b.iter(|| {
                let a = black_box(0.05f32);
                for wi in w.iter_mut() {
                    *wi = a * ((rng.next_u32() >> 8) as f32 * (2.0 / 16_777_216.0) - 1.0);
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
