//! Trains two multilayer perceptrons with `microprop::nn` on a Cortex-M,
//! entirely in static buffers, and exits QEMU with status 0 only if both
//! converged:
//!
//! 1. XOR with a 2-4-1 sigmoid network, plain SGD on one sample at a time
//!    (the step whose instruction count the README reports);
//! 2. two interleaved spirals with a 2-16-16-2 tanh network, softmax
//!    cross-entropy, Adam and minibatches of 8, to 100% accuracy.
//!
//! Before training it checks that the optimizers, which use the FPU's
//! `vfma.f32` and `vsqrt.f32` on the Cortex-M4F, give the same bits as the
//! scalar reference built on `libm`'s software routines.
//!
//! Output goes to the host over semihosting. Run with `cargo run --release`
//! (Cortex-M4F on `mps2-an386`) or `cargo run --release --target
//! thumbv6m-none-eabi` (Cortex-M0 on `microbit`); `run.sh` does both and
//! prints the footprint.
#![no_std]
#![no_main]

mod probe;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use microprop::nn::{Init, LayerSpec, Mlp};
use microprop::optim::{Adam, Optimizer, Sgd};
use microprop::reference;
use microprop::{Activation, Result, loss};
use panic_semihosting as _;
use probe::{Counter, Fixed};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro128PlusPlus;

const XOR_LAYERS: [LayerSpec; 2] = [
    LayerSpec::new(4, Activation::Sigmoid),
    LayerSpec::new(1, Activation::Sigmoid),
];
/// The 2-4-1 XOR network.
const XOR: Mlp<'static> = match Mlp::new(2, &XOR_LAYERS) {
    Ok(net) => net,
    Err(_) => panic!("invalid XOR network"),
};
const XOR_X: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const XOR_T: [f32; 4] = [0.0, 1.0, 1.0, 0.0];
const XOR_EPOCHS: u32 = 2000;

const SPIRAL_LAYERS: [LayerSpec; 3] = [
    LayerSpec::new(16, Activation::Tanh),
    LayerSpec::new(16, Activation::Tanh),
    LayerSpec::new(2, Activation::Identity),
];
/// The 2-16-16-2 spiral classifier.
const SPIRAL: Mlp<'static> = match Mlp::new(2, &SPIRAL_LAYERS) {
    Ok(net) => net,
    Err(_) => panic!("invalid spiral network"),
};
/// Points per spiral arm (class).
const ARM: usize = 32;
const POINTS: usize = 2 * ARM;
const BATCH: usize = 8;
const SPIRAL_EPOCHS: u32 = 2000;
const WORKSPACE_LEN: usize = 64;

/// Static memory of both networks; `#[entry]` turns these `static mut`s
/// into `&'static mut` references.
struct Buffers {
    xor_params: &'static mut [f32],
    xor_grads: &'static mut [f32],
    xor_acts: &'static mut [f32],
    xor_state: &'static mut [f32],
    spiral_params: &'static mut [f32],
    spiral_grads: &'static mut [f32],
    spiral_state: &'static mut [f32],
    spiral_acts: &'static mut [f32],
    spiral_x: &'static mut [f32],
    workspace: &'static mut [f32],
}

