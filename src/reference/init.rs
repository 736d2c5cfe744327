//! Scalar references of the samplers of [`crate::init`].
//!
//! ```
//! use microprop::{init, reference};
//! use rand_xoshiro::Xoshiro256PlusPlus;
//! use rand_xoshiro::rand_core::SeedableRng;
//! let (mut w, mut w_ref) = ([0.0f32; 50], [0.0f32; 50]);
//! init::uniform(&mut w, 0.1, &mut Xoshiro256PlusPlus::seed_from_u64(2))?;
//! reference::init::uniform(&mut w_ref, 0.1, &mut Xoshiro256PlusPlus::seed_from_u64(2));
//! assert_eq!(w, w_ref);
//! # Ok::<(), microprop::Error>(())
//! ```

use rand_core::Rng;

use super::rng::StreamRng;

/// `w[i] = bound * v` with `v = (((r >> 8) | 1) - 2^23) * 2^-23` for the
/// `i`-th random word `r`, as [`crate::init::uniform`] (for a finite
/// `bound >= 0`).
pub fn uniform<R: Rng + ?Sized>(w: &mut [f32], bound: f32, rng: &mut R) {
    if w.is_empty() {
        return;
    }
    let mut streams = StreamRng::from_rng(rng);
    for chunk in w.chunks_mut(16) {
        let block = streams.next_block();
        for (wi, r) in chunk.iter_mut().zip(block) {
            let m = ((r >> 8) | 1) as i32 - (1 << 23);
            *wi = bound * (m as f32 / 8_388_608.0);
        }
    }
}

/// Box-Muller samples from N(0, std^2), as [`crate::init::normal`] (for a
/// finite `std >= 0`).
pub fn normal<R: Rng + ?Sized>(w: &mut [f32], std: f32, rng: &mut R) {
    if w.is_empty() {
        return;
    }
    let mut streams = StreamRng::from_rng(rng);
    let mut block = [0u32; 16];
    for (i, wi) in w.iter_mut().enumerate() {
        if i % 16 == 0 {
            block = streams.next_block();
        }
        let pair = i % 16 / 2 * 2;
        let u1 = ((block[pair] >> 8) + 1) as f32 / 16_777_216.0;
        let u2 = (block[pair + 1] >> 8) as f32 / 16_777_216.0;
        let radius = std * libm::sqrtf(-2.0 * libm::logf(u1));
        let angle = core::f32::consts::TAU * u2;
        *wi = radius
            * if i % 2 == 0 {
                libm::cosf(angle)
            } else {
                libm::sinf(angle)
            };
    }
}
