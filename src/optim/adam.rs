//! The Adam family: Adam (with AMSGrad), AdamW, Adamax, NAdam and RAdam, as
//! `torch.optim` defines them.

use super::{
    Decay, Lerp, Optimizer, check_step, derived_f32, fma, fused, max_nan, non_negative, planes_len,
    splat, sqrt, unit_open,
};
use crate::backend::{Vector, inlined};
use crate::error::Result;

/// Checks the hyperparameters shared by the family, where torch checks them.
fn validate(lr: f64, betas: (f64, f64), eps: f64, weight_decay: f64) -> Result<()> {
    non_negative("lr", lr)?;
    non_negative("eps", eps)?;
    unit_open("betas.0", betas.0)?;
    unit_open("betas.1", betas.1)?;
    non_negative("weight_decay", weight_decay)
}

/// Checks that `lr / (1 - beta1^t)`, largest at `t = 1`, fits in f32 (after
/// [`validate`]).
fn check_corrected_lr(lr: f64, beta1: f64) -> Result<()> {
    derived_f32(
        "lr",
        lr,
        lr / (1.0 - beta1),
        "such that lr / (1 - betas.0) <= f32::MAX",
    )
}

/// Checks that the decoupled decay `1 - lr * weight_decay` fits in f32
/// (after [`validate`]).
fn check_decoupled(lr: f64, weight_decay: f64, decoupled: bool) -> Result<()> {
    if !decoupled {
        return Ok(());
    }
    derived_f32(
        "weight_decay",
        weight_decay,
        lr * weight_decay,
        "such that lr * weight_decay <= f32::MAX",
    )
}

/// `1 - beta^t` in f64, as Python computes it.
fn bias_correction(beta: f64, t: u64) -> f64 {
    1.0 - libm::pow(beta, t as f64)
}

/// The moment estimates shared by Adam, NAdam and RAdam, after weight
/// decay: `m = lerp(m, g, 1 - beta1)`, `v = fma((1 - beta2) * g, g, v * beta2)`.
#[derive(Clone, Copy)]
struct Moments<V> {
    decay: Decay<V>,
    lerp: Lerp<V>,
    beta2: V,
    one_minus_beta2: V,
}

impl<V: Vector> Moments<V> {
    #[inline(always)]
    fn new((beta1, beta2): (f64, f64), decay: Decay<V>) -> Self {
        Self {
            decay,
            lerp: Lerp::new(1.0 - beta1),
            beta2: splat(beta2),
            one_minus_beta2: splat(1.0 - beta2),
        }
    }

    /// Updates `m` and `v` with the gradient `g` of `p` (decaying `p` first
    /// when the decay is decoupled) and returns the gradient after decay.
    #[inline(always)]
    fn update(self, p: &mut V, g: V, m: &mut V, v: &mut V) -> V {
        let g = self.decay.apply(p, g);
        *m = self.lerp.apply(*m, g);
        *v = fma(self.one_minus_beta2 * g, g, *v * self.beta2);
        g
    }
}

/// `torch.optim.Adam`, with AMSGrad and optionally decoupled weight decay.
///
/// Per element, with `g = ±grad`, after weight decay (L2: `g = fma(p, wd, g)`;
/// decoupled: `p *= 1 - lr * wd`):
/// ```text
/// m = lerp(m, g, 1 - beta1)
/// v = fma((1 - beta2) * g, g, v * beta2)
/// vmax = max(vmax, v)                           (amsgrad: over the raw v)
/// denom = sqrt(v or vmax) / sqrt(1 - beta2^t) + eps
/// p = p + (-(lr / (1 - beta1^t)) * m) / denom
/// ```
///
/// State: `[exp_avg, exp_avg_sq]`, plus `max_exp_avg_sq` with `amsgrad`;
/// each plane `n` floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moments (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator after the bias correction (default 1e-8).
    pub eps: f64,
    /// Weight decay, L2 unless `decoupled_weight_decay` (default 0).
    pub weight_decay: f64,
    /// Divide by the running maximum of the second moment (default false).
    pub amsgrad: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
    /// Decay the weights directly, as AdamW (default false).
    pub decoupled_weight_decay: bool,
}