#[entry]
fn main() -> ! {
    static mut XOR_PARAMS: [f32; XOR.param_len()] = [0.0; XOR.param_len()];
    static mut XOR_GRADS: [f32; XOR.param_len()] = [0.0; XOR.param_len()];
    static mut XOR_ACTS: [f32; XOR.activations_len(1)] = [0.0; XOR.activations_len(1)];
    // Room for SGD with momentum; plain SGD uses none of it.
    static mut XOR_STATE: [f32; XOR.param_len()] = [0.0; XOR.param_len()];
    static mut SPIRAL_PARAMS: [f32; SPIRAL.param_len()] = [0.0; SPIRAL.param_len()];
    static mut SPIRAL_GRADS: [f32; SPIRAL.param_len()] = [0.0; SPIRAL.param_len()];
    // Adam keeps two moments per parameter.
    static mut SPIRAL_STATE: [f32; 2 * SPIRAL.param_len()] = [0.0; 2 * SPIRAL.param_len()];
    static mut SPIRAL_ACTS: [f32; SPIRAL.activations_len(BATCH)] =
        [0.0; SPIRAL.activations_len(BATCH)];
    static mut SPIRAL_X: [f32; 2 * POINTS] = [0.0; 2 * POINTS];
    // gemm's packing scratch, shared by both networks (sized at run time by
    // `Mlp::workspace_len`, which is not a `const fn`).
    static mut WORKSPACE: [f32; WORKSPACE_LEN] = [0.0; WORKSPACE_LEN];

    probe::paint_stack();
    let counter = Counter::new(cortex_m::Peripherals::take().unwrap().SYST);
    let mut b = Buffers {
        xor_params: XOR_PARAMS,
        xor_grads: XOR_GRADS,
        xor_acts: XOR_ACTS,
        xor_state: XOR_STATE,
        spiral_params: SPIRAL_PARAMS,
        spiral_grads: SPIRAL_GRADS,
        spiral_state: SPIRAL_STATE,
        spiral_acts: SPIRAL_ACTS,
        spiral_x: SPIRAL_X,
        workspace: WORKSPACE,
    };
    let same = optimizers_match_reference();
    hprintln!(
        "optimizers bit-identical to the libm reference: {}",
        if same { "yes" } else { "NO" }
    );
    let xor = xor(&mut b, &counter);
    let spiral = spiral(&mut b, &counter);
    // An `Error` is not printed: its `Display` would link float formatting.
    for (name, result) in [("xor", xor), ("spiral", spiral)] {
        if result.is_err() {
            hprintln!("{}: a call returned an error", name);
        }
    }
    let ok = same && matches!((xor, spiral), (Ok(true), Ok(true)));
    hprintln!("stack high-water mark: {} bytes", probe::stack_high_water());
    hprintln!("{}", if ok { "PASS" } else { "FAIL" });
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

/// Runs 20 steps of Adam (square root and fused multiply-adds) and of SGD
/// with Nesterov momentum and weight decay (fused multiply-adds) on 13
/// parameters of mixed magnitudes, through the crate and through
/// `microprop::reference::optim`, and compares every bit.
fn optimizers_match_reference() -> bool {
    const N: usize = 13;
    let mut seed = 0x1234_5678u32;
    let mut next = move || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        // Mixed signs and magnitudes from 2^-20 to 2^4.
        let m = (seed >> 9) as f32 / (1 << 23) as f32 - 0.5;
        m * (1u32 << (seed % 24)) as f32 / (1 << 20) as f32
    };
    let p0: [f32; N] = core::array::from_fn(|_| next());
    let g: [f32; N] = core::array::from_fn(|_| next());
    let adam = Adam {
        lr: 0.01,
        weight_decay: 0.01,
        ..Adam::default()
    };
    let sgd = Sgd {
        lr: 0.1,
        momentum: 0.9,
        nesterov: true,
        weight_decay: 1e-3,
        ..Sgd::default()
    };
    let (mut p, mut q) = (p0, p0);
    let (mut s, mut r) = ([0.0f32; 2 * N], [0.0f32; 2 * N]);
    let mut same = true;
    for t in 1..=20 {
        same &= adam.step(t, &mut p, &g, &mut s).is_ok();
        reference::optim::adam(&adam, t, &mut q, &g, &mut r);
        same &= p.iter().zip(&q).all(|(a, b)| a.to_bits() == b.to_bits());
    }
    let (mut p, mut q) = (p0, p0);
    let (mut s, mut r) = ([0.0f32; N], [0.0f32; N]);
    for t in 1..=20 {
        same &= sgd.step(t, &mut p, &g, &mut s).is_ok();
        reference::optim::sgd(&sgd, t, &mut q, &g, &mut r);
        same &= p.iter().zip(&q).all(|(a, b)| a.to_bits() == b.to_bits());
    }
    same
}

