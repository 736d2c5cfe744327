//! Vectorised transcendental building blocks for the activations and losses.
//!
//! Every function here is written once, generic over the lane vector, and
//! uses only operations that exist on every backend. All are
//! `#[inline(always)]`: they compile into the kernel that calls them, with
//! the instruction set that kernel was dispatched to. Products that must be
//! exact are formed by splitting operands into 12-bit halves
//! (Veltkamp/Dekker), not by fused multiply-add, so the error bounds hold on
//! targets without FMA too (SSE2, Cortex-M0 and wide's portable fallback).
//!
//! The exponentials take non-positive arguments: every caller can arrange
//! that by symmetry, and it means no overflow handling is needed. The one
//! exception, the split behind sigmoid and tanh, hands `e^-v` back as a
//! power of two and a factor near 1, which the caller never multiplies out.

use crate::backend::{Bits, Vector};
pub(crate) use crate::backend::{at_least, at_most};

/// 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an
/// integer, which then sits in the low mantissa bits.
const MAGIC: f32 = 12_582_912.0;
const MAGIC_BITS: u32 = 0x4B40_0000;
/// ln 2 split so that `n * LN2_HI` is exact for |n| < 256 (Cody-Waite).
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Below this every exponential is zero in f32 (e^-104.2 < 2^-149 / 2),
/// and n = -150 still.
const EXP_MIN_ARG: f32 = -104.2;
/// Beyond this expm1 is -1 in f32 (e^-20 is far below half an ulp of 1).
const EXPM1_MIN_ARG: f32 = -20.0;
const SIGN: u32 = 0x8000_0000;
/// Keeps the 12 high significand bits, so the product of two such halves
/// is exact in f32.
const SPLIT_MASK: u32 = 0xFFFF_F000;

/// `-|x|`, by setting the sign bit.
#[inline(always)]
pub(crate) fn neg_abs<V: Vector>(x: V) -> V {
    V::from_bits(x.to_bits() | V::Bits::splat(SIGN))
}

/// `(hi, lo)` with `hi + lo == x` exactly and `hi` holding the 12 leading
/// significand bits.
#[inline(always)]
pub(crate) fn split<V: Vector>(x: V) -> (V, V) {
    let hi = V::from_bits(x.to_bits() & V::Bits::splat(SPLIT_MASK));
    (hi, x - hi)
}

/// `(hi, lo)` with `hi + lo == x * x` to about 2^-36 relative; `hi` is
/// exact, `lo` carries the rest.
#[inline(always)]
pub(crate) fn square_hi_lo<V: Vector>(x: V) -> (V, V) {
    let (h, l) = split(x);
    let hi = h * h;
    let lo = (h + h) * l + l * l;
    (hi, lo)
}

/// Error-free product: `p + e == a * b` to about 2^-44 relative (Dekker,
/// with a masking split, so no FMA is needed). Needs `a * b` finite.
#[inline(always)]
pub(crate) fn two_prod<V: Vector>(a: V, b: V) -> (V, V) {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    (p, e)
}

/// Error-free sum: `s + e == a + b` exactly, for any finite `a`, `b`
/// (Knuth's two-sum).
#[inline(always)]
pub(crate) fn two_sum<V: Vector>(a: V, b: V) -> (V, V) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// `e^r - 1` for |r| <= 0.36: `r + r^2 q(r)` with a degree-5 minimax `q`
/// (error of the fit below 1.5e-9 on `q`).
#[inline(always)]
fn expm1_poly<V: Vector>(r: V) -> V {
    let q = V::splat(1.989_155_7e-4)
        .mul_add(r, V::splat(1.393_416e-3))
        .mul_add(r, V::splat(8.333_310_4e-3))
        .mul_add(r, V::splat(0.04166646))
        .mul_add(r, V::splat(0.166_666_67))
        .mul_add(r, V::splat(0.5));
    q.mul_add(r * r, r)
}

/// Range reduction `a = n ln 2 + r`, |r| <= ln2 / 2 (a bit more without
/// FMA). Returns `n` as a float, the bits that hold `n` in their low part,
/// and `r`. Needs |a| < 2^21.
#[inline(always)]
fn reduce<V: Vector>(a: V) -> (V, V::Bits, V) {
    let t = a.mul_add(V::splat(core::f32::consts::LOG2_E), V::splat(MAGIC));
    let n = t - V::splat(MAGIC);
    let r = n.mul_neg_add(V::splat(LN2_HI), a);
    let r = n.mul_neg_add(V::splat(LN2_LO), r);
    (n, t.to_bits(), r)
}

