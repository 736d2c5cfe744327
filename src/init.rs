//! Weight initialisation with the caller's [`rand_core::Rng`], following
//! `torch.nn.init`.
//!
//! | function | distribution |
//! | --- | --- |
//! | [`glorot_uniform`] (`xavier_uniform_`) | U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) |
//! | [`glorot_normal`] (`xavier_normal_`) | N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) |
//! | [`he_uniform`] (`kaiming_uniform_`) | U(-a, a), a = gain * sqrt(3 / fan) |
//! | [`he_normal`] (`kaiming_normal_`) | N(0, std^2), std = gain / sqrt(fan) |
//!
//! [`gain`] gives PyTorch's recommended gain for an [`Activation`]. For a
//! dense layer's weight of shape (out, in), `fan_in = in` and
//! `fan_out = out`; [`FanMode::fan`] picks one for the He schemes (PyTorch's
//! `mode='fan_in'` is the default). With `gain = sqrt(2)` (ReLU),
//! [`he_uniform`] is the classic U(-sqrt(6 / fan_in), sqrt(6 / fan_in)).
//! PyTorch's default `nn.Linear` weight, `kaiming_uniform_(a = sqrt(5))`, is
//! `he_uniform` with `gain = sqrt(1 / 3)`, i.e. U(-1/sqrt(fan_in),
//! 1/sqrt(fan_in)); its bias is [`uniform`] with the same bound.
//! [`constant`] and [`zeros`] fill biases.
//!
//! # Random bits
//!
//! Each call on a non-empty slice seeds a [`StreamRng`] with 32 `u64` from
//! the caller's generator and reads its blocks in element order: element `i`
//! is made from word `i % 16` of block `i / 16` ([`uniform`]) or from the
//! pair of words `2j, 2j + 1` with `j = (i % 16) / 2` ([`normal`]). The same
//! seed gives bit-identical weights on every SIMD width and target, and
//! `microprop::reference::init` reproduces them.
//!
//! Only the distributions match PyTorch's: its random stream cannot be
//! reproduced.
//!
//! ```
//! use microprop::{Activation, init};
//! use rand_xoshiro::Xoshiro256PlusPlus;
//! use rand_xoshiro::rand_core::SeedableRng;
//! let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
//! let (fan_in, units) = (784, 128);
//! let mut w = vec![0.0f32; units * fan_in];
//! init::he_uniform(&mut w, fan_in, init::gain(Activation::Relu)?, &mut rng)?;
//! // He's bound for ReLU: sqrt(2) * sqrt(3 / fan_in).
//! let bound = (6.0f32 / fan_in as f32).sqrt();
//! assert!(w.iter().all(|v| v.abs() <= bound));
//! # Ok::<(), microprop::Error>(())
//! ```

use rand_core::Rng;

use crate::activation::Activation;
use crate::backend::{Bits, Vector, dispatch, store_partial};
use crate::error::{Error, Result, check_non_negative};
use crate::rng::{Lanes, STREAMS, StreamRng};

/// Which fan a He (Kaiming) initialisation scales by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FanMode {
    /// The number of inputs of a unit: preserves the variance of the
    /// activations in the forward pass (PyTorch's default).
    #[default]
    In,
    /// The number of outputs of a unit: preserves the variance of the
    /// gradients in the backward pass.
    Out,
}

impl FanMode {
    /// The fan of a dense weight of shape (`out_features`, `in_features`).
    pub fn fan(self, out_features: usize, in_features: usize) -> usize {
        match self {
            FanMode::In => in_features,
            FanMode::Out => out_features,
        }
    }
}

