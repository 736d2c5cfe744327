//! A fast generator of random bits for the kernels that need many of them
//! (dropout masks, weight initialisation), seeded from the caller's
//! [`rand_core::Rng`].
//!
//! # Design
//!
//! [`StreamRng`] runs [`STREAMS`] = 16 independent
//! [xoshiro128++](https://prng.di.unimi.it/) generators side by side. One
//! step of all sixteen is a *block* of 16 `u32` words, word `s` coming from
//! stream `s`. The streams sit in SIMD lanes (four vectors of four lanes, two
//! of eight, or one of sixteen), so a step costs a few vector additions,
//! shifts and XORs and yields 512 random bits, instead of one scalar call per
//! element.
//!
//! The number of streams is a constant of the algorithm, not of the lane
//! width: block `b` is the same sixteen words whether it is computed 4, 8 or
//! 16 lanes at a time, or by the scalar reference
//! `microprop::reference::rng::StreamRng`. Kernels consume blocks in element
//! order (element `i` of an output reads block `i / 16` for 32-bit draws), so
//! a given seed gives bit-identical results on every target and SIMD level.
//!
//! ## Seeding
//!
//! [`StreamRng::from_rng`] draws 32 `u64` from the caller's generator: draws
//! `2s` and `2s + 1` become the state `(lo, hi, lo, hi)` of stream `s`
//! (low 32 bits first). The streams are thus independent uniformly random
//! points of xoshiro128++'s period of 2^128 - 1; the chance that two of them
//! overlap within the 2^32 steps of any realistic call is below 2^-90. The
//! all-zero state (probability 2^-128 per stream), which xoshiro cannot
//! leave, is replaced by `(1, 0, 0, 0)`.
//!
//! xoshiro128++ passes BigCrush and PractRand in every bit; it is not a
//! cryptographic generator.
//!
//! ```
//! use microprop::rng::{STREAMS, StreamRng};
//! use rand_xoshiro::Xoshiro256PlusPlus;
//! use rand_xoshiro::rand_core::SeedableRng;
//! let mut streams = StreamRng::from_rng(&mut Xoshiro256PlusPlus::seed_from_u64(3));
//! let again = streams.clone();
//! // One word from each of the sixteen streams, the same on every target.
//! let block: [u32; STREAMS] = streams.next_block();
//! assert_eq!(block, again.clone().next_block());
//! assert_ne!(block, streams.next_block());
//! ```

use rand_core::Rng;

use crate::backend::{LANES, U32s};

/// The number of interleaved xoshiro128++ streams, and of `u32` words in one
/// block of output.
pub const STREAMS: usize = 16;

/// Lane vectors per block.
pub(crate) const VECS: usize = STREAMS / LANES;

/// Sixteen interleaved xoshiro128++ streams, stepped together in SIMD lanes.
///
/// See the [module docs](self) for the design and the seeding.
///
/// ```
/// use microprop::rng::StreamRng;
/// use rand_xoshiro::Xoshiro256PlusPlus;
/// use rand_xoshiro::rand_core::SeedableRng;
///
/// let mut seed = Xoshiro256PlusPlus::seed_from_u64(7);
/// let mut rng = StreamRng::from_rng(&mut seed);
/// let block: [u32; 16] = rng.next_block();
/// # let _ = block;
/// ```
#[derive(Clone, Debug)]
pub struct StreamRng {
    /// `s[k][v]` holds state word `k` of streams `v * LANES..(v + 1) * LANES`.
    s: [[U32s; VECS]; 4],
}

impl StreamRng {
    /// Seeds the sixteen streams from 32 `u64` drawn from `rng`.
    pub fn from_rng<R: Rng + ?Sized>(rng: &mut R) -> Self {
        // `from_fn` runs in index order: stream `s` takes draws `2s, 2s + 1`.
        let states: [[u32; 4]; STREAMS] = core::array::from_fn(|_| {
            let a = rng.next_u64();
            let b = rng.next_u64();
            let state = [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32];
            if state == [0; 4] { [1, 0, 0, 0] } else { state }
        });
        let lanes =
            |k: usize, v: usize| U32s::new(core::array::from_fn(|l| states[v * LANES + l][k]));
        StreamRng {
            s: core::array::from_fn(|k| core::array::from_fn(|v| lanes(k, v))),
        }
    }

    /// Steps every stream once and returns the block, word `s` from stream
    /// `s`.
    pub fn next_block(&mut self) -> [u32; STREAMS] {
        let vectors = self.next_vectors();
        let mut block = [0u32; STREAMS];
        for (chunk, v) in block.chunks_exact_mut(LANES).zip(vectors) {
            chunk.copy_from_slice(&v.to_array());
        }
        block
    }

    /// Steps every stream once and returns the block as lane vectors: lane
    /// `l` of vector `v` is the word of stream `v * LANES + l`.
    #[inline(always)]
    pub(crate) fn next_vectors(&mut self) -> [U32s; VECS] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [U32s::ZERO; VECS];
        for v in 0..VECS {
            out[v] = step(&mut s0[v], &mut s1[v], &mut s2[v], &mut s3[v]);
        }
        out
    }
}

/// One xoshiro128++ step on every lane.
#[inline(always)]
fn step(s0: &mut U32s, s1: &mut U32s, s2: &mut U32s, s3: &mut U32s) -> U32s {
    let result = rotl(*s0 + *s3, 7) + *s0;
    let t = *s1 << 9;
    *s2 ^= *s0;
    *s3 ^= *s1;
    *s1 ^= *s2;
    *s0 ^= *s3;
    *s2 ^= t;
    *s3 = rotl(*s3, 11);
    result
}

#[inline(always)]
fn rotl(x: U32s, k: u32) -> U32s {
    (x << k) | (x >> (32 - k))
}
