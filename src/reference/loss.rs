//! Scalar oracles for the losses, accumulated in f64.
//!
//! ```
//! use microprop::{loss, reference};
//! let (pred, target) = ([0.5f32, -1.0, 2.0], [0.0f32, -1.5, 2.5]);
//! let (mut grad, mut grad_ref) = ([0.0f32; 3], [0.0f32; 3]);
//! let value = loss::mse(&pred, &target, &mut grad)?;
//! let exact = reference::loss::mse(&pred, &target, &mut grad_ref);
//! assert!((f64::from(value) - exact).abs() <= 1e-6 * exact);
//! assert_eq!(grad, grad_ref);
//! # Ok::<(), microprop::Error>(())
//! ```

/// The mean of `(pred - target)^2` and its gradient, in f64.
pub fn mse(pred: &[f32], target: &[f32], grad: &mut [f32]) -> f64 {
    let n = pred.len() as f64;
    let mut total = 0.0;
    for ((g, &p), &t) in grad.iter_mut().zip(pred).zip(target) {
        let d = f64::from(p) - f64::from(t);
        total += d * d;
        *g = (2.0 * d / n) as f32;
    }
    total / n
}

/// Binary cross-entropy on logits (PyTorch's definition, mean reduction) and
/// its gradient, in f64.
pub fn bce_with_logits(logits: &[f32], target: &[f32], grad: &mut [f32]) -> f64 {
    let n = logits.len() as f64;
    let mut total = 0.0;
    for ((g, &x), &t) in grad.iter_mut().zip(logits).zip(target) {
        let (x, t) = (f64::from(x), f64::from(t));
        total += x.max(0.0) - x * t + libm::log1p(libm::exp(-x.abs()));
        let s = if x >= 0.0 {
            1.0 / (1.0 + libm::exp(-x))
        } else {
            let e = libm::exp(x);
            e / (1.0 + e)
        };
        *g = ((s - t) / n) as f32;
    }
    total / n
}

/// Softmax cross-entropy with class labels (PyTorch's definition, mean
/// reduction) and its gradient, in f64. Labels must be `< classes`.
///
/// # Panics
///
/// If `classes` is 0 or a label of a row that `logits` and `grad` both hold
/// is `classes` or more.
pub fn softmax_cross_entropy(
    logits: &[f32],
    labels: &[u32],
    classes: usize,
    grad: &mut [f32],
) -> f64 {
    let b = labels.len() as f64;
    let mut total = 0.0;
    for ((row, g), &label) in logits
        .chunks_exact(classes)
        .zip(grad.chunks_exact_mut(classes))
        .zip(labels)
    {
        let m = row
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let sum: f64 = row.iter().map(|&v| libm::exp(f64::from(v) - m)).sum();
        total += m + libm::log(sum) - f64::from(row[label as usize]);
        for (k, (o, &v)) in g.iter_mut().zip(row).enumerate() {
            let p = libm::exp(f64::from(v) - m) / sum;
            let onehot = if k == label as usize { 1.0 } else { 0.0 };
            *o = ((p - onehot) / b) as f32;
        }
    }
    total / b
}
