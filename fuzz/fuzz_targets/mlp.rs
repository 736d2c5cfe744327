//! `Mlp` on arbitrary layer specs, batch sizes and buffer lengths: every
//! call is an `Err` when a buffer has the wrong length or the description is
//! invalid, and otherwise a pass that matches an f64 reference (forward and
//! backward without dropout) and steps every parameter. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprop::nn::{Init, LayerSpec, Mlp};
use microprop::optim::{Optimizer, Sgd};
use microprop::{Activation, reference};
use rand_core::SeedableRng;

const ACTIVATIONS: [Activation; 8] = [
    Activation::Identity,
    Activation::Tanh,
    Activation::Relu,
    Activation::Sigmoid,
    Activation::LeakyRelu(0.1),
    Activation::Gelu,
    Activation::Softplus,
    Activation::LeakyRelu(f32::NAN),
];
const DROPOUT: [f32; 8] = [0.0, 0.0, 0.0, 0.0, 0.5, 0.9, 1.0, f32::NAN];

/// Bytes of the input, taken one at a time (0 once they run out).
struct Bytes<'a>(std::slice::Iter<'a, u8>);

impl Bytes<'_> {
    fn next(&mut self) -> usize {
        usize::from(*self.0.next().unwrap_or(&0))
    }

    /// `len`, or one less or more when the input says so.
    fn around(&mut self, len: usize) -> usize {
        match self.next() % 16 {
            0 => len.saturating_sub(1),
            1 => len + 1,
            _ => len,
        }
    }
}

/// `f32`s in [-2, 2] from the bytes.
fn values(b: &mut Bytes, n: usize) -> Vec<f32> {
    (0..n).map(|_| (b.next() as f32 - 128.0) / 64.0).collect()
}

/// The f64 forward pass: every layer's pre-activations and outputs, and the
/// sum of the magnitudes behind each output (for the error bound).
fn reference_forward(
    net: &Mlp,
    params: &[f32],
    x: &[f32],
    batch: usize,
) -> Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let mut out = Vec::new();
    let mut cur: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let mut mag: Vec<f64> = cur.iter().map(|v| v.abs()).collect();
    for (l, spec) in net.layers().iter().enumerate() {
        let (w, b) = net.layer(params, l).unwrap();
        let fan_in = w.len() / spec.units;
        let (mut z, mut y, mut m) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..batch {
            for j in 0..spec.units {
                let (mut s, mut a) = (f64::from(b[j]), f64::from(b[j].abs()));
                for k in 0..fan_in {
                    s += f64::from(w[j * fan_in + k]) * cur[r * fan_in + k];
                    a += f64::from(w[j * fan_in + k].abs()) * mag[r * fan_in + k];
                }
                z.push(s);
                y.push(reference::activation::value(spec.activation, s));
                m.push(a);
            }
        }
        out.push((z, y.clone(), m.clone()));
        cur = y;
        mag = m;
    }
    out
}

fn close(got: f32, want: f64, magnitude: f64) -> bool {
    (f64::from(got) - want).abs() <= 1e-3 * (1.0 + magnitude)
}