/// The recommended gain for layers followed by `activation`: PyTorch's
/// `torch.nn.init.calculate_gain`, to pass to the schemes below.
///
/// | activation | gain |
/// | --- | --- |
/// | `Identity`, `Sigmoid` | 1 |
/// | `Tanh` | 5/3 |
/// | `Relu` | sqrt(2) |
/// | `LeakyRelu(slope)` | sqrt(2 / (1 + slope^2)) |
/// | `Elu`, `Gelu`, `GeluTanh`, `Silu`, `Softplus` | sqrt(2) |
///
/// PyTorch has no gain for the last row (`calculate_gain` raises); these
/// activations are ReLU-like (close to the identity for `x > 0` and
/// saturating below), so they get ReLU's gain, the usual practice.
///
/// ```
/// use microprop::{Activation, init};
/// assert_eq!(init::gain(Activation::Tanh)?, 5.0 / 3.0);
/// assert_eq!(init::gain(Activation::Relu)?, 2.0f32.sqrt());
/// # Ok::<(), microprop::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] for a hyperparameter that
/// [`Activation::validate`] rejects (a non-finite `LeakyRelu` slope).
pub fn gain(activation: Activation) -> Result<f32> {
    activation.validate()?;
    Ok(match activation {
        Activation::Identity | Activation::Sigmoid => 1.0,
        Activation::Tanh => 5.0 / 3.0,
        Activation::LeakyRelu(slope) => {
            let slope = f64::from(slope);
            libm::sqrt(2.0 / (1.0 + slope * slope)) as f32
        }
        Activation::Relu
        | Activation::Elu(_)
        | Activation::Gelu
        | Activation::GeluTanh
        | Activation::Silu
        | Activation::Softplus => core::f32::consts::SQRT_2,
    })
}

/// Fills `w` from U(-a, a) with a = `gain * sqrt(6 / (fan_in + fan_out))`
/// (Glorot and Bengio 2010; PyTorch's `xavier_uniform_`).
///
/// ```
/// use rand_xoshiro::Xoshiro256PlusPlus;
/// use rand_xoshiro::rand_core::SeedableRng;
///
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
/// let mut w = [0.0f32; 6 * 4];
/// microprop::init::glorot_uniform(&mut w, 4, 6, 1.0, &mut rng)?;
/// assert!(w.iter().all(|v| v.abs() < 1.0)); // a = sqrt(6 / 10)
/// # Ok::<(), microprop::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] when a fan is 0 or `gain` is negative, not
/// finite, or so large that the bound overflows f32.
pub fn glorot_uniform<R: Rng + ?Sized>(
    w: &mut [f32],
    fan_in: usize,
    fan_out: usize,
    gain: f32,
    rng: &mut R,
) -> Result<()> {
    let g = check_gain(gain)?;
    let fans = check_fan("fan_in", fan_in)? + check_fan("fan_out", fan_out)?;
    uniform(w, spread(g * libm::sqrt(6.0 / fans), gain)?, rng)
}

/// Fills `w` from N(0, std^2) with std = `gain * sqrt(2 / (fan_in +
/// fan_out))` (PyTorch's `xavier_normal_`). See [`normal`] for the sampler.
///
/// # Errors
///
/// [`Error::InvalidParameter`] when a fan is 0 or `gain` is negative, not
/// finite, or so large that the bound overflows f32.
pub fn glorot_normal<R: Rng + ?Sized>(
    w: &mut [f32],
    fan_in: usize,
    fan_out: usize,
    gain: f32,
    rng: &mut R,
) -> Result<()> {
    let g = check_gain(gain)?;
    let fans = check_fan("fan_in", fan_in)? + check_fan("fan_out", fan_out)?;
    normal(w, spread(g * libm::sqrt(2.0 / fans), gain)?, rng)
}

/// Fills `w` from U(-a, a) with a = `gain * sqrt(3 / fan)` (He et al. 2015;
/// PyTorch's `kaiming_uniform_`). Pass the fan of [`FanMode::fan`].
///
/// # Errors
///
/// [`Error::InvalidParameter`] when `fan` is 0 or `gain` is negative, not
/// finite, or so large that the bound overflows f32.
pub fn he_uniform<R: Rng + ?Sized>(
    w: &mut [f32],
    fan: usize,
    gain: f32,
    rng: &mut R,
) -> Result<()> {
    let g = check_gain(gain)?;
    let fan = check_fan("fan", fan)?;
    uniform(w, spread(g * libm::sqrt(3.0 / fan), gain)?, rng)
}

