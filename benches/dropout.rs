//! Dropout throughput against a scalar loop over `Xoshiro256PlusPlus` (one
//! generator call per element, as a straightforward implementation does) and
//! a streaming copy `y = x * c` (the memory bandwidth bound: it reads and
//! writes what dropout reads and writes, bar the mask), in the same run. The
//! copy is a vectorised loop rather than `copy_from_slice`, whose `memcpy`
//! can be far slower than a plain loop on some virtual machines.
//!
//! `cargo bench --bench dropout`; filter with e.g. `-- forward/16777216`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use microprop::Dropout;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

const SIZES: [usize; 4] = [4096, 65536, 1 << 20, 1 << 24];
const P: f32 = 0.5;

/// The obvious scalar dropout: one `next_u32` per element, a 32-bit
/// threshold, the same bit-packed mask, written without branches so that
/// unpredictable keep decisions cost no mispredictions.
fn scalar_forward(x: &[f32], y: &mut [f32], mask: &mut [u32], rng: &mut Xoshiro256PlusPlus) {
    let threshold = (f64::from(P) * 4_294_967_296.0) as u32;
    let scale = ((1.0 / (1.0 - f64::from(P))) as f32).to_bits();
    for ((xs, ys), m) in x.chunks(32).zip(y.chunks_mut(32)).zip(mask) {
        let mut word = 0;
        for (i, (xi, yi)) in xs.iter().zip(ys).enumerate() {
            let keep = u32::from(rng.next_u32() >= threshold);
            word |= keep << i;
            *yi = xi * f32::from_bits(keep.wrapping_neg() & scale);
        }
        *m = word;
    }
}

fn bench(c: &mut Criterion) {
    println!("SIMD backend: {}", microprop::simd_backend());
    let d = Dropout::new(P).unwrap();
    for (name, backward) in [("forward", false), ("backward", true)] {
        let mut group = c.benchmark_group(format!("dropout_{name}"));
        for n in SIZES {
            if n >= 1 << 20 {
                group.sample_size(10);
            }
            group.throughput(Throughput::Elements(n as u64));
            let x: Vec<f32> = (0..n).map(|i| (i % 97) as f32 - 48.0).collect();
            let mut y = vec![0.0f32; n];
            let mut mask = vec![0u32; Dropout::mask_len(n)];
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
            d.forward(&x, &mut y, &mut mask, &mut rng).unwrap();
            if backward {
                group.bench_function(BenchmarkId::new("microprop", n), |b| {
                    b.iter(|| d.backward(black_box(&mask), black_box(&x), &mut y).unwrap())
                });
            } else {
                group.bench_function(BenchmarkId::new("microprop", n), |b| {
                    b.iter(|| {
                        d.forward(black_box(&x), &mut y, &mut mask, &mut rng)
                            .unwrap()
                    })
                });
                group.bench_function(BenchmarkId::new("scalar_xoshiro", n), |b| {
                    b.iter(|| scalar_forward(black_box(&x), &mut y, &mut mask, &mut rng))
                });
            }
            group.bench_function(BenchmarkId::new("copy", n), |b| {
                b.iter(|| {
                    let c = black_box(2.0f32);
                    for (yi, xi) in y.iter_mut().zip(black_box(&x)) {
                        *yi = xi * c;
                    }
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
