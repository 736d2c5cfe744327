//! Scalar versions of the optimizer steps, one plain loop per optimizer,
//! written from `torch.optim`'s for-loop code (and optax's Lion).
//!
//! Each function takes the same arguments as the matching
//! [`Optimizer::step`](crate::Optimizer::step) and uses the same state
//! layout, but assumes valid hyperparameters and lengths (check them with
//! `step` first; these functions may panic otherwise). They do the same
//! rounding steps as the fused kernels and must agree with them bit for bit.
//!
//! ```
//! use microprop::{Adam, Optimizer, reference};
//! let opt = Adam { lr: 0.01, ..Adam::default() };
//! let grads = [0.5f32, -1.0, 2.0];
//! let (mut p, mut p_ref) = ([1.0f32, 2.0, 3.0], [1.0f32, 2.0, 3.0]);
//! let mut state = vec![0.0; opt.state_len(3)];
//! let mut state_ref = state.clone();
//! for t in 1..=3 {
//!     opt.step(t, &mut p, &grads, &mut state)?;
//!     reference::optim::adam(&opt, t, &mut p_ref, &grads, &mut state_ref);
//! }
//! assert_eq!((p, state), (p_ref, state_ref));
//! # Ok::<(), microprop::Error>(())
//! ```

use crate::optim::{Adadelta, Adagrad, Adam, AdamW, Adamax, Lion, NAdam, RAdam, RmsProp, Sgd};
use libm::{fmaf, sqrtf};

fn signed(maximize: bool, g: f32) -> f32 {
    if maximize { -g } else { g }
}

/// `a + w * (b - a)` as torch's `lerp` rounds it.
fn lerp(a: f32, b: f32, weight: f64) -> f32 {
    let w = weight as f32;
    if w.abs() < 0.5 {
        fmaf(w, b - a, a)
    } else {
        fmaf(w - 1.0, b - a, b)
    }
}

/// Maximum that propagates NaN, as `torch.maximum`.
fn max_nan(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if b > a {
        b
    } else {
        a
    }
}

fn bias_correction(beta: f64, t: u64) -> f64 {
    1.0 - libm::pow(beta, t as f64)
}

/// [`Sgd`] step.
///
/// # Panics
///
/// If `grads` is shorter than `params`, or `state` shorter than
/// [`Optimizer::state_len`](crate::Optimizer::state_len) of `params.len()`.
pub fn sgd(cfg: &Sgd, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    for i in 0..params.len() {
        let mut g = signed(cfg.maximize, grads[i]);
        if cfg.weight_decay != 0.0 {
            g = fmaf(params[i], cfg.weight_decay as f32, g);
        }
        if cfg.momentum != 0.0 {
            let b = if t == 1 {
                g
            } else {
                fmaf(
                    g,
                    (1.0 - cfg.dampening) as f32,
                    state[i] * cfg.momentum as f32,
                )
            };
            state[i] = b;
            g = if cfg.nesterov {
                fmaf(b, cfg.momentum as f32, g)
            } else {
                b
            };
        }
        params[i] = fmaf(g, -cfg.lr as f32, params[i]);
    }
}

/// [`Adagrad`] step.
///
/// # Panics
///
/// If `grads` is shorter than `params`, `state` shorter than
/// [`Optimizer::state_len`](crate::Optimizer::state_len) of `params.len()`,
/// or, with overflow checks on, if `t` is 0.
pub fn adagrad(cfg: &Adagrad, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    let clr = cfg.lr / (1.0 + (t - 1) as f64 * cfg.lr_decay);
    for i in 0..params.len() {
        let mut g = signed(cfg.maximize, grads[i]);
        if cfg.weight_decay != 0.0 {
            g = fmaf(params[i], cfg.weight_decay as f32, g);
        }
        let prev = if t == 1 {
            cfg.initial_accumulator_value as f32
        } else {
            state[i]
        };
        let s = fmaf(g, g, prev);
        state[i] = s;
        params[i] += (-clr as f32) * g / (sqrtf(s) + cfg.eps as f32);
    }
}

/// [`Adadelta`] step.
///
/// # Panics
///
/// If `grads` is shorter than `params`, or `state` shorter than
/// [`Optimizer::state_len`](crate::Optimizer::state_len) of `params.len()`.
pub fn adadelta(cfg: &Adadelta, _t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    let n = params.len();
    let (v, u) = state.split_at_mut(n);
    let (rho, c, eps) = (cfg.rho as f32, (1.0 - cfg.rho) as f32, cfg.eps as f32);
    for i in 0..n {
        let mut g = signed(cfg.maximize, grads[i]);
        if cfg.weight_decay != 0.0 {
            g = fmaf(params[i], cfg.weight_decay as f32, g);
        }
        v[i] = fmaf(c * g, g, v[i] * rho);
        let d = sqrtf(u[i] + eps) / sqrtf(v[i] + eps) * g;
        u[i] = fmaf(c * d, d, u[i] * rho);
        params[i] = fmaf(d, -cfg.lr as f32, params[i]);
    }
}

