//! Loss functions: the value and its gradient in one pass.
//!
//! Each loss follows PyTorch's definition with `reduction='mean'`: the value
//! is the mean over the batch (or over the elements, for the element-wise
//! losses), and the gradient written to `grad` is the gradient of that mean,
//! ready for back-propagation. Per-vector partial sums are folded into an
//! f64 total every few hundred elements, so the mean keeps f32 accuracy on
//! long inputs. An empty batch gives a NaN loss (the mean of nothing, as in
//! PyTorch) and writes nothing.
//!
//! ```
//! use microprop::loss;
//! // Two samples of three classes with labels 2 and 0, predicted uniformly.
//! let logits = [0.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
//! let mut grad = [0.0f32; 6];
//! let l = loss::softmax_cross_entropy(&logits, &[2, 0], 3, &mut grad)?;
//! assert!((l - 3f32.ln()).abs() < 1e-6);
//! // The gradient of the mean: (softmax - one_hot) / batch.
//! assert!((grad[2] - (1.0 / 3.0 - 1.0) / 2.0).abs() < 1e-6);
//! # Ok::<(), microprop::Error>(())
//! ```

use crate::activation::softmax::{exp_sum, row_max};
use crate::activation::vmath::{exp_neg, log1p_unit, neg_abs};
use crate::backend::{Vector, dispatch, inlined, lane0, load_partial, map_in_place, store_partial};
use crate::error::{Error, Result, check_len};

/// Vectors summed in f32 before the partial sum is folded into f64.
const FOLD: usize = 64;

/// A loss's sum of terms, from partial sums of up to [`FOLD`] vectors: one
/// partial sum stays in f32, more are added in f64. A small batch so needs no
/// f64 arithmetic, which a single-precision FPU does in software.
#[derive(Clone, Copy)]
enum Total {
    Empty,
    Single(f32),
    Folded(f64),
}

impl Total {
    fn add(self, partial: f32) -> Self {
        match self {
            Total::Empty => Total::Single(partial),
            Total::Single(s) => Total::Folded(f64::from(s) + f64::from(partial)),
            Total::Folded(s) => Total::Folded(s + f64::from(partial)),
        }
    }

    /// The mean of `n` terms, as [`mean_f32`] rounds it.
    fn mean(self, n: usize) -> f32 {
        match self {
            Total::Empty => mean_of_f32(0.0, n),
            Total::Single(s) => mean_of_f32(s, n),
            Total::Folded(s) => mean_f32(s, n),
        }
    }
}

/// Sums `f(a, b)` over the vectors of two equal-length slices while writing
/// `g(a, b)` to `out`; the padded lanes of the tail count for nothing.
#[inline(always)]
fn fused_sum<V: Vector>(
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    f: impl Fn(V, V) -> (V, V),
) -> Total {
    let body = a.len() - a.len() % V::LANES;
    let (ab, at) = a.split_at(body);
    let (bb, bt) = b.split_at(body);
    let (ob, ot) = out.split_at_mut(body);
    let fold = FOLD * V::LANES;
    let mut total = Total::Empty;
    for ((ac, bc), oc) in ab
        .chunks(fold)
        .zip(bb.chunks(fold))
        .zip(ob.chunks_mut(fold))
    {
        let mut acc = V::splat(0.0);
        for ((x, y), o) in ac
            .chunks_exact(V::LANES)
            .zip(bc.chunks_exact(V::LANES))
            .zip(oc.chunks_exact_mut(V::LANES))
        {
            let (v, g) = f(V::load(x), V::load(y));
            acc += v;
            g.store(o);
        }
        total = total.add(acc.reduce_add());
    }
    if !at.is_empty() {
        let tail = if V::EMULATED {
            // -0.0 is the identity of addition: the sum is that of the terms.
            let mut sum = -0.0;
            for ((x, y), o) in at.iter().zip(bt).zip(ot) {
                let (v, g) = f(V::splat(*x), V::splat(*y));
                sum += lane0(v);
                *o = lane0(g);
            }
            sum
        } else {
            let (v, g) = f(load_partial(at, 0.0), load_partial(bt, 0.0));
            store_partial(g, ot);
            v.to_array().as_ref()[..at.len()].iter().sum()
        };
        total = total.add(tail);
    }
    total
}

