//! Stochastic gradient descent with momentum, as `torch.optim.SGD`.

use super::{
    Decay, Optimizer, check_step, finite_f32, fma, fused, is_zero, non_negative, planes_len, splat,
};
use crate::backend::inlined;
use crate::error::{Error, Result};

/// `torch.optim.SGD`: plain, momentum, dampening, Nesterov, L2 weight decay.
///
/// Per element, with `g = ±grad` (minus when `maximize`):
/// ```text
/// g = fma(p, weight_decay, g)                   (if weight_decay != 0)
/// b = g                                         (t = 1)
/// b = fma(g, 1 - dampening, b * momentum)       (t > 1)
/// g = fma(b, momentum, g)  (nesterov)  or  g = b   (if momentum != 0)
/// p = fma(g, -lr, p)
/// ```
/// (`fma(a, b, c) = a * b + c` rounded once, as torch's `add` with `alpha`.)
/// The first step copies the gradient into the buffer, without dampening.
///
/// State: `[momentum_buffer]` (`n` floats) when `momentum != 0`, else empty.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    /// Learning rate (torch default 1e-3).
    pub lr: f64,
    /// Momentum factor (default 0: no buffer).
    pub momentum: f64,
    /// Dampening of the gradient's contribution to the momentum (default 0).
    pub dampening: f64,
    /// L2 penalty added to the gradient (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum; needs `momentum > 0` and `dampening == 0`.
    pub nesterov: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Sgd {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

impl Sgd {
    fn planes(&self) -> usize {
        usize::from(!is_zero(self.momentum))
    }
}

impl Optimizer for Sgd {
    fn state_len(&self, n: usize) -> usize {
        planes_len(n, self.planes(), 0)
    }

    #[inline(always)]
    fn validate(&self) -> Result<()> {
        non_negative("lr", self.lr)?;
        non_negative("momentum", self.momentum)?;
        non_negative("weight_decay", self.weight_decay)?;
        // `1 - dampening` is what is rounded to f32; f32::MAX + 1 rounds to
        // f32::MAX.
        finite_f32("dampening", self.dampening)?;
        if self.nesterov && (is_zero(self.momentum) || !is_zero(self.dampening)) {
            return Err(Error::InvalidParameter {
                arg: "nesterov",
                value: 1.0,
                expected: "used with momentum > 0 and dampening == 0",
            });
        }
        Ok(())
    }

    #[inline(always)]
    fn step(&self, t: u64, params: &mut [f32], grads: &[f32], state: &mut [f32]) -> Result<()> {
        self.validate()?;
        check_step(t, params, grads, state, self.planes(), 0)?;
        crate::backend::dispatch!(V => {
            let decay = Decay::<V>::l2(self.maximize, self.weight_decay);
            let neg_lr = splat::<V>(-self.lr);
            let prepare = core::convert::identity(inlined!(|mut p: V, g: V| decay.apply(&mut p, g)));
            if is_zero(self.momentum) {
                fused::<V, 0>(params, grads, state, inlined!(|p, g, _| {
                    let g = prepare(*p, g);
                    *p = fma(g, neg_lr, *p);
                }));
                return Ok(());
            }
            let mom = splat::<V>(self.momentum);
            let damp = splat::<V>(1.0 - self.dampening);
            let nesterov = self.nesterov;
            let finish = core::convert::identity(inlined!(|p: &mut V, g: V, b: V| {
                let d = if nesterov { fma(b, mom, g) } else { b };
                *p = fma(d, neg_lr, *p);
            }));
            if t == 1 {
                fused::<V, 1>(params, grads, state, inlined!(|p, g, [b]| {
                    let g = prepare(*p, g);
                    *b = g;
                    finish(p, g, *b);
                }));
            } else {
                fused::<V, 1>(params, grads, state, inlined!(|p, g, [b]| {
                    let g = prepare(*p, g);
                    *b = fma(g, damp, *b * mom);
                    finish(p, g, *b);
                }));
            }
            Ok(())
        })
    }
}
