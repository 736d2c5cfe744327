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

use crate::backend::{Bits, F32s, LANES, Vector};

/// The number of interleaved xoshiro128++ streams, and of `u32` words in one
/// block of output.
pub const STREAMS: usize = 16;

/// The most lane vectors a block takes (with 4 lanes).
pub(crate) const MAX_VECS: usize = STREAMS / 4;

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
    /// `s[k][s]` is state word `k` of stream `s`; the kernels load it into
    /// lane vectors of whatever width they run with.
    s: [[u32; STREAMS]; 4],
}

impl StreamRng {
    /// Seeds the sixteen streams from 32 `u64` drawn from `rng`.
    pub fn from_rng<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut s = [[0; STREAMS]; 4];
        // Stream `s` takes draws `2s, 2s + 1`.
        for stream in 0..STREAMS {
            let a = rng.next_u64();
            let b = rng.next_u64();
            let mut state = [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32];
            if state == [0; 4] {
                state = [1, 0, 0, 0];
            }
            for (word, x) in s.iter_mut().zip(state) {
                word[stream] = x;
            }
        }
        StreamRng { s }
    }

    /// Steps every stream once and returns the block, word `s` from stream
    /// `s`.
    pub fn next_block(&mut self) -> [u32; STREAMS] {
        let mut lanes = Lanes::<F32s>::load(self);
        let vectors = lanes.next_vectors();
        lanes.store(self);
        let mut block = [0u32; STREAMS];
        for (chunk, v) in block
            .chunks_exact_mut(LANES)
            .zip(&vectors[..Lanes::<F32s>::VECS])
        {
            chunk.copy_from_slice(v.to_array().as_ref());
        }
        block
    }
}

/// The state of a [`StreamRng`] in lane vectors of `V`'s width, for the
/// kernels: `s[k][v]` holds state word `k` of streams
/// `v * V::LANES..(v + 1) * V::LANES`, for `v < VECS` (the other vectors are
/// unused).
pub(crate) struct Lanes<V: Vector> {
    s: [[V::Bits; MAX_VECS]; 4],
}

impl<V: Vector> Lanes<V> {
    /// Lane vectors per block.
    pub(crate) const VECS: usize = STREAMS / V::LANES;

    /// The state of `rng` in lane vectors.
    #[inline(always)]
    pub(crate) fn load(rng: &StreamRng) -> Self {
        let mut s = [[V::Bits::ZERO; MAX_VECS]; 4];
        for (vectors, words) in s.iter_mut().zip(&rng.s) {
            for (v, vector) in vectors.iter_mut().enumerate().take(Self::VECS) {
                let mut lanes = V::Bits::ZERO.to_array();
                let lanes_mut = lanes.as_mut();
                let n = lanes_mut.len();
                lanes_mut.copy_from_slice(&words[v * n..(v + 1) * n]);
                *vector = V::Bits::new(lanes);
            }
        }
        Lanes { s }
    }

    /// Stores the state back into `rng`.
    #[inline(always)]
    pub(crate) fn store(&self, rng: &mut StreamRng) {
        for (vectors, words) in self.s.iter().zip(&mut rng.s) {
            for (v, vector) in vectors.iter().enumerate().take(Self::VECS) {
                let lanes = vector.to_array();
                let n = lanes.as_ref().len();
                words[v * n..(v + 1) * n].copy_from_slice(lanes.as_ref());
            }
        }
    }

    /// Steps every stream once and returns the block as lane vectors: lane
    /// `l` of vector `v < VECS` is the word of stream `v * V::LANES + l`.
    #[inline(always)]
    pub(crate) fn next_vectors(&mut self) -> [V::Bits; MAX_VECS] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [V::Bits::ZERO; MAX_VECS];
        for v in 0..Self::VECS {
            out[v] = step(&mut s0[v], &mut s1[v], &mut s2[v], &mut s3[v]);
        }
        out
    }
}

/// One xoshiro128++ step on every lane.
#[inline(always)]
fn step<B: Bits>(s0: &mut B, s1: &mut B, s2: &mut B, s3: &mut B) -> B {
    let result = rotl(*s0 + *s3, 7) + *s0;
    let t = *s1 << 9;
    *s2 = *s2 ^ *s0;
    *s3 = *s3 ^ *s1;
    *s1 = *s1 ^ *s2;
    *s0 = *s0 ^ *s3;
    *s2 = *s2 ^ t;
    *s3 = rotl(*s3, 11);
    result
}

#[inline(always)]
fn rotl<B: Bits>(x: B, k: u32) -> B {
    (x << k) | (x >> (32 - k))
}
