//! Activation functions: forward, in place, and fused backward passes, plus
//! row-wise softmax and log-softmax.
//!
//! Every function is computed by one vector code path over lane-wide
//! chunks; the tail is padded, so each element sees identical arithmetic
//! wherever it sits. The transcendental parts (exp, expm1, log1p, the normal
//! tail) are vectorised in `vmath`, with accuracy contracts stated below and
//! proven against f64 oracles by the test suite (over every finite f32 with
//! `MICROPROP_EXHAUSTIVE=1`).
//!
//! # Precision
//!
//! Maximum error against an f64 oracle, over every finite f32 input whose
//! result is a normal f32 (tails included: sigmoid at -80, GELU at -12),
//! measured with `MICROPROP_EXHAUSTIVE=1`:
//!
//! | function | forward | backward (`grad_in / grad_out`) |
//! |---|---|---|
//! | Identity, Relu | exact | exact |
//! | LeakyRelu | 0.5 ulp (one rounding of `slope * x`) | exact |
//! | Sigmoid | 2.5 ulp | from `y`: 1e-7 absolute |
//! | Tanh | 2.5 ulp | from `y`: 3e-7 absolute |
//! | Elu | 2 ulp | from `y`: 1e-7 absolute (times `max(alpha, 1)`) |
//! | Gelu | 7 ulp | from `x`: 4 ulp + 1e-7 absolute |
//! | GeluTanh | 3.5 ulp | from `x`: 4 ulp + 1e-7 absolute |
//! | Silu | 3.5 ulp | from `x`: 4 ulp + 1e-7 absolute |
//! | Softplus | 2 ulp | from `x`: 2.5 ulp |
//!
//! "Exact" means correctly rounded (a leaky slope times `x` rounds once).
//!
//! Results in the subnormal range are rounded sensibly but carry no ulp
//! bound (sigmoid returns 0 below x = -87.68, where the result is under
//! 2^-126 / 1.4). NaN in gives NaN out; the infinities give the mathematical
//! limits.
//!
//! ```
//! use microprop::Activation;
//! let x = [-1.0f32, 0.0, 2.0];
//! let mut y = [0.0f32; 3];
//! Activation::Sigmoid.forward(&x, &mut y)?;
//! assert!((y[1] - 0.5).abs() < 1e-7);
//! // Back-propagate dL/dy = 1: dL/dx = y (1 - y), taken from y.
//! let mut dx = [0.0f32; 3];
//! Activation::Sigmoid.backward(&x, &y, &[1.0; 3], &mut dx)?;
//! assert!((dx[1] - 0.25).abs() < 1e-7);
//! # Ok::<(), microprop::Error>(())
//! ```

mod gelu;
mod logistic;
mod rectifier;
pub(crate) mod softmax;
mod tanh;
pub(crate) mod vmath;

pub use softmax::{log_softmax, softmax};

use crate::backend::{
    Vector, dispatch, inlined, lane0, load_partial, map, map_in_place, store_partial,
};
use crate::error::{Error, Result, check_len, check_non_negative};

