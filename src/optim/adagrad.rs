//! Optimizers that scale by accumulated squared gradients: Adagrad,
//! Adadelta and RMSprop, as `torch.optim` defines them.

use super::{
    Decay, Lerp, Optimizer, check_step, fma, fused, non_negative, planes_len, splat, sqrt,
    unit_closed,
};
use crate::backend::inlined;
use crate::error::Result;

/// `torch.optim.Adagrad`.
///
/// Per element, with `g = fma(p, weight_decay, ±grad)`:
/// ```text
/// clr = lr / (1 + (t - 1) * lr_decay)           (f64)
/// s = fma(g, g, s)                             (s starts at initial_accumulator_value)
/// p = p + (-clr * g) / (sqrt(s) + eps)          (eps outside the sqrt)
/// ```
///
/// State: `[state_sum]` (`n` floats). A zeroed buffer is fresh: at `t = 1`
/// the stored sum is ignored and `initial_accumulator_value` used instead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adagrad {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// Inverse-time decay of the learning rate (default 0).
    pub lr_decay: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Starting value of the sum of squares (default 0).
    pub initial_accumulator_value: f64,
    /// Added to the square root (default 1e-10).
    pub eps: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Adagrad {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

impl Optimizer for Adagrad {
    fn state_len(&self, n: usize) -> usize {
        planes_len(n, 1, 0)
    }

    #[inline(always)]
    fn validate(&self) -> Result<()> {
        non_negative("lr", self.lr)?;
        non_negative("lr_decay", self.lr_decay)?;
        non_negative("weight_decay", self.weight_decay)?;
        non_negative("initial_accumulator_value", self.initial_accumulator_value)?;
        non_negative("eps", self.eps)
    }

    #[inline(always)]
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_step(t, params, grads, state, 1, 0)?;
        crate::backend::dispatch!(V => {
            let decay = Decay::<V>::l2(self.maximize, self.weight_decay);
            let neg_clr = splat::<V>(-(self.lr / (1.0 + (t - 1) as f64 * self.lr_decay)));
            let eps = splat::<V>(self.eps);
            let update = core::convert::identity(inlined!(move |p: &mut V, g: V, s: &mut V, prev: V| {
                let g = decay.apply(p, g);
                *s = fma(g, g, prev);
                *p += neg_clr * g / (sqrt(*s) + eps);
            }));
            if t == 1 {
                let init = splat::<V>(self.initial_accumulator_value);
                fused::<V, 1>(params, grads, state, inlined!(|p, g, [s]| update(p, g, s, init)));
            } else {
                fused::<V, 1>(params, grads, state, inlined!(|p, g, [s]| update(p, g, s, *s)));
            }
            Ok(())
        })
    }
}

