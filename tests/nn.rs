//! `nn::Mlp`: layout, gradients against finite differences of an f64
//! reference network, training to 100% accuracy, per-tensor optimizers,
//! errors, and reproducibility across SIMD levels.

mod common;

use common::TestRng;
use microprop::init::{self, FanMode};
use microprop::matmul::{gemm, gemm_bias_activation};
use microprop::nn::{Init, LayerSpec, Mlp};
use microprop::optim::{Adam, Optimizer, Sgd};
use microprop::{Activation, Error, MatMut, MatRef, loss};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro128PlusPlus;

const ACTIVATIONS: [Activation; 11] = [
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::Elu(1.0),
    Activation::Elu(0.5),
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::Silu,
    Activation::Softplus,
];

/// Every buffer a network needs for training a batch, as `Vec`s.
struct Buffers {
    params: Vec<f32>,
    grads: Vec<f32>,
    acts: Vec<f32>,
    masks: Vec<u32>,
    workspace: Vec<f32>,
}

impl Buffers {
    fn new(net: &Mlp, batch: usize) -> Self {
        Self {
            params: vec![0.0; net.param_len()],
            grads: vec![0.0; net.param_len()],
            acts: vec![f32::NAN; net.activations_len(batch)],
            masks: vec![0; net.mask_len(batch)],
            workspace: vec![0.0; net.workspace_len(batch)],
        }
    }
}

// ---------------------------------------------------------------- f64 oracle

fn act64(a: Activation, x: f64) -> f64 {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    match a {
        Activation::Identity => x,
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.tanh(),
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu(s) => {
            if x > 0.0 {
                x
            } else {
                f64::from(s) * x
            }
        }
        Activation::Elu(alpha) => {
            if x > 0.0 {
                x
            } else {
                f64::from(alpha) * x.exp_m1()
            }
        }
        Activation::Gelu => 0.5 * x * (1.0 + libm::erf(x / 2f64.sqrt())),
        Activation::GeluTanh => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
        }
        Activation::Silu => x * sigmoid(x),
        Activation::Softplus => x.exp().ln_1p(),
    }
}