/// Fills `w` from N(0, std^2) with std = `gain / sqrt(fan)` (PyTorch's
/// `kaiming_normal_`). See [`normal`] for the sampler.
///
/// # Errors
///
/// [`Error::InvalidParameter`] when `fan` is 0 or `gain` is negative, not
/// finite, or so large that the bound overflows f32.
pub fn he_normal<R: Rng + ?Sized>(w: &mut [f32], fan: usize, gain: f32, rng: &mut R) -> Result<()> {
    let g = check_gain(gain)?;
    let fan = check_fan("fan", fan)?;
    normal(w, spread(g / libm::sqrt(fan), gain)?, rng)
}

/// Fills `w` from U(-bound, bound).
///
/// # Precision
///
/// Each value is `bound * v` with `v = m * 2^-23` for an odd integer `m` in
/// `(-2^23, 2^23)` made from the top 23 bits of a random word: the 2^23
/// values of `v` are spaced evenly and symmetric around 0, so the mean is
/// exactly 0 and every result satisfies `|w| <= bound` (strictly below when
/// `bound` is a normal, non-zero f32).
///
/// # Errors
///
/// [`Error::InvalidParameter`] when `bound` is negative or not finite.
pub fn uniform<R: Rng + ?Sized>(w: &mut [f32], bound: f32, rng: &mut R) -> Result<()> {
    check_non_negative("bound", f64::from(bound))?;
    if w.is_empty() {
        return Ok(());
    }
    let streams = StreamRng::from_rng(rng);
    dispatch!(V => fill_uniform::<V>(&streams, w, bound));
    Ok(())
}

/// `w[i] = bound * symmetric_unit(r)` with `r` the `i`-th word of `streams`
/// (block `i / 16`, word `i % 16`).
#[inline(always)]
fn fill_uniform<V: Vector>(streams: &StreamRng, w: &mut [f32], bound: f32) {
    /// Blocks per loop iteration: the generator's steps form one chain of
    /// dependencies, so the loop's own overhead is worth spreading.
    const UNROLL: usize = 4;
    let mut lanes = Lanes::<V>::load(streams);
    let bound = V::splat(bound);
    let (body, tail) = w.as_chunks_mut::<{ UNROLL * STREAMS }>();
    for blocks in body {
        let (blocks, _) = blocks.as_chunks_mut::<STREAMS>();
        for block in blocks {
            uniform_block(&mut lanes, bound, block);
        }
    }
    let (blocks, tail) = tail.as_chunks_mut::<STREAMS>();
    for block in blocks {
        uniform_block(&mut lanes, bound, block);
    }
    if !tail.is_empty() {
        let r = lanes.next_vectors();
        for (out, r) in tail.chunks_mut(V::LANES).zip(r) {
            store_partial(bound * symmetric_unit::<V>(r), out);
        }
    }
}

/// Fills one block of [`STREAMS`] elements from the next block of words.
#[inline(always)]
fn uniform_block<V: Vector>(lanes: &mut Lanes<V>, bound: V, block: &mut [f32; STREAMS]) {
    let r = lanes.next_vectors();
    for (v, r) in r.iter().enumerate().take(Lanes::<V>::VECS) {
        (bound * symmetric_unit::<V>(*r)).store(&mut block[v * V::LANES..]);
    }
}

/// Maps random words to `(2k + 1) * 2^-23 - 1` with `k` their top 23 bits,
/// exactly: `f = 1 + k * 2^-23` from the bit pattern, then `2f - 3` and
/// `+ 2^-23` are exact in f32.
#[inline(always)]
fn symmetric_unit<V: Vector>(r: V::Bits) -> V {
    let f = V::from_bits((r >> 9) | V::Bits::splat(0x3F80_0000));
    (f + f - V::splat(3.0)) + V::splat(1.0 / 8_388_608.0)
}