/// `torch.optim.Adadelta`.
///
/// Per element, with `g = ±grad + weight_decay * p`:
/// ```text
/// v = fma((1 - rho) * g, g, v * rho)
/// d = sqrt(u + eps) / sqrt(v + eps) * g         (eps inside both roots)
/// u = fma((1 - rho) * d, d, u * rho)
/// p = fma(d, -lr, p)
/// ```
/// Because `u` starts at 0 the first step is tiny (about `3e-3 * sign(g)`
/// with the defaults), as in torch.
///
/// State: `[square_avg, acc_delta]`, each `n` floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adadelta {
    /// Learning rate, scaling the update (default 1.0).
    pub lr: f64,
    /// Decay rate of both running averages (default 0.9).
    pub rho: f64,
    /// Added inside both square roots (default 1e-6).
    pub eps: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Adadelta {
    fn default() -> Self {
        Self {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

impl Optimizer for Adadelta {
    fn state_len(&self, n: usize) -> usize {
        planes_len(n, 2, 0)
    }

    #[inline(always)]
    fn validate(&self) -> Result<()> {
        non_negative("lr", self.lr)?;
        unit_closed("rho", self.rho)?;
        non_negative("eps", self.eps)?;
        non_negative("weight_decay", self.weight_decay)
    }

    #[inline(always)]
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_step(t, params, grads, state, 2, 0)?;
        crate::backend::dispatch!(V => {
            let decay = Decay::<V>::l2(self.maximize, self.weight_decay);
            let rho = splat::<V>(self.rho);
            let one_minus_rho = splat::<V>(1.0 - self.rho);
            let eps = splat::<V>(self.eps);
            let neg_lr = splat::<V>(-self.lr);
            fused::<V, 2>(params, grads, state, inlined!(|p, g, [v, u]| {
                let g = decay.apply(p, g);
                *v = fma(one_minus_rho * g, g, *v * rho);
                let d = sqrt(*u + eps) / sqrt(*v + eps) * g;
                *u = fma(one_minus_rho * d, d, *u * rho);
                *p = fma(d, neg_lr, *p);
            }));
            Ok(())
        })
    }
}

/// `torch.optim.RMSprop`, plain or centered, with optional momentum.
///
/// Per element, with `g = ±grad + weight_decay * p`:
/// ```text
/// v = fma((1 - alpha) * g, g, v * alpha)
/// a = sqrt(v) + eps, or centered: gbar = lerp(gbar, g, 1 - alpha); a = sqrt(fma(-gbar, gbar, v)) + eps
/// momentum > 0:  b = b * momentum + g / a;  p = fma(b, -lr, p)
/// otherwise:     p = p + (-lr * g) / a
/// ```
/// No bias correction: with `alpha = 0.99` the first step is about
/// `10 lr sign(g)`, as in torch.
///
/// State: `[square_avg]`, then `grad_avg` if `centered`, then
/// `momentum_buffer` if `momentum > 0`; each plane `n` floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsProp {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// Decay rate of the running averages (default 0.99).
    pub alpha: f64,
    /// Added outside the square root (default 1e-8).
    pub eps: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Momentum factor (default 0: no buffer).
    pub momentum: f64,
    /// Normalize by the variance instead of the raw second moment.
    pub centered: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for RmsProp {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
    }
}

impl RmsProp {
    fn planes(&self) -> usize {
        1 + usize::from(self.centered) + usize::from(self.momentum > 0.0)
    }
}

impl Optimizer for RmsProp {
    fn state_len(&self, n: usize) -> usize {
        planes_len(n, self.planes(), 0)
    }

    #[inline(always)]
    fn validate(&self) -> Result<()> {
        non_negative("lr", self.lr)?;
        non_negative("alpha", self.alpha)?;
        non_negative("eps", self.eps)?;
        non_negative("weight_decay", self.weight_decay)?;
        non_negative("momentum", self.momentum)
    }

    #[inline(always)]
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_step(t, params, grads, state, self.planes(), 0)?;
        crate::backend::dispatch!(V => {
            let decay = Decay::<V>::l2(self.maximize, self.weight_decay);
            let alpha = splat::<V>(self.alpha);
            let one_minus_alpha = splat::<V>(1.0 - self.alpha);
            let lerp = Lerp::<V>::new(1.0 - self.alpha);
            let eps = splat::<V>(self.eps);
            let neg_lr = splat::<V>(-self.lr);
            let mom = splat::<V>(self.momentum);
            let square = core::convert::identity(inlined!(move |mut p: V, g: V, v: &mut V| {
                let g = decay.apply(&mut p, g);
                *v = fma(one_minus_alpha * g, g, *v * alpha);
                g
            }));
            let centered = core::convert::identity(inlined!(move |g: V, v: V, gbar: &mut V| {
                *gbar = lerp.apply(*gbar, g);
                sqrt(fma(-*gbar, *gbar, v)) + eps
            }));
            let plain = core::convert::identity(inlined!(move |p: &mut V, g: V, a: V| *p += neg_lr * g / a));
            let with_momentum = core::convert::identity(inlined!(move |p: &mut V, g: V, a: V, b: &mut V| {
                *b = *b * mom + g / a;
                *p = fma(*b, neg_lr, *p);
            }));
            match (self.centered, self.momentum > 0.0) {
                (false, false) => fused::<V, 1>(params, grads, state, inlined!(|p, g, [v]| {
                    let g = square(*p, g, v);
                    plain(p, g, sqrt(*v) + eps);
                })),
                (false, true) => fused::<V, 2>(params, grads, state, inlined!(|p, g, [v, b]| {
                    let g = square(*p, g, v);
                    with_momentum(p, g, sqrt(*v) + eps, b);
                })),
                (true, false) => fused::<V, 2>(params, grads, state, inlined!(|p, g, [v, gbar]| {
                    let g = square(*p, g, v);
                    plain(p, g, centered(g, *v, gbar));
                })),
                (true, true) => fused::<V, 3>(params, grads, state, inlined!(|p, g, [v, gbar, b]| {
                    let g = square(*p, g, v);
                    with_momentum(p, g, centered(g, *v, gbar), b);
                })),
            }
            Ok(())
        })
    }
}
