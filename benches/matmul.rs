//! GEMM throughput against `matrixmultiply` and `gemm`, in GFLOP/s (2mnk
//! floating-point operations per product, reported as elements), next to
//! the FMA peak of one core measured in the same run where the build's
//! vectors are those the kernels run on (a native build).
//!
//! `cargo bench --bench matmul` runs the criterion groups. With
//! `MICROPROP_MATMUL_TABLE=1` the binary instead prints the table of the
//! README: for each shape it interleaves the contenders round by round and
//! reports the median GFLOP/s and the median of the per-round ratios, which
//! is robust on a shared machine.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use microprop::{Activation, MatMut, MatRef, matmul};
use microprop_bench_peers::{Strided, StridedMut, gemm_sgemm, matrixmultiply_sgemm};

#[cfg(target_feature = "avx512f")]
type Lanes = wide::f32x16;
#[cfg(all(target_feature = "avx", not(target_feature = "avx512f")))]
type Lanes = wide::f32x8;
#[cfg(not(target_feature = "avx"))]
type Lanes = wide::f32x4;

const LANE_COUNT: usize = core::mem::size_of::<Lanes>() / 4;

/// Independent FMA chains: enough to cover the latency of two FMA pipes.
const CHAINS: usize = 12;

/// Whether [`fma_loop`] measures the core's peak for the kernels: only when
/// the build's vectors are as wide as those the kernels run on and have
/// FMA. A default x86-64 build's loop has SSE2's four lanes and no FMA,
/// while the kernels pick AVX2 or AVX-512 at run time.
fn peak_applies() -> bool {
    let fma = cfg!(target_feature = "fma") || !cfg!(target_arch = "x86_64");
    fma && microprop::simd_backend().contains(&format!("({LANE_COUNT} x f32)"))
}

/// A register-resident loop of `CHAINS` independent multiply-add chains;
/// does `2 * LANE_COUNT * CHAINS * iters` flops.
fn fma_loop(iters: usize) -> f32 {
    let mut acc = [Lanes::splat(1.0); CHAINS];
    let x = black_box(Lanes::splat(0.999_999));
    let y = black_box(Lanes::splat(1e-6));
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = a.mul_add(x, y);
        }
    }
    acc.iter().map(|a| a.reduce_add()).sum()
}

/// One product to measure: `C (m x n) = A (m x k) * B (k x n)`, with A or B
/// stored transposed.
#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    m: usize,
    n: usize,
    k: usize,
    a_t: bool,
    b_t: bool,
}

impl Shape {
    fn flops(&self) -> u64 {
        2 * (self.m * self.n * self.k) as u64
    }
}

/// Operands of one shape, filled with values in [-1, 1).
struct Operands {
    shape: Shape,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    ws: Vec<f32>,
}

impl Operands {
    fn new(shape: Shape) -> Self {
        let Shape { m, n, k, .. } = shape;
        let fill = |len: usize, seed: u32| -> Vec<f32> {
            (0..len)
                .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32)
                .map(|x| x / (1u32 << 23) as f32 - 1.0)
                .collect()
        };
        Self {
            shape,
            a: fill(m * k, 1),
            b: fill(k * n, 2),
            c: vec![0.0; m * n],
            ws: vec![0.0; matmul::gemm_workspace_len(m, n, k)],
        }
    }

    /// (rows, cols, row stride, col stride) of A and B as stored.
    fn layouts(&self) -> ([usize; 4], [usize; 4]) {
        let Shape {
            m, n, k, a_t, b_t, ..
        } = self.shape;
        let a = if a_t { [m, k, 1, m] } else { [m, k, k, 1] };
        let b = if b_t { [k, n, 1, k] } else { [k, n, n, 1] };
        (a, b)
    }

    /// A and B as the shape lays them out.
    fn views<'a>(shape: Shape, a: &'a [f32], b: &'a [f32]) -> (MatRef<'a>, MatRef<'a>) {
        let Shape {
            m, n, k, a_t, b_t, ..
        } = shape;
        let a = if a_t {
            MatRef::new(a, k, m).unwrap().t()
        } else {
            MatRef::new(a, m, k).unwrap()
        };
        let b = if b_t {
            MatRef::new(b, n, k).unwrap().t()
        } else {
            MatRef::new(b, k, n).unwrap()
        };
        (a, b)
    }

    fn microprop(&mut self) {
        let (m, n) = (self.shape.m, self.shape.n);
        let (a, b) = Self::views(self.shape, &self.a, &self.b);
        let c = MatMut::new(&mut self.c, m, n).unwrap();
        matmul::gemm(1.0, a, b, 0.0, c, &mut self.ws).unwrap();
    }

    fn peer(&mut self, f: fn(f32, Strided, Strided, f32, StridedMut)) {
        let ([ar, ac, ars, acs], [br, bc, brs, bcs]) = self.layouts();
        let a = Strided {
            data: &self.a,
            rows: ar,
            cols: ac,
            rs: ars,
            cs: acs,
        };
        let b = Strided {
            data: &self.b,
            rows: br,
            cols: bc,
            rs: brs,
            cs: bcs,
        };
        let (m, n) = (self.shape.m, self.shape.n);
        let c = StridedMut {
            data: &mut self.c,
            rows: m,
            cols: n,
            rs: n,
            cs: 1,
        };
        f(1.0, a, b, 0.0, c);
    }
}

