//! Scalar reference of [`crate::rng::StreamRng`]: sixteen xoshiro128++
//! generators stepped one after the other, written from the published
//! algorithm.
//!
//! ```
//! use microprop::{reference, rng};
//! use rand_xoshiro::Xoshiro256PlusPlus;
//! use rand_xoshiro::rand_core::SeedableRng;
//! let mut fast = rng::StreamRng::from_rng(&mut Xoshiro256PlusPlus::seed_from_u64(3));
//! let mut plain = reference::rng::StreamRng::from_rng(&mut Xoshiro256PlusPlus::seed_from_u64(3));
//! assert_eq!(fast.next_block(), plain.next_block());
//! ```

use rand_core::Rng;

/// Sixteen scalar xoshiro128++ generators; `next_block` returns one word of
/// each, in stream order.
#[derive(Clone, Debug)]
pub struct StreamRng {
    streams: [[u32; 4]; 16],
}

impl StreamRng {
    /// Seeds stream `s` from draws `2s` and `2s + 1` of `rng`, low halves
    /// first; an all-zero state becomes `(1, 0, 0, 0)`.
    pub fn from_rng<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut streams = [[0u32; 4]; 16];
        for state in &mut streams {
            let a = rng.next_u64();
            let b = rng.next_u64();
            *state = [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32];
            if *state == [0; 4] {
                state[0] = 1;
            }
        }
        StreamRng { streams }
    }

    /// One xoshiro128++ output of every stream.
    pub fn next_block(&mut self) -> [u32; 16] {
        let mut block = [0u32; 16];
        for (out, s) in block.iter_mut().zip(&mut self.streams) {
            *out = s[0].wrapping_add(s[3]).rotate_left(7).wrapping_add(s[0]);
            let t = s[1] << 9;
            s[2] ^= s[0];
            s[3] ^= s[1];
            s[1] ^= s[2];
            s[0] ^= s[3];
            s[2] ^= t;
            s[3] = s[3].rotate_left(11);
        }
        block
    }
}
