//! Inverted dropout with a bit-packed mask, as PyTorch's `nn.Dropout` in
//! training mode.
//!
//! [`Dropout::forward`] zeroes each element with probability `p` and scales
//! the survivors by `1 / (1 - p)`, so the expected output equals the input.
//! The keep decisions are stored one bit per element in a caller buffer of
//! [`Dropout::mask_len`] words, and [`Dropout::backward`] applies the same
//! mask and scale to the gradient.
//!
//! **Evaluation is the identity**: at inference time do not call these
//! functions, use the input as the output (PyTorch's `model.eval()`).
//!
//! # Random bits and the keep probability
//!
//! A call with `0 < p < 1` on a non-empty input seeds a [`StreamRng`] with
//! 32 `u64` drawn from the caller's generator and takes one block (16 words)
//! per 32 elements: element `i`
//! reads word `i % 16` of block `i / 32`, its high 16 bits when `i % 32 < 16`
//! and its low 16 bits otherwise. The element is kept when that 16-bit value,
//! read as an `i16`, is at least `32768 - k`, where
//! `k = round((1 - p) * 65536)` clamped to `[1, 65536]`.
//!
//! So the keep probability has a resolution of 16 bits: it is exactly
//! `k / 65536`, within `2^-17` (7.6e-6) of `1 - p`, and exact when `p` is a
//! multiple of `2^-16` (0.5, 0.25, 0.125, ...); a `p` within `2^-17` of 1
//! still keeps one element in 65536. Using 16 of the 32 bits halves the
//! generator's work per element. The survivors are scaled by
//! `1 / (1 - p)` computed in f64 and rounded once to f32, as PyTorch does, so
//! `E[y] = x * (k / 65536) / (1 - p)`, within a relative `2^-17 / (1 - p)`
//! of `x` (1.5e-5 for `p <= 0.5`).
//!
//! The mask depends only on the seed and the length, never on the SIMD width
//! or the target: `microprop::reference::dropout` reproduces it bit for bit.
//! `p = 0` and `p = 1` do not touch the generator.
//!
//! ```
//! use microprop::Dropout;
//! use rand_xoshiro::Xoshiro256PlusPlus;
//! use rand_xoshiro::rand_core::SeedableRng;
//! let d = Dropout::new(0.5)?;
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
//! let x = [1.0f32; 64];
//! let (mut y, mut mask) = ([0.0f32; 64], [0u32; 2]);
//! assert_eq!(Dropout::mask_len(x.len()), mask.len());
//! d.forward(&x, &mut y, &mut mask, &mut rng)?;
//! // A kept unit is scaled by 1 / (1 - p); the mask keeps one bit per unit
//! // for the backward pass.
//! assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
//! let mut dx = [0.0f32; 64];
//! d.backward(&mask, &[1.0; 64], &mut dx)?;
//! assert_eq!(dx, y);
//! # Ok::<(), microprop::Error>(())
//! ```

use rand_core::Rng;

use crate::backend::{
    Bits, Vector, dispatch, inlined, load_partial, map, map_in_place, store_partial,
};
use crate::error::{Error, Result, check_len};
use crate::rng::{Lanes, MAX_VECS, StreamRng};

/// Elements per mask word, and per block of random bits.
const WORD: usize = 32;
/// The most lane vectors a mask word takes (with 4 lanes).
const MAX_VPW: usize = WORD / 4;

/// Inverted dropout with drop probability `p`: see the [module docs](self).
///
/// ```
/// use microprop::Dropout;
/// use rand_xoshiro::Xoshiro256PlusPlus;
/// use rand_xoshiro::rand_core::SeedableRng;
///
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
/// let d = Dropout::new(0.5)?;
/// let x = [1.0f32; 100];
/// let mut y = [0.0f32; 100];
/// let mut mask = [0u32; Dropout::mask_len(100)];
/// d.forward(&x, &mut y, &mut mask, &mut rng)?;
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
///
/// let grad_out = [1.0f32; 100];
/// let mut grad_in = [0.0f32; 100];
/// d.backward(&mask, &grad_out, &mut grad_in)?;
/// assert_eq!(grad_in, y);
/// # Ok::<(), microprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    p: f32,
    /// The factor of kept elements: `1 / (1 - p)`, or 0 when `p = 1`.
    scale: f32,
    /// An element is dropped when its random bits, as an `i32`, are below
    /// this: `(32768 - k) << 16`.
    threshold: i32,
}