/// `e^r * 2^n` as a pair `(head, scale)` whose product is the result,
/// where `t_bits` holds `n` as [`reduce`] returns it and `n >= -150`. Both
/// factors are normal (at least 2^-75), so a caller can multiply a factor
/// into `head` before applying `scale`: the product is then rounded once
/// even when `e^a` alone would be subnormal.
#[inline(always)]
fn scale<V: Vector>(p: V, t_bits: V::Bits) -> (V, V) {
    // nb = n + 150 in [0, 150]; the two factors are 2^(h - 75) and
    // 2^(nb - h - 75).
    let nb = t_bits - V::Bits::splat(MAGIC_BITS - 150);
    let h = nb >> 1;
    let s1 = V::from_bits((h + V::Bits::splat(52)) << 23);
    let s2 = V::from_bits((nb - h + V::Bits::splat(52)) << 23);
    (p.mul_add(s1, s1), s2)
}

/// `e^a` for `a <= 0` (or NaN) as `(head, scale)` (see [`scale`]); the
/// head is 0 where `e^a` underflows, so a factor folded into it cannot
/// lift the result above 0.
#[inline(always)]
pub(crate) fn exp_neg_parts<V: Vector>(a: V) -> (V, V) {
    let under = a.simd_lt(V::splat(EXP_MIN_ARG));
    let (_, bits, r) = reduce(under.select(V::splat(EXP_MIN_ARG), a));
    let (h, s) = scale(expm1_poly(r), bits);
    (under.select(V::splat(0.0), h), s)
}

/// `e^a` for `a <= 0` (or NaN): within 1 ulp for normal results, correctly
/// scaled into the subnormal range, 0 at -inf.
#[inline(always)]
pub(crate) fn exp_neg<V: Vector>(a: V) -> V {
    let (_, bits, r) = reduce(at_least(a, EXP_MIN_ARG));
    let (h, s) = scale(expm1_poly(r), bits);
    h * s
}

/// `e^(hi + lo)` for `hi + lo <= 0` as `(head, scale)`, with `hi` an
/// exactly known head (for example `-x*x` formed exactly) and `|lo| <= 1`:
/// the rounding of `hi + lo` never enters, so the result keeps its few-ulp
/// accuracy when `hi` is large. The head is 0 where the result underflows.
#[inline(always)]
pub(crate) fn exp_neg_hi_lo_parts<V: Vector>(hi: V, lo: V) -> (V, V) {
    let under = (hi + lo).simd_lt(V::splat(EXP_MIN_ARG));
    let hi = under.select(V::splat(EXP_MIN_ARG), hi);
    let lo = under.select(V::splat(0.0), lo);
    let (n, bits, _) = reduce(hi + lo);
    // hi - n*LN2_HI is exact (n*LN2_HI is, and the two are close).
    let r = n.mul_neg_add(V::splat(LN2_HI), hi) + lo;
    let r = n.mul_neg_add(V::splat(LN2_LO), r);
    let (h, s) = scale(expm1_poly(r), bits);
    (under.select(V::splat(0.0), h), s)
}

/// `e^(hi + lo)`, see [`exp_neg_hi_lo_parts`].
#[inline(always)]
pub(crate) fn exp_neg_hi_lo<V: Vector>(hi: V, lo: V) -> V {
    let (h, s) = exp_neg_hi_lo_parts(hi, lo);
    h * s
}

/// `e^a - 1` for `a <= 0` (or NaN): within about 1 ulp, relative, so it is
/// exact to first order near 0; -1 at -inf.
#[inline(always)]
pub(crate) fn expm1_neg<V: Vector>(a: V) -> V {
    let a = at_least(a, EXPM1_MIN_ARG);
    let (_, bits, r) = reduce(a);
    // 2^n with n in [-29, 0]: one step is enough.
    let s = V::from_bits((bits - V::Bits::splat(MAGIC_BITS - 127)) << 23);
    // s*p is exact (s is a power of two) and s - 1 is exact for n >= -24.
    expm1_poly(r).mul_add(s, s - V::splat(1.0))
}