/// The network's forward pass in f64, with the dropout masks of a training
/// forward pass (bit i % 32 of word i / 32 set = element i kept).
fn forward64(net: &Mlp, params: &[f64], input: &[f32], batch: usize, masks: &[u32]) -> Vec<f64> {
    let mut x: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
    // All weights first, then all biases.
    let (mut p, mut q, mut m) = (0, net.weight_len(), 0);
    let mut fan_in = net.input();
    for spec in net.layers() {
        let u = spec.units;
        let (w, b) = (&params[p..p + u * fan_in], &params[q..q + u]);
        (p, q) = (p + u * fan_in, q + u);
        let mut y = vec![0.0; batch * u];
        for r in 0..batch {
            for j in 0..u {
                let z: f64 = b[j]
                    + (0..fan_in)
                        .map(|k| x[r * fan_in + k] * w[j * fan_in + k])
                        .sum::<f64>();
                y[r * u + j] = act64(spec.activation, z);
            }
        }
        if spec.dropout > 0.0 {
            let scale = 1.0 / (1.0 - f64::from(spec.dropout));
            for (i, v) in y.iter_mut().enumerate() {
                let kept = masks[m + i / 32] >> (i % 32) & 1 == 1;
                *v = if kept { *v * scale } else { 0.0 };
            }
            m += (batch * u).div_ceil(32);
        }
        x = y;
        fan_in = u;
    }
    x
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Loss {
    SoftmaxCrossEntropy,
    Mse,
    BceWithLogits,
}

/// The loss in f64: mean over the batch (and over the elements for the
/// element-wise losses, which have one output here).
fn loss64(l: Loss, out: &[f64], labels: &[u32], targets: &[f32], classes: usize) -> f64 {
    let batch = out.len() / classes;
    let sum: f64 = match l {
        Loss::SoftmaxCrossEntropy => out
            .chunks_exact(classes)
            .zip(labels)
            .map(|(row, &y)| {
                let max = row.iter().cloned().fold(f64::MIN, f64::max);
                let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
                lse - row[y as usize]
            })
            .sum(),
        Loss::Mse => out
            .iter()
            .zip(targets)
            .map(|(o, &t)| (o - f64::from(t)).powi(2))
            .sum(),
        Loss::BceWithLogits => out
            .iter()
            .zip(targets)
            .map(|(&z, &t)| z.max(0.0) - z * f64::from(t) + (-z.abs()).exp().ln_1p())
            .sum(),
    };
    sum / batch as f64
}

fn loss32(
    l: Loss,
    out: &[f32],
    labels: &[u32],
    targets: &[f32],
    classes: usize,
    grad: &mut [f32],
) -> f32 {
    match l {
        Loss::SoftmaxCrossEntropy => loss::softmax_cross_entropy(out, labels, classes, grad),
        Loss::Mse => loss::mse(out, targets, grad),
        Loss::BceWithLogits => loss::bce_with_logits(out, targets, grad),
    }
    .unwrap()
}

/// Checks every weight and bias gradient of a 3-layer network (dropout on
/// the first hidden layer) against central differences of the f64 oracle.
fn check_gradients(act: Activation, l: Loss) {
    let classes = if matches!(l, Loss::SoftmaxCrossEntropy) {
        3
    } else {
        1
    };
    let layers = [
        LayerSpec::new(5, act).with_dropout(0.25),
        LayerSpec::new(4, act),
        LayerSpec::new(classes, act),
    ];
    let net = Mlp::new(3, &layers).unwrap();
    let batch = 4;
    let mut b = Buffers::new(&net, batch);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(11);
    net.init(&mut b.params, Init::GlorotUniform, &mut rng)
        .unwrap();
    let mut t = TestRng(5);
    for p in b.params.iter_mut() {
        *p += t.uniform(-0.3, 0.3); // non-zero biases too
    }
    let input = t.vec(batch * 3, -1.5, 1.5);
    let labels: Vec<u32> = (0..batch as u32).map(|i| i % 3).collect();
    let targets: Vec<f32> = (0..batch)
        .map(|i| {
            if l == Loss::Mse {
                t.uniform(-1.0, 1.0)
            } else {
                (i % 2) as f32
            }
        })
        .collect();

    let out = net
        .forward(
            &b.params,
            &input,
            batch,
            &mut b.acts,
            &mut b.masks,
            &mut b.workspace,
            &mut rng,
        )
        .unwrap()
        .to_vec();
    let params64: Vec<f64> = b.params.iter().map(|&v| f64::from(v)).collect();
    let out64 = forward64(&net, &params64, &input, batch, &b.masks);
    for (o, r) in out.iter().zip(&out64) {
        assert!(
            (f64::from(*o) - r).abs() <= 1e-5 * (1.0 + r.abs()),
            "{act:?}: forward {o} vs {r}"
        );
    }
    let mut grad_out = vec![0.0; out.len()];
    let value = loss32(l, &out, &labels, &targets, classes, &mut grad_out);
    let value64 = loss64(l, &out64, &labels, &targets, classes);
    assert!((f64::from(value) - value64).abs() <= 1e-5 * (1.0 + value64.abs()));
    net.backward(
        &b.params,
        &input,
        batch,
        &mut b.acts,
        &b.masks,
        &grad_out,
        &mut b.grads,
        &mut b.workspace,
    )
    .unwrap();

    let h = 1e-6;
    for i in 0..params64.len() {
        let mut p = params64.clone();
        p[i] += h;
        let up = loss64(
            l,
            &forward64(&net, &p, &input, batch, &b.masks),
            &labels,
            &targets,
            classes,
        );
        p[i] -= 2.0 * h;
        let down = loss64(
            l,
            &forward64(&net, &p, &input, batch, &b.masks),
            &labels,
            &targets,
            classes,
        );
        let fd = (up - down) / (2.0 * h);
        let g = f64::from(b.grads[i]);
        assert!(
            (g - fd).abs() <= 1e-4 + 1e-3 * fd.abs(),
            "{act:?} {l:?}: gradient of parameter {i} is {g}, finite differences give {fd}"
        );
    }
}

#[test]
fn gradients_match_finite_differences_for_every_activation_and_loss() {
    for act in ACTIVATIONS {
        for l in [Loss::SoftmaxCrossEntropy, Loss::Mse, Loss::BceWithLogits] {
            check_gradients(act, l);
        }
    }
}

// ------------------------------------------------------------------ layout

#[test]
fn layout_lengths_follow_the_layers() {
    let layers = [
        LayerSpec::new(5, Activation::Relu).with_dropout(0.5),
        LayerSpec::new(7, Activation::Tanh),
        LayerSpec::new(3, Activation::Identity).with_dropout(0.1),
    ];
    let net = Mlp::new(4, &layers).unwrap();
    assert_eq!((net.input(), net.output()), (4, 3));
    assert_eq!(net.param_len(), 5 * 4 + 5 + 7 * 5 + 7 + 3 * 7 + 3);
    for batch in [0, 1, 6, 33] {
        // z, y, dropout output for layers 0 and 2; two gradient buffers.
        assert_eq!(
            net.activations_len(batch),
            batch * (3 * 5 + 2 * 7 + 3 * 3 + 2 * 7)
        );
        assert_eq!(
            net.mask_len(batch),
            (batch * 5).div_ceil(32) + (batch * 3).div_ceil(32)
        );
        assert_eq!(net.infer_len(batch), 2 * batch * 7);
    }
    let sgd = Sgd {
        momentum: 0.9,
        ..Sgd::default()
    };
    let adam = Adam::default();
    assert_eq!(net.weight_len(), 20 + 35 + 21);
    assert_eq!(
        net.state_len(&adam, &sgd),
        adam.state_len(76) + sgd.state_len(15)
    );

    // The weights (units, inputs) of every layer, then every bias.
    let params: Vec<f32> = (0..net.param_len()).map(|i| i as f32).collect();
    let (w, b) = net.layer(&params, 1).unwrap();
    assert_eq!((w.len(), b.len(), w[0], b[0]), (35, 7, 20.0, 81.0));
    let (w, b) = net.layer(&params, 2).unwrap();
    assert_eq!((w.len(), b.len(), w[0], b[2]), (21, 3, 55.0, 90.0));
    assert!(net.layer(&params, 3).is_err());
    assert!(net.layer(&params[1..], 0).is_err());
}

#[test]
fn invalid_descriptions_are_errors() {
    let ok = [LayerSpec::new(2, Activation::Relu)];
    assert!(Mlp::new(0, &ok).is_err());
    assert!(Mlp::new(3, &[]).is_err());
    assert!(Mlp::new(3, &[LayerSpec::new(0, Activation::Relu)]).is_err());
    for p in [1.0, -0.1, f32::NAN, 2.0] {
        assert!(Mlp::new(3, &[LayerSpec::new(2, Activation::Relu).with_dropout(p)]).is_err());
    }
    // A bad activation hyperparameter is caught here, not in the passes.
    for activation in [
        Activation::LeakyRelu(f32::NAN),
        Activation::Elu(-1.0),
        Activation::Elu(f32::INFINITY),
    ] {
        let layers = [
            LayerSpec::new(2, Activation::Relu),
            LayerSpec::new(1, activation),
        ];
        assert!(matches!(
            Mlp::new(3, &layers),
            Err(Error::InvalidParameter { .. })
        ));
    }
    let huge = [LayerSpec::new(usize::MAX / 2, Activation::Relu)];
    assert_eq!(
        Mlp::new(3, &huge).unwrap_err(),
        Error::SizeOverflow { arg: "layers" }
    );
    // Saturated lengths match no buffer.
    let wide = [LayerSpec::new(1 << 20, Activation::Relu)];
    let net = Mlp::new(1, &wide).unwrap();
    assert_eq!(net.activations_len(usize::MAX / 4), usize::MAX);
}

#[test]
fn every_size_mismatch_is_an_error() {
    let layers = [
        LayerSpec::new(3, Activation::Relu).with_dropout(0.5),
        LayerSpec::new(2, Activation::Identity),
    ];
    let net = Mlp::new(2, &layers).unwrap();
    let batch = 3;
    let mut b = Buffers::new(&net, batch);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let x = vec![0.5; batch * 2];
    let g = vec![0.1; batch * 2];
    let sgd = Sgd::default();
    let mut state = vec![0.0; net.state_len(&sgd, &sgd)];
    let n = net.param_len();

    assert!(
        net.init(&mut b.params[1..], Init::HeUniform(FanMode::In), &mut rng)
            .is_err()
    );
    net.init(&mut b.params, Init::HeUniform(FanMode::In), &mut rng)
        .unwrap();
    let mut ws = b.workspace.clone();
    let mut bad_forward = |p: &[f32], x: &[f32], acts: &mut [f32], masks: &mut [u32]| {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
        net.forward(p, x, batch, acts, masks, &mut ws, &mut rng)
            .map(|_| ())
    };
    let mut acts_long = vec![0.0; b.acts.len() + 1];
    let mut masks_long = vec![0; b.masks.len() + 1];
    assert!(bad_forward(&b.params[..n - 1], &x, &mut b.acts, &mut b.masks).is_err());
    assert!(bad_forward(&b.params, &x[1..], &mut b.acts, &mut b.masks).is_err());
    assert!(bad_forward(&b.params, &x, &mut b.acts[1..], &mut b.masks).is_err());
    assert!(bad_forward(&b.params, &x, &mut acts_long, &mut b.masks).is_err());
    assert!(bad_forward(&b.params, &x, &mut b.acts, &mut masks_long).is_err());
    assert!(bad_forward(&b.params, &x, &mut b.acts, &mut b.masks).is_ok());

    let mut ws = b.workspace.clone();
    let mut bw = |p: &[f32], acts: &mut [f32], masks: &[u32], g: &[f32], grads: &mut [f32]| {
        net.backward(p, &x, batch, acts, masks, g, grads, &mut ws)
    };
    let (params, mut acts, masks, mut grads) = (
        b.params.clone(),
        b.acts.clone(),
        b.masks.clone(),
        b.grads.clone(),
    );
    assert!(bw(&params[..n - 1], &mut acts, &masks, &g, &mut grads).is_err());
    assert!(bw(&params, &mut acts[1..], &masks, &g, &mut grads).is_err());
    assert!(bw(&params, &mut acts, &masks[1..], &g, &mut grads).is_err());
    assert!(bw(&params, &mut acts, &masks, &g[1..], &mut grads).is_err());
    assert!(bw(&params, &mut acts, &masks, &g, &mut grads[1..]).is_err());
    assert!(bw(&params, &mut acts, &masks, &g, &mut grads).is_ok());

    let mut p = params.clone();
    assert!(
        net.step(1, &mut p[1..], &grads, &mut state, &sgd, &sgd)
            .is_err()
    );
    assert!(
        net.step(1, &mut p, &grads[1..], &mut state, &sgd, &sgd)
            .is_err()
    );
    let mom = Sgd {
        momentum: 0.9,
        ..Sgd::default()
    };
    assert!(net.step(1, &mut p, &grads, &mut state, &mom, &sgd).is_err());
    assert!(net.step(1, &mut p, &grads, &mut state, &sgd, &sgd).is_ok());

    let mut norms = [0.0; 3];
    assert!(net.grad_norms(&grads, &mut norms).is_err());
    assert!(net.grad_norms(&grads[1..], &mut norms[..2]).is_err());

    let mut buffer = vec![0.0; net.infer_len(batch) + 1];
    let ws = &mut b.workspace;
    assert!(net.infer(&params, &x, batch, &mut buffer, ws).is_err());
    let buffer = &mut buffer[1..];
    assert!(net.infer(&params, &x[2..], batch, buffer, ws).is_err());
    assert!(net.infer(&params, &x, batch, buffer, ws).is_ok());
    if !ws.is_empty() {
        let short = ws.len() - 1;
        assert!(
            net.infer(&params, &x, batch, buffer, &mut ws[..short])
                .is_err()
        );
    }

    // A layer big enough for the packed gemm path needs its workspace.
    let big = [LayerSpec::new(300, Activation::Relu)];
    let net = Mlp::new(300, &big).unwrap();
    let batch = 64;
    let mut b = Buffers::new(&net, batch);
    assert!(!b.workspace.is_empty());
    let x = vec![0.1; batch * 300];
    b.workspace.pop();
    assert!(matches!(
        net.forward(
            &b.params,
            &x,
            batch,
            &mut b.acts,
            &mut b.masks,
            &mut b.workspace,
            &mut rng
        ),
        Err(Error::BufferTooSmall {
            arg: "workspace",
            ..
        })
    ));
}

// ------------------------------------------------------------ the passes

#[test]
fn inference_evaluation_and_training_forward_agree_without_dropout() {
    let layers = [
        LayerSpec::new(6, Activation::Gelu),
        LayerSpec::new(5, Activation::Sigmoid),
        LayerSpec::new(3, Activation::Identity),
    ];
    let net = Mlp::new(4, &layers).unwrap();
    let batch = 7;
    let mut b = Buffers::new(&net, batch);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    net.init(&mut b.params, Init::GlorotNormal, &mut rng)
        .unwrap();
    let x = TestRng(9).vec(batch * 4, -2.0, 2.0);
    let train = net
        .forward(
            &b.params,
            &x,
            batch,
            &mut b.acts,
            &mut b.masks,
            &mut b.workspace,
            &mut rng,
        )
        .unwrap()
        .to_vec();
    let buffer = &mut b.acts[..net.infer_len(batch)];
    let eval = net
        .infer(&b.params, &x, batch, buffer, &mut b.workspace)
        .unwrap()
        .to_vec();
    let mut buffer = vec![f32::NAN; net.infer_len(batch)];
    let infer = net
        .infer(&b.params, &x, batch, &mut buffer, &mut b.workspace)
        .unwrap();
    let params64: Vec<f64> = b.params.iter().map(|&v| f64::from(v)).collect();
    let reference = forward64(&net, &params64, &x, batch, &[]);
    assert_eq!(eval, infer);
    for ((t, e), r) in train.iter().zip(&eval).zip(&reference) {
        assert!((f64::from(*t) - r).abs() < 1e-5 && (f64::from(*e) - r).abs() < 1e-5);
    }
}

/// The forward output and every gradient of `net` on `x`, computed layer by
/// layer through the public kernels (`gemm_bias_activation`, `gemm`,
/// `Activation`), as the network computes layers too large for its
/// element-by-element path.
fn through_gemm(
    net: &Mlp,
    params: &[f32],
    x: &[f32],
    batch: usize,
    grad_out: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let mut grads = vec![0.0; net.param_len()];
    // (input, pre-activation, activation) of every layer.
    let mut kept: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = Vec::new();
    let mut input = x.to_vec();
    for (l, spec) in net.layers().iter().enumerate() {
        let (w, b) = net.layer(params, l).unwrap();
        let fan_in = input.len() / batch;
        let mut z = vec![0.0; batch * spec.units];
        gemm_bias_activation(
            MatRef::new(&input, batch, fan_in).unwrap(),
            MatRef::new(w, spec.units, fan_in).unwrap().t(),
            b,
            Activation::Identity,
            MatMut::new(&mut z, batch, spec.units).unwrap(),
            &mut [],
        )
        .unwrap();
        let mut y = vec![0.0; z.len()];
        spec.activation.forward(&z, &mut y).unwrap();
        kept.push((input, z, y.clone()));
        input = y;
    }
    let out = input;
    let mut g = grad_out.to_vec();
    for (l, spec) in net.layers().iter().enumerate().rev() {
        let (x, z, y) = &kept[l];
        let fan_in = x.len() / batch;
        spec.activation.backward_in_place(z, y, &mut g).unwrap();
        let dz = MatRef::new(&g, batch, spec.units).unwrap();
        let (w, _) = net.layer(params, l).unwrap();
        let mut dx = vec![0.0; batch * fan_in];
        gemm(
            1.0,
            dz,
            MatRef::new(w, spec.units, fan_in).unwrap(),
            0.0,
            MatMut::new(&mut dx, batch, fan_in).unwrap(),
            &mut [],
        )
        .unwrap();
        let (dw, db) = net.layer_mut(&mut grads, l).unwrap();
        gemm(
            1.0,
            dz.t(),
            MatRef::new(x, batch, fan_in).unwrap(),
            0.0,
            MatMut::new(dw, spec.units, fan_in).unwrap(),
            &mut [],
        )
        .unwrap();
        db.fill(0.0);
        for row in g.chunks_exact(spec.units) {
            for (d, v) in db.iter_mut().zip(row) {
                *d += v;
            }
        }
        g = dx;
    }
    (out, grads)
}

#[test]
fn tiny_layers_give_the_bits_of_the_gemm_path() {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for act in ACTIVATIONS {
        let layers = [
            LayerSpec::new(5, act),
            LayerSpec::new(4, act),
            LayerSpec::new(2, act),
        ];
        let net = Mlp::new(3, &layers).unwrap();
        // Batch 1 and 2: every product is at most 2 * 5 * 4 = 40
        // multiply-adds, so every layer takes the element-by-element path.
        for batch in [1, 2] {
            let mut b = Buffers::new(&net, batch);
            let mut rng = Xoshiro128PlusPlus::seed_from_u64(batch as u64);
            net.init(&mut b.params, Init::HeNormal(FanMode::In), &mut rng)
                .unwrap();
            let x = TestRng(5).vec(batch * 3, -3.0, 3.0);
            let grad_out = TestRng(6).vec(batch * 2, -1.0, 1.0);
            let out = net
                .forward(
                    &b.params,
                    &x,
                    batch,
                    &mut b.acts,
                    &mut b.masks,
                    &mut b.workspace,
                    &mut rng,
                )
                .unwrap()
                .to_vec();
            net.backward(
                &b.params,
                &x,
                batch,
                &mut b.acts,
                &b.masks,
                &grad_out,
                &mut b.grads,
                &mut b.workspace,
            )
            .unwrap();
            let buffer = &mut vec![0.0; net.infer_len(batch)];
            let inferred = net.infer(&b.params, &x, batch, buffer, &mut []).unwrap();
            let (want_out, want_grads) = through_gemm(&net, &b.params, &x, batch, &grad_out);
            assert_eq!(bits(&out), bits(&want_out), "{act:?} batch {batch}: output");
            assert_eq!(
                bits(inferred),
                bits(&want_out),
                "{act:?} batch {batch}: inference"
            );
            assert_eq!(
                bits(&b.grads),
                bits(&want_grads),
                "{act:?} batch {batch}: gradients"
            );
        }
    }
}

#[test]
fn dropout_acts_only_in_training() {
    let layers = [LayerSpec::new(64, Activation::Identity).with_dropout(0.5)];
    let net = Mlp::new(1, &layers).unwrap();
    let batch = 8;
    let mut b = Buffers::new(&net, batch);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(4);
    // Weights 1, biases 0: every output equals its input row's value.
    b.params[..64].fill(1.0);
    let x = vec![1.0; batch];
    let out = net
        .forward(
            &b.params,
            &x,
            batch,
            &mut b.acts,
            &mut b.masks,
            &mut b.workspace,
            &mut rng,
        )
        .unwrap()
        .to_vec();
    let dropped = out.iter().filter(|&&v| v == 0.0).count();
    assert!(out.iter().all(|&v| v == 0.0 || v == 2.0));
    assert!(
        (160..=352).contains(&dropped),
        "{dropped} of 512 dropped at p = 0.5"
    );
    for (i, &v) in out.iter().enumerate() {
        assert_eq!(v == 2.0, b.masks[i / 32] >> (i % 32) & 1 == 1);
    }
    let eval = net
        .infer(
            &b.params,
            &x,
            batch,
            &mut b.acts[..net.infer_len(batch)],
            &mut b.workspace,
        )
        .unwrap();
    assert!(eval.iter().all(|&v| v == 1.0));
}

/// The MNIST example's last layer, 128 -> 10 at batch 100: every weight
/// and bias gradient equals the f64 sums (with 16 lanes the weight
/// gradients of units 5-9 were once never written).
#[test]
fn a_wide_layers_gradients_match_the_f64_sums() {
    let (fan_in, units, batch) = (128, 10, 100);
    let layers = [LayerSpec::new(units, Activation::Identity)];
    let net = Mlp::new(fan_in, &layers).unwrap();
    let mut b = Buffers::new(&net, batch);
    let mut t = TestRng(21);
    b.params = t.vec(net.param_len(), -0.5, 0.5);
    b.grads.fill(f32::NAN);
    let x = t.vec(batch * fan_in, -1.0, 1.0);
    let grad_out = t.vec(batch * units, -1.0, 1.0);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    net.forward(
        &b.params,
        &x,
        batch,
        &mut b.acts,
        &mut b.masks,
        &mut b.workspace,
        &mut rng,
    )
    .unwrap();
    net.backward(
        &b.params,
        &x,
        batch,
        &mut b.acts,
        &b.masks,
        &grad_out,
        &mut b.grads,
        &mut b.workspace,
    )
    .unwrap();
    let (dw, db) = net.layer(&b.grads, 0).unwrap();
    for u in 0..units {
        let dy = |r: usize| f64::from(grad_out[r * units + u]);
        let want_b: f64 = (0..batch).map(dy).sum();
        assert!(
            (f64::from(db[u]) - want_b).abs() <= 1e-4,
            "bias {u}: {} vs {want_b}",
            db[u]
        );
        for i in 0..fan_in {
            let want: f64 = (0..batch)
                .map(|r| dy(r) * f64::from(x[r * fan_in + i]))
                .sum();
            let got = f64::from(dw[u * fan_in + i]);
            assert!(
                (got - want).abs() <= 1e-4,
                "weight ({u}, {i}): {got} vs {want}"
            );
        }
    }
}

/// The He schemes take the fan that their `FanMode` picks, as the `init`
/// functions do with `FanMode::fan`, and draw layer by layer from one
/// generator; biases start at zero.
#[test]
fn he_schemes_honour_the_fan_mode() {
    let layers = [
        LayerSpec::new(7, Activation::Relu),
        LayerSpec::new(3, Activation::Tanh),
    ];
    let net = Mlp::new(5, &layers).unwrap();
    for mode in [FanMode::In, FanMode::Out] {
        type Draw = fn(&mut [f32], usize, f32, &mut Xoshiro128PlusPlus) -> microprop::Result<()>;
        for (scheme, draw) in [
            (Init::HeUniform(mode), init::he_uniform as Draw),
            (Init::HeNormal(mode), init::he_normal as Draw),
        ] {
            let mut params = vec![f32::NAN; net.param_len()];
            net.init(
                &mut params,
                scheme,
                &mut Xoshiro128PlusPlus::seed_from_u64(3),
            )
            .unwrap();
            let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
            for (l, spec) in layers.iter().enumerate() {
                let (w, b) = net.layer(&params, l).unwrap();
                let fan_in = if l == 0 { 5 } else { layers[l - 1].units };
                let mut expected = vec![0.0; w.len()];
                let gain = init::gain(spec.activation).unwrap();
                draw(&mut expected, mode.fan(spec.units, fan_in), gain, &mut rng).unwrap();
                assert_eq!(w, expected, "{scheme:?}, layer {l}");
                assert!(b.iter().all(|&v| v == 0.0));
            }
        }
    }
}

#[test]
fn step_uses_each_optimizer_on_its_own_tensors() {
    let layers = [
        LayerSpec::new(3, Activation::Tanh),
        LayerSpec::new(2, Activation::Identity),
    ];
    let net = Mlp::new(2, &layers).unwrap();
    let mut params: Vec<f32> = TestRng(1).vec(net.param_len(), -1.0, 1.0);
    let grads: Vec<f32> = TestRng(2).vec(net.param_len(), -1.0, 1.0);
    let frozen = Sgd {
        lr: 0.0,
        ..Sgd::default()
    };
    let sgd = Sgd {
        lr: 0.5,
        ..Sgd::default()
    };
    let before = params.clone();
    let mut state = vec![0.0; net.state_len(&frozen, &sgd)];
    net.step(1, &mut params, &grads, &mut state, &frozen, &sgd)
        .unwrap();
    for l in 0..2 {
        let (w0, b0) = net.layer(&before, l).unwrap();
        let (w1, b1) = net.layer(&params, l).unwrap();
        let (_, gb) = net.layer(&grads, l).unwrap();
        assert_eq!(w0, w1);
        for ((p0, p1), g) in b0.iter().zip(b1).zip(gb) {
            assert_eq!(*p1, p0 - 0.5 * g);
        }
    }
}

#[test]
fn step_validates_both_optimizers_before_stepping_either() {
    let layers = [
        LayerSpec::new(4, Activation::Tanh),
        LayerSpec::new(1, Activation::Identity),
    ];
    let net = Mlp::new(2, &layers).unwrap();
    let params: Vec<f32> = TestRng(1).vec(net.param_len(), -1.0, 1.0);
    let grads: Vec<f32> = TestRng(2).vec(net.param_len(), -1.0, 1.0);
    let good = Sgd {
        lr: 0.5,
        momentum: 0.9,
        ..Sgd::default()
    };
    for bad in [f64::NAN, 1e300] {
        let bad = Sgd { lr: bad, ..good };
        for (weights, biases) in [(&good, &bad), (&bad, &good)] {
            let mut p = params.clone();
            let mut state = vec![0.25; net.state_len(weights, biases)];
            let err = net
                .step(2, &mut p, &grads, &mut state, weights, biases)
                .unwrap_err();
            assert!(err.to_string().contains("`lr`"), "{err}");
            assert_eq!(p, params);
            assert!(state.iter().all(|&s| s == 0.25));
        }
    }
}

#[test]
fn grad_norms_are_per_layer_l2_norms() {
    let layers = [
        LayerSpec::new(3, Activation::Tanh),
        LayerSpec::new(2, Activation::Identity),
    ];
    let net = Mlp::new(2, &layers).unwrap();
    let grads: Vec<f32> = TestRng(3).vec(net.param_len(), -1.0, 1.0);
    let mut norms = [0.0; 2];
    net.grad_norms(&grads, &mut norms).unwrap();
    // Layer 0: weights 0..6 and biases 12..15; layer 1: 6..12 and 15..17.
    for (n, parts) in norms.iter().zip([[0..6, 12..15], [6..12, 15..17]]) {
        let r = parts
            .into_iter()
            .flat_map(|range| &grads[range])
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((f64::from(*n) - r).abs() < 1e-6 * r);
    }
}

// ---------------------------------------------------------------- training

/// Trains full-batch until every point is classified correctly; returns the
/// epoch at which that happened.
fn train_to_100_percent<O: Optimizer>(
    net: &Mlp,
    x: &[f32],
    labels: &[u32],
    opt: &O,
    seed: u64,
    max_epochs: u64,
) -> Option<u64> {
    let batch = labels.len();
    let classes = net.output();
    let mut b = Buffers::new(net, batch);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    net.init(&mut b.params, Init::GlorotUniform, &mut rng)
        .unwrap();
    let mut state = vec![0.0; net.state_len(opt, opt)];
    let mut grad_out = vec![0.0; batch * classes];
    for t in 1..=max_epochs {
        let out = net
            .forward(
                &b.params,
                x,
                batch,
                &mut b.acts,
                &mut b.masks,
                &mut b.workspace,
                &mut rng,
            )
            .unwrap();
        loss::softmax_cross_entropy(out, labels, classes, &mut grad_out).unwrap();
        net.backward(
            &b.params,
            x,
            batch,
            &mut b.acts,
            &b.masks,
            &grad_out,
            &mut b.grads,
            &mut b.workspace,
        )
        .unwrap();
        net.step(t, &mut b.params, &b.grads, &mut state, opt, opt)
            .unwrap();
        let eval = net
            .infer(
                &b.params,
                x,
                batch,
                &mut b.acts[..net.infer_len(batch)],
                &mut b.workspace,
            )
            .unwrap();
        let correct = eval
            .chunks_exact(classes)
            .zip(labels)
            .filter(|&(row, &y)| (0..classes).all(|j| j == y as usize || row[j] < row[y as usize]))
            .count();
        if correct == batch {
            return Some(t);
        }
    }
    None
}

#[test]
fn xor_trains_to_100_percent() {
    let layers = [
        LayerSpec::new(4, Activation::Tanh),
        LayerSpec::new(2, Activation::Identity),
    ];
    let net = Mlp::new(2, &layers).unwrap();
    let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let opt = Sgd {
        lr: 0.5,
        momentum: 0.9,
        ..Sgd::default()
    };
    let epochs = train_to_100_percent(&net, &x, &[0, 1, 1, 0], &opt, 1, 1000);
    assert!(epochs.is_some(), "XOR did not reach 100% in 1000 epochs");
}

/// Two interleaved spiral arms of `n` points each, 1.5 turns.
pub fn spiral(n: usize) -> (Vec<f32>, Vec<u32>) {
    let (mut x, mut y) = (vec![], vec![]);
    for class in 0..2 {
        for i in 0..n {
            let r = (i as f32 + 1.0) / n as f32;
            let a = 3.0 * std::f32::consts::PI * r + class as f32 * std::f32::consts::PI;
            x.extend([r * a.cos(), r * a.sin()]);
            y.push(class);
        }
    }
    (x, y)
}

#[test]
fn two_class_spiral_trains_to_100_percent() {
    let layers = [
        LayerSpec::new(16, Activation::Tanh),
        LayerSpec::new(16, Activation::Tanh),
        LayerSpec::new(2, Activation::Identity),
    ];
    let net = Mlp::new(2, &layers).unwrap();
    let (x, y) = spiral(50);
    let opt = Adam {
        lr: 0.01,
        ..Adam::default()
    };
    let epochs = train_to_100_percent(&net, &x, &y, &opt, 7, 3000);
    assert!(
        epochs.is_some(),
        "the spiral did not reach 100% in 3000 epochs"
    );
}

// ------------------------------------------------------- reproducibility

fn fnv(h: u64, bits: impl IntoIterator<Item = u32>) -> u64 {
    bits.into_iter()
        .fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// The newest modification time of the files under `dir`.
fn newest(dir: &std::path::Path) -> std::time::SystemTime {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                newest(&e.path())
            } else {
                e.metadata().unwrap().modified().unwrap()
            }
        })
        .max()
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// Initial weights and dropout masks must be bit-identical at every SIMD
/// level. Each run stores its digest under the target directory, named by
/// its backend, and compares it with those the other levels wrote since the
/// sources last changed (CI runs `cargo test` at every width).
#[test]
fn seeded_weights_and_masks_are_identical_at_every_simd_level() {
    let layers = [
        LayerSpec::new(37, Activation::Relu).with_dropout(0.3),
        LayerSpec::new(19, Activation::Gelu).with_dropout(0.5),
        LayerSpec::new(3, Activation::Identity),
    ];
    let net = Mlp::new(11, &layers).unwrap();
    let batch = 5;
    let mut digest = 0xcbf2_9ce4_8422_2325;
    for scheme in [
        Init::GlorotUniform,
        Init::GlorotNormal,
        Init::HeUniform(FanMode::In),
        Init::HeNormal(FanMode::In),
    ] {
        let mut b = Buffers::new(&net, batch);
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(42);
        net.init(&mut b.params, scheme, &mut rng).unwrap();
        let x = TestRng(8).vec(batch * 11, -1.0, 1.0);
        net.forward(
            &b.params,
            &x,
            batch,
            &mut b.acts,
            &mut b.masks,
            &mut b.workspace,
            &mut rng,
        )
        .unwrap();
        digest = fnv(digest, b.params.iter().map(|v| v.to_bits()));
        digest = fnv(digest, b.masks.iter().copied());
    }
    // Under the manifest's `target`, not the build's: each width may build
    // into a target directory of its own.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/nn-digests");
    std::fs::create_dir_all(&dir).unwrap();
    let name = microprop::simd_backend().replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    std::fs::write(dir.join(&name), format!("{digest:016x}")).unwrap();
    let sources = newest(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        if entry.metadata().unwrap().modified().unwrap() < sources {
            continue; // written by an older version of the code
        }
        let other = std::fs::read_to_string(entry.path()).unwrap();
        assert_eq!(
            other,
            format!("{digest:016x}"),
            "{} differs from {:?}",
            microprop::simd_backend(),
            entry.file_name()
        );
    }
}

#[test]
fn huge_batches_are_errors_not_overflows() {
    let layers = [
        LayerSpec::new(300, Activation::Relu).with_dropout(0.5),
        LayerSpec::new(10, Activation::Identity),
    ];
    let net = Mlp::new(784, &layers).unwrap();
    let params = vec![0.0; net.param_len()];
    let mut grads = vec![0.0; net.param_len()];
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    for batch in [usize::MAX, usize::MAX / 2, 1 << 40, 1 << 58] {
        let (mut a, mut w) = (vec![0.0; 8], vec![0.0; 8]);
        let x = [0.0; 784];
        let mut masks = [0u32; 4];
        assert!(
            net.forward(&params, &x, batch, &mut a, &mut masks, &mut w, &mut rng)
                .is_err()
        );
        assert!(
            net.backward(
                &params, &x, batch, &mut a, &masks, &[0.0; 10], &mut grads, &mut w
            )
            .is_err()
        );
        assert!(net.infer(&params, &x, batch, &mut a, &mut w).is_err());
    }
}
