//! Gradient clipping over several tensors, as `torch.nn.utils`.
//!
//! ```
//! use microprop::clip::clip_grad_norm;
//! let (mut w, mut b) = ([3.0f32, 0.0], [4.0f32]);
//! // The norm over both tensors is 5: both are scaled to a norm of 1.
//! let norm = clip_grad_norm(&mut [&mut w, &mut b], 1.0)?;
//! assert_eq!(norm, 5.0);
//! assert!((w[0] - 0.6).abs() < 1e-6 && (b[0] - 0.8).abs() < 1e-6);
//! # Ok::<(), microprop::Error>(())
//! ```

use crate::backend::{Vector, dispatch, inlined, map_in_place};
use crate::error::{Error, Result};

/// Scales the gradients so that their global L2 norm is at most `max_norm`,
/// as `torch.nn.utils.clip_grad_norm_`, and returns the norm before
/// clipping.
///
/// The norm is taken over all tensors together. When
/// `scale = max_norm / (norm + 1e-6)` is below 1, every gradient is
/// multiplied by it; otherwise nothing changes (torch multiplies by
/// `min(scale, 1)`, which is the same).
///
/// ```
/// use microprop::clip::clip_grad_norm;
/// let (mut a, mut b) = ([3.0f32, 4.0], [12.0f32]);
/// let norm = clip_grad_norm(&mut [&mut a[..], &mut b[..]], 6.5)?;
/// assert_eq!(norm, 13.0);
/// assert!((a[0] - 1.5).abs() < 1e-6 && (b[0] - 6.0).abs() < 1e-6);
/// # Ok::<(), microprop::Error>(())
/// ```
///
/// # Precision
///
/// Squares are summed in f64 (eight interleaved sums), so the norm is
/// accurate to about one f32 rounding whatever the number of elements and
/// does not overflow for any finite input; torch sums in f32 and can return
/// infinity where the true norm is finite. The scale is computed as torch
/// does, `(1 / (norm + 1e-6)) * max_norm` in f32, where the norm rounds to
/// a finite f32; above `f32::MAX` (where torch's scale would be 0) it is
/// `max_norm / (norm + 1e-6)` in f64, rounded once, so such gradients are
/// still clipped and only the returned norm, rounded to f32, is infinite.
///
/// # Errors
///
/// [`Error::InvalidParameter`] if `max_norm` is negative or NaN;
/// [`Error::NonFinite`] if a gradient is infinite or NaN (and only then),
/// in which case no gradient is modified (torch would silently fill them
/// with NaN).
pub fn clip_grad_norm(grads: &mut [&mut [f32]], max_norm: f32) -> Result<f32> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::InvalidParameter {
            arg: "max_norm",
            value: f64::from(max_norm),
            expected: ">= 0",
        });
    }
    dispatch!(V => {
        let mut sums = [0.0f64; 8];
        for g in grads.iter() {
            let mut body = g.chunks_exact(8);
            for chunk in &mut body {
                for (s, &x) in sums.iter_mut().zip(chunk) {
                    *s += f64::from(x) * f64::from(x);
                }
            }
            for (s, &x) in sums.iter_mut().zip(body.remainder()) {
                *s += f64::from(x) * f64::from(x);
            }
        }
        // Each square of a finite f32 is below 2^256, so the sum is finite
        // unless an input is not: this check is exact in f64, where one in
        // f32 would reject norms above f32::MAX.
        let norm = libm::sqrt(sums.iter().sum::<f64>());
        if !norm.is_finite() {
            return Err(Error::NonFinite {
                arg: "grads",
                value: norm,
            });
        }
        let rounded = norm as f32;
        let scale = if rounded.is_finite() {
            (1.0 / (rounded + 1e-6)) * max_norm
        } else {
            (f64::from(max_norm) / (norm + 1e-6)) as f32
        };
        if scale < 1.0 {
            let s = <V as Vector>::splat(scale);
            for g in grads.iter_mut() {
                map_in_place(g, 0.0, inlined!(|v: V| v * s));
            }
        }
        Ok(rounded)
    })
}

/// Clamps every gradient element to `[-clip_value, clip_value]`, as
/// `torch.nn.utils.clip_grad_value_`. NaN elements stay NaN.
///
/// # Errors
///
/// [`Error::InvalidParameter`] if `clip_value` is negative or NaN.
pub fn clip_grad_value(grads: &mut [&mut [f32]], clip_value: f32) -> Result<()> {
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(Error::InvalidParameter {
            arg: "clip_value",
            value: f64::from(clip_value),
            expected: ">= 0",
        });
    }
    dispatch!(V => {
        let (hi, lo) = (
            <V as Vector>::splat(clip_value),
            <V as Vector>::splat(-clip_value),
        );
        for g in grads.iter_mut() {
            map_in_place(g, 0.0, inlined!(|v: V| {
                let v = v.simd_gt(hi).select(hi, v);
                v.simd_lt(lo).select(lo, v)
            }));
        }
    });
    Ok(())
}
