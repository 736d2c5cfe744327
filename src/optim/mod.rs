//! Optimizers: one fused pass over parameters, gradients and state.
//!
//! Every optimizer is a small configuration struct whose fields are named
//! after `torch.optim`'s keyword arguments and whose [`Default`] is
//! `torch.optim`'s default. It implements [`Optimizer`]: the caller owns the
//! state buffer, sized by [`Optimizer::state_len`], and calls
//! [`Optimizer::step`] once per tensor and step.
//!
//! ```
//! use microprop::{Adam, Optimizer};
//! let opt = Adam { lr: 1e-2, ..Adam::default() };
//! let mut params = [0.5f32, -1.0, 2.0];
//! let grads = [0.1f32, -0.2, 0.3];
//! let mut state = [0.0f32; 6];
//! assert_eq!(opt.state_len(params.len()), state.len());
//! for t in 1..=10 {
//!     opt.step(t, &mut params, &grads, &mut state)?;
//! }
//! assert!(params[0] < 0.5 && params[1] > -1.0);
//! # Ok::<(), microprop::Error>(())
//! ```
//!
//! # State
//!
//! The state of a tensor of `n` elements is `state_len(n)` floats: one or
//! more planes of `n` floats, in the order each optimizer documents (for
//! example Adam's `[exp_avg, exp_avg_sq]`, each `n` long), plus for NAdam
//! one trailing scalar. A zeroed buffer is a fresh optimizer, and the buffer
//! holds everything the optimizer remembers, so saving it together with the
//! step count `t` is a complete checkpoint. The layout does not depend on the
//! SIMD width or the target.
//!
//! `t` counts steps from 1, as `torch.optim`'s `state["step"]` does after its
//! increment; `t = 0` is an error. Steps of one tensor must be made with
//! consecutive `t` on the same buffer.
//!
//! # Precision
//!
//! The arithmetic is that of `torch.optim`'s default (for-loop) CPU path, in
//! the same order: per-step scalars (bias corrections, `lr / bc1`, Adagrad's
//! decayed lr, NAdam's and RAdam's coefficients) are computed in f64 and
//! rounded once to f32; every per-element operation is a separately rounded
//! f32 operation in torch's order. Where PyTorch's CPU kernels use a fused
//! multiply-add (`lerp`, `addcmul`, `add` with `alpha`) so does this module,
//! with a correctly rounded software FMA on targets without the instruction,
//! so results are bit-identical on every target and SIMD width, and equal to
//! the scalar versions in `microprop::reference::optim`. The tests check
//! 100-step trajectories against PyTorch's float32 run (8 ULP or 1e-6
//! relative) on committed golden data.
//!
//! # Validation
//!
//! Each `step` checks the hyperparameters where `torch.optim` raises (and
//! rejects NaN and infinite ones too), then the lengths, before touching any
//! data: an error leaves parameters and state unchanged. The fields are f64,
//! but the per-element arithmetic is f32, so every hyperparameter must be
//! finite in f32, and so must the per-step scalars made from them (Adam's
//! `lr / (1 - beta1^t)`, AdamW's `1 - lr * weight_decay`): `Sgd { lr: 1e300,
//! .. }` is an error naming `lr`, not a step to infinity.

mod adagrad;
mod adam;
mod lion;
mod sgd;

pub use adagrad::{Adadelta, Adagrad, RmsProp};
pub use adam::{Adam, AdamW, Adamax, NAdam, RAdam};
pub use lion::Lion;
pub use sgd::Sgd;

use crate::backend::fpu;
use crate::backend::{Vector, lane0, load_partial, store_partial};
use crate::error::{Error, Result, check_len};

/// An optimizer that updates one tensor in place.
///
/// The trait is object safe, so a model can hold a `&dyn Optimizer`.
pub trait Optimizer {
    /// The number of `f32` state values needed for a tensor of `n` elements
    /// (saturating at `usize::MAX`, which no buffer can match).
    fn state_len(&self, n: usize) -> usize;