/// The contenders, by name.
type Contender = (&'static str, fn(&mut Operands));

const CONTENDERS: [Contender; 3] = [
    ("microprop", Operands::microprop),
    ("matrixmultiply", |o| o.peer(matrixmultiply_sgemm)),
    ("gemm", |o| o.peer(gemm_sgemm)),
];

/// Square sizes, then the three products of each layer of a
/// 784-500-300-10 MLP at batch 100 and 128: forward `Y = X * W^T`, weight
/// gradient `dW = dY^T * X`, input gradient `dX = dY * W`.
fn shapes() -> Vec<Shape> {
    let mut v = Vec::new();
    for (name, s) in [
        ("square/32", 32),
        ("square/64", 64),
        ("square/128", 128),
        ("square/256", 256),
        ("square/512", 512),
        ("square/1024", 1024),
    ] {
        v.push(Shape {
            name,
            m: s,
            n: s,
            k: s,
            a_t: false,
            b_t: false,
        });
    }
    for (batch, names) in [
        (
            100,
            [
                ["b100/784x500/fwd", "b100/784x500/dW", "b100/784x500/dX"],
                ["b100/500x300/fwd", "b100/500x300/dW", "b100/500x300/dX"],
                ["b100/300x10/fwd", "b100/300x10/dW", "b100/300x10/dX"],
            ],
        ),
        (
            128,
            [
                ["b128/784x500/fwd", "b128/784x500/dW", "b128/784x500/dX"],
                ["b128/500x300/fwd", "b128/500x300/dW", "b128/500x300/dX"],
                ["b128/300x10/fwd", "b128/300x10/dW", "b128/300x10/dX"],
            ],
        ),
    ] {
        for ((inp, out), [fwd, dw, dx]) in
            [(784, 500), (500, 300), (300, 10)].into_iter().zip(names)
        {
            let shape = |name, m, n, k, a_t, b_t| Shape {
                name,
                m,
                n,
                k,
                a_t,
                b_t,
            };
            v.push(shape(fwd, batch, out, inp, false, true));
            v.push(shape(dw, out, inp, batch, true, false));
            v.push(shape(dx, batch, inp, out, false, false));
        }
    }
    v
}

fn criterion_benches(c: &mut Criterion) {
    println!("microprop SIMD backend: {}", microprop::simd_backend());
    if peak_applies() {
        let mut g = c.benchmark_group("fma_peak");
        let iters = 100_000;
        g.throughput(Throughput::Elements(
            (2 * LANE_COUNT * CHAINS * iters) as u64,
        ));
        g.bench_function("register_loop", |bch| {
            bch.iter(|| fma_loop(black_box(iters)))
        });
        g.finish();
    }

    let mut g = c.benchmark_group("gemm");
    for shape in shapes() {
        let mut ops = Operands::new(shape);
        g.throughput(Throughput::Elements(shape.flops()));
        for (name, f) in CONTENDERS {
            g.bench_function(BenchmarkId::new(name, shape.name), |bch| {
                bch.iter(|| f(black_box(&mut ops)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, criterion_benches);

/// Seconds per call of `f`, the minimum over a few repetitions of a batch
/// sized to take about `target` seconds.
fn time_per_call(target: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let reps = ((target / once) as usize).clamp(1, 100_000);
    (0..3)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                f();
            }
            start.elapsed().as_secs_f64() / reps as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Rounds per shape: `MICROPROP_MATMUL_ROUNDS`, 7 by default.
fn rounds() -> usize {
    std::env::var("MICROPROP_MATMUL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `MICROPROP_MATMUL_FILTER`: comma-separated parts of shape names; the
/// table then shows only the shapes whose name contains one of them, and
/// skips the fused and threaded tables.
fn filter() -> Vec<String> {
    std::env::var("MICROPROP_MATMUL_FILTER")
        .unwrap_or_default()
        .split(',')
        .filter(|f| !f.is_empty())
        .map(String::from)
        .collect()
}

/// The README table: median GFLOP/s per contender and median per-round
/// ratio of microprop to the faster peer, contenders interleaved.
fn table(rounds: usize) {
    let filter = filter();
    let peak_iters = 200_000;
    let peak = peak_applies().then(|| {
        median(
            (0..rounds)
                .map(|_| {
                    let t = time_per_call(0.02, || {
                        black_box(fma_loop(black_box(peak_iters)));
                    });
                    (2 * LANE_COUNT * CHAINS * peak_iters) as f64 / t / 1e9
                })
                .collect(),
        )
    });
    println!("backend: {}", microprop::simd_backend());
    match peak {
        Some(peak) => println!("FMA peak (one core): {peak:.1} GFLOP/s"),
        None => println!(
            "FMA peak: not measured, this build's vectors are not the kernels' \
             (build with -C target-cpu=native for the % of peak column)"
        ),
    }
    let (peak_head, peak_rule) = if peak.is_some() {
        (" % of peak |", "---|")
    } else {
        ("", "")
    };
    println!(
        "| shape | m x n x k | microprop | matrixmultiply | gemm | microprop / faster peer |{peak_head}"
    );
    println!("|---|---|---|---|---|---|{peak_rule}");
    for shape in shapes()
        .into_iter()
        .filter(|s| filter.is_empty() || filter.iter().any(|f| s.name.contains(f.as_str())))
    {
        let mut ops = Operands::new(shape);
        let mut gflops = [const { Vec::new() }; 3];
        let mut ratios = Vec::new();
        for _ in 0..rounds {
            let mut round = [0.0; 3];
            for (i, (_, f)) in CONTENDERS.iter().enumerate() {
                let t = time_per_call(0.01, || f(&mut ops));
                round[i] = shape.flops() as f64 / t / 1e9;
                gflops[i].push(round[i]);
            }
            ratios.push(round[0] / round[1].max(round[2]));
        }
        let g: Vec<f64> = gflops.into_iter().map(median).collect();
        let of_peak = peak.map_or(String::new(), |p| format!(" {:.0}% |", 100.0 * g[0] / p));
        println!(
            "| {} | {}x{}x{} | {:.1} | {:.1} | {:.1} | {:.2} |{of_peak}",
            shape.name,
            shape.m,
            shape.n,
            shape.k,
            g[0],
            g[1],
            g[2],
            median(ratios),
        );
    }
}

/// Times two variants of one shape, interleaved, and prints a table row
/// with both medians (GFLOP/s) and the median ratio of the first to the
/// second.
fn pair_row(
    label: &str,
    flops: u64,
    rounds: usize,
    mut first: impl FnMut(),
    mut second: impl FnMut(),
) {
    let (mut g1, mut g2, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so neither always meets the caches
        // or the clock as the other left them.
        let (t1, t2) = if round % 2 == 0 {
            let t1 = time_per_call(0.01, &mut first);
            (t1, time_per_call(0.01, &mut second))
        } else {
            let t2 = time_per_call(0.01, &mut second);
            (time_per_call(0.01, &mut first), t2)
        };
        g1.push(flops as f64 / t1 / 1e9);
        g2.push(flops as f64 / t2 / 1e9);
        ratios.push(t2 / t1);
    }
    println!(
        "| {label} | {:.1} | {:.1} | {:.2} |",
        median(g1),
        median(g2),
        median(ratios)
    );
}

/// The fused dense-layer forward pass against gemm followed by a separate
/// bias + activation pass.
fn fused_table(rounds: usize) {
    println!();
    println!("| layer forward | fused GFLOP/s | gemm + separate pass GFLOP/s | speed-up |");
    println!("|---|---|---|---|");
    for (batch, inp, out) in [(100, 784, 500), (100, 500, 300), (100, 300, 10)] {
        for act in [Activation::Relu, Activation::Tanh] {
            let shape = Shape {
                name: "",
                m: batch,
                n: out,
                k: inp,
                a_t: false,
                b_t: true,
            };
            let ops = Operands::new(shape);
            let bias: Vec<f32> = (0..out).map(|j| j as f32 * 1e-3 - 0.2).collect();
            let (mut c1, mut c2) = (ops.c.clone(), ops.c.clone());
            let (mut ws1, mut ws2) = (ops.ws.clone(), ops.ws.clone());
            let x = MatRef::new(&ops.a, batch, inp).unwrap();
            let w = MatRef::new(&ops.b, out, inp).unwrap().t();
            let label = format!("b{batch}/{inp}x{out}/{act:?}");
            pair_row(
                &label,
                shape.flops(),
                rounds,
                || {
                    let c = MatMut::new(&mut c1, batch, out).unwrap();
                    matmul::gemm_bias_activation(x, w, &bias, act, c, &mut ws1).unwrap();
                },
                || {
                    let c = MatMut::new(&mut c2, batch, out).unwrap();
                    matmul::gemm(1.0, x, w, 0.0, c, &mut ws2).unwrap();
                    for row in c2.chunks_exact_mut(out) {
                        row.iter_mut().zip(&bias).for_each(|(y, b)| *y += b);
                    }
                    act.forward_in_place(&mut c2).unwrap();
                },
            );
        }
    }
}

/// `gemm_parallel` on every thread of the pool against `gemm`: squares,
/// which split C into bands of rows, and the batch-100 products of the
/// 784-500-300 layers, whose forward and input-gradient products split it
/// into blocks of columns.
#[cfg(feature = "parallel")]
fn parallel_table(rounds: usize) {
    println!();
    println!(
        "| shape, {} threads | gemm_parallel GFLOP/s | gemm GFLOP/s | speed-up |",
        rayon::current_num_threads()
    );
    println!("|---|---|---|---|");
    let layers = ["b100/784x500/", "b100/500x300/"];
    let chosen = shapes().into_iter().filter(|s| {
        ["square/256", "square/512", "square/1024"].contains(&s.name)
            || layers.iter().any(|l| s.name.starts_with(l))
    });
    for shape in chosen {
        let Shape { m, n, k, .. } = shape;
        let ops = Operands::new(shape);
        let mut ws = vec![0.0; matmul::gemm_parallel_workspace_len(m, n, k)];
        let (mut c1, mut c2) = (ops.c.clone(), ops.c.clone());
        let mut ws1 = ops.ws.clone();
        let (a, b) = Operands::views(shape, &ops.a, &ops.b);
        pair_row(
            shape.name,
            shape.flops(),
            rounds,
            || {
                let c = MatMut::new(&mut c1, m, n).unwrap();
                matmul::gemm_parallel(1.0, a, b, 0.0, c, &mut ws).unwrap();
            },
            || {
                let c = MatMut::new(&mut c2, m, n).unwrap();
                matmul::gemm(1.0, a, b, 0.0, c, &mut ws1).unwrap();
            },
        );
    }
}

fn main() {
    if std::env::var_os("MICROPROP_MATMUL_TABLE").is_some() {
        let rounds = rounds();
        if std::env::var_os("MICROPROP_MATMUL_EXTRAS_ONLY").is_none() {
            table(rounds);
        }
        if !filter().is_empty() {
            return;
        }
        fused_table(rounds);
        #[cfg(feature = "parallel")]
        parallel_table(rounds);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