/// An element-wise activation function, with its hyperparameter if any.
///
/// All variants share one interface: [`forward`](Self::forward),
/// [`forward_in_place`](Self::forward_in_place), [`backward`](Self::backward)
/// and [`backward_in_place`](Self::backward_in_place). The backward passes
/// take both the input `x` and the output `y` of the forward pass; each
/// variant's documentation says which of them it reads.
///
/// ```
/// use microprop::Activation;
/// let x = [-1.0f32, 0.0, 2.0];
/// let mut y = [0.0f32; 3];
/// Activation::Relu.forward(&x, &mut y)?;
/// assert_eq!(y, [0.0, 0.0, 2.0]);
/// let mut g = [1.0f32; 3];
/// Activation::Relu.backward_in_place(&x, &y, &mut g)?;
/// assert_eq!(g, [0.0, 0.0, 1.0]);
/// # Ok::<(), microprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `y = x`. Backward copies `grad_out`; reads neither `x` nor `y`.
    Identity,
    /// `y = 1 / (1 + e^-x)`, within 2.5 ulp. Backward `y (1 - y)`
    /// reads `y` only (about 1e-7 absolute).
    Sigmoid,
    /// `y = tanh(x)`, within 2.5 ulp (relative, so also near 0). Backward
    /// `(1 - y)(1 + y)` reads `y` only (about 3e-7 absolute).
    Tanh,
    /// `y = max(x, 0)`, exact. Backward `[x > 0]` reads `x` only; the
    /// derivative at 0 is 0 (as in PyTorch).
    Relu,
    /// `y = x` for `x > 0`, `slope * x` otherwise (PyTorch's
    /// `negative_slope`, commonly 0.01), exact. Backward reads `x` only.
    /// `slope` must be finite.
    LeakyRelu(f32),
    /// `y = x` for `x > 0`, `alpha (e^x - 1)` otherwise, within 2 ulp.
    /// Backward reads the sign of `x` and the value of `y` (`y + alpha`,
    /// about `alpha * 1e-7` absolute). `alpha` must be finite and `>= 0`.
    Elu(f32),
    /// `y = x Phi(x)` with the exact normal CDF (PyTorch's default
    /// `approximate='none'`), within 7 ulp, including the negative tail.
    /// Backward `Phi(x) + x phi(x)` reads `x` only.
    Gelu,
    /// `y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (PyTorch's
    /// `approximate='tanh'`), computed as `x sigmoid(2u)` so the negative
    /// tail has no cancellation; within 3.5 ulp. Backward reads `x` only.
    GeluTanh,
    /// `y = x sigmoid(x)` (SiLU, swish), within 3.5 ulp. Backward
    /// `s (1 + x (1 - s))` reads `x` only.
    Silu,
    /// `y = ln(1 + e^x)`, within 2 ulp (PyTorch's `beta = 1`; its
    /// `threshold = 20` shortcut agrees to the last bit). Backward
    /// `sigmoid(x)` reads `x` only.
    Softplus,
}

impl Activation {
    /// Checks the hyperparameter: `LeakyRelu`'s slope must be finite, and
    /// `Elu`'s alpha finite and non-negative. Every other method calls this
    /// first, so a bad value is an [`Error::InvalidParameter`], never a NaN.
    pub const fn validate(&self) -> Result<()> {
        match *self {
            Activation::LeakyRelu(slope) if !slope.is_finite() => Err(Error::InvalidParameter {
                arg: "LeakyRelu slope",
                value: slope as f64,
                expected: "finite",
            }),
            Activation::Elu(alpha) => check_non_negative("Elu alpha", alpha as f64),
            _ => Ok(()),
        }
    }

    /// `y[i] = f(x[i])`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] unless `y.len() == x.len()`;
    /// [`Error::InvalidParameter`] for a bad hyperparameter.
    ///
    /// # Precision
    /// See the variant's documentation and the table in the
    /// [module docs](crate::activation).
    pub fn forward(&self, x: &[f32], y: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_len("y", y.len(), x.len())?;
        self.forward_validated(x, y);
        Ok(())
    }

    /// [`forward`](Self::forward) of an activation whose hyperparameter was
    /// validated up front, into a `y` as long as `x`.
    pub(crate) fn forward_validated(&self, x: &[f32], y: &mut [f32]) {
        let act = *self;
        dispatch!(V => forward_kernel::<V>(act, x, y));
    }

    /// `x[i] = f(x[i])`, each element read and written once.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a bad hyperparameter.
    ///
    /// # Precision
    /// Identical results to [`forward`](Self::forward).
    pub fn forward_in_place(&self, x: &mut [f32]) -> Result<()> {
        self.validate()?;
        self.forward_in_place_validated(x);
        Ok(())
    }

    /// [`forward_in_place`](Self::forward_in_place) of an activation whose
    /// hyperparameter was validated up front: nothing is left to fail (an
    /// epilogue called once per block skips the check).
    pub(crate) fn forward_in_place_validated(&self, x: &mut [f32]) {
        let act = *self;
        dispatch!(V => forward_in_place_kernel::<V>(act, x));
    }

