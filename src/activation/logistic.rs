//! The logistic family: sigmoid, SiLU (swish) and softplus, all built on
//! `e^-|x|` so nothing overflows.

use super::vmath::{at_least, at_most, exp_neg, exp_neg_parts, log1p_unit, neg_abs, sigmoid_pair};
use crate::backend::Vector;

/// Below this SiLU is -0 in f32 (and -inf * 0 would be NaN).
const SILU_LOW: f32 = -200.0;

pub(super) use super::vmath::sigmoid;

/// `g * y (1 - y)`: reads `y` only.
#[inline(always)]
pub(super) fn sigmoid_grad<V: Vector>(y: V, g: V) -> V {
    g * (y * (V::splat(1.0) - y))
}

/// `x * sigmoid(x)`: `x / (1 + z)` or `x z / (1 + z)` with `z = e^-|x|`,
/// the factor `x` applied before `z`'s final scale so a normal result
/// stays accurate where `z` alone is subnormal (x < -87).
#[inline(always)]
pub(super) fn silu<V: Vector>(x: V) -> V {
    let x = at_least(x, SILU_LOW);
    let (h, s) = exp_neg_parts(neg_abs(x));
    let num = x.simd_lt(V::splat(0.0)).select((x * h) * s, x);
    num / (V::splat(1.0) + h * s)
}

/// `g * s (1 + x (1 - s))` with `s = sigmoid(x)`: reads `x` only.
#[inline(always)]
pub(super) fn silu_grad<V: Vector>(x: V, g: V) -> V {
    let x = at_most(at_least(x, SILU_LOW), -SILU_LOW);
    let (s, c) = sigmoid_pair(x);
    g * s.mul_add(x * c, s)
}

/// `ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|)`.
#[inline(always)]
pub(super) fn softplus<V: Vector>(x: V) -> V {
    let pos = x.simd_gt(V::splat(0.0)).select(x, V::splat(0.0));
    pos + log1p_unit(exp_neg(neg_abs(x)))
}

/// `g * sigmoid(x)`: reads `x` only.
#[inline(always)]
pub(super) fn softplus_grad<V: Vector>(x: V, g: V) -> V {
    g * sigmoid(x)
}
