//! The build users get against a native build: each kernel family's
//! representative calls, timed in a default build at every run-time SIMD
//! level the CPU has and in a `-C target-cpu=native` build, in interleaved
//! rounds, with matrixmultiply's default build beside the products.
//!
//! ```sh
//! RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native \
//!     cargo bench --bench levels --no-run    # prints the native executable
//! MICROPROP_NATIVE_BENCH=<that executable> cargo bench --bench levels
//! ```
//!
//! Without `MICROPROP_NATIVE_BENCH` it times the default build's levels
//! only. Each figure is the best of several timed batches of one process;
//! a table cell is the median over `MICROPROP_LEVELS_ROUNDS` (default 5)
//! rounds of the per-round ratio, so a shared, noisy machine moves both
//! sides of a ratio alike.

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use microprop::{Activation, Adam, AdamW, Dropout, MatMut, MatRef, Optimizer, Sgd, matmul};
use microprop_bench_peers::{Strided, StridedMut, matrixmultiply_sgemm};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

/// Seconds per call of `f`: the best of 7 batches of about 20 ms each.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-9);
    let calls = ((0.02 / once) as usize).clamp(1, 1_000_000);
    (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_secs_f64() / calls as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Deterministic values in [-2, 2).
fn values(n: usize, seed: u64) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u64 + seed).wrapping_mul(2_654_435_761) % 4096) as f32 / 1024.0) - 2.0)
        .collect()
}

/// A product `m x k` times `k x n`, with `b` stored transposed when `b_t`
/// (the forward pass `X * W^T`).
struct Product {
    name: &'static str,
    m: usize,
    n: usize,
    k: usize,
    b_t: bool,
}

const PRODUCTS: [Product; 6] = [
    Product {
        name: "gemm 256^3",
        m: 256,
        n: 256,
        k: 256,
        b_t: false,
    },
    Product {
        name: "gemm 512^3",
        m: 512,
        n: 512,
        k: 512,
        b_t: false,
    },
    Product {
        name: "gemm b100 784->500 fwd",
        m: 100,
        n: 500,
        k: 784,
        b_t: true,
    },
    Product {
        name: "gemm b100 500->300 fwd",
        m: 100,
        n: 300,
        k: 500,
        b_t: true,
    },
    Product {
        name: "gemm b100 300->10 fwd",
        m: 100,
        n: 10,
        k: 300,
        b_t: true,
    },
    Product {
        name: "gemm b100 784x500 dX",
        m: 100,
        n: 784,
        k: 500,
        b_t: false,
    },
];

/// Times every kernel once, printing `name<TAB>seconds per call`.
fn measure(with_peers: bool) {
    for p in &PRODUCTS {
        let (a, b) = (values(p.m * p.k, 1), values(p.k * p.n, 2));
        let mut c = vec![0.0f32; p.m * p.n];
        let mut ws = vec![0.0f32; matmul::gemm_workspace_len(p.m, p.n, p.k)];
        let secs = time(|| {
            let am = MatRef::new(&a, p.m, p.k).unwrap();
            let bm = if p.b_t {
                MatRef::new(&b, p.n, p.k).unwrap().t()
            } else {
                MatRef::new(&b, p.k, p.n).unwrap()
            };
            let cm = MatMut::new(&mut c, p.m, p.n).unwrap();
            matmul::gemm(1.0, am, bm, 0.0, cm, &mut ws).unwrap();
            black_box(&c);
        });
        println!("{}\t{secs:e}", p.name);
        if with_peers {
            let (rs, cs) = if p.b_t { (1, p.k) } else { (p.n, 1) };
            let secs = time(|| {
                matrixmultiply_sgemm(
                    1.0,
                    Strided {
                        data: &a,
                        rows: p.m,
                        cols: p.k,
                        rs: p.k,
                        cs: 1,
                    },
                    Strided {
                        data: &b,
                        rows: p.k,
                        cols: p.n,
                        rs,
                        cs,
                    },
                    0.0,
                    StridedMut {
                        data: &mut c,
                        rows: p.m,
                        cols: p.n,
                        rs: p.n,
                        cs: 1,
                    },
                );
                black_box(&c);
            });
            println!("matrixmultiply {}\t{secs:e}", &p.name[5..]);
        }
    }
    for (name, act) in [("sigmoid", Activation::Sigmoid), ("tanh", Activation::Tanh)] {
        let n = 1 << 16;
        let (x, g) = (values(n, 3), values(n, 4));
        let (mut y, mut gi) = (vec![0.0f32; n], vec![0.0f32; n]);
        let secs = time(|| act.forward(black_box(&x), &mut y).unwrap());
        println!("{name} forward 64k\t{secs:e}");
        let secs = time(|| act.backward(black_box(&x), &y, &g, &mut gi).unwrap());
        println!("{name} backward 64k\t{secs:e}");
    }
    let optimizers: [(&str, &dyn Optimizer); 3] = [
        ("Adam", &Adam::default()),
        ("AdamW", &AdamW::default()),
        (
            "SGD momentum",
            &Sgd {
                lr: 0.01,
                momentum: 0.9,
                ..Sgd::default()
            },
        ),
    ];
    for (name, opt) in optimizers {
        for (size, n) in [("100k", 100_000), ("10M", 10_000_000)] {
            let (mut p, g) = (values(n, 5), values(n, 6));
            let mut state = vec![0.0f32; opt.state_len(n)];
            let mut t = 0;
            let secs = time(|| {
                t += 1;
                opt.step(t, &mut p, black_box(&g), &mut state).unwrap();
            });
            println!("{name} {size}\t{secs:e}");
        }
    }
    let n = 1 << 20;
    let d = Dropout::new(0.5).unwrap();
    let x = values(n, 7);
    let (mut y, mut mask) = (vec![0.0f32; n], vec![0u32; Dropout::mask_len(n)]);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let secs = time(|| {
        d.forward(black_box(&x), &mut y, &mut mask, &mut rng)
            .unwrap()
    });
    println!("dropout forward 1M\t{secs:e}");
    let secs = time(|| d.backward(&mask, black_box(&x), &mut y).unwrap());
    println!("dropout backward 1M\t{secs:e}");
}

