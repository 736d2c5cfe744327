//! Trains a 784-256-128-10 multilayer perceptron on MNIST and reports, per
//! epoch, the training loss, the training and test accuracy and the
//! per-layer gradient norms.
//!
//! ```sh
//! cargo run --release --example mnist            # 10 epochs
//! MNIST_EPOCHS=3 cargo run --release --example mnist
//! ```
//!
//! ReLU hidden layers with dropout 0.2, softmax cross-entropy, minibatches
//! of 100, AdamW with weight decay on the weights only (the biases get the
//! same optimizer without decay), He initialisation, a fixed seed.

use microprop::nn::{Init, LayerSpec, Mlp};
use microprop::optim::AdamW;
use microprop::train::{Dataset, accuracy, shuffle};
use microprop::{Activation, SIMD_BACKEND, loss};
use rand_core::SeedableRng;
use std::error::Error;
use std::time::Instant;

const LAYERS: [LayerSpec; 3] = [
    LayerSpec::new(256, Activation::Relu).with_dropout(0.2),
    LayerSpec::new(128, Activation::Relu).with_dropout(0.2),
    LayerSpec::new(10, Activation::Identity),
];
const BATCH: usize = 100;

fn main() -> Result<(), Box<dyn Error>> {
    let epochs: u64 = std::env::var("MNIST_EPOCHS").map_or(Ok(10), |s| s.parse())?;
    let (train, test) = Dataset::mnist(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?;
    let net = Mlp::new(train.features(), &LAYERS)?;
    let weights = AdamW {
        lr: 1e-3,
        weight_decay: 1e-4,
        ..AdamW::default()
    };
    let biases = AdamW {
        weight_decay: 0.0,
        ..weights
    };
    println!(
        "MNIST: {} training and {} test images; MLP 784-256-128-10, {} parameters; SIMD {}",
        train.len(),
        test.len(),
        net.param_len(),
        SIMD_BACKEND
    );

    // Every buffer, allocated once.
    let mut params = vec![0.0; net.param_len()];
    let mut grads = vec![0.0; net.param_len()];
    let mut state = vec![0.0; net.state_len(&weights, &biases)];
    let mut acts = vec![0.0; net.activations_len(BATCH)];
    let mut masks = vec![0; net.mask_len(BATCH)];
    let mut workspace = vec![0.0; net.workspace_len(BATCH)];
    let mut x = vec![0.0; BATCH * train.features()];
    let mut labels = vec![0; BATCH];
    let mut grad_out = vec![0.0; BATCH * net.output()];
    let mut norms = vec![0.0; LAYERS.len()];
    let mut order: Vec<usize> = (0..train.len()).collect();

    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(2024);
    net.init(&mut params, &mut rng, Init::HeUniform)?;
    let mut t = 0;
    for epoch in 1..=epochs {
        let start = Instant::now();
        shuffle(&mut rng, &mut order);
        let (mut loss_sum, mut norm_sum) = (0.0f64, vec![0.0f64; LAYERS.len()]);
        let batches = order.chunks_exact(BATCH);
        let steps = batches.len();
        for batch in batches {
            train.gather(batch, &mut x, &mut labels)?;
            let out = net.forward(
                &params,
                &x,
                BATCH,
                &mut acts,
                &mut masks,
                &mut workspace,
                &mut rng,
            )?;
            let l = loss::softmax_cross_entropy(out, &labels, 10, &mut grad_out)?;
            if !l.is_finite() {
                return Err(format!("epoch {epoch}, step {t}: loss is {l}").into());
            }
            loss_sum += f64::from(l);
            net.backward(
                &params,
                &x,
                BATCH,
                &mut acts,
                &masks,
                &grad_out,
                &mut grads,
                &mut workspace,
            )?;
            net.grad_norms(&grads, &mut norms)?;
            for (s, n) in norm_sum.iter_mut().zip(&norms) {
                *s += f64::from(*n);
            }
            t += 1;
            net.step(t, &mut params, &grads, &mut state, &weights, &biases)?;
        }
        let train_time = start.elapsed();
        let train_acc = evaluate(&net, &params, &train, &mut acts, &mut workspace)?;
        let test_acc = evaluate(&net, &params, &test, &mut acts, &mut workspace)?;
        let norms: Vec<String> = norm_sum
            .iter()
            .map(|s| format!("{:.4}", s / steps as f64))
            .collect();
        println!(
            "epoch {epoch:>2}  loss {:.4}  train {:.2}%  test {:.2}%  grad norms [{}]  {:.1} s",
            loss_sum / steps as f64,
            100.0 * train_acc,
            100.0 * test_acc,
            norms.join(", "),
            train_time.as_secs_f64()
        );
    }
    Ok(())
}

/// Accuracy over a whole data set, in evaluation mode (no dropout).
fn evaluate(
    net: &Mlp,
    params: &[f32],
    data: &Dataset,
    acts: &mut [f32],
    workspace: &mut [f32],
) -> microprop::Result<f64> {
    let mut correct = 0;
    let rows = data.inputs().chunks_exact(BATCH * data.features());
    for (x, labels) in rows.zip(data.labels().chunks_exact(BATCH)) {
        let out = net.forward_eval(params, x, BATCH, acts, workspace)?;
        correct += accuracy(out, labels, data.classes())?;
    }
    Ok(correct as f64 / data.len() as f64)
}