impl Default for Adam {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
            decoupled_weight_decay: false,
        }
    }
}

impl Adam {
    fn planes(&self) -> usize {
        if self.amsgrad { 3 } else { 2 }
    }
}

impl Optimizer for Adam {
    fn state_len(&self, n: usize) -> usize {
        planes_len(n, self.planes(), 0)
    }

    #[inline(always)]
    fn validate(&self) -> Result<()> {
        validate(self.lr, self.betas, self.eps, self.weight_decay)?;
        check_corrected_lr(self.lr, self.betas.0)?;
        check_decoupled(self.lr, self.weight_decay, self.decoupled_weight_decay)
    }

    #[inline(always)]
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_step(t, params, grads, state, self.planes(), 0)?;
        crate::backend::dispatch!(V => {
            let (b1, b2) = self.betas;
            let decay = Decay::new(
                self.maximize,
                self.lr,
                self.weight_decay,
                self.decoupled_weight_decay,
            );
            let moments = Moments::<V>::new(self.betas, decay);
            // Once sqrt(1 - beta2^t) rounds to 1 in f32 (t > ~17k with the
            // default beta2) the division by it is exact and is skipped.
            let bc2_sqrt = libm::sqrt(bias_correction(b2, t)) as f32;
            let divide = bc2_sqrt != 1.0;
            let bc2_sqrt = V::splat(bc2_sqrt);
            let eps = splat::<V>(self.eps);
            let neg_step = splat::<V>(-(self.lr / bias_correction(b1, t)));
            let update = core::convert::identity(inlined!(move |p: &mut V, m: V, v: V| {
                let root = sqrt(v);
                let denom = if divide { root / bc2_sqrt } else { root } + eps;
                *p += neg_step * m / denom;
            }));
            if self.amsgrad {
                fused::<V, 3>(params, grads, state, inlined!(|p, g, [m, v, vmax]| {
                    moments.update(p, g, m, v);
                    *vmax = max_nan(*vmax, *v);
                    update(p, *m, *vmax);
                }));
            } else {
                fused::<V, 2>(params, grads, state, inlined!(|p, g, [m, v]| {
                    moments.update(p, g, m, v);
                    update(p, *m, *v);
                }));
            }
            Ok(())
        })
    }
}

/// `torch.optim.AdamW`: [`Adam`] with decoupled weight decay and a default
/// `weight_decay` of 1e-2.
///
/// State: as [`Adam`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moments (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator after the bias correction (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay: `p *= 1 - lr * weight_decay` (default 1e-2).
    pub weight_decay: f64,
    /// Divide by the running maximum of the second moment (default false).
    pub amsgrad: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for AdamW {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
            maximize: false,
        }
    }
}

impl AdamW {
    /// The equivalent [`Adam`] configuration (torch's AdamW is exactly Adam
    /// with `decoupled_weight_decay=True`).
    pub fn as_adam(&self) -> Adam {
        Adam {
            lr: self.lr,
            betas: self.betas,
            eps: self.eps,
            weight_decay: self.weight_decay,
            amsgrad: self.amsgrad,
            maximize: self.maximize,
            decoupled_weight_decay: true,
        }
    }
}

impl Optimizer for AdamW {
    fn state_len(&self, n: usize) -> usize {
        self.as_adam().state_len(n)
    }

    #[inline(always)]
    fn validate(&self) -> Result<()> {
        self.as_adam().validate()
    }

    #[inline(always)]
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.as_adam().step(t, params, grads, state)
    }
}