/// `ln(1 + z)` for `z` in `[0, 1]` (or NaN), within about 1 ulp relative.
#[inline(always)]
pub(crate) fn log1p_unit<V: Vector>(z: V) -> V {
    let one = V::splat(1.0);
    let w = one + z;
    // The rounding error of 1 + z, restored below to first order.
    let c = z - (w - one);
    let big = w.simd_gt(V::splat(core::f32::consts::SQRT_2));
    let k = big.select(one, V::splat(0.0));
    let m = big.select(V::splat(0.5), one);
    // f = w*m - 1 is exact (w*m in [0.7, 1.42]).
    let f = w.mul_add(m, -one);
    let rr = V::splat(0.069_716_12)
        .mul_add(f, V::splat(-0.114_797_34))
        .mul_add(f, V::splat(0.116_854_2))
        .mul_add(f, V::splat(-0.124_256_87))
        .mul_add(f, V::splat(0.142_490_58))
        .mul_add(f, V::splat(-0.166_678_02))
        .mul_add(f, V::splat(0.200_007_16))
        .mul_add(f, V::splat(-0.249_999_97))
        .mul_add(f, V::splat(0.333_333_3));
    let f2 = f * f;
    // ln(1 + f) = f - (f^2/2 - f^3 R(f)), plus the lost part of 1 + z:
    // c / w ~ c*m*(1 - f).
    let corr = (c * m).mul_neg_add(f, c * m);
    let tail = (f2 * f).mul_add(rr, corr);
    let lnf = f - f2.mul_add(V::splat(0.5), -tail);
    k.mul_add(V::splat(LN2_HI), k.mul_add(V::splat(LN2_LO), lnf))
}

/// The logistic function `1 / (1 + e^-x)` and its complement `1 - s`, both
/// with full relative accuracy (the complement is formed as `s(-x)`, not by
/// cancellation). NaN gives NaN; the infinities give 0 and 1.
#[inline(always)]
pub(crate) fn sigmoid_pair<V: Vector>(x: V) -> (V, V) {
    let z = exp_neg(neg_abs(x));
    let one = V::splat(1.0);
    let q = one / (one + z);
    let zq = z * q;
    let neg = x.simd_lt(V::splat(0.0));
    (neg.select(zq, q), neg.select(q, zq))
}

/// 1.5 * 2^23 + 127: adding it rounds a float of magnitude below 2^21 to an
/// integer `m` and leaves `m + 127`, the biased exponent of `2^m`, in the
/// low bits (the high bits shift out when the exponent is moved into place).
const MAGIC_BIASED: f32 = 12_583_039.0;

/// `(e^r - 1 - r) / r^2 ~ Q(r)` on |r| <= ln2 / 2, lowest degree first: a
/// degree-4 fit weighted by `r^2 e^-r`, so `1 + r + r^2 Q(r)` is within
/// 3.7e-9 of `e^r`, relative, with these f32 coefficients.
const EXP_Q: [f32; 5] = [
    0.499_999_94,
    0.166_665_21,
    0.041_668_39,
    0.008_368_745,
    0.001_381_454,
];

/// `e^-v = 2^-m (1 + p)`, returned as `(2^m, p)`, with `v = m ln 2 + r`,
/// |r| <= ln2 / 2. `m` must lie in `[-127, 127]`; `m = -127` gives
/// `2^m = 0`. The reduction is an exact Cody-Waite step and `Q` is evaluated
/// by Estrin's scheme, so the chain from `v` to `p` is short: this is the
/// core of the sigmoid and tanh kernels, where latency and the number of
/// multiplies, not memory, bound the speed.
#[inline(always)]
fn exp_neg_split<V: Vector>(v: V) -> (V, V) {
    let t = v.mul_add(V::splat(core::f32::consts::LOG2_E), V::splat(MAGIC_BIASED));
    let m = t - V::splat(MAGIC_BIASED);
    let r = m.mul_neg_add(V::splat(LN2_HI), v);
    let r = m.mul_neg_add(V::splat(LN2_LO), r);
    let scale = V::from_bits(t.to_bits() << 23);
    // e^-r - 1 = -r + r^2 Q(-r).
    let [q0, q1, q2, q3, q4] = [
        V::splat(EXP_Q[0]),
        V::splat(EXP_Q[1]),
        V::splat(EXP_Q[2]),
        V::splat(EXP_Q[3]),
        V::splat(EXP_Q[4]),
    ];
    let r2 = r * r;
    let lo = q1.mul_neg_add(r, q0);
    let mid = q3.mul_neg_add(r, q2);
    let q = q4.mul_add(r2, mid).mul_add(r2, lo);
    (scale, q.mul_sub(r2, r))
}

