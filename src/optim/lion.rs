//! Lion (Chen et al., 2023), as optax defines it; not part of `torch.optim`.

use super::{Optimizer, check_step, fused, non_negative, planes_len, splat, unit_closed};
use crate::backend::inlined;
use crate::error::Result;

/// `optax.lion`: the sign of an interpolated momentum, plus decoupled weight
/// decay.
///
/// Per element:
/// ```text
/// c = (1 - beta1) * g + beta1 * m
/// u = sign(c) + weight_decay * p                (sign(0) = 0)
/// m = (1 - beta2) * g + beta2 * m
/// p = p + u * (-lr)
/// ```
///
/// Defaults: `betas = (0.9, 0.99)` and `weight_decay = 1e-3` as optax;
/// optax has no default learning rate, so `lr = 1e-4` is chosen here (the
/// Lion paper advises a learning rate 3-10x smaller than AdamW's).
///
/// State: `[exp_avg]` (`n` floats).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lion {
    /// Learning rate (default 1e-4).
    pub lr: f64,
    /// Interpolation factor of the update, and decay rate of the momentum
    /// (default (0.9, 0.99)).
    pub betas: (f64, f64),
    /// Decoupled weight decay, scaled by `lr` (default 1e-3).
    pub weight_decay: f64,
}

impl Default for Lion {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            betas: (0.9, 0.99),
            weight_decay: 1e-3,
        }
    }
}

impl Optimizer for Lion {
    fn state_len(&self, n: usize) -> usize {
        planes_len(n, 1, 0)
    }

    #[inline(always)]
    fn validate(&self) -> Result<()> {
        non_negative("lr", self.lr)?;
        unit_closed("betas.0", self.betas.0)?;
        unit_closed("betas.1", self.betas.1)?;
        non_negative("weight_decay", self.weight_decay)
    }

    #[inline(always)]
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_step(t, params, grads, state, 1, 0)?;
        crate::backend::dispatch!(V => {
            let (b1, b2) = self.betas;
            let (b1, c1) = (splat::<V>(b1), splat::<V>(1.0 - b1));
            let (b2, c2) = (splat::<V>(b2), splat::<V>(1.0 - b2));
            let wd = splat::<V>(self.weight_decay);
            let neg_lr = splat::<V>(-self.lr);
            let (zero, one) = (V::splat(0.0), V::splat(1.0));
            fused::<V, 1>(params, grads, state, inlined!(|p, g, [m]| {
                let c = c1 * g + b1 * *m;
                // sign(c): -1, 0 or 1, and NaN for NaN.
                let s = c.simd_gt(zero).select(one, zero) - c.simd_lt(zero).select(one, zero);
                let s = c.simd_ne(c).select(c, s);
                let u = s + wd * *p;
                *m = c2 * g + b2 * *m;
                *p += u * neg_lr;
            }));
            Ok(())
        })
    }
}