/// Trains XOR one sample at a time; returns whether all four outputs are
/// on the right side of 0.5 with a mean squared error below 0.01.
fn xor(b: &mut Buffers, counter: &Counter) -> Result<bool> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    XOR.init(b.xor_params, Init::GlorotUniform, &mut rng)?;
    let sgd = Sgd {
        lr: 0.5,
        ..Sgd::default()
    };
    hprintln!(
        "xor 2-4-1 sigmoid, mse, sgd lr 0.5, batch 1: {} params, gemm workspace {} floats",
        XOR.param_len(),
        XOR.workspace_len(1)
    );
    let mut t = 0;
    let mut grad_out = [0.0f32; 1];
    let ws = XOR.workspace_len(1);
    let mut step = |b: &mut Buffers, x: &[f32; 2], target: f32, t: u64| -> Result<()> {
        let workspace = workspace(b.workspace, ws)?;
        let out = XOR.forward(b.xor_params, x, 1, b.xor_acts, &mut [], workspace, &mut rng)?;
        loss::mse(out, &[target], &mut grad_out)?;
        XOR.backward(
            b.xor_params,
            x,
            1,
            b.xor_acts,
            &[],
            &grad_out,
            b.xor_grads,
            workspace,
        )?;
        let state = &mut b.xor_state[..XOR.state_len(&sgd, &sgd)];
        XOR.step(t, b.xor_params, b.xor_grads, state, &sgd, &sgd)
    };
    // Steps are counted `REPORT` epochs at a time: a SysTick tick is
    // several instructions, too coarse for one step.
    const REPORT: u32 = 500;
    let mut per_step = 0;
    for epoch in (REPORT..=XOR_EPOCHS).step_by(REPORT as usize) {
        let (r, n) = counter.measure(|| -> Result<()> {
            for _ in 0..REPORT {
                for (x, &target) in XOR_X.iter().zip(&XOR_T) {
                    t += 1;
                    step(b, x, target, t)?;
                }
            }
            Ok(())
        });
        r?;
        per_step = n / (REPORT * XOR_X.len() as u32);
        let (loss, correct) = xor_eval(b)?;
        hprintln!(
            "  epoch {:>4}  mse {}  correct {}/4",
            epoch,
            Fixed(loss, 6),
            correct
        );
    }
    hprintln!(
        "  one training step (forward, mse, backward, sgd): {} instructions",
        per_step
    );
    // The same step once more, part by part.
    let ws = workspace(b.workspace, ws)?;
    let (x, target) = (&XOR_X[1], [XOR_T[1]]);
    let (out, forward) = counter.measure(|| {
        XOR.forward(b.xor_params, x, 1, b.xor_acts, &mut [], ws, &mut rng)
            .map(|o| o[0])
    });
    let (r, mse) = counter.measure(|| loss::mse(&[out?], &target, &mut grad_out));
    r?;
    let (r, backward) = counter.measure(|| {
        XOR.backward(
            b.xor_params,
            x,
            1,
            b.xor_acts,
            &[],
            &grad_out,
            b.xor_grads,
            ws,
        )
    });
    r?;
    let state = &mut b.xor_state[..XOR.state_len(&sgd, &sgd)];
    let (r, update) =
        counter.measure(|| XOR.step(t + 1, b.xor_params, b.xor_grads, state, &sgd, &sgd));
    r?;
    hprintln!(
        "  of which forward {}, mse {}, backward {}, sgd {}",
        forward,
        mse,
        backward,
        update
    );
    let (loss, correct) = xor_eval(b)?;
    Ok(correct == 4 && loss < 0.01)
}

/// The XOR network's mean squared error and number of correct outputs,
/// through the inference path.
fn xor_eval(b: &mut Buffers) -> Result<(f32, usize)> {
    let mut buffer = [0.0f32; XOR.infer_len(4)];
    let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let ws = workspace(b.workspace, XOR.workspace_len(4))?;
    let out = XOR.infer(b.xor_params, &x, 4, &mut buffer, ws)?;
    let mut grad = [0.0f32; 4];
    let loss = loss::mse(out, &XOR_T, &mut grad)?;
    let correct = out
        .iter()
        .zip(&XOR_T)
        .filter(|(y, t)| (**y > 0.5) == (**t > 0.5))
        .count();
    Ok((loss, correct))
}

/// Label of point `i`: the first `ARM` points are class 0.
fn spiral_label(i: usize) -> u32 {
    (i >= ARM) as u32
}