/// The logistic function `1 / (1 + e^-x)`, written as `2^m / (2^m + e^-r)`
/// with `x = m ln 2 + r`: no selects, and the denominator `(2^m + 1) + p`
/// rounds once (`2^m + 1` is exact for |m| <= 23). NaN gives NaN; below
/// -87.68 the result is 0 (`2^-127` is formed as 0), and above 20 it is 1.
#[inline(always)]
pub(crate) fn sigmoid<V: Vector>(x: V) -> V {
    // The clamps keep NaN; -88 still gives m = -127.
    let x = at_most(at_least(x, -88.0), 20.0);
    let (s, p) = exp_neg_split(x);
    s / (s + V::splat(1.0) + p)
}

/// `tanh(x)` as `(2^m - e^-r) / (2^m + e^-r)` with `2|x| = m ln 2 + r` and
/// the sign of `x`: for `m = 0` the numerator is `-p`, exact, so the
/// relative accuracy holds near zero too; numerator and denominator each
/// round once.
#[inline(always)]
pub(crate) fn tanh<V: Vector>(x: V) -> V {
    // tanh(9.1) rounds to 1 in f32; the clamp keeps NaN.
    let u = at_most(x.abs(), 9.1);
    let (s, p) = exp_neg_split(u + u);
    let one = V::splat(1.0);
    let num = (s - one) - p;
    let den = (s + one) + p;
    // num >= +0, so the sign bit of x can simply be set into it.
    let num = V::from_bits(num.to_bits() | (x.to_bits() & V::Bits::splat(SIGN)));
    num / den
}

/// `m * Phi(-u)`, where `Phi(-u) = P(N(0,1) > u)` is the upper tail of the
/// standard normal, for `u >= 0` (or NaN). Relative accuracy of a few ulp
/// wherever the product is normal, even where `Phi(-u)` alone is not:
/// `t e^(-u^2/2) G(t)` with `t = 1/(1 + u/3)` and `G` a degree-9 fit in `t`
/// (fit error 5e-9 relative), `u^2` formed exactly so its rounding is
/// never amplified, and `m` applied before the final power-of-two scale.
#[inline(always)]
pub(crate) fn normal_upper_tail_times<V: Vector>(u: V, m: V) -> V {
    // Phi(-20) underflows; the clamp keeps u^2 finite.
    let u = at_most(u, 20.0);
    let one = V::splat(1.0);
    let t = one / u.mul_add(V::splat(1.0 / 3.0), one);
    let w = t - V::splat(0.590_909_06);
    let g = V::splat(-5.316_982_5e-3)
        .mul_add(w, V::splat(-0.024507472))
        .mul_add(w, V::splat(0.023805398))
        .mul_add(w, V::splat(0.04277199))
        .mul_add(w, V::splat(-0.055802163))
        .mul_add(w, V::splat(-0.08576854))
        .mul_add(w, V::splat(0.100_024_33))
        .mul_add(w, V::splat(0.337_763_98))
        .mul_add(w, V::splat(0.398_249_24))
        .mul_add(w, V::splat(0.276_521_57));
    let (hi, lo) = square_hi_lo(u);
    let half = V::splat(-0.5);
    let (h, s) = exp_neg_hi_lo_parts(hi * half, lo * half);
    (m * t * g * h) * s
}

/// The standard normal density `e^(-x^2/2) / sqrt(2 pi)`, relative accuracy
/// of a few ulp for normal results.
#[inline(always)]
pub(crate) fn normal_pdf<V: Vector>(x: V) -> V {
    let (hi, lo) = square_hi_lo(at_least(neg_abs(x), -20.0));
    let half = V::splat(-0.5);
    exp_neg_hi_lo(hi * half, lo * half) * V::splat(0.398_942_3)
}