/// One case: see the module docs.
fn check(data: &[u8]) {
    let mut b = Bytes(data.iter());
    let input = b.next() % 6;
    let layers: Vec<LayerSpec> = (0..b.next() % 4)
        .map(|_| {
            let units = b.next() % 7;
            let activation = ACTIVATIONS[b.next() % ACTIVATIONS.len()];
            LayerSpec::new(units, activation).with_dropout(DROPOUT[b.next() % DROPOUT.len()])
        })
        .collect();
    let valid = input > 0
        && !layers.is_empty()
        && layers.iter().all(|l| {
            l.units > 0 && (0.0..1.0).contains(&l.dropout) && l.activation.validate().is_ok()
        });
    let net = match Mlp::new(input, &layers) {
        Ok(net) => net,
        Err(_) => {
            assert!(!valid, "{input} {layers:?} rejected");
            return;
        }
    };
    assert!(valid, "{input} {layers:?} accepted");
    let batch = b.next() % 6;
    let dropout = layers.iter().any(|l| l.dropout > 0.0);

    let mut rng = rand_xoshiro::Xoshiro128PlusPlus::seed_from_u64(b.next() as u64);
    let mut params = vec![0.0; b.around(net.param_len())];
    let ok = params.len() == net.param_len();
    assert_eq!(
        net.init(&mut params, Init::GlorotUniform, &mut rng).is_ok(),
        ok
    );
    if !ok {
        return;
    }
    let n = b.around(batch * input);
    let x = values(&mut b, n);
    let mut acts = vec![0.0; b.around(net.activations_len(batch))];
    let mut masks = vec![0u32; b.around(net.mask_len(batch))];
    let mut workspace = vec![0.0; b.around(net.workspace_len(batch))];
    let ok = x.len() == batch * input
        && acts.len() == net.activations_len(batch)
        && masks.len() == net.mask_len(batch)
        && workspace.len() >= net.workspace_len(batch);
    let out = net.forward(
        &params,
        &x,
        batch,
        &mut acts,
        &mut masks,
        &mut workspace,
        &mut rng,
    );
    assert_eq!(out.is_ok(), ok, "forward");
    if !ok {
        return;
    }
    let out = out.unwrap().to_vec();
    assert_eq!(out.len(), batch * net.output());
    let want = reference_forward(&net, &params, &x, batch);
    if !dropout {
        let (_, y, m) = want.last().unwrap();
        for i in 0..out.len() {
            assert!(
                close(out[i], y[i], m[i]),
                "output {i}: {} vs {}",
                out[i],
                y[i]
            );
        }
    }
    let mut buffer = vec![0.0; net.infer_len(batch)];
    let inferred = net
        .infer(&params, &x, batch, &mut buffer, &mut workspace)
        .unwrap();
    if !dropout {
        assert!(
            inferred
                .iter()
                .zip(&out)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }

    let n = b.around(out.len());
    let grad_out = values(&mut b, n);
    let mut grads = vec![f32::NAN; b.around(net.param_len())];
    let ok = grad_out.len() == out.len() && grads.len() == net.param_len();
    let back = net.backward(
        &params,
        &x,
        batch,
        &mut acts,
        &masks,
        &grad_out,
        &mut grads,
        &mut workspace,
    );
    assert_eq!(back.is_ok(), ok, "backward");
    if !ok {
        return;
    }
    if !dropout {
        // dZ = dY * act'(Z), dW = dZ^T X, db = column sums of dZ, dX = dZ W.
        let mut dy: Vec<f64> = grad_out.iter().map(|&g| f64::from(g)).collect();
        for l in (0..layers.len()).rev() {
            let (units, fan_in) = (
                layers[l].units,
                net.layer(&params, l).unwrap().0.len() / layers[l].units,
            );
            let (z, _, _) = &want[l];
            let dz: Vec<f64> = dy
                .iter()
                .zip(z)
                .map(|(g, &z)| g * reference::activation::derivative(layers[l].activation, z))
                .collect();
            let xl: Vec<f64> = if l == 0 {
                x.iter().map(|&v| f64::from(v)).collect()
            } else {
                want[l - 1].1.clone()
            };
            let (w, _) = net.layer(&params, l).unwrap();
            let (gw, gb) = net.layer(&grads, l).unwrap();
            for j in 0..units {
                let (mut s, mut a) = (0.0, 0.0);
                for r in 0..batch {
                    s += dz[r * units + j];
                    a += dz[r * units + j].abs();
                }
                assert!(close(gb[j], s, a), "layer {l} db[{j}]: {} vs {s}", gb[j]);
                for k in 0..fan_in {
                    let (mut s, mut a) = (0.0, 0.0);
                    for r in 0..batch {
                        s += dz[r * units + j] * xl[r * fan_in + k];
                        a += (dz[r * units + j] * xl[r * fan_in + k]).abs();
                    }
                    let g = gw[j * fan_in + k];
                    assert!(close(g, s, a), "layer {l} dW[{j}, {k}]: {g} vs {s}");
                }
            }
            dy = (0..batch * fan_in)
                .map(|i| {
                    let (r, k) = (i / fan_in, i % fan_in);
                    (0..units)
                        .map(|j| dz[r * units + j] * f64::from(w[j * fan_in + k]))
                        .sum()
                })
                .collect();
        }
    }
    assert!(grads.iter().all(|g| !g.is_nan()), "every gradient written");

    let sgd = Sgd {
        lr: 0.5,
        ..Sgd::default()
    };
    let bad = Sgd {
        lr: f64::NAN,
        ..sgd
    };
    let mut state = vec![0.0; b.around(net.state_len(&sgd, &sgd))];
    let before = params.clone();
    let ok = state.len() == net.state_len(&sgd, &sgd);
    assert!(
        net.step(1, &mut params, &grads, &mut state, &sgd, &bad)
            .is_err()
    );
    assert!(
        net.step(1, &mut params, &grads, &mut state, &bad, &sgd)
            .is_err()
    );
    assert!(
        net.step(0, &mut params, &grads, &mut state, &sgd, &sgd)
            .is_err()
    );
    assert_eq!(params, before, "a failed step changes nothing");
    assert_eq!(
        net.step(1, &mut params, &grads, &mut state, &sgd, &sgd)
            .is_ok(),
        ok
    );
    if ok {
        for ((p, p0), g) in params.iter().zip(&before).zip(&grads) {
            assert_eq!(p.to_bits(), g.mul_add(-0.5, *p0).to_bits());
        }
    }
    assert_eq!(sgd.state_len(0), 0);
}

fuzz_target!(
    init: eprintln!("SIMD backend: {}", microprop::simd_backend()),
    |data: &[u8]| check(data)
);