/// `x / n` rounded to f32, for an f64 numerator `x` that PyTorch's Python
/// float arithmetic would divide in f64. Where `x` is an f32 value (and so
/// `n <= 2^24` is too), the f32 division gives the same bits: f64 carries
/// more than twice f32's precision, so rounding the f64 quotient again to f32
/// is the same as rounding the exact quotient once. On a single-precision FPU
/// (the Cortex-M4F) that is one instruction instead of a software f64
/// division.
fn mean_f32(x: f64, n: usize) -> f32 {
    let narrow = x as f32;
    // Compared as bits: an f64 `==` is a library call without a double FPU.
    if f64::from(narrow).to_bits() == x.to_bits() {
        mean_of_f32(narrow, n)
    } else {
        (x / n as f64) as f32
    }
}

/// [`mean_f32`] of an f32 numerator.
fn mean_of_f32(x: f32, n: usize) -> f32 {
    if n <= 1 << 24 {
        x / n as f32
    } else {
        (f64::from(x) / n as f64) as f32
    }
}

/// The sum of a slice, in lanes.
#[inline(always)]
fn vector_sum<V: Vector>(x: &[f32]) -> f32 {
    let mut body = x.chunks_exact(V::LANES);
    let mut acc = V::splat(0.0);
    for c in &mut body {
        acc += V::load(c);
    }
    acc.reduce_add() + body.remainder().iter().sum::<f32>()
}

/// Mean squared error `mean((pred - target)^2)`, with `grad = 2 (pred -
/// target) / n`, PyTorch's `mse_loss` with `reduction='mean'`.
///
/// ```
/// let mut grad = [0.0f32; 2];
/// let loss = microprop::loss::mse(&[1.0, 3.0], &[0.0, 1.0], &mut grad)?;
/// assert_eq!(loss, 2.5);
/// assert_eq!(grad, [1.0, 2.0]);
/// # Ok::<(), microprop::Error>(())
/// ```
///
/// # Errors
/// [`Error::LengthMismatch`] unless `target` and `grad` have
/// `pred.len()` elements.
///
/// # Precision
/// The loss within 1e-6 relative of the f64 value; each gradient within
/// 2 ulp of `2 (pred - target) / n` computed in f64.
pub fn mse(pred: &[f32], target: &[f32], grad: &mut [f32]) -> Result<f32> {
    check_len("target", target.len(), pred.len())?;
    check_len("grad", grad.len(), pred.len())?;
    let n = pred.len();
    if n == 0 {
        return Ok(f32::NAN);
    }
    let scale = mean_f32(2.0, n);
    let total = dispatch!(V => {
        let scale = V::splat(scale);
        fused_sum(pred, target, grad, inlined!(|p: V, t: V| {
            let d = p - t;
            (d * d, d * scale)
        }))
    });
    Ok(total.mean(n))
}

/// Binary cross-entropy on logits, `mean(max(x, 0) - x t + ln(1 + e^-|x|))`,
/// with `grad = (sigmoid(x) - t) / n`: PyTorch's
/// `binary_cross_entropy_with_logits` with `reduction='mean'` (no `weight`,
/// no `pos_weight`). Targets are usually 0 or 1; soft targets in `[0, 1]`
/// work the same way.
///
/// The log-sum-exp form never overflows, and the gradient takes the
/// logistic function from the same `e^-|x|`.
///
/// # Errors
/// [`Error::LengthMismatch`] unless `target` and `grad` have
/// `logits.len()` elements.
///
/// # Precision
/// The loss within 1e-6 relative of the f64 value; each gradient within
/// 3 ulp plus 1e-7/n absolute.
pub fn bce_with_logits(logits: &[f32], target: &[f32], grad: &mut [f32]) -> Result<f32> {
    check_len("target", target.len(), logits.len())?;
    check_len("grad", grad.len(), logits.len())?;
    let n = logits.len();
    if n == 0 {
        return Ok(f32::NAN);
    }
    let inv_n = mean_f32(1.0, n);
    let total = dispatch!(V => {
        let inv_n = V::splat(inv_n);
        let zero = V::splat(0.0);
        let one = V::splat(1.0);
        fused_sum(logits, target, grad, inlined!(|x: V, t: V| {
            let z = exp_neg(neg_abs(x));
            // max(x, 0) - x t, without the cancellation when t is near 1.
            let lin = x.simd_gt(zero).select(x * (one - t), -(x * t));
            let loss = lin + log1p_unit(z);
            let q = one / (one + z);
            let s = x.simd_lt(zero).select(z * q, q);
            (loss, (s - t) * inv_n)
        }))
    });
    Ok(total.mean(n))
}

