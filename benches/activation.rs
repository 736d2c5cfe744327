//! Throughput of the activation kernels, forward and backward, against a
//! plain scalar `libm` loop and two memory-bandwidth references, all in one
//! run: a copy loop (4 bytes read and 4 written per element, like a forward
//! pass) and an element-wise product of two slices (8 bytes read and 4
//! written, like a backward pass from the output).
//!
//! `cargo bench --bench activation` (at the CPU's best SIMD level, or the
//! one `MICROPROP_SIMD` names); filter with e.g.
//! `cargo bench --bench activation -- 'sigmoid/forward'`.

use core::f32::consts::FRAC_1_SQRT_2;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use microprop::Activation;
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 4] = [4096, 65536, 1 << 20, 1 << 24];

/// Deterministic inputs spread over [-8, 8), where every branch of every
/// function is exercised.
fn inputs(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as u64).wrapping_mul(2_654_435_761) % 65536) as f32 / 4096.0 - 8.0)
        .collect()
}

/// The scalar forward loop a user would write with `libm`.
fn scalar_forward(act: Activation, x: &[f32], y: &mut [f32]) {
    let f: fn(f32) -> f32 = match act {
        Activation::Sigmoid => |v| 1.0 / (1.0 + libm::expf(-v)),
        Activation::Tanh => libm::tanhf,
        Activation::Relu => |v| if v > 0.0 { v } else { 0.0 },
        Activation::Gelu => |v| 0.5 * v * libm::erfcf(-v * FRAC_1_SQRT_2),
        _ => unreachable!("not benchmarked"),
    };
    for (o, &v) in y.iter_mut().zip(x) {
        *o = f(v);
    }
}

/// The scalar backward loop: from `y` where the kernel reads `y`.
fn scalar_backward(act: Activation, x: &[f32], y: &[f32], g: &[f32], gi: &mut [f32]) {
    let f: fn(f32, f32) -> f32 = match act {
        Activation::Sigmoid => |_, y| y * (1.0 - y),
        Activation::Tanh => |_, y| 1.0 - y * y,
        Activation::Relu => |x, _| if x > 0.0 { 1.0 } else { 0.0 },
        Activation::Gelu => |x, _| {
            let pdf = libm::expf(-0.5 * x * x) * 0.398_942_3;
            0.5 * libm::erfcf(-x * FRAC_1_SQRT_2) + x * pdf
        },
        _ => unreachable!("not benchmarked"),
    };
    for (((o, &x), &y), &g) in gi.iter_mut().zip(x).zip(y).zip(g) {
        *o = g * f(x, y);
    }
}

fn activations(c: &mut Criterion) {
    eprintln!("SIMD backend: {}", microprop::simd_backend());
    for &n in &SIZES {
        let x = inputs(n);
        let g: Vec<f32> = x.iter().map(|v| 0.25 * v).collect();
        let mut y = vec![0.0f32; n];
        let mut out = vec![0.0f32; n];

        let mut group = c.benchmark_group("copy");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("copy", n), &n, |b, _| {
            b.iter(|| out.copy_from_slice(black_box(&x)))
        });
        group.bench_with_input(BenchmarkId::new("product", n), &n, |b, _| {
            b.iter(|| {
                for ((o, &a), &v) in out.iter_mut().zip(black_box(&x)).zip(&g) {
                    *o = a * v;
                }
            })
        });
        group.finish();

        for (name, act) in [
            ("sigmoid", Activation::Sigmoid),
            ("tanh", Activation::Tanh),
            ("relu", Activation::Relu),
            ("gelu", Activation::Gelu),
        ] {
            let mut group = c.benchmark_group(format!("{name}/forward"));
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("microprop", n), &n, |b, _| {
                b.iter(|| act.forward(black_box(&x), &mut y).unwrap())
            });
            group.bench_with_input(BenchmarkId::new("scalar-libm", n), &n, |b, _| {
                b.iter(|| scalar_forward(act, black_box(&x), &mut out))
            });
            group.finish();

            act.forward(&x, &mut y).unwrap();
            let mut group = c.benchmark_group(format!("{name}/backward"));
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("microprop", n), &n, |b, _| {
                b.iter(|| act.backward(black_box(&x), &y, &g, &mut out).unwrap())
            });
            group.bench_with_input(BenchmarkId::new("scalar-libm", n), &n, |b, _| {
                b.iter(|| scalar_backward(act, black_box(&x), &y, &g, &mut out))
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = activations
}
criterion_main!(benches);
