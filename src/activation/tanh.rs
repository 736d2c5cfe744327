//! The hyperbolic tangent.

use crate::backend::F32s;

pub(super) use super::vmath::tanh;

/// `g * (1 - y)(1 + y)`: reads `y` only.
#[inline(always)]
pub(super) fn tanh_grad(y: F32s, g: F32s) -> F32s {
    let one = F32s::splat(1.0);
    g * ((one - y) * (one + y))
}