/// Fills `w` from N(0, std^2) by the Box-Muller transform.
///
/// Each pair of random words `(a, b)` gives `u1 = ((a >> 8) + 1) * 2^-24` in
/// (0, 1] and `u2 = (b >> 8) * 2^-24` in [0, 1), and the two samples
/// `std * sqrt(-2 ln u1) * (cos, sin)(2 pi u2)`, computed with `libm`'s f32
/// functions so the bits are the same on every target and SIMD level
/// (vector versions of `ln` and `sin_cos` round differently with and without
/// FMA). Samples are bounded by `5.77 * std` (the tail beyond holds 8e-9 of
/// the mass).
///
/// # Precision
///
/// Each sample is within a few ULP of the exact transform of its `u1, u2`.
///
/// # Errors
///
/// [`Error::InvalidParameter`] when `std` is negative or not finite.
pub fn normal<R: Rng + ?Sized>(w: &mut [f32], std: f32, rng: &mut R) -> Result<()> {
    check_non_negative("std", f64::from(std))?;
    if w.is_empty() {
        return Ok(());
    }
    let mut streams = StreamRng::from_rng(rng);
    for chunk in w.chunks_mut(STREAMS) {
        let block = streams.next_block();
        for (out, pair) in chunk.chunks_mut(2).zip(block.chunks_exact(2)) {
            let u1 = ((pair[0] >> 8) + 1) as f32 * (1.0 / 16_777_216.0);
            let u2 = (pair[1] >> 8) as f32 * (1.0 / 16_777_216.0);
            let radius = std * libm::sqrtf(-2.0 * libm::logf(u1));
            let (sin, cos) = libm::sincosf(core::f32::consts::TAU * u2);
            out[0] = radius * cos;
            if let Some(second) = out.get_mut(1) {
                *second = radius * sin;
            }
        }
    }
    Ok(())
}

/// Fills `w` with `value` (a bias, for example).
pub fn constant(w: &mut [f32], value: f32) {
    w.fill(value);
}

/// Fills `w` with zeros, the usual bias initialisation.
pub fn zeros(w: &mut [f32]) {
    constant(w, 0.0);
}

fn check_gain(gain: f32) -> Result<f64> {
    let gain = f64::from(gain);
    check_non_negative("gain", gain)?;
    Ok(gain)
}

/// The bound or standard deviation `x` that `gain` scales, rounded to f32;
/// a gain that makes it overflow is an error naming the gain, not the
/// sampler's argument the caller never passed.
fn spread(x: f64, gain: f32) -> Result<f32> {
    let rounded = x as f32;
    if rounded.is_finite() {
        Ok(rounded)
    } else {
        Err(Error::InvalidParameter {
            arg: "gain",
            value: f64::from(gain),
            expected: "small enough that the bound or std fits in f32",
        })
    }
}

fn check_fan(arg: &'static str, fan: usize) -> Result<f64> {
    if fan == 0 {
        Err(Error::InvalidParameter {
            arg,
            value: 0.0,
            expected: "at least 1",
        })
    } else {
        Ok(fan as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_unit_is_exact_at_the_ends() {
        use crate::backend::F32s;
        type U = <F32s as Vector>::Bits;
        let v = symmetric_unit::<F32s>(U::new(core::array::from_fn(|l| {
            [0, u32::MAX, 1 << 31, (1 << 31) - 1][l % 4]
        })))
        .to_array();
        let step = 1.0 / 8_388_608.0;
        assert_eq!(v[0], -1.0 + step);
        assert_eq!(v[1], 1.0 - step);
        assert_eq!(v[2], step);
        assert_eq!(v[3], -step);
    }
}