/// The gradient after `maximize` and weight decay; decoupled decay scales
/// the parameter first.
fn decayed(p: &mut f32, g: f32, maximize: bool, lr: f64, wd: f64, decoupled: bool) -> f32 {
    let g = signed(maximize, g);
    if wd == 0.0 {
        g
    } else if decoupled {
        *p *= (1.0 - lr * wd) as f32;
        g
    } else {
        fmaf(*p, wd as f32, g)
    }
}

/// [`Adam`] step.
///
/// # Panics
///
/// If `grads` is shorter than `params`, or `state` shorter than
/// [`Optimizer::state_len`](crate::Optimizer::state_len) of `params.len()`.
pub fn adam(cfg: &Adam, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    let n = params.len();
    let (m, rest) = state.split_at_mut(n);
    let (v, vmax) = rest.split_at_mut(n);
    let (b1, b2) = cfg.betas;
    let step_size = (cfg.lr / bias_correction(b1, t)) as f32;
    let bc2_sqrt = libm::sqrt(bias_correction(b2, t)) as f32;
    for i in 0..n {
        let g = decayed(
            &mut params[i],
            grads[i],
            cfg.maximize,
            cfg.lr,
            cfg.weight_decay,
            cfg.decoupled_weight_decay,
        );
        m[i] = lerp(m[i], g, 1.0 - b1);
        v[i] = fmaf((1.0 - b2) as f32 * g, g, v[i] * b2 as f32);
        let w = if cfg.amsgrad {
            vmax[i] = max_nan(vmax[i], v[i]);
            vmax[i]
        } else {
            v[i]
        };
        let denom = sqrtf(w) / bc2_sqrt + cfg.eps as f32;
        params[i] += -step_size * m[i] / denom;
    }
}

/// [`AdamW`] step.
///
/// # Panics
///
/// If `grads` is shorter than `params`, or `state` shorter than
/// [`Optimizer::state_len`](crate::Optimizer::state_len) of `params.len()`.
pub fn adamw(cfg: &AdamW, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    adam(&cfg.as_adam(), t, params, grads, state);
}

/// [`Adamax`] step.
///
/// # Panics
///
/// If `grads` is shorter than `params`, or `state` shorter than
/// [`Optimizer::state_len`](crate::Optimizer::state_len) of `params.len()`.
pub fn adamax(cfg: &Adamax, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    let n = params.len();
    let (m, u) = state.split_at_mut(n);
    let (b1, b2) = cfg.betas;
    let clr = (cfg.lr / bias_correction(b1, t)) as f32;
    for i in 0..n {
        let g = decayed(
            &mut params[i],
            grads[i],
            cfg.maximize,
            cfg.lr,
            cfg.weight_decay,
            false,
        );
        m[i] = lerp(m[i], g, 1.0 - b1);
        u[i] = max_nan(u[i] * b2 as f32, g.abs() + cfg.eps as f32);
        params[i] += -clr * m[i] / u[i];
    }
}

/// [`NAdam`] step.
///
/// # Panics
///
/// If `grads` is shorter than `params`, or `state` shorter than
/// [`Optimizer::state_len`](crate::Optimizer::state_len) of `params.len()`.
pub fn nadam(cfg: &NAdam, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    let n = params.len();
    let (m, rest) = state.split_at_mut(n);
    let (v, mu_product) = rest.split_at_mut(n);
    let (b1, b2) = cfg.betas;
    let tf = t as f64;
    let mu = b1 * (1.0 - 0.5 * libm::pow(0.96, tf * cfg.momentum_decay));
    let mu_next = b1 * (1.0 - 0.5 * libm::pow(0.96, (tf + 1.0) * cfg.momentum_decay));
    let prev = if t == 1 { 1.0 } else { mu_product[0] };
    mu_product[0] = prev * mu as f32;
    let prod = f64::from(mu_product[0]);
    let c_grad = (-cfg.lr * (1.0 - mu) / (1.0 - prod)) as f32;
    let c_avg = ((-cfg.lr * mu_next) / (1.0 - prod * mu_next)) as f32;
    let bc2 = bias_correction(b2, t) as f32;
    for i in 0..n {
        let g = decayed(
            &mut params[i],
            grads[i],
            cfg.maximize,
            cfg.lr,
            cfg.weight_decay,
            cfg.decoupled_weight_decay,
        );
        m[i] = lerp(m[i], g, 1.0 - b1);
        v[i] = fmaf((1.0 - b2) as f32 * g, g, v[i] * b2 as f32);
        let denom = sqrtf(v[i] / bc2) + cfg.eps as f32;
        params[i] += c_grad * g / denom;
        params[i] += c_avg * m[i] / denom;
    }
}