    /// `f(x)` for one value, with exactly the arithmetic of
    /// [`forward`](Self::forward) (for layers too small for a slice call to
    /// pay). The hyperparameter must have been validated.
    #[inline]
    pub(crate) fn forward_one(&self, x: f32) -> f32 {
        let act = *self;
        dispatch!(V => lane0(forward_vector(act, V::splat(x))))
    }

    /// `g * f'(x)` for one value, given the forward pass's input `x` and
    /// output `y`, with exactly the arithmetic of
    /// [`backward`](Self::backward). The hyperparameter must have been
    /// validated.
    #[inline]
    pub(crate) fn backward_one(&self, x: f32, y: f32, g: f32) -> f32 {
        let act = *self;
        dispatch!(V => lane0(backward_vector(act, V::splat(x), V::splat(y), V::splat(g))))
    }

    /// `grad_in[i] = grad_out[i] * f'(x[i])`, given the forward pass's input
    /// `x` and output `y`. Each variant reads only what its documentation
    /// says (the other slice's contents do not matter, but its length must
    /// still match).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] unless `y`, `grad_out` and `grad_in` all
    /// have `x.len()` elements; [`Error::InvalidParameter`] for a bad
    /// hyperparameter.
    ///
    /// # Precision
    /// Derivatives taken from `y` (`y (1 - y)`, `1 - y^2`, `y + alpha`) are
    /// accurate to about 1e-7 absolute; those taken from `x` to a few ulp
    /// plus 1e-7 absolute near their zeros. See the module docs.
    pub fn backward(
        &self,
        x: &[f32],
        y: &[f32],
        grad_out: &[f32],
        grad_in: &mut [f32],
    ) -> Result<()> {
        self.validate()?;
        check_len("y", y.len(), x.len())?;
        check_len("grad_out", grad_out.len(), x.len())?;
        check_len("grad_in", grad_in.len(), x.len())?;
        let act = *self;
        let mut out = Out::Separate(grad_out, grad_in);
        dispatch!(V => backward_kernel::<V>(act, x, y, &mut out));
        Ok(())
    }

    /// Like [`backward`](Self::backward), but `grad` holds `grad_out` on
    /// entry and `grad_in` on return.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] unless `y` and `grad` have `x.len()`
    /// elements; [`Error::InvalidParameter`] for a bad hyperparameter.
    ///
    /// # Precision
    /// Identical results to [`backward`](Self::backward).
    pub fn backward_in_place(&self, x: &[f32], y: &[f32], grad: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_len("y", y.len(), x.len())?;
        check_len("grad", grad.len(), x.len())?;
        self.backward_in_place_validated(x, y, grad);
        Ok(())
    }

    /// [`backward_in_place`](Self::backward_in_place) of an activation whose
    /// hyperparameter was validated up front, with `y` and `grad` as long
    /// as `x`.
    pub(crate) fn backward_in_place_validated(&self, x: &[f32], y: &[f32], grad: &mut [f32]) {
        let act = *self;
        let mut out = Out::InPlace(grad);
        dispatch!(V => backward_kernel::<V>(act, x, y, &mut out));
    }
}

/// `f(x)` lane-wise, matching on the variant for this one vector: the
/// arithmetic of [`forward_kernel`], for single values.
#[inline(always)]
fn forward_vector<V: Vector>(act: Activation, x: V) -> V {
    match act {
        Activation::Identity => x,
        Activation::Sigmoid => logistic::sigmoid(x),
        Activation::Tanh => tanh::tanh(x),
        Activation::Relu => rectifier::relu(x),
        Activation::LeakyRelu(s) => rectifier::leaky_relu(x, V::splat(s)),
        Activation::Elu(a) => rectifier::elu(x, V::splat(a)),
        Activation::Gelu => gelu::gelu(x),
        Activation::GeluTanh => gelu::gelu_tanh(x),
        Activation::Silu => logistic::silu(x),
        Activation::Softplus => logistic::softplus(x),
    }
}

