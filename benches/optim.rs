//! Optimizer steps: the fused SIMD kernel, the scalar reference of the same
//! update (`microprop::reference::optim`, which rounds as torch does with a
//! software FMA and so does not vectorise), for Adam also the plain loop a
//! user would write (which the compiler vectorises), and a streaming
//! in-place update that moves the same bytes (the bandwidth limit for that
//! working set).
//!
//! ```sh
//! cargo bench --bench optim
//! cargo bench --bench optim -- 'adam/100k'     # one optimizer and size
//! ```
//!
//! Throughput is in parameters per second; multiply by the bytes per
//! parameter printed in each group's name for GB/s (Adam reads p, g, m, v
//! and writes p, m, v: 28 bytes; SGD with momentum, Adagrad and RMSprop 20).
//! Each iteration is one step of one tensor, applied repeatedly to the same
//! buffers, as in training.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use microprop::reference::optim as reference;
use microprop::{Adagrad, Adam, AdamW, Optimizer, RmsProp, Sgd};
use std::hint::black_box;
use std::time::Duration;

type Scalar = fn(u64, &mut [f32], &[f32], &mut [f32]);

const SIZES: [(usize, &str); 3] = [(100_000, "100k"), (1_000_000, "1M"), (10_000_000, "10M")];

/// The bandwidth limit: `x += a * g` for every read-write plane, in one
/// pass reading `g` once: the same bytes as the optimizer step.
fn triad(params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    let n = params.len();
    match state.len() / n.max(1) {
        1 => {
            let (s0, _) = state.split_at_mut(n);
            for ((p, s), &g) in params.iter_mut().zip(s0).zip(grads) {
                *p += 1e-7 * g;
                *s += 2e-7 * g;
            }
        }
        _ => {
            let (s0, s1) = state.split_at_mut(n);
            for (((p, a), b), &g) in params.iter_mut().zip(s0).zip(&mut s1[..n]).zip(grads) {
                *p += 1e-7 * g;
                *a += 2e-7 * g;
                *b += 3e-7 * g;
            }
        }
    }
}

/// Adam with the defaults and `lr = 1e-6` as a plain Rust loop: f32
/// arithmetic without FMA, torch's order of operations (a square root and two
/// divisions per element). The compiler vectorises it; it is not torch-exact.
fn plain_adam(t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    let (b1, b2, lr, eps) = (0.9f32, 0.999f32, 1e-6f32, 1e-8f32);
    let t = i32::try_from(t).unwrap_or(i32::MAX);
    let step = lr / (1.0 - b1.powi(t));
    let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
    let (m, v) = state.split_at_mut(params.len());
    for (((p, &g), m), v) in params.iter_mut().zip(grads).zip(m).zip(v) {
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
        *p -= step * *m / (v.sqrt() / bc2_sqrt + eps);
    }
}

fn bench_one(c: &mut Criterion, name: &str, bytes: usize, opt: &dyn Optimizer, scalar: Scalar) {
    for (n, label) in SIZES {
        let mut group = c.benchmark_group(format!("{name}/{label}/{bytes}B"));
        group.throughput(Throughput::Elements(n as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        let grads: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) * 1e-3).collect();
        let mut params: Vec<f32> = (0..n).map(|i| ((i % 13) as f32 - 6.0) * 0.1).collect();
        let mut state = vec![0.0f32; opt.state_len(n)];
        let t = 10;
        group.bench_function(BenchmarkId::from_parameter("fused"), |b| {
            b.iter(|| {
                opt.step(
                    t,
                    black_box(&mut params),
                    black_box(&grads),
                    black_box(&mut state),
                )
            })
        });
        if name.starts_with("adam") {
            // Late in training sqrt(1 - beta2^t) rounds to 1 and one division
            // per element is saved.
            group.bench_function(BenchmarkId::from_parameter("fused_t100k"), |b| {
                b.iter(|| {
                    opt.step(
                        100_000,
                        black_box(&mut params),
                        black_box(&grads),
                        black_box(&mut state),
                    )
                })
            });
        }
        if name == "adam" {
            group.bench_function(BenchmarkId::from_parameter("plain"), |b| {
                b.iter(|| {
                    plain_adam(
                        t,
                        black_box(&mut params),
                        black_box(&grads),
                        black_box(&mut state),
                    )
                })
            });
        }
        group.bench_function(BenchmarkId::from_parameter("scalar"), |b| {
            b.iter(|| {
                scalar(
                    t,
                    black_box(&mut params),
                    black_box(&grads),
                    black_box(&mut state),
                )
            })
        });
        group.bench_function(BenchmarkId::from_parameter("triad"), |b| {
            b.iter(|| {
                triad(
                    black_box(&mut params),
                    black_box(&grads),
                    black_box(&mut state),
                )
            })
        });
        group.finish();
    }
}