/// `torch.optim.Adamax`: Adam with an infinity-norm second moment.
///
/// Per element, with `g = ±grad + weight_decay * p`:
/// ```text
/// m = lerp(m, g, 1 - beta1)
/// u = max(u * beta2, |g| + eps)                 (eps inside the max)
/// p = p + (-(lr / (1 - beta1^t)) * m) / u
/// ```
///
/// State: `[exp_avg, exp_inf]`, each `n` floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adamax {
    /// Learning rate (default 2e-3).
    pub lr: f64,
    /// Decay rates of the first moment and the infinity norm (default
    /// (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to `|g|` before the maximum (default 1e-8).
    pub eps: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Adamax {
    fn default() -> Self {
        Self {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

impl Optimizer for Adamax {
    fn state_len(&self, n: usize) -> usize {
        planes_len(n, 2, 0)
    }

    #[inline(always)]
    fn validate(&self) -> Result<()> {
        validate(self.lr, self.betas, self.eps, self.weight_decay)?;
        check_corrected_lr(self.lr, self.betas.0)
    }

    #[inline(always)]
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_step(t, params, grads, state, 2, 0)?;
        crate::backend::dispatch!(V => {
            let (b1, b2) = self.betas;
            let decay = Decay::<V>::new(self.maximize, self.lr, self.weight_decay, false);
            let lerp = Lerp::<V>::new(1.0 - b1);
            let beta2 = splat::<V>(b2);
            let eps = splat::<V>(self.eps);
            let neg_clr = splat::<V>(-(self.lr / bias_correction(b1, t)));
            fused::<V, 2>(params, grads, state, inlined!(|p, g, [m, u]| {
                let g = decay.apply(p, g);
                *m = lerp.apply(*m, g);
                *u = max_nan(*u * beta2, g.abs() + eps);
                *p += neg_clr * *m / *u;
            }));
            Ok(())
        })
    }
}

/// `torch.optim.NAdam`: Adam with Nesterov momentum and torch's momentum
/// schedule `mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))`.
///
/// Per element, with `g = ±grad` after weight decay (L2 or decoupled):
/// ```text
/// m = lerp(m, g, 1 - beta1);  v = fma((1 - beta2) * g, g, v * beta2)
/// denom = sqrt(v / (1 - beta2^t)) + eps
/// p = p + (-lr * (1 - mu_t) / (1 - mu_prod)) * g / denom
/// p = p + (-lr * mu_{t+1} / (1 - mu_prod * mu_{t+1})) * m / denom
/// ```
/// where `mu_prod` is the product of `mu_1..mu_t`. As in torch's float32
/// run, `mu_prod` is kept in f32 (`mu_prod = f32(mu_prod * f32(mu_t))`).
///
/// State: `[exp_avg (n), exp_avg_sq (n), mu_product (1)]`; the trailing
/// scalar is taken as 1 at `t = 1` whatever the buffer holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NAdam {
    /// Learning rate (default 2e-3).
    pub lr: f64,
    /// Decay rates of the first and second moments (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// Weight decay, L2 unless `decoupled_weight_decay` (default 0).
    pub weight_decay: f64,
    /// The `psi` of the momentum schedule (default 4e-3).
    pub momentum_decay: f64,
    /// Decay the weights directly, as NAdamW (default false).
    pub decoupled_weight_decay: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for NAdam {
    fn default() -> Self {
        Self {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

impl Optimizer for NAdam {
    fn state_len(&self, n: usize) -> usize {
        planes_len(n, 2, 1)
    }

    #[inline(always)]
    fn validate(&self) -> Result<()> {
        validate(self.lr, self.betas, self.eps, self.weight_decay)?;
        non_negative("momentum_decay", self.momentum_decay)?;
        // Both coefficients are at most lr / (1 - beta1'), where beta1' is
        // beta1 rounded to f32: the product of the momenta is kept in f32,
        // and every factor is at most beta1'.
        check_corrected_lr(self.lr, f64::from(self.betas.0 as f32))?;
        check_decoupled(self.lr, self.weight_decay, self.decoupled_weight_decay)
    }

    #[inline(always)]
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_step(t, params, grads, state, 2, 1)?;
        crate::backend::dispatch!(V => {
            let (b1, b2) = self.betas;
            let tf = t as f64;
            let mu = b1 * (1.0 - 0.5 * libm::pow(0.96, tf * self.momentum_decay));
            let mu_next = b1 * (1.0 - 0.5 * libm::pow(0.96, (tf + 1.0) * self.momentum_decay));
            let (planes, last) = state.split_at_mut(2 * params.len());
            let prev = if t == 1 { 1.0 } else { last[0] };
            let mu_product = prev * mu as f32;
            last[0] = mu_product;
            let mu_product = f64::from(mu_product);
            let c_grad = splat::<V>(-self.lr * (1.0 - mu) / (1.0 - mu_product));
            let c_avg = splat::<V>((-self.lr * mu_next) / (1.0 - mu_product * mu_next));
            let decay = Decay::new(
                self.maximize,
                self.lr,
                self.weight_decay,
                self.decoupled_weight_decay,
            );
            let moments = Moments::<V>::new(self.betas, decay);
            let bc2 = splat::<V>(bias_correction(b2, t));
            let eps = splat::<V>(self.eps);
            fused::<V, 2>(params, grads, planes, inlined!(|p, g, [m, v]| {
                let g = moments.update(p, g, m, v);
                let denom = sqrt(*v / bc2) + eps;
                *p += c_grad * g / denom;
                *p += c_avg * *m / denom;
            }));
            Ok(())
        })
    }
}

/// `torch.optim.RAdam`: Adam with the variance rectification of Liu et al.
///
/// With `rho_inf = 2 / (1 - beta2) - 1` and
/// `rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)` (f64 scalars), per
/// element, after weight decay (L2 or decoupled):
/// ```text
/// m = lerp(m, g, 1 - beta1);  v = fma((1 - beta2) * g, g, v * beta2)
/// mhat = m / (1 - beta1^t)
/// rho_t > 5:  p = p - ((mhat * lr) * ((1 / (sqrt(v) + eps)) * sqrt(1 - beta2^t))) * r_t
/// otherwise:  p = p - mhat * lr
/// ```
/// with `r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))`.
/// With the default betas the rectified branch first fires at `t = 6`.
///
/// State: `[exp_avg, exp_avg_sq]`, each `n` floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RAdam {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decay rates of the first and second moments (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to `sqrt(v)` before the bias correction (default 1e-8).
    pub eps: f64,
    /// Weight decay, L2 unless `decoupled_weight_decay` (default 0).
    pub weight_decay: f64,
    /// Decay the weights directly (default false).
    pub decoupled_weight_decay: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for RAdam {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

impl Optimizer for RAdam {
    fn state_len(&self, n: usize) -> usize {
        planes_len(n, 2, 0)
    }

    #[inline(always)]
    fn validate(&self) -> Result<()> {
        validate(self.lr, self.betas, self.eps, self.weight_decay)?;
        check_decoupled(self.lr, self.weight_decay, self.decoupled_weight_decay)
    }

    #[inline(always)]
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_step(t, params, grads, state, 2, 0)?;
        crate::backend::dispatch!(V => {
            let (b1, b2) = self.betas;
            let decay = Decay::new(
                self.maximize,
                self.lr,
                self.weight_decay,
                self.decoupled_weight_decay,
            );
            let moments = Moments::<V>::new(self.betas, decay);
            let bc1 = splat::<V>(bias_correction(b1, t));
            let lr = splat::<V>(self.lr);
            let eps = splat::<V>(self.eps);
            let one = V::splat(1.0);
            let bc2 = bias_correction(b2, t);
            let rho_inf = 2.0 / (1.0 - b2) - 1.0;
            let tf = t as f64;
            let rho_t = rho_inf - 2.0 * tf * libm::pow(b2, tf) / bc2;
            let moments = core::convert::identity(inlined!(move |p: &mut V, g: V, m: &mut V, v: &mut V| {
                moments.update(p, g, m, v);
                *m / bc1 * lr
            }));
            if rho_t > 5.0 {
                let rect = splat::<V>(libm::sqrt(
                    (rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                        / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t),
                ));
                let bc2_sqrt = splat::<V>(libm::sqrt(bc2));
                fused::<V, 2>(params, grads, state, inlined!(|p, g, [m, v]| {
                    let step = moments(p, g, m, v);
                    let adaptive = one / (sqrt(*v) + eps) * bc2_sqrt;
                    *p -= step * adaptive * rect;
                }));
            } else {
                fused::<V, 2>(params, grads, state, inlined!(|p, g, [m, v]| {
                    let step = moments(p, g, m, v);
                    *p -= step;
                }));
            }
            Ok(())
        })
    }
}