/// Trains the spiral classifier; returns whether it reached 100%.
#[inline(always)]
fn spiral(b: &mut Buffers, counter: &Counter) -> Result<bool> {
    // Two arms of one and a half turns each, the second rotated by pi.
    for (i, p) in b.spiral_x.chunks_exact_mut(2).enumerate() {
        let r = ((i % ARM) as f32 + 1.0) / ARM as f32;
        let angle =
            3.0 * core::f32::consts::PI * r + spiral_label(i) as f32 * core::f32::consts::PI;
        p[0] = r * libm::cosf(angle);
        p[1] = r * libm::sinf(angle);
    }
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2);
    SPIRAL.init(b.spiral_params, Init::GlorotUniform, &mut rng)?;
    let adam = Adam {
        lr: 0.02,
        ..Adam::default()
    };
    let state_len = SPIRAL.state_len(&adam, &adam);
    let ws_len = SPIRAL.workspace_len(BATCH);
    hprintln!(
        "spiral 2-16-16-2 tanh, softmax cross-entropy, adam lr 0.02, batch {}: {} params, {} points, gemm workspace {} floats",
        BATCH,
        SPIRAL.param_len(),
        POINTS,
        SPIRAL.workspace_len(BATCH)
    );
    let mut order: [u8; POINTS] = core::array::from_fn(|i| i as u8);
    let mut x = [0.0f32; 2 * BATCH];
    let mut labels = [0u32; BATCH];
    let mut grad_out = [0.0f32; 2 * BATCH];
    let mut t = 0;
    for epoch in 1..=SPIRAL_EPOCHS {
        shuffle(&mut order, &mut rng);
        let (r, instructions) = counter.measure(|| -> Result<()> {
            for chunk in order.chunks_exact(BATCH) {
                for (k, &i) in chunk.iter().enumerate() {
                    x[2 * k..2 * k + 2].copy_from_slice(&b.spiral_x[2 * i as usize..][..2]);
                    labels[k] = spiral_label(i as usize);
                }
                let ws = workspace(b.workspace, ws_len)?;
                let out = SPIRAL.forward(
                    b.spiral_params,
                    &x,
                    BATCH,
                    b.spiral_acts,
                    &mut [],
                    ws,
                    &mut rng,
                )?;
                loss::softmax_cross_entropy(out, &labels, 2, &mut grad_out)?;
                SPIRAL.backward(
                    b.spiral_params,
                    &x,
                    BATCH,
                    b.spiral_acts,
                    &[],
                    &grad_out,
                    b.spiral_grads,
                    ws,
                )?;
                t += 1;
                let state = &mut b.spiral_state[..state_len];
                SPIRAL.step(t, b.spiral_params, b.spiral_grads, state, &adam, &adam)?;
            }
            Ok(())
        });
        r?;
        if epoch % 50 == 0 || epoch == SPIRAL_EPOCHS {
            let (loss, correct) = spiral_eval(b)?;
            hprintln!(
                "  epoch {:>4}  loss {}  correct {}/{}  {} instructions per minibatch step",
                epoch,
                Fixed(loss, 4),
                correct,
                POINTS,
                instructions / (POINTS / BATCH) as u32
            );
            if correct == POINTS {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Mean cross-entropy and correct count over all points, a batch at a time
/// through the evaluation forward pass.
fn spiral_eval(b: &mut Buffers) -> Result<(f32, usize)> {
    let (mut total, mut correct) = (0.0, 0);
    let mut grad = [0.0f32; 2 * BATCH];
    for (k, x) in b.spiral_x.chunks_exact(2 * BATCH).enumerate() {
        let labels: [u32; BATCH] = core::array::from_fn(|j| spiral_label(k * BATCH + j));
        let ws = workspace(b.workspace, SPIRAL.workspace_len(BATCH))?;
        let buffer = &mut b.spiral_acts[..SPIRAL.infer_len(BATCH)];
        let out = SPIRAL.infer(b.spiral_params, x, BATCH, buffer, ws)?;
        total += loss::softmax_cross_entropy(out, &labels, 2, &mut grad)?;
        correct += out
            .chunks_exact(2)
            .zip(&labels)
            .filter(|(o, l)| ((o[1] > o[0]) as u32) == **l)
            .count();
    }
    Ok((total / (POINTS / BATCH) as f32, correct))
}

/// The first `len` floats of the shared gemm workspace.
fn workspace(buffer: &mut [f32], len: usize) -> Result<&mut [f32]> {
    buffer
        .get_mut(..len)
        .ok_or(microprop::Error::BufferTooSmall {
            arg: "workspace",
            needed: len,
            found: WORKSPACE_LEN,
        })
}

/// Fisher-Yates shuffle with the caller's generator.
fn shuffle(items: &mut [u8], rng: &mut Xoshiro128PlusPlus) {
    use rand_core::Rng;
    for i in (1..items.len()).rev() {
        let j = ((u64::from(rng.next_u32()) * (i as u64 + 1)) >> 32) as usize;
        items.swap(i, j);
    }
}
