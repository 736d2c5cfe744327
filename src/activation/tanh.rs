//! The hyperbolic tangent.

use crate::backend::Vector;

pub(super) use super::vmath::tanh;

/// `g * (1 - y)(1 + y)`: reads `y` only.
#[inline(always)]
pub(super) fn tanh_grad<V: Vector>(y: V, g: V) -> V {
    let one = V::splat(1.0);
    g * ((one - y) * (one + y))
}