    /// Checks the hyperparameters as [`step`](Self::step) does first: each
    /// in its range (every number finite in f32, for the per-element
    /// arithmetic is f32), and the per-step scalars made from them finite in
    /// f32 at every `t`. Once this passes, `step` fails only for `t == 0` or
    /// wrong lengths, which lets a caller that steps several tensors check
    /// every optimizer before changing any tensor (as
    /// [`Mlp::step`](crate::nn::Mlp::step) does).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming the field at fault.
    fn validate(&self) -> Result<()>;

    /// Applies step `t` (counting from 1) to `params`, given `grads` of the
    /// same length and the `state` buffer of exactly `state_len(params.len())`
    /// values (zeroed before step 1).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a bad hyperparameter (naming the field,
    /// see [`validate`](Self::validate)) or `t == 0`; [`Error::LengthMismatch`] if `grads` or `state` have the
    /// wrong length. Nothing is modified when an error is returned.
    ///
    /// The optimizers of this module implement it `#[inline(always)]`: with
    /// a configuration known at compile time, its checks and branches fold
    /// away (on a Cortex-M4F, SGD on the 17 parameters of a 2-4-1 network
    /// went from about 480 instructions to 120-160).
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()>;
}

// The hyperparameter tests below work on the two 32-bit halves of the f64's
// bits: on targets without a double-precision FPU (the Cortex-M4F) every f64
// comparison is a library call, and the checks run on every step (on whole
// 64-bit patterns LLVM would recognise the comparison and call it anyway).
// Non-negative f64 (and +0) are ordered as their bit patterns are, and the
// patterns of NaN and of negative numbers lie above every bound used here;
// -0 counts as 0, as in the comparisons they replace.

const HIGH_SIGN: u32 = 0x8000_0000;

/// The high and low 32 bits of `x`.
#[inline(always)]
const fn halves(x: f64) -> (u32, u32) {
    let bits = x.to_bits();
    ((bits >> 32) as u32, bits as u32)
}

/// `x == 0.0` (either sign).
#[inline]
pub(crate) fn is_zero(x: f64) -> bool {
    let (hi, lo) = halves(x);
    (hi << 1) | lo == 0
}

/// `0 <= x < limit`, or `0 <= x <= limit` when `closed`, for a positive
/// finite `limit`.
#[inline(always)]
fn in_range(x: f64, limit: f64, closed: bool) -> bool {
    let ((hi, lo), (limit_hi, limit_lo)) = (halves(x), halves(limit));
    hi < limit_hi
        || (hi == limit_hi && (lo < limit_lo || (closed && lo == limit_lo)))
        || (hi == HIGH_SIGN && lo == 0)
}

/// The largest f32, the bound of every hyperparameter: each is rounded to
/// f32 for the per-element arithmetic, where a larger one would be infinite.
const F32_MAX: f64 = f32::MAX as f64;

/// `Err(InvalidParameter)` unless `0 <= value <= f32::MAX`.
pub(crate) fn non_negative(arg: &'static str, value: f64) -> Result<()> {
    if in_range(value, F32_MAX, true) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value,
            expected: "in [0, f32::MAX]",
        })
    }
}

/// `Err(InvalidParameter)` unless `-f32::MAX <= value <= f32::MAX`.
pub(crate) fn finite_f32(arg: &'static str, value: f64) -> Result<()> {
    if in_range(value.abs(), F32_MAX, true) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value,
            expected: "in [-f32::MAX, f32::MAX]",
        })
    }
}

/// `Err(InvalidParameter)` naming `arg` and its `value` unless `derived`,
/// a non-negative product or quotient of checked hyperparameters that bounds
/// a per-step scalar for every `t`, is at most `f32::MAX`: `expected` says
/// which.
pub(crate) fn derived_f32(
    arg: &'static str,
    value: f64,
    derived: f64,
    expected: &'static str,
) -> Result<()> {
    if in_range(derived, F32_MAX, true) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value,
            expected,
        })
    }
}

/// `Err(InvalidParameter)` unless `0 <= value < 1`.
pub(crate) fn unit_open(arg: &'static str, value: f64) -> Result<()> {
    if in_range(value, 1.0, false) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value,
            expected: "in [0, 1)",
        })
    }
}

