//! Scalar oracles for the activations: each function evaluated in f64 with
//! `libm`, in the form that has no cancellation, and rounded once.
//!
//! [`value`] and [`derivative`] are accurate to a few f64 ulp, far below one
//! f32 ulp, so the tests use them as the exact answer.
//!
//! ```
//! use microprop::{Activation, reference};
//! let x = [-2.0f32, -0.25, 0.0, 0.5, 3.0];
//! let mut y = [0.0f32; 5];
//! Activation::Tanh.forward(&x, &mut y)?;
//! for (&x, &y) in x.iter().zip(&y) {
//!     let exact = reference::activation::value(Activation::Tanh, f64::from(x));
//!     assert!((f64::from(y) - exact).abs() <= 4.0 * f64::from(f32::EPSILON) * exact.abs());
//! }
//! # Ok::<(), microprop::Error>(())
//! ```

use crate::Activation;
use core::f64::consts::{FRAC_1_SQRT_2, PI};

/// `1 / (1 + e^-x)` without overflow.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::exp(-x))
    } else {
        let e = libm::exp(x);
        e / (1.0 + e)
    }
}

/// `Phi(x)`, the standard normal CDF, from `erfc` (accurate in both tails).
fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// The standard normal density.
fn normal_pdf(x: f64) -> f64 {
    libm::exp(-0.5 * x * x) / libm::sqrt(2.0 * PI)
}

/// `2u = 2 sqrt(2/pi) (x + 0.044715 x^3)` of the tanh-form GELU.
fn gelu_tanh_arg(x: f64) -> f64 {
    2.0 * libm::sqrt(2.0 / PI) * (x + 0.044715 * x * x * x)
}

/// `f(x)` in f64, with the mathematical limits at the infinities.
pub fn value(act: Activation, x: f64) -> f64 {
    match act {
        Activation::Identity => x,
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => libm::tanh(x),
        Activation::Relu => {
            if x > 0.0 || x.is_nan() {
                x
            } else {
                0.0
            }
        }
        Activation::LeakyRelu(s) => {
            if x > 0.0 {
                x
            } else {
                f64::from(s) * x
            }
        }
        Activation::Elu(a) => {
            if x > 0.0 {
                x
            } else {
                f64::from(a) * libm::expm1(x)
            }
        }
        // x Phi(x) and x sigmoid(x) vanish at -inf (where the product would
        // be -inf * 0); below -40 the f64 value is -0 in f32 anyway.
        Activation::Gelu => {
            let x = if x < -40.0 { -40.0 } else { x };
            x * normal_cdf(x)
        }
        // 1 + tanh(u) = 2 sigmoid(2u): no cancellation in the negative tail.
        Activation::GeluTanh => {
            let x = if x < -40.0 { -40.0 } else { x };
            x * sigmoid(gelu_tanh_arg(x))
        }
        Activation::Silu => {
            let x = if x < -800.0 { -800.0 } else { x };
            x * sigmoid(x)
        }
        Activation::Softplus => x.max(0.0) + libm::log1p(libm::exp(-libm::fabs(x))),
    }
}

/// `f'(x)` in f64, with the limits at the infinities. NaN for a NaN `x`
/// (except for `Identity`, whose derivative is 1 everywhere);
/// at the kinks, the left-hand derivative (as PyTorch).
pub fn derivative(act: Activation, x: f64) -> f64 {
    if x.is_nan() && act != Activation::Identity {
        return x;
    }
    match act {
        Activation::Identity => 1.0,
        Activation::Sigmoid => sigmoid(x) * sigmoid(-x),
        Activation::Tanh => {
            let c = libm::cosh(x);
            1.0 / (c * c)
        }
        Activation::Relu => {
            if x > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::LeakyRelu(s) => {
            if x > 0.0 {
                1.0
            } else {
                f64::from(s)
            }
        }
        Activation::Elu(a) => {
            if x > 0.0 {
                1.0
            } else {
                f64::from(a) * libm::exp(x)
            }
        }
        Activation::Gelu => {
            let x = x.clamp(-40.0, 40.0);
            normal_cdf(x) + x * normal_pdf(x)
        }
        Activation::GeluTanh => {
            let x = x.clamp(-40.0, 40.0);
            let v = gelu_tanh_arg(x);
            let dv = 2.0 * libm::sqrt(2.0 / PI) * (1.0 + 3.0 * 0.044715 * x * x);
            sigmoid(v) + x * sigmoid(v) * sigmoid(-v) * dv
        }
        Activation::Silu => {
            let x = x.clamp(-800.0, 800.0);
            sigmoid(x) * (1.0 + x * sigmoid(-x))
        }
        Activation::Softplus => sigmoid(x),
    }
}

/// `y[i] = f(x[i])`, rounded once from f64.
pub fn forward(act: Activation, x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = value(act, f64::from(xi)) as f32;
    }
}

/// `grad_in[i] = grad_out[i] * f'(x[i])`, from `x` in f64.
pub fn backward(act: Activation, x: &[f32], grad_out: &[f32], grad_in: &mut [f32]) {
    for ((gi, &g), &xi) in grad_in.iter_mut().zip(grad_out).zip(x) {
        *gi = (f64::from(g) * derivative(act, f64::from(xi))) as f32;
    }
}

/// Row-wise softmax of `x` (rows of `cols` elements) in f64.
///
/// # Panics
///
/// If `cols` is 0.
pub fn softmax(x: &[f32], cols: usize, y: &mut [f32]) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let m = xr
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let sum: f64 = xr.iter().map(|&v| libm::exp(f64::from(v) - m)).sum();
        for (o, &v) in yr.iter_mut().zip(xr) {
            *o = (libm::exp(f64::from(v) - m) / sum) as f32;
        }
    }
}

/// Row-wise log-softmax of `x` (rows of `cols` elements) in f64.
///
/// # Panics
///
/// If `cols` is 0.
pub fn log_softmax(x: &[f32], cols: usize, y: &mut [f32]) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let m = xr
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let sum: f64 = xr.iter().map(|&v| libm::exp(f64::from(v) - m)).sum();
        let ls = libm::log(sum);
        for (o, &v) in yr.iter_mut().zip(xr) {
            *o = (f64::from(v) - m - ls) as f32;
        }
    }
}