/// Softmax cross-entropy over a batch of `labels.len()` rows of `classes`
/// logits (row-major): `mean_b(logsumexp(logits[b]) - logits[b][labels[b]])`,
/// with `grad[b] = (softmax(logits[b]) - onehot(labels[b])) / batch`.
/// PyTorch's `cross_entropy` with class indices and `reduction='mean'`.
///
/// Each row is shifted by its maximum before exponentiating (log-sum-exp),
/// so large logits neither overflow nor lose the small probabilities.
///
/// ```
/// let logits = [0.0f32, 0.0, 0.0, 0.0];
/// let mut grad = [0.0f32; 4];
/// let loss = microprop::loss::softmax_cross_entropy(&logits, &[1], 4, &mut grad)?;
/// assert!((loss - 4f32.ln()).abs() < 1e-6);
/// assert_eq!(grad, [0.25, -0.75, 0.25, 0.25]);
/// # Ok::<(), microprop::Error>(())
/// ```
///
/// # Errors
/// [`Error::SizeOverflow`] if `labels.len() * classes` overflows;
/// [`Error::LengthMismatch`] unless `logits` and `grad` have
/// `labels.len() * classes` elements; [`Error::IndexOutOfRange`] for the
/// first label `>= classes`. Nothing is written on error.
///
/// # Precision
/// The loss within 1e-6 relative plus 1e-7 absolute of the f64 value; each
/// gradient within 4 ulp plus 1e-7/batch absolute.
pub fn softmax_cross_entropy(
    logits: &[f32],
    labels: &[u32],
    classes: usize,
    grad: &mut [f32],
) -> Result<f32> {
    let batch = labels.len();
    let len = batch
        .checked_mul(classes)
        .ok_or(Error::SizeOverflow { arg: "logits" })?;
    check_len("logits", logits.len(), len)?;
    check_len("grad", grad.len(), len)?;
    if let Some((position, &index)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| l as usize >= classes)
    {
        return Err(Error::IndexOutOfRange {
            arg: "labels",
            position,
            index: index as usize,
            bound: classes,
        });
    }
    if batch == 0 {
        return Ok(f32::NAN);
    }
    let inv_b = (1.0 / batch as f64) as f32;
    let total = dispatch!(V => {
        let mut total = 0.0f64;
        for ((row, g), &label) in logits
            .chunks_exact(classes)
            .zip(grad.chunks_exact_mut(classes))
            .zip(labels)
        {
            let label = label as usize;
            let m = row_max::<V>(row);
            let sum = exp_sum::<V>(row, m, Some(&mut *g));
            // The other classes' share, summed on its own: 1 - p_label and
            // the loss of a confident row would lose it to cancellation.
            let e_label = g[label];
            g[label] = 0.0;
            let others = vector_sum::<V>(g);
            // The logarithms in f32 (within 1 ulp, about 1e-7 relative, well
            // inside the bound below): without a double-precision FPU an f64
            // logarithm is a software routine of thousands of instructions.
            // The difference of logits stays in f64, where it is exact.
            total += if e_label > 0.5 {
                f64::from(libm::log1pf(others / e_label))
            } else {
                (f64::from(m) - f64::from(row[label])) + f64::from(libm::logf(sum))
            };
            let s = V::splat(sum);
            let w = V::splat(inv_b);
            map_in_place(g, 0.0, inlined!(|v: V| (v / s) * w));
            g[label] = -(others / sum) * inv_b;
        }
        total
    });
    Ok((total / batch as f64) as f32)
}

#[cfg(test)]
mod tests {
    use super::mean_f32;

    #[test]
    fn f32_mean_equals_the_f64_division() {
        let mut seed = 0x2545_F491_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let cases = if cfg!(miri) { 2_000 } else { 100_000 };
        for i in 0..cases {
            let x = f64::from(f32::from_bits(next() & 0x7FFF_FFFF));
            // Not an f32 now and then: the f64 path.
            let x = if i % 7 == 0 {
                x * (1.0 + f64::EPSILON)
            } else {
                x
            };
            let n = match i % 4 {
                0 => (next() % 16) as usize + 1,
                1 => (next() % (1 << 24)) as usize + 1,
                2 => (1 << 24) + (next() % 1024) as usize,
                _ => next() as usize + 1,
            };
            let want = (x / n as f64) as f32;
            let got = mean_f32(x, n);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{x:e} / {n}: {got:e} vs {want:e}"
            );
        }
    }
}