/// `Err(InvalidParameter)` unless `0 <= value <= 1`.
pub(crate) fn unit_closed(arg: &'static str, value: f64) -> Result<()> {
    if in_range(value, 1.0, true) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            arg,
            value,
            expected: "in [0, 1]",
        })
    }
}

/// Checks the step count and the lengths of one step: `t >= 1`, `grads` as
/// long as `params`, and `state` exactly `planes * n + extra` long.
pub(crate) fn check_step(
    t: u64,
    params: &[f32],
    grads: &[f32],
    state: &[f32],
    planes: usize,
    extra: usize,
) -> Result<()> {
    if t == 0 {
        return Err(Error::InvalidParameter {
            arg: "t",
            value: 0.0,
            expected: ">= 1 (steps count from 1)",
        });
    }
    let n = params.len();
    check_len("grads", grads.len(), n)?;
    let needed = n
        .checked_mul(planes)
        .and_then(|x| x.checked_add(extra))
        .ok_or(Error::SizeOverflow { arg: "state" })?;
    check_len("state", state.len(), needed)
}

/// `planes * n + extra`, saturating.
pub(crate) fn planes_len(n: usize, planes: usize, extra: usize) -> usize {
    n.saturating_mul(planes).saturating_add(extra)
}

/// Rounds a per-step f64 scalar once to f32 and broadcasts it.
#[inline(always)]
pub(crate) fn splat<V: Vector>(x: f64) -> V {
    V::splat(x as f32)
}

/// `a * b + c` with one rounding on every target: the FMA instruction where
/// the target has one (a vector FMA, or the Cortex-M FPU's `vfma.f32` per
/// lane), else a correctly rounded software FMA per lane.
#[inline(always)]
pub(crate) fn fma<V: Vector>(a: V, b: V, c: V) -> V {
    if V::FMA {
        a.mul_add(b, c)
    } else {
        let (mut a, b, c) = (a.to_array(), b.to_array(), c.to_array());
        for ((a, &b), &c) in a.as_mut().iter_mut().zip(b.as_ref()).zip(c.as_ref()) {
            *a = fpu::fmaf(*a, b, c);
        }
        V::new(a)
    }
}

/// The square root of each lane, correctly rounded: `F32s::sqrt`, or the
/// Cortex-M FPU's `vsqrt.f32` where `wide` would call a software routine.
#[inline(always)]
pub(crate) fn sqrt<V: Vector>(x: V) -> V {
    if fpu::HARDWARE {
        let mut a = x.to_array();
        for x in a.as_mut() {
            *x = fpu::sqrtf(*x);
        }
        V::new(a)
    } else {
        x.sqrt()
    }
}

/// The gradient as the update sees it: negated when maximizing, plus the L2
/// penalty `fma(p, weight_decay, g)` when weight decay is coupled. The
/// decoupled decay `p *= 1 - lr * weight_decay` (AdamW's) is applied here
/// too, first, as torch does.
#[derive(Clone, Copy)]
pub(crate) struct Decay<V> {
    sign: V,
    l2: Option<V>,
    decoupled: Option<V>,
}

impl<V: Vector> Decay<V> {
    /// Decay coupled (L2) or `decoupled`; none when `weight_decay` is 0.
    #[inline(always)]
    pub(crate) fn new(maximize: bool, lr: f64, weight_decay: f64, decoupled: bool) -> Self {
        let on = !is_zero(weight_decay);
        Self {
            sign: V::splat(if maximize { -1.0 } else { 1.0 }),
            l2: (on && !decoupled).then(|| splat(weight_decay)),
            decoupled: (on && decoupled).then(|| splat(1.0 - lr * weight_decay)),
        }
    }

    /// The L2 penalty only, for the optimizers without decoupled decay.
    #[inline(always)]
    pub(crate) fn l2(maximize: bool, weight_decay: f64) -> Self {
        Self::new(maximize, 0.0, weight_decay, false)
    }