/// The divider's limit: Adam needs one square root and two correctly rounded
/// divisions per element (torch's rounding), RMSprop and Adagrad one of each.
/// Measured on 4096 L1-resident elements, so memory is not the limit.
fn divider(c: &mut Criterion) {
    let mut group = c.benchmark_group("divider/4096");
    let n = 4096;
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(1));
    let v: Vec<f32> = (0..n).map(|i| 1.0 + i as f32).collect();
    let mut out = vec![0.0f32; n];
    let c2 = black_box(1.7f32);
    group.bench_function("sqrt+2div", |b| {
        b.iter(|| {
            for (o, &x) in out.iter_mut().zip(black_box(&v)) {
                *o = x / (x.sqrt() / c2 + 1e-8);
            }
        })
    });
    group.bench_function("sqrt+1div", |b| {
        b.iter(|| {
            for (o, &x) in out.iter_mut().zip(black_box(&v)) {
                *o = x / (x.sqrt() + 1e-8);
            }
        })
    });
    group.finish();
}

fn optimizers(c: &mut Criterion) {
    eprintln!("SIMD backend: {}", microprop::simd_backend());
    let adam = Adam {
        lr: 1e-6,
        ..Adam::default()
    };
    bench_one(c, "adam", 28, &adam, |t, p, g, s| {
        reference::adam(
            &Adam {
                lr: 1e-6,
                ..Adam::default()
            },
            t,
            p,
            g,
            s,
        )
    });
    let adamw = AdamW {
        lr: 1e-6,
        ..AdamW::default()
    };
    bench_one(c, "adamw", 28, &adamw, |t, p, g, s| {
        reference::adamw(
            &AdamW {
                lr: 1e-6,
                ..AdamW::default()
            },
            t,
            p,
            g,
            s,
        )
    });
    let sgd = Sgd {
        lr: 1e-6,
        momentum: 0.9,
        ..Sgd::default()
    };
    bench_one(c, "sgd_momentum", 20, &sgd, |t, p, g, s| {
        reference::sgd(
            &Sgd {
                lr: 1e-6,
                momentum: 0.9,
                ..Sgd::default()
            },
            t,
            p,
            g,
            s,
        )
    });
    let adagrad = Adagrad {
        lr: 1e-6,
        ..Adagrad::default()
    };
    bench_one(c, "adagrad", 20, &adagrad, |t, p, g, s| {
        reference::adagrad(
            &Adagrad {
                lr: 1e-6,
                ..Adagrad::default()
            },
            t,
            p,
            g,
            s,
        )
    });
    let rmsprop = RmsProp {
        lr: 1e-6,
        ..RmsProp::default()
    };
    bench_one(c, "rmsprop", 20, &rmsprop, |t, p, g, s| {
        reference::rmsprop(
            &RmsProp {
                lr: 1e-6,
                ..RmsProp::default()
            },
            t,
            p,
            g,
            s,
        )
    });
}

criterion_group!(benches, divider, optimizers);
criterion_main!(benches);