/// `g * f'(x)` lane-wise, matching on the variant for this one vector: the
/// arithmetic of [`backward_kernel`], for single values.
#[inline(always)]
fn backward_vector<V: Vector>(act: Activation, x: V, y: V, g: V) -> V {
    match act {
        Activation::Identity => g,
        Activation::Sigmoid => logistic::sigmoid_grad(y, g),
        Activation::Tanh => tanh::tanh_grad(y, g),
        Activation::Relu => rectifier::relu_grad(x, g),
        Activation::LeakyRelu(s) => rectifier::leaky_relu_grad(x, V::splat(s), g),
        Activation::Elu(a) => rectifier::elu_grad(x, y, V::splat(a), g),
        Activation::Gelu => gelu::gelu_grad(x, g),
        Activation::GeluTanh => gelu::gelu_tanh_grad(x, g),
        Activation::Silu => logistic::silu_grad(x, g),
        Activation::Softplus => logistic::softplus_grad(x, g),
    }
}

/// `y = f(x)` for equal-length slices: matches once on the variant, then
/// runs a loop monomorphised for it.
#[inline(always)]
fn forward_kernel<V: Vector>(act: Activation, x: &[f32], y: &mut [f32]) {
    match act {
        Activation::Identity => y.copy_from_slice(x),
        Activation::Sigmoid => map(x, y, 0.0, inlined!(|v: V| logistic::sigmoid(v))),
        Activation::Tanh => map(x, y, 0.0, inlined!(|v: V| tanh::tanh(v))),
        Activation::Relu => map(x, y, 0.0, inlined!(|v: V| rectifier::relu(v))),
        Activation::LeakyRelu(s) => {
            let s = V::splat(s);
            map(x, y, 0.0, inlined!(|v: V| rectifier::leaky_relu(v, s)));
        }
        Activation::Elu(a) => {
            let a = V::splat(a);
            map(x, y, 0.0, inlined!(|v: V| rectifier::elu(v, a)));
        }
        Activation::Gelu => map(x, y, 0.0, inlined!(|v: V| gelu::gelu(v))),
        Activation::GeluTanh => map(x, y, 0.0, inlined!(|v: V| gelu::gelu_tanh(v))),
        Activation::Silu => map(x, y, 0.0, inlined!(|v: V| logistic::silu(v))),
        Activation::Softplus => map(x, y, 0.0, inlined!(|v: V| logistic::softplus(v))),
    }
}

/// `x = f(x)` in place, as [`forward_kernel`].
#[inline(always)]
fn forward_in_place_kernel<V: Vector>(act: Activation, x: &mut [f32]) {
    match act {
        Activation::Identity => {}
        Activation::Sigmoid => map_in_place(x, 0.0, inlined!(|v: V| logistic::sigmoid(v))),
        Activation::Tanh => map_in_place(x, 0.0, inlined!(|v: V| tanh::tanh(v))),
        Activation::Relu => map_in_place(x, 0.0, inlined!(|v: V| rectifier::relu(v))),
        Activation::LeakyRelu(s) => {
            let s = V::splat(s);
            map_in_place(x, 0.0, inlined!(|v: V| rectifier::leaky_relu(v, s)));
        }
        Activation::Elu(a) => {
            let a = V::splat(a);
            map_in_place(x, 0.0, inlined!(|v: V| rectifier::elu(v, a)));
        }
        Activation::Gelu => map_in_place(x, 0.0, inlined!(|v: V| gelu::gelu(v))),
        Activation::GeluTanh => map_in_place(x, 0.0, inlined!(|v: V| gelu::gelu_tanh(v))),
        Activation::Silu => map_in_place(x, 0.0, inlined!(|v: V| logistic::silu(v))),
        Activation::Softplus => map_in_place(x, 0.0, inlined!(|v: V| logistic::softplus(v))),
    }
}

