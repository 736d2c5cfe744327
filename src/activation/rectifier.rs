//! The piecewise family: ReLU, leaky ReLU and ELU.
//!
//! Derivatives at 0 follow PyTorch (the left-hand one). A NaN input gives a
//! NaN derivative, so NaN reaches `grad_in` instead of being masked to 0.

use super::vmath::{at_most, expm1_neg};
use crate::backend::Vector;

/// `1` where `x > 0`, `left` where `x <= 0`, NaN where `x` is NaN.
#[inline(always)]
fn step<V: Vector>(x: V, left: V) -> V {
    let zero = V::splat(0.0);
    x.simd_gt(zero)
        .select(V::splat(1.0), x.simd_le(zero).select(left, x))
}

/// `max(x, 0)`, keeping NaN; `-0` gives `+0`.
#[inline(always)]
pub(super) fn relu<V: Vector>(x: V) -> V {
    let zero = V::splat(0.0);
    x.simd_le(zero).select(zero, x)
}

/// `g * [x > 0]`: reads `x` only.
#[inline(always)]
pub(super) fn relu_grad<V: Vector>(x: V, g: V) -> V {
    g * step(x, V::splat(0.0))
}

/// `x` where `x > 0`, `slope * x` elsewhere.
#[inline(always)]
pub(super) fn leaky_relu<V: Vector>(x: V, slope: V) -> V {
    x.simd_gt(V::splat(0.0)).select(x, x * slope)
}

/// `g` where `x > 0`, `g * slope` elsewhere: reads `x` only.
#[inline(always)]
pub(super) fn leaky_relu_grad<V: Vector>(x: V, slope: V, g: V) -> V {
    g * step(x, slope)
}

/// `x` where `x > 0`, `alpha (e^x - 1)` elsewhere.
#[inline(always)]
pub(super) fn elu<V: Vector>(x: V, alpha: V) -> V {
    let neg = alpha * expm1_neg(at_most(x, 0.0));
    x.simd_gt(V::splat(0.0)).select(x, neg)
}

/// `g` where `x > 0`, `g * (y + alpha)` (= `g alpha e^x`) elsewhere: reads
/// the sign of `x` and the value of `y`.
#[inline(always)]
pub(super) fn elu_grad<V: Vector>(x: V, y: V, alpha: V, g: V) -> V {
    g * step(x, y + alpha)
}
