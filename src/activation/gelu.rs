//! GELU, exact (erf) and tanh-approximated forms.

use super::vmath::{
    at_least, at_most, exp_neg_hi_lo_parts, normal_pdf, normal_upper_tail_times, sigmoid_pair,
    square_hi_lo, two_prod, two_sum,
};
use crate::backend::Vector;

/// Below this both GELUs are -0 in f32 (and -inf * 0 would be NaN).
const LOW: f32 = -20.0;
/// `2 sqrt(2/pi)` and `2 sqrt(2/pi) 0.044715`, each as a head and a tail:
/// the argument `v` of `e^-|v|` must be known to far better than f32 when
/// `|v|` is large, or its rounding is amplified by the exponential.
const A_HI: f32 = 1.595_769_2;
const A_LO: f32 = -4.534_068e-8;
const B_HI: f32 = 0.071354814;
const B_LO: f32 = 2.398_832_5e-9;

/// `Phi(x)`, the standard normal CDF, from its upper tail.
#[inline(always)]
fn normal_cdf<V: Vector>(x: V) -> V {
    let q = normal_upper_tail_times(x.abs(), V::splat(1.0));
    x.simd_lt(V::splat(0.0)).select(q, V::splat(1.0) - q)
}

/// `Phi(x) = 1/2 + x P(x^2)` for `|x| <= 1`, `P` a degree-5 fit (error
/// 3e-10): near 0 this beats the tail form, whose several factors each
/// round.
#[inline(always)]
fn normal_cdf_near_zero<V: Vector>(x: V) -> V {
    let s = x * x;
    let p = V::splat(-7.660_538e-6)
        .mul_add(s, V::splat(1.135_023e-4))
        .mul_add(s, V::splat(-1.186_344e-3))
        .mul_add(s, V::splat(9.973_328e-3))
        .mul_add(s, V::splat(-0.06649036))
        .mul_add(s, V::splat(0.398_942_3));
    x.mul_add(p, V::splat(0.5))
}

/// `x Phi(x)`: from the series for `-0.6 < x < 1`, else `x Phi(-|x|)` for
/// negative `x` and `x - x Phi(-x)` for positive.
#[inline(always)]
pub(super) fn gelu<V: Vector>(x: V) -> V {
    let x = at_least(x, LOW);
    let zero = V::splat(0.0);
    // x Phi(-|x|) is 0 in f32 beyond 20; the clamp keeps inf * 0 out.
    let xq = normal_upper_tail_times(x.abs(), at_most(x, -LOW));
    let tail = x.simd_lt(zero).select(xq, x - xq);
    let near = x.simd_gt(V::splat(-0.6)) & x.simd_lt(V::splat(1.0));
    near.select(x * normal_cdf_near_zero(x), tail)
}

/// `g * (Phi(x) + x phi(x))`: reads `x` only.
#[inline(always)]
pub(super) fn gelu_grad<V: Vector>(x: V, g: V) -> V {
    let x = at_most(at_least(x, LOW), -LOW);
    g * x.mul_add(normal_pdf(x), normal_cdf(x))
}

/// `|v| = |x| (A + B x^2)` as an unevaluated sum `hi + lo`, good to about
/// 2^-40 relative.
#[inline(always)]
fn tanh_arg_hi_lo<V: Vector>(x: V) -> (V, V) {
    let a = x.abs();
    let (sh, sl) = square_hi_lo(a);
    let (ph, pl) = two_prod(V::splat(B_HI), sh);
    let pl = pl + V::splat(B_HI).mul_add(sl, V::splat(B_LO) * sh);
    let (wh, wl) = two_sum(V::splat(A_HI), ph);
    let wl = wl + (V::splat(A_LO) + pl);
    let (vh, vl) = two_prod(a, wh);
    (vh, a.mul_add(wl, vl))
}

/// `x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, computed as
/// `x sigmoid(2u)` = `x / (1 + e^-v)` or `x e^v / (1 + e^v)`, with `v = 2u`
/// carried in double-f32 into the exponential.
#[inline(always)]
pub(super) fn gelu_tanh<V: Vector>(x: V) -> V {
    let x = at_least(x, LOW);
    // Large x would overflow the error-free products; the result is x there.
    let (vh, vl) = tanh_arg_hi_lo(at_most(x, 1.0e6));
    let (h, s) = exp_neg_hi_lo_parts(-vh, -vl);
    let z = h * s;
    let num = x.simd_lt(V::splat(0.0)).select((x * h) * s, x);
    num / (V::splat(1.0) + z)
}

/// `g * (s + x s (1 - s) v')` with `s = sigmoid(v)`, `v' = A + 3 B x^2`:
/// reads `x` only.
#[inline(always)]
pub(super) fn gelu_tanh_grad<V: Vector>(x: V, g: V) -> V {
    let x = at_most(at_least(x, LOW), -LOW);
    let v = x * (x * x).mul_add(V::splat(B_HI), V::splat(A_HI));
    let (s, c) = sigmoid_pair(v);
    let dv = (x * x).mul_add(V::splat(3.0 * B_HI), V::splat(A_HI));
    g * (x * s * c).mul_add(dv, s)
}
