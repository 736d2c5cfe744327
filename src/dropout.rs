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
//! d.forward(&mut rng, &x, &mut y, &mut mask)?;
//! // A kept unit is scaled by 1 / (1 - p); the mask keeps one bit per unit
//! // for the backward pass.
//! assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
//! let mut dx = [0.0f32; 64];
//! d.backward(&mask, &[1.0; 64], &mut dx)?;
//! assert_eq!(dx, y);
//! # Ok::<(), microprop::Error>(())
//! ```

use rand_core::Rng;

use crate::backend::{F32s, I32s, LANES, U32s, bitcast, load_partial, map, map_in_place};
use crate::error::{Error, Result, check_len};
use crate::rng::{StreamRng, VECS};

/// Elements per mask word, and per block of random bits.
const WORD: usize = 32;
/// Lane vectors per mask word.
const VPW: usize = WORD / LANES;

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
/// d.forward(&mut rng, &x, &mut y, &mut mask)?;
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
        rng: &mut R,
        x: &[f32],
        y: &mut [f32],
        mask: &mut [u32],
    ) -> Result<()> {
        check_len("y", y.len(), x.len())?;
        check_len("mask", mask.len(), Self::mask_len(x.len()))?;
        match self.p {
            0.0 => map::<F32s>(x, y, 0.0, |v| v),
            1.0 => map::<F32s>(x, y, 0.0, |v| v * F32s::ZERO),
            _ if x.is_empty() => {}
            _ => {
                let (full, tail) = mask.split_at_mut(x.len() / WORD);
                apply(x, y, full.iter_mut(), tail.first_mut(), self.generator(rng));
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
        rng: &mut R,
        x: &mut [f32],
        mask: &mut [u32],
    ) -> Result<()> {
        check_len("mask", mask.len(), Self::mask_len(x.len()))?;
        match self.p {
            0.0 => {}
            1.0 => map_in_place::<F32s>(x, 0.0, |v| v * F32s::ZERO),
            _ if x.is_empty() => {}
            _ => {
                let (full, tail) = mask.split_at_mut(x.len() / WORD);
                apply_in_place(x, full.iter_mut(), tail.first_mut(), self.generator(rng));
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
        let scale = U32s::splat(self.scale.to_bits());
        match self.p {
            0.0 => map::<F32s>(grad_out, grad_in, 0.0, |v| v),
            1.0 => map::<F32s>(grad_out, grad_in, 0.0, |v| v * F32s::ZERO),
            _ => {
                let (full, tail) = mask.split_at(grad_out.len() / WORD);
                let factors = |w: &u32| word_factors(*w, scale);
                apply(grad_out, grad_in, full.iter(), tail.first(), factors);
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
        let scale = U32s::splat(self.scale.to_bits());
        match self.p {
            0.0 => {}
            1.0 => map_in_place::<F32s>(grad, 0.0, |v| v * F32s::ZERO),
            _ => {
                let (full, tail) = mask.split_at(grad.len() / WORD);
                let factors = |w: &u32| word_factors(*w, scale);
                apply_in_place(grad, full.iter(), tail.first(), factors);
            }
        }
        Ok(())
    }

    /// A closure that draws the next block of random bits, stores the keep
    /// bits of its 32 elements in the given mask word, and returns their
    /// factors.
    fn generator<R: Rng + ?Sized>(&self, rng: &mut R) -> impl FnMut(&mut u32) -> [F32s; VPW] {
        let mut streams = StreamRng::from_rng(rng);
        let threshold = I32s::splat(self.threshold);
        let scale = U32s::splat(self.scale.to_bits());
        move |word: &mut u32| {
            let (factors, bits) = block_factors(streams.next_vectors(), threshold, scale);
            *word = bits;
            factors
        }
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
/// elements `j * LANES..`: its lanes are the high halves (elements 0..16) or
/// the low halves (16..32) of the stream words.
#[inline(always)]
fn block_factors(r: [U32s; VECS], threshold: I32s, scale: U32s) -> ([F32s; VPW], u32) {
    let mut factors = [F32s::ZERO; VPW];
    let mut dropped = 0u32;
    for (j, f) in factors.iter_mut().enumerate() {
        let bits = if j < VECS { r[j] } else { r[j - VECS] << 16 };
        let drop = threshold.simd_gt(bitcast::<U32s, I32s>(bits));
        dropped |= drop.to_bitmask() << (j * LANES);
        *f = bitcast(!bitcast::<I32s, U32s>(drop) & scale);
    }
    (factors, !dropped)
}

/// The factors of the 32 elements of one mask word.
#[inline(always)]
fn word_factors(word: u32, scale: U32s) -> [F32s; VPW] {
    let lane_bits = U32s::new(core::array::from_fn(|l| 1 << l));
    core::array::from_fn(|j| {
        let keep = (U32s::splat(word >> (j * LANES)) & lane_bits).simd_eq(lane_bits);
        bitcast(keep & scale)
    })
}

/// `y = x * factors`, one call of `factors` per mask word, in element order:
/// `full` yields the words of the whole 32-element chunks, `tail` the word
/// of the partial last chunk (its factors are padded).
///
/// Taking `full` by value (a slice iterator) lets the compiler fuse its
/// bounds with those of `x` and `y`, so the loop carries one counter.
#[inline(always)]
fn apply<W>(
    x: &[f32],
    y: &mut [f32],
    full: impl Iterator<Item = W>,
    tail: Option<W>,
    mut factors: impl FnMut(W) -> [F32s; VPW],
) {
    debug_assert_eq!(x.len(), y.len());
    let (xb, xt) = x.as_chunks::<WORD>();
    let (yb, yt) = y.as_chunks_mut::<WORD>();
    for ((xc, yc), w) in xb.iter().zip(yb).zip(full) {
        let f = factors(w);
        let (xv, _) = xc.as_chunks::<LANES>();
        let (yv, _) = yc.as_chunks_mut::<LANES>();
        for ((xv, yv), f) in xv.iter().zip(yv).zip(f) {
            *yv = (F32s::new(*xv) * f).to_array();
        }
    }
    if let (false, Some(w)) = (xt.is_empty(), tail) {
        let f = factors(w);
        for ((xv, yv), f) in xt.chunks(LANES).zip(yt.chunks_mut(LANES)).zip(f) {
            let v = (load_partial::<F32s>(xv, 0.0) * f).to_array();
            yv.copy_from_slice(&v[..yv.len()]);
        }
    }
}

/// `x *= factors` in place, each element read and written once; `full` and
/// `tail` as in [`apply`].
#[inline(always)]
fn apply_in_place<W>(
    x: &mut [f32],
    full: impl Iterator<Item = W>,
    tail: Option<W>,
    mut factors: impl FnMut(W) -> [F32s; VPW],
) {
    let (xb, xt) = x.as_chunks_mut::<WORD>();
    for (xc, w) in xb.iter_mut().zip(full) {
        let f = factors(w);
        let (xv, _) = xc.as_chunks_mut::<LANES>();
        for (xv, f) in xv.iter_mut().zip(f) {
            *xv = (F32s::new(*xv) * f).to_array();
        }
    }
    if let (false, Some(w)) = (xt.is_empty(), tail) {
        let f = factors(w);
        for (xv, f) in xt.chunks_mut(LANES).zip(f) {
            let v = (load_partial::<F32s>(xv, 0.0) * f).to_array();
            xv.copy_from_slice(&v[..xv.len()]);
        }
    }
}