impl Dropout {
    /// A dropout layer that drops each element with probability `p`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] unless `0 <= p <= 1` (NaN included).
    pub fn new(p: f32) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::InvalidParameter {
                arg: "p",
                value: f64::from(p),
                expected: "in [0, 1]",
            });
        }
        let q = 1.0 - f64::from(p);
        let k = libm::round(q * 65536.0).clamp(1.0, 65536.0) as i32;
        Ok(Dropout {
            p,
            scale: if p == 1.0 { 0.0 } else { (1.0 / q) as f32 },
            threshold: (32768 - k) << 16,
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// The probability that an element is kept, as the 16-bit threshold
    /// implements it: `k / 65536` (see the [module docs](self)); 1 for
    /// `p = 0` and 0 for `p = 1`.
    pub fn keep_probability(&self) -> f64 {
        match self.p {
            0.0 => 1.0,
            1.0 => 0.0,
            _ => f64::from(32768 - (self.threshold >> 16)) / 65536.0,
        }
    }

    /// The factor applied to kept elements, `1 / (1 - p)` rounded to f32
    /// (0 when `p = 1`).
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The number of `u32` words of the mask of `n` elements:
    /// `n.div_ceil(32)`.
    pub const fn mask_len(n: usize) -> usize {
        n.div_ceil(WORD)
    }

    /// Training-mode forward pass: `y[i] = x[i] * m[i] / (1 - p)` with
    /// `m[i]` drawn from Bernoulli(1 - p), writing the mask (bit `i % 32` of
    /// `mask[i / 32]` is `m[i]`; the unused high bits of the last word are 0).
    ///
    /// Dropped elements are `x * 0`, as in PyTorch: `-0` for negative `x`
    /// and NaN for infinite or NaN `x`. `p = 0` copies `x` and sets every
    /// mask bit; `p = 1` writes `x * 0` and clears the mask.
    ///
    /// # Precision
    ///
    /// Kept elements are `x * scale()`, one rounding. The keep probability
    /// has 16-bit resolution (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] when `y.len() != x.len()` or
    /// `mask.len() != Dropout::mask_len(x.len())`.
    pub fn forward<R: Rng + ?Sized>(
        &self,
        x: &[f32],
        y: &mut [f32],
        mask: &mut [u32],
        rng: &mut R,
    ) -> Result<()> {
        check_len("y", y.len(), x.len())?;
        check_len("mask", mask.len(), Self::mask_len(x.len()))?;
        match self.p {
            0.0 => dispatch!(V => map(x, y, 0.0, inlined!(|v: V| v))),
            1.0 => dispatch!(V => map(x, y, 0.0, inlined!(|v: V| v * V::ZERO))),
            _ if x.is_empty() => {}
            _ => {
                let streams = StreamRng::from_rng(rng);
                let (full, tail) = mask.split_at_mut(x.len() / WORD);
                dispatch!(V => {
                    let generator = self.generator::<V>(&streams);
                    apply::<V, _>(x, y, full.iter_mut(), tail.first_mut(), generator);
                });
            }
        }
        self.finish_mask(mask, x.len());
        Ok(())
    }

    /// [`forward`](Self::forward) in place: `x[i] *= m[i] / (1 - p)`, with the
    /// same random stream, mask and results.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] when
    /// `mask.len() != Dropout::mask_len(x.len())`.
    pub fn forward_in_place<R: Rng + ?Sized>(
        &self,
        x: &mut [f32],
        mask: &mut [u32],
        rng: &mut R,
    ) -> Result<()> {
        check_len("mask", mask.len(), Self::mask_len(x.len()))?;
        match self.p {
            0.0 => {}
            1.0 => dispatch!(V => map_in_place(x, 0.0, inlined!(|v: V| v * V::ZERO))),
            _ if x.is_empty() => {}
            _ => {
                let streams = StreamRng::from_rng(rng);
                let (full, tail) = mask.split_at_mut(x.len() / WORD);
                dispatch!(V => {
                    let generator = self.generator::<V>(&streams);
                    apply_in_place::<V, _>(x, full.iter_mut(), tail.first_mut(), generator);
                });
            }
        }
        self.finish_mask(mask, x.len());
        Ok(())
    }

    /// Backward pass: `grad_in[i] = grad_out[i] * m[i] / (1 - p)` with the
    /// mask written by [`forward`](Self::forward).
    ///
    /// The mask is not read when `p = 0` (the gradient is copied) or `p = 1`
    /// (the gradient is `grad_out * 0`, zero for finite values).
    ///
    /// # Precision
    ///
    /// One rounding per element, the same product as the forward pass.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] when `grad_in.len() != grad_out.len()` or
    /// `mask.len() != Dropout::mask_len(grad_out.len())`.
    pub fn backward(&self, mask: &[u32], grad_out: &[f32], grad_in: &mut [f32]) -> Result<()> {
        check_len("grad_in", grad_in.len(), grad_out.len())?;
        check_len("mask", mask.len(), Self::mask_len(grad_out.len()))?;
        match self.p {
            0.0 => dispatch!(V => map(grad_out, grad_in, 0.0, inlined!(|v: V| v))),
            1.0 => dispatch!(V => {
                map(grad_out, grad_in, 0.0, inlined!(|v: V| v * V::ZERO))
            }),
            _ => {
                let (full, tail) = mask.split_at(grad_out.len() / WORD);
                dispatch!(V => {
                    let factors = WordFactors::<V>::new(self.scale);
                    let factors = core::convert::identity(
                        inlined!(move |w: &u32| factors.of(*w)),
                    );
                    apply::<V, _>(grad_out, grad_in, full.iter(), tail.first(), factors);
                });
            }
        }
        Ok(())
    }

    /// [`backward`](Self::backward) in place: `grad[i] *= m[i] / (1 - p)`.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] when
    /// `mask.len() != Dropout::mask_len(grad.len())`.
    pub fn backward_in_place(&self, mask: &[u32], grad: &mut [f32]) -> Result<()> {
        check_len("mask", mask.len(), Self::mask_len(grad.len()))?;
        match self.p {
            0.0 => {}
            1.0 => dispatch!(V => map_in_place(grad, 0.0, inlined!(|v: V| v * V::ZERO))),
            _ => {
                let (full, tail) = mask.split_at(grad.len() / WORD);
                dispatch!(V => {
                    let factors = WordFactors::<V>::new(self.scale);
                    let factors = core::convert::identity(
                        inlined!(move |w: &u32| factors.of(*w)),
                    );
                    apply_in_place::<V, _>(grad, full.iter(), tail.first(), factors);
                });
            }
        }
        Ok(())
    }

    /// A closure that draws the next block of random bits from `streams`,
    /// stores the keep bits of its 32 elements in the given mask word, and
    /// returns their factors (the first `32 / V::LANES`).
    #[inline(always)]
    fn generator<V: Vector>(&self, streams: &StreamRng) -> impl FnMut(&mut u32) -> [V; MAX_VPW] {
        let mut lanes = Lanes::<V>::load(streams);
        let threshold = V::Bits::splat(self.threshold as u32);
        let scale = V::Bits::splat(self.scale.to_bits());
        core::convert::identity(inlined!(move |word: &mut u32| {
            let (factors, bits) = block_factors::<V>(lanes.next_vectors(), threshold, scale);
            *word = bits;
            factors
        }))
    }

    /// Sets the whole mask for `p = 0` and `p = 1`, and clears the bits past
    /// element `n` in the last word.
    fn finish_mask(&self, mask: &mut [u32], n: usize) {
        match self.p {
            0.0 => mask.fill(u32::MAX),
            1.0 => mask.fill(0),
            _ => {}
        }
        if let Some(last) = mask.last_mut()
            && !n.is_multiple_of(WORD)
        {
            *last &= (1 << (n % WORD)) - 1;
        }
    }
}

/// The keep bits and factors of one block of 32 elements. Vector `j` covers
/// elements `j * V::LANES..`: its lanes are the high halves (elements 0..16)
/// or the low halves (16..32) of the stream words.
#[inline(always)]
fn block_factors<V: Vector>(
    r: [V::Bits; MAX_VECS],
    threshold: V::Bits,
    scale: V::Bits,
) -> ([V; MAX_VPW], u32) {
    let vecs = Lanes::<V>::VECS;
    let mut factors = [V::ZERO; MAX_VPW];
    let mut dropped = 0u32;
    for (j, f) in factors.iter_mut().enumerate().take(WORD / V::LANES) {
        let bits = if j < vecs { r[j] } else { r[j - vecs] << 16 };
        let drop = threshold.signed_gt(bits);
        dropped |= drop.to_bitmask() << (j * V::LANES);
        *f = V::from_bits(!drop & scale);
    }
    (factors, !dropped)
}

/// The factors of the elements of a mask word: `scale` where the bit is set.
#[derive(Clone, Copy)]
struct WordFactors<V: Vector> {
    /// Lane `l` is `1 << l`.
    lane_bits: V::Bits,
    scale: V::Bits,
}

impl<V: Vector> WordFactors<V> {
    #[inline(always)]
    fn new(scale: f32) -> Self {
        let mut lane_bits = V::Bits::ZERO.to_array();
        for (l, bit) in lane_bits.as_mut().iter_mut().enumerate() {
            *bit = 1 << l;
        }
        WordFactors {
            lane_bits: V::Bits::new(lane_bits),
            scale: V::Bits::splat(scale.to_bits()),
        }
    }

    /// The factors of the 32 elements of `word` (the first `32 / V::LANES`).
    #[inline(always)]
    fn of(self, word: u32) -> [V; MAX_VPW] {
        let mut factors = [V::ZERO; MAX_VPW];
        for (j, f) in factors.iter_mut().enumerate().take(WORD / V::LANES) {
            let keep =
                (V::Bits::splat(word >> (j * V::LANES)) & self.lane_bits).simd_eq(self.lane_bits);
            *f = V::from_bits(keep & self.scale);
        }
        factors
    }
}

/// `y = x * factors`, one call of `factors` per mask word, in element order:
/// `full` yields the words of the whole 32-element chunks, `tail` the word
/// of the partial last chunk (its factors are padded).
///
/// Taking `full` by value (a slice iterator) lets the compiler fuse its
/// bounds with those of `x` and `y`, so the loop carries one counter.
#[inline(always)]
fn apply<V: Vector, W>(
    x: &[f32],
    y: &mut [f32],
    full: impl Iterator<Item = W>,
    tail: Option<W>,
    mut factors: impl FnMut(W) -> [V; MAX_VPW],
) {
    debug_assert_eq!(x.len(), y.len());
    let (xb, xt) = x.as_chunks::<WORD>();
    let (yb, yt) = y.as_chunks_mut::<WORD>();
    for ((xc, yc), w) in xb.iter().zip(yb).zip(full) {
        let f = factors(w);
        for (j, f) in f.iter().enumerate().take(WORD / V::LANES) {
            let at = j * V::LANES;
            (V::load(&xc[at..]) * *f).store(&mut yc[at..]);
        }
    }
    if let (false, Some(w)) = (xt.is_empty(), tail) {
        let f = factors(w);
        for ((xv, yv), f) in xt.chunks(V::LANES).zip(yt.chunks_mut(V::LANES)).zip(f) {
            store_partial(load_partial::<V>(xv, 0.0) * f, yv);
        }
    }
}

/// `x *= factors` in place, each element read and written once; `full` and
/// `tail` as in [`apply`].
#[inline(always)]
fn apply_in_place<V: Vector, W>(
    x: &mut [f32],
    full: impl Iterator<Item = W>,
    tail: Option<W>,
    mut factors: impl FnMut(W) -> [V; MAX_VPW],
) {
    let (xb, xt) = x.as_chunks_mut::<WORD>();
    for (xc, w) in xb.iter_mut().zip(full) {
        let f = factors(w);
        for (j, f) in f.iter().enumerate().take(WORD / V::LANES) {
            let at = j * V::LANES;
            (V::load(&xc[at..]) * *f).store(&mut xc[at..]);
        }
    }
    if let (false, Some(w)) = (xt.is_empty(), tail) {
        let f = factors(w);
        for (xv, f) in xt.chunks_mut(V::LANES).zip(f) {
            let v = load_partial::<V>(xv, 0.0) * f;
            store_partial(v, xv);
        }
    }
}
