//! Row-wise softmax and log-softmax over a row-major matrix.
//!
//! Numerically stable: each row is shifted by its maximum, and the shift
//! `x - max` is carried as an exact (head, tail) pair, so a large gap to the
//! maximum does not amplify rounding through the exponential.

use super::vmath::{exp_neg_hi_lo, two_sum};
use crate::backend::{Vector, dispatch, inlined, load_partial, map, map_in_place, store_partial};
use crate::error::{Error, Result, check_len};

/// Checks the shared arguments of both functions.
fn check(x: &[f32], y: &[f32], cols: usize) -> Result<()> {
    check_len("y", y.len(), x.len())?;
    if x.is_empty() {
        return Ok(());
    }
    if cols == 0 || !x.len().is_multiple_of(cols) {
        return Err(Error::InvalidParameter {
            arg: "cols",
            value: cols as f64,
            expected: "a non-zero divisor of x.len()",
        });
    }
    Ok(())
}

/// The largest non-NaN element (NaN elements make the whole row NaN later,
/// through the exponential).
#[inline(always)]
pub(crate) fn row_max<V: Vector>(row: &[f32]) -> f32 {
    let mut body = row.chunks_exact(V::LANES);
    let mut acc = V::splat(f32::NEG_INFINITY);
    for c in &mut body {
        let v = V::load(c);
        acc = v.simd_gt(acc).select(v, acc);
    }
    let mut m = f32::NEG_INFINITY;
    for &v in acc.to_array().as_ref().iter().chain(body.remainder()) {
        if v > m {
            m = v;
        }
    }
    m
}

/// `x - m` as an exact (head, tail) pair; the tail is 0 where the head is
/// not finite (two-sum would make it NaN for `x = -inf`).
#[inline(always)]
fn shift<V: Vector>(v: V, m: V) -> (V, V) {
    let (hi, lo) = two_sum(v, -m);
    (hi, hi.is_finite().select(lo, V::splat(0.0)))
}

/// `e^(x - m)` for one vector.
#[inline(always)]
fn shifted_exp<V: Vector>(v: V, m: V) -> V {
    let (hi, lo) = shift(v, m);
    exp_neg_hi_lo(hi, lo)
}

/// Writes `e^(x - m)` into `out` (when given) and returns the sum.
#[inline(always)]
pub(crate) fn exp_sum<V: Vector>(row: &[f32], m: f32, mut out: Option<&mut [f32]>) -> f32 {
    let mv = V::splat(m);
    let mut body = row.chunks_exact(V::LANES);
    let mut acc = V::splat(0.0);
    for (i, c) in (&mut body).enumerate() {
        let e = shifted_exp(V::load(c), mv);
        acc += e;
        if let Some(o) = out.as_deref_mut() {
            e.store(&mut o[i * V::LANES..]);
        }
    }
    let mut sum = acc.reduce_add();
    let tail = body.remainder();
    if !tail.is_empty() {
        let e = shifted_exp(load_partial(tail, m), mv);
        sum += e.to_array().as_ref()[..tail.len()].iter().sum::<f32>();
        if let Some(o) = out {
            store_partial(e, &mut o[row.len() - tail.len()..]);
        }
    }
    sum
}

/// `y = softmax(x)` row by row: `y[r][c] = e^x[r][c] / sum_k e^x[r][k]`,
/// for `x` holding `x.len() / cols` rows of `cols` elements.
///
/// A row holding NaN or `+inf` comes out all NaN; a row of `-inf` only is
/// NaN too (0/0), as in PyTorch.
///
/// # Errors
/// [`Error::LengthMismatch`] unless `y.len() == x.len()`;
/// [`Error::InvalidParameter`] if `cols` is 0 or does not divide `x.len()`
/// (an empty `x` is fine with any `cols`).
///
/// # Precision
/// Each element within 4 ulp of the f64 softmax of the same row, for
/// normal results (rows up to a few thousand columns).
pub fn softmax(x: &[f32], cols: usize, y: &mut [f32]) -> Result<()> {
    check(x, y, cols)?;
    if x.is_empty() {
        return Ok(());
    }
    dispatch!(V => {
        for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
            let sum = exp_sum::<V>(xr, row_max::<V>(xr), Some(&mut *yr));
            let s = V::splat(sum);
            map_in_place(yr, 0.0, inlined!(|v: V| v / s));
        }
    });
    Ok(())
}

/// `y = log_softmax(x)` row by row: `y[r][c] = x[r][c] - max_r -
/// ln(sum_k e^(x[r][k] - max_r))`, without forming the softmax.
///
/// # Errors
/// As [`softmax`].
///
/// # Precision
/// Each element within 2 ulp plus 2e-7 absolute of the f64 value.
pub fn log_softmax(x: &[f32], cols: usize, y: &mut [f32]) -> Result<()> {
    check(x, y, cols)?;
    if x.is_empty() {
        return Ok(());
    }
    dispatch!(V => {
        for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
            let m = row_max::<V>(xr);
            let ls = V::splat(libm::logf(exp_sum::<V>(xr, m, None)));
            let mv = V::splat(m);
            map(xr, yr, m, inlined!(|v: V| {
                let (hi, lo) = shift(v, mv);
                (hi - ls) + lo
            }));
        }
    });
    Ok(())
}