/// `out = g * f'(x)`: matches once on the variant, then runs a loop
/// monomorphised for it.
#[inline(always)]
fn backward_kernel<V: Vector>(act: Activation, x: &[f32], y: &[f32], out: &mut Out<'_, '_>) {
    match act {
        Activation::Identity => {
            if let Out::Separate(g, gi) = out {
                gi.copy_from_slice(g);
            }
        }
        Activation::Sigmoid => zip3(
            x,
            y,
            out,
            inlined!(|_, y: V, g| logistic::sigmoid_grad(y, g)),
        ),
        Activation::Tanh => zip3(x, y, out, inlined!(|_, y: V, g| tanh::tanh_grad(y, g))),
        Activation::Relu => zip3(x, y, out, inlined!(|x: V, _, g| rectifier::relu_grad(x, g))),
        Activation::LeakyRelu(s) => {
            let s = V::splat(s);
            zip3(
                x,
                y,
                out,
                inlined!(|x: V, _, g| rectifier::leaky_relu_grad(x, s, g)),
            );
        }
        Activation::Elu(a) => {
            let a = V::splat(a);
            zip3(
                x,
                y,
                out,
                inlined!(|x: V, y, g| rectifier::elu_grad(x, y, a, g)),
            );
        }
        Activation::Gelu => zip3(x, y, out, inlined!(|x: V, _, g| gelu::gelu_grad(x, g))),
        Activation::GeluTanh => zip3(x, y, out, inlined!(|x: V, _, g| gelu::gelu_tanh_grad(x, g))),
        Activation::Silu => zip3(x, y, out, inlined!(|x: V, _, g| logistic::silu_grad(x, g))),
        Activation::Softplus => zip3(
            x,
            y,
            out,
            inlined!(|x: V, _, g| logistic::softplus_grad(x, g)),
        ),
    }
}

/// Where a backward pass reads `grad_out` and writes `grad_in`.
enum Out<'a, 'b> {
    Separate(&'a [f32], &'b mut [f32]),
    InPlace(&'b mut [f32]),
}

/// `out = f(x, y, g)` lane-wise over equal-length slices (checked by the
/// caller), the tail padded with zeros.
#[inline(always)]
fn zip3<V: Vector>(x: &[f32], y: &[f32], out: &mut Out<'_, '_>, f: impl Fn(V, V, V) -> V) {
    let mut xb = x.chunks_exact(V::LANES);
    let mut yb = y.chunks_exact(V::LANES);
    let s = V::splat;
    match out {
        Out::Separate(g, gi) => {
            let mut gb = g.chunks_exact(V::LANES);
            let mut ob = gi.chunks_exact_mut(V::LANES);
            for (((xc, yc), gc), oc) in (&mut xb).zip(&mut yb).zip(&mut gb).zip(&mut ob) {
                f(V::load(xc), V::load(yc), V::load(gc)).store(oc);
            }
            let (xt, yt, gt) = (xb.remainder(), yb.remainder(), gb.remainder());
            let ot = ob.into_remainder();
            if V::EMULATED {
                for (((x, y), g), o) in xt.iter().zip(yt).zip(gt).zip(ot) {
                    *o = lane0(f(s(*x), s(*y), s(*g)));
                }
            } else if !xt.is_empty() {
                let r = f(
                    load_partial(xt, 0.0),
                    load_partial(yt, 0.0),
                    load_partial(gt, 0.0),
                );
                store_partial(r, ot);
            }
        }
        Out::InPlace(g) => {
            let mut gb = g.chunks_exact_mut(V::LANES);
            for ((xc, yc), gc) in (&mut xb).zip(&mut yb).zip(&mut gb) {
                f(V::load(xc), V::load(yc), V::load(gc)).store(gc);
            }
            let (xt, yt) = (xb.remainder(), yb.remainder());
            let gt = gb.into_remainder();
            if V::EMULATED {
                for ((x, y), g) in xt.iter().zip(yt).zip(gt) {
                    *g = lane0(f(s(*x), s(*y), s(*g)));
                }
            } else if !xt.is_empty() {
                let r = f(
                    load_partial(xt, 0.0),
                    load_partial(yt, 0.0),
                    load_partial(gt, 0.0),
                );
                store_partial(r, gt);
            }
        }
    }
}