    /// The gradient `g` of parameter `p` as the update sees it, after
    /// decaying `p` when the decay is decoupled.
    #[inline(always)]
    pub(crate) fn apply(self, p: &mut V, g: V) -> V {
        let g = g * self.sign;
        if let Some(f) = self.decoupled {
            *p *= f;
        }
        match self.l2 {
            Some(wd) => fma(*p, wd, g),
            None => g,
        }
    }
}

/// PyTorch's `lerp(a, b, w)` with its rounding: `fma(w, b - a, a)` when
/// `|w| < 0.5`, else `fma(w - 1, b - a, b)` (with `w - 1` rounded in f32).
#[derive(Clone, Copy)]
pub(crate) struct Lerp<V> {
    w: V,
    w_minus_one: V,
    small: bool,
}

impl<V: Vector> Lerp<V> {
    /// The weight is rounded once from f64, as torch does.
    #[inline(always)]
    pub(crate) fn new(weight: f64) -> Self {
        let w = weight as f32;
        Self {
            w: V::splat(w),
            w_minus_one: V::splat(w - 1.0),
            small: w.abs() < 0.5,
        }
    }

    #[inline(always)]
    pub(crate) fn apply(self, a: V, b: V) -> V {
        if self.small {
            fma(self.w, b - a, a)
        } else {
            fma(self.w_minus_one, b - a, b)
        }
    }
}

/// Lane-wise maximum that returns NaN if either input is NaN, as
/// `torch.maximum` does.
#[inline(always)]
pub(crate) fn max_nan<V: Vector>(a: V, b: V) -> V {
    // Take `b` when it is larger or NaN; otherwise `a` (NaN or not).
    let take_b = b.simd_gt(a) | b.simd_ne(b);
    take_b.select(b, a)
}

/// The one fused pass: for each group of `LANES` elements, loads the
/// parameters, the gradients and the `S` state planes, lets `kernel` update
/// the parameters and the state in registers, and stores them back. The tail
/// is padded with zeros into a full vector and only its valid lanes are
/// stored, so every element is read and written exactly once.
///
/// `state` must hold at least `S * params.len()` values and `grads` exactly
/// `params.len()`; the callers check this first.
#[inline(always)]
pub(crate) fn fused<V: Vector, const S: usize>(
    params: &mut [f32],
    grads: &[f32],
    state: &mut [f32],
    kernel: impl Fn(&mut V, V, &mut [V; S]),
) {
    let n = params.len();
    let mut rest = state;
    let mut planes: [&mut [f32]; S] = core::array::from_fn(|_| {
        let (plane, tail) = core::mem::take(&mut rest).split_at_mut(n);
        rest = tail;
        plane
    });
    let body = n - n % V::LANES;
    for i in (0..body).step_by(V::LANES) {
        let (pc, gc) = (&mut params[i..i + V::LANES], &grads[i..i + V::LANES]);
        let mut p = V::load(pc);
        let mut s: [V; S] = core::array::from_fn(|k| V::load(&planes[k][i..]));
        kernel(&mut p, V::load(gc), &mut s);
        p.store(pc);
        for (plane, v) in planes.iter_mut().zip(s) {
            v.store(&mut plane[i..]);
        }
    }
    let (pt, gt) = (&mut params[body..], &grads[body..n]);
    if V::EMULATED {
        for (i, (p, g)) in pt.iter_mut().zip(gt).enumerate() {
            let mut pv = V::splat(*p);
            let mut s: [V; S] = core::array::from_fn(|k| V::splat(planes[k][body + i]));
            kernel(&mut pv, V::splat(*g), &mut s);
            *p = lane0(pv);
            for (plane, v) in planes.iter_mut().zip(s) {
                plane[body + i] = lane0(v);
            }
        }
    } else if !pt.is_empty() {
        let mut p = load_partial(pt, 0.0);
        let mut s: [V; S] = core::array::from_fn(|k| load_partial(&planes[k][body..], 0.0));
        kernel(&mut p, load_partial(gt, 0.0), &mut s);
        store_partial(p, pt);
        for (plane, v) in planes.iter_mut().zip(s) {
            store_partial(v, &mut plane[body..]);
        }
    }
}
