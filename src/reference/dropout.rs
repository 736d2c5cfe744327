//! Scalar reference of [`crate::Dropout`], one element at a time.
//!
//! ```
//! use microprop::{Dropout, reference};
//! use rand_xoshiro::Xoshiro256PlusPlus;
//! use rand_xoshiro::rand_core::SeedableRng;
//! let x: Vec<f32> = (0..100).map(|i| i as f32).collect();
//! let (mut y, mut mask) = (vec![0.0; 100], vec![0; Dropout::mask_len(100)]);
//! let (mut y_ref, mut mask_ref) = (y.clone(), mask.clone());
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
//! Dropout::new(0.3)?.forward(&x, &mut y, &mut mask, &mut rng)?;
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
//! reference::dropout::forward(0.3, &x, &mut y_ref, &mut mask_ref, &mut rng);
//! assert_eq!((y, mask), (y_ref, mask_ref));
//! # Ok::<(), microprop::Error>(())
//! ```

use rand_core::Rng;

use super::rng::StreamRng;

/// The keep count `k` of the documented rule: an element is kept when its
/// 16-bit random value, read as an `i16`, is at least `32768 - k`.
fn keep_count(p: f32) -> i32 {
    let k = libm::round((1.0 - f64::from(p)) * 65536.0);
    k.clamp(1.0, 65536.0) as i32
}

fn scale(p: f32) -> f32 {
    (1.0 / (1.0 - f64::from(p))) as f32
}

/// Inverted dropout of `x` into `y` with drop probability `p`, writing the
/// mask (bit `i % 32` of word `i / 32` is element `i`, 1 = kept). Lengths
/// must match as [`crate::Dropout::forward`] requires.
///
/// # Panics
///
/// Unless `p` is 1: if `y` is shorter than `x` (or longer, for `p` = 0),
/// or `mask` has fewer than [`Dropout::mask_len`](crate::Dropout::mask_len)
/// words.
pub fn forward<R: Rng + ?Sized>(p: f32, x: &[f32], y: &mut [f32], mask: &mut [u32], rng: &mut R) {
    mask.fill(0);
    if p == 0.0 {
        y.copy_from_slice(x);
        for i in 0..x.len() {
            mask[i / 32] |= 1 << (i % 32);
        }
        return;
    }
    if p == 1.0 {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi = xi * 0.0;
        }
        return;
    }
    if x.is_empty() {
        return;
    }
    let threshold = 32768 - keep_count(p);
    let scale = scale(p);
    let mut streams = StreamRng::from_rng(rng);
    let mut block = [0u32; 16];
    for i in 0..x.len() {
        let e = i % 32;
        if e == 0 {
            block = streams.next_block();
        }
        let r = block[e % 16];
        let h = if e < 16 { r >> 16 } else { r & 0xFFFF };
        let keep = i32::from(h as u16 as i16) >= threshold;
        if keep {
            mask[i / 32] |= 1 << e;
        }
        y[i] = x[i] * if keep { scale } else { 0.0 };
    }
}

/// `grad_in = grad_out * m / (1 - p)` with the mask of [`forward`]; the mask
/// is not read for `p` = 0 (identity) or 1 (`grad_out * 0`).
///
/// # Panics
///
/// For `p` in (0, 1), if `mask` has fewer than
/// [`Dropout::mask_len`](crate::Dropout::mask_len) words for the shorter
/// of `grad_out` and `grad_in`.
pub fn backward(p: f32, mask: &[u32], grad_out: &[f32], grad_in: &mut [f32]) {
    for (i, (gi, go)) in grad_in.iter_mut().zip(grad_out).enumerate() {
        *gi = if p == 0.0 {
            *go
        } else if p == 1.0 || mask[i / 32] >> (i % 32) & 1 == 0 {
            go * 0.0
        } else {
            go * scale(p)
        };
    }
}
