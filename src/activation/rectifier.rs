//! The piecewise family: ReLU, leaky ReLU and ELU.
//!
//! Derivatives at 0 follow PyTorch (the left-hand one). A NaN input gives a
//! NaN derivative, so NaN reaches `grad_in` instead of being masked to 0.

use super::vmath::{at_most, expm1_neg};
use crate::backend::F32s;

/// `1` where `x > 0`, `left` where `x <= 0`, NaN where `x` is NaN.
#[inline(always)]
fn step(x: F32s, left: F32s) -> F32s {
    let zero = F32s::splat(0.0);
    x.simd_gt(zero)
        .select(F32s::splat(1.0), x.simd_le(zero).select(left, x))
}

/// `max(x, 0)`, keeping NaN; `-0` gives `+0`.
#[inline(always)]
pub(super) fn relu(x: F32s) -> F32s {
    let zero = F32s::splat(0.0);
    x.simd_le(zero).select(zero, x)
}

/// `g * [x > 0]`: reads `x` only.
#[inline(always)]
pub(super) fn relu_grad(x: F32s, g: F32s) -> F32s {
    g * step(x, F32s::splat(0.0))
}

/// `x` where `x > 0`, `slope * x` elsewhere.
#[inline(always)]
pub(super) fn leaky_relu(x: F32s, slope: F32s) -> F32s {
    x.simd_gt(F32s::splat(0.0)).select(x, x * slope)
}

/// `g` where `x > 0`, `g * slope` elsewhere: reads `x` only.
#[inline(always)]
pub(super) fn leaky_relu_grad(x: F32s, slope: F32s, g: F32s) -> F32s {
    g * step(x, slope)
}

/// `x` where `x > 0`, `alpha (e^x - 1)` elsewhere.
#[inline(always)]
pub(super) fn elu(x: F32s, alpha: F32s) -> F32s {
    let neg = alpha * expm1_neg(at_most(x, 0.0));
    x.simd_gt(F32s::splat(0.0)).select(x, neg)
}

/// `g` where `x > 0`, `g * (y + alpha)` (= `g alpha e^x`) elsewhere: reads
/// the sign of `x` and the value of `y`.
#[inline(always)]
pub(super) fn elu_grad(x: F32s, y: F32s, alpha: F32s, g: F32s) -> F32s {
    g * step(x, y + alpha)
}