/// One round of `exe` (this bench or the native one) capped at `level`:
/// the backend's name and every kernel's seconds per call.
fn run(exe: &str, level: &str, peers: bool) -> (String, Vec<(String, f64)>) {
    let mut cmd = Command::new(exe);
    cmd.env("MICROPROP_LEVELS_CHILD", "1");
    if peers {
        cmd.env("MICROPROP_LEVELS_PEERS", "1");
    }
    cmd.env("MICROPROP_SIMD", level);
    let out = cmd.output().expect("run the bench executable");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let backend = lines.next().unwrap_or_default().to_string();
    let figures = lines
        .filter_map(|l| l.split_once('\t'))
        .map(|(name, secs)| (name.to_string(), secs.parse().unwrap()))
        .collect();
    (backend, figures)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list`, as criterion's benches answer it.
    }
    if std::env::var_os("MICROPROP_LEVELS_CHILD").is_some() {
        println!("{}", microprop::simd_backend());
        measure(std::env::var_os("MICROPROP_LEVELS_PEERS").is_some());
        return;
    }
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches`: every call once, at the best level.
        measure(true);
        return;
    }
    let rounds: usize = std::env::var("MICROPROP_LEVELS_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let me = std::env::current_exe()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    // The default build at each level (the best one also times the peers),
    // then the native build if given, at its baseline level: `wide`
    // compiled for the CPU, the kernels a native build ran before run-time
    // selection.
    let mut columns: Vec<(String, &str)> = ["avx512", "avx2", "sse2"]
        .into_iter()
        .map(|l| (me.clone(), l))
        .collect();
    columns.extend(
        std::env::var("MICROPROP_NATIVE_BENCH")
            .ok()
            .map(|n| (n, "baseline")),
    );
    let mut headers: Vec<String> = Vec::new();
    // seconds[column][kernel name] over the rounds.
    let mut seconds: Vec<std::collections::BTreeMap<String, Vec<f64>>> =
        vec![Default::default(); columns.len()];
    let mut order: Vec<String> = Vec::new();
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        for (c, (exe, level)) in columns.iter().enumerate() {
            let (backend, got) = run(exe, level, c == 0);
            if round == 0 {
                headers.push(if *exe == me {
                    format!("default build, {backend}")
                } else {
                    format!("native build, wide's {backend}")
                });
            }
            for (name, secs) in got {
                if !order.contains(&name) {
                    order.push(name.clone());
                }
                seconds[c].entry(name).or_default().push(secs);
            }
        }
    }
    // A level the CPU lacks runs the next one down: keep the first column
    // of each backend.
    let keep: Vec<usize> = (0..columns.len())
        .filter(|&c| !headers[..c].contains(&headers[c]))
        .collect();
    let native = columns.len() - 1;
    let has_native = columns[native].0 != me;
    print!("| kernel |");
    for &c in &keep {
        print!(" {} (us) |", headers[c]);
    }
    if has_native {
        print!(" default / native |");
    }
    println!(" default / matrixmultiply |");
    println!(
        "|---|{}",
        "---|".repeat(keep.len() + 1 + usize::from(has_native))
    );
    // The per-round ratio of `other`'s time to the best level's: above 1
    // the default build is faster.
    let ratio =
        |other: &[f64], best: &[f64]| median(other.iter().zip(best).map(|(o, b)| o / b).collect());
    for name in order.iter().filter(|n| !n.starts_with("matrixmultiply")) {
        print!("| {name} |");
        for &c in &keep {
            let v = &seconds[c][name];
            print!(" {:.1} |", median(v.clone()) * 1e6);
        }
        let best = &seconds[0][name];
        if has_native {
            print!(" {:.2} |", ratio(&seconds[native][name], best));
        }
        let peer = format!("matrixmultiply {}", name.trim_start_matches("gemm "));
        match seconds[0].get(&peer) {
            Some(p) => println!(" {:.2} |", ratio(p, best)),
            None => println!(" |"),
        }
    }
}