/// [`RAdam`] step.
///
/// # Panics
///
/// If `grads` is shorter than `params`, or `state` shorter than
/// [`Optimizer::state_len`](crate::Optimizer::state_len) of `params.len()`.
pub fn radam(cfg: &RAdam, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    let n = params.len();
    let (m, v) = state.split_at_mut(n);
    let (b1, b2) = cfg.betas;
    let tf = t as f64;
    let bc1 = bias_correction(b1, t);
    let bc2 = bias_correction(b2, t);
    let rho_inf = 2.0 / (1.0 - b2) - 1.0;
    let rho_t = rho_inf - 2.0 * tf * libm::pow(b2, tf) / bc2;
    let rect = libm::sqrt(
        (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t),
    );
    for i in 0..n {
        let g = decayed(
            &mut params[i],
            grads[i],
            cfg.maximize,
            cfg.lr,
            cfg.weight_decay,
            cfg.decoupled_weight_decay,
        );
        m[i] = lerp(m[i], g, 1.0 - b1);
        v[i] = fmaf((1.0 - b2) as f32 * g, g, v[i] * b2 as f32);
        let step = m[i] / bc1 as f32 * cfg.lr as f32;
        if rho_t > 5.0 {
            let adaptive = 1.0 / (sqrtf(v[i]) + cfg.eps as f32) * libm::sqrt(bc2) as f32;
            params[i] -= step * adaptive * rect as f32;
        } else {
            params[i] -= step;
        }
    }
}

/// [`RmsProp`] step.
///
/// # Panics
///
/// If `grads` is shorter than `params`, or `state` shorter than
/// [`Optimizer::state_len`](crate::Optimizer::state_len) of `params.len()`.
pub fn rmsprop(cfg: &RmsProp, _t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    let n = params.len();
    let (v, mut rest) = state.split_at_mut(n);
    let mut gbar = None;
    if cfg.centered {
        let (a, b) = rest.split_at_mut(n);
        gbar = Some(a);
        rest = b;
    }
    let mut buf = (cfg.momentum > 0.0).then_some(rest);
    let (alpha, eps) = (cfg.alpha as f32, cfg.eps as f32);
    for i in 0..n {
        let mut g = signed(cfg.maximize, grads[i]);
        if cfg.weight_decay != 0.0 {
            g = fmaf(params[i], cfg.weight_decay as f32, g);
        }
        v[i] = fmaf((1.0 - cfg.alpha) as f32 * g, g, v[i] * alpha);
        let a = match gbar.as_deref_mut() {
            Some(gb) => {
                gb[i] = lerp(gb[i], g, 1.0 - cfg.alpha);
                sqrtf(fmaf(-gb[i], gb[i], v[i])) + eps
            }
            None => sqrtf(v[i]) + eps,
        };
        match buf.as_deref_mut() {
            Some(b) => {
                b[i] = b[i] * cfg.momentum as f32 + g / a;
                params[i] = fmaf(b[i], -cfg.lr as f32, params[i]);
            }
            None => params[i] += (-cfg.lr as f32) * g / a,
        }
    }
}

/// [`Lion`] step (optax's formulas, no fused operations).
///
/// # Panics
///
/// If `grads` is shorter than `params`, or `state` shorter than
/// [`Optimizer::state_len`](crate::Optimizer::state_len) of `params.len()`.
pub fn lion(cfg: &Lion, _t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) {
    let (b1, b2) = cfg.betas;
    for i in 0..params.len() {
        let g = grads[i];
        let c = (1.0 - b1) as f32 * g + b1 as f32 * state[i];
        let sign = if c > 0.0 {
            1.0
        } else if c < 0.0 {
            -1.0
        } else if c.is_nan() {
            f32::NAN
        } else {
            0.0
        };
        let u = sign + cfg.weight_decay as f32 * params[i];
        state[i] = (1.0 - b2) as f32 * g + b2 as f32 * state[i];
        params[i] += u * -cfg.lr as f32;
    }
}
