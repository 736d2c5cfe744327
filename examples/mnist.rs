//! Trains a 784-256-128-10 multilayer perceptron on MNIST and reports, per
//! epoch, the training loss, the training and development accuracy and the
//! per-layer gradient norms; at the end, the test accuracy.
//!
//! The last 5,000 of the 60,000 training images are held out as the
//! development set, which tracks overfitting (the gap between training and
//! development accuracy) while the test set stays untouched until the end.
//!
//! ```sh
//! cargo run --release --example mnist            # 10 epochs
//! MNIST_EPOCHS=3 cargo run --release --example mnist
//! MNIST_EPOCHS=5 MNIST_RESUME=1 cargo run --release --example mnist
//! ```
//!
//! ReLU hidden layers with dropout 0.2, softmax cross-entropy, minibatches
//! of 100, AdamW with weight decay on the weights only (the biases get the
//! same optimizer without decay), He initialisation, a fixed seed.
//!
//! After every epoch the parameters and optimizer state are saved,
//! atomically, to `MNIST_CHECKPOINT` (default `target/mnist.ckpt`); with
//! `MNIST_RESUME=1` training continues from that file up to `MNIST_EPOCHS`
//! and gives the same results as an uninterrupted run, because each epoch's
//! random numbers come from a generator seeded with the epoch number. A
//! non-finite loss stops training with an error naming the epoch and step,
//! and the checkpoint of the last complete epoch stays as it was.

use microprop::nn::{Init, LayerSpec, Mlp};
use microprop::optim::AdamW;
use microprop::train::{Checkpoint, Dataset, accuracy, shuffle};
use microprop::{Activation, SIMD_BACKEND, loss};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::error::Error;
use std::time::Instant;

const LAYERS: [LayerSpec; 3] = [
    LayerSpec::new(256, Activation::Relu).with_dropout(0.2),
    LayerSpec::new(128, Activation::Relu).with_dropout(0.2),
    LayerSpec::new(10, Activation::Identity),
];
const BATCH: usize = 100;
const SEED: u64 = 2024;
/// Training images held out as the development set.
const DEV: usize = 5_000;

fn main() -> Result<(), Box<dyn Error>> {
    let epochs: u64 = std::env::var("MNIST_EPOCHS").map_or(Ok(10), |s| s.parse())?;
    let resume = std::env::var("MNIST_RESUME").is_ok_and(|s| s == "1");
    let checkpoint = std::env::var("MNIST_CHECKPOINT")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/mnist.ckpt").to_string());
    let (mut train, test) = Dataset::mnist(concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))?;
    let dev = train.split_off(train.len() - DEV)?;
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
        "MNIST: {} training, {} development and {} test images; MLP 784-256-128-10, {} \
         parameters; SIMD {}",
        train.len(),
        dev.len(),
        test.len(),
        net.param_len(),
        SIMD_BACKEND
    );

    // Every buffer, allocated once. The parameters, the optimizer state and
    // the position of the run form the checkpoint saved after every epoch.
    let mut run = Checkpoint {
        epoch: 0,
        step: 0,
        params: vec![0.0; net.param_len()],
        state: vec![0.0; net.state_len(&weights, &biases)],
    };
    let mut grads = vec![0.0; net.param_len()];
    let mut acts = vec![0.0; net.activations_len(BATCH)];
    let mut masks = vec![0; net.mask_len(BATCH)];
    let mut workspace = vec![0.0; net.workspace_len(BATCH)];
    let mut x = vec![0.0; BATCH * train.features()];
    let mut labels = vec![0; BATCH];
    let mut grad_out = vec![0.0; BATCH * net.output()];
    let mut norms = vec![0.0; LAYERS.len()];
    let mut order: Vec<usize> = Vec::with_capacity(train.len());

    if resume {
        let ck = Checkpoint::load(&checkpoint)?;
        ck.restore(&mut run.params, &mut run.state)?;
        (run.epoch, run.step) = (ck.epoch, ck.step);
        println!("resumed from {checkpoint} after epoch {}", run.epoch);
    } else {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
        net.init(&mut run.params, &mut rng, Init::HeUniform)?;
    }
    for epoch in run.epoch + 1..=epochs {
        let start = Instant::now();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + epoch);
        order.clear();
        order.extend(0..train.len());
        shuffle(&mut rng, &mut order);
        let (mut loss_sum, mut norm_sum) = (0.0f64, vec![0.0f64; LAYERS.len()]);
        let batches = order.chunks_exact(BATCH);
        let steps = batches.len();
        for batch in batches {
            train.gather(batch, &mut x, &mut labels)?;
            let out = net.forward(
                &run.params,
                &x,
                BATCH,
                &mut acts,
                &mut masks,
                &mut workspace,
                &mut rng,
            )?;
            let l = loss::softmax_cross_entropy(out, &labels, 10, &mut grad_out)?;
            if !l.is_finite() {
                let step = run.step + 1;
                return Err(format!("epoch {epoch}, step {step}: loss is {l}").into());
            }
            loss_sum += f64::from(l);
            net.backward(
                &run.params,
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
            run.step += 1;
            net.step(
                run.step,
                &mut run.params,
                &grads,
                &mut run.state,
                &weights,
                &biases,
            )?;
        }
        let train_time = start.elapsed();
        let train_acc = evaluate(&net, &run.params, &train, &mut acts, &mut workspace)?;
        let dev_acc = evaluate(&net, &run.params, &dev, &mut acts, &mut workspace)?;
        let norms: Vec<String> = norm_sum
            .iter()
            .map(|s| format!("{:.4}", s / steps as f64))
            .collect();
        println!(
            "epoch {epoch:>2}  loss {:.4}  train {:.2}%  dev {:.2}%  grad norms [{}]  {:.1} s",
            loss_sum / steps as f64,
            100.0 * train_acc,
            100.0 * dev_acc,
            norms.join(", "),
            train_time.as_secs_f64()
        );
        run.epoch = epoch;
        run.save(&checkpoint)?;
    }
    let test_acc = evaluate(&net, &run.params, &test, &mut acts, &mut workspace)?;
    println!(
        "test accuracy after epoch {}: {:.2}%",
        run.epoch,
        100.0 * test_acc
    );
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
