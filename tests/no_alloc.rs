//! Proves that the core never allocates: a counting global allocator sees
//! no allocation across `nn`'s init, forward, backward,
//! step, gradient norms and inference, once the caller's buffers exist and
//! the SIMD level is chosen. Not with the `parallel` feature, where `nn`'s
//! products go through `gemm_parallel` and rayon's pool, which allocates.

use microprop::init::FanMode;
use microprop::nn::{Init, LayerSpec, Mlp};
use microprop::optim::Adam;
use microprop::{Activation, loss};
use rand_core::SeedableRng;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

// Counts every allocation of the process. The file has its own `main`
// (`harness = false`): under libtest another thread, the harness's, may
// allocate while the test measures.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    if cfg!(feature = "parallel") {
        println!("skipped: with `parallel`, rayon's pool allocates");
        return;
    }
    training_and_inference_never_allocate();
    println!("training and inference allocated nothing");
}

fn training_and_inference_never_allocate() {
    // Big enough for gemm's packed path, with dropout in a hidden layer.
    let layers = [
        LayerSpec::new(96, Activation::Relu).with_dropout(0.2),
        LayerSpec::new(80, Activation::Gelu),
        LayerSpec::new(10, Activation::Identity),
    ];
    let net = Mlp::new(200, &layers).unwrap();
    let batch = 64;
    let adam = Adam::default();
    let mut params = vec![0.0; net.param_len()];
    let mut grads = vec![0.0; net.param_len()];
    let mut state = vec![0.0; net.state_len(&adam, &adam)];
    let mut acts = vec![0.0; net.activations_len(batch)];
    let mut masks = vec![0; net.mask_len(batch)];
    let mut workspace = vec![0.0; net.workspace_len(batch)];
    let mut buffer = vec![0.0; net.infer_len(batch)];
    let x: Vec<f32> = (0..batch * 200).map(|i| (i % 13) as f32 / 13.0).collect();
    let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
    let mut grad_out = vec![0.0; batch * 10];
    let mut norms = [0.0; 3];
    let mut rng = rand_xoshiro::Xoshiro128PlusPlus::seed_from_u64(1);

    // The first kernel call of a process chooses the SIMD level, reading
    // `MICROPROP_SIMD` into a string when it is set: done here, before the
    // measured region.
    let _ = microprop::simd_backend();
    let region = Region::new(GLOBAL);
    net.init(&mut params, Init::HeUniform(FanMode::In), &mut rng)
        .unwrap();
    for t in 1..=3 {
        let out = net
            .forward(
                &params,
                &x,
                batch,
                &mut acts,
                &mut masks,
                &mut workspace,
                &mut rng,
            )
            .unwrap();
        loss::softmax_cross_entropy(out, &labels, 10, &mut grad_out).unwrap();
        net.backward(
            &params,
            &x,
            batch,
            &mut acts,
            &masks,
            &grad_out,
            &mut grads,
            &mut workspace,
        )
        .unwrap();
        net.grad_norms(&grads, &mut norms).unwrap();
        net.step(t, &mut params, &grads, &mut state, &adam, &adam)
            .unwrap();
    }
    net.infer(&params, &x, batch, &mut buffer, &mut workspace)
        .unwrap();
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "{stats:?}"
    );
    assert!(
        !workspace.is_empty(),
        "the packed gemm path was not exercised"
    );
    assert!(norms.iter().all(|n| n.is_finite() && *n > 0.0));
}
