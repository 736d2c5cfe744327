//! A multilayer perceptron laid out in buffers the caller owns.
//!
//! [`Mlp`] describes the network (the input size and a caller slice of
//! [`LayerSpec`]s: units, activation, dropout probability) and computes how
//! much memory each part of training needs. The caller passes slices of
//! exactly those sizes (static arrays on a microcontroller, `Vec`s on a
//! desktop) and drives training with [`Mlp::init`], [`Mlp::forward`],
//! [`Mlp::backward`] and [`Mlp::step`]. Nothing here allocates, and every
//! size mismatch is an [`Error`].
//!
//! # Memory layout
//!
//! | buffer | element | length | contents |
//! |---|---|---|---|
//! | parameters | `f32` | [`Mlp::param_len`] | the weights of every layer, `(units, inputs)` row-major as in `torch.nn.Linear`, then the biases of every layer |
//! | gradients | `f32` | [`Mlp::param_len`] | same layout as the parameters |
//! | optimizer state | `f32` | [`Mlp::state_len`] | the weight optimizer's state, then the bias optimizer's |
//! | activations | `f32` | [`Mlp::activations_len`] | per layer: pre-activation, activation, dropout output (only when `dropout > 0`); then two gradient buffers |
//! | dropout masks | `u32` | [`Mlp::mask_len`] | one bit per dropped-out element, per layer with `dropout > 0` |
//! | gemm workspace | `f32` | [`Mlp::workspace_len`] | packing scratch of [`gemm`](crate::matmul::gemm) |
//!
//! Inputs and outputs are row-major `(batch, features)` matrices. Inference
//! ([`Mlp::infer`]) needs only the parameters, one buffer of
//! [`Mlp::infer_len`] floats and the gemm workspace.
//!
//! # The three products
//!
//! With `X` the `(batch, in)` input of a layer and `W` its `(out, in)`
//! weights, the forward pass is `Y = act(X * W^T + b)`, keeping `Z = X *
//! W^T + b` in the same sweep; the backward pass turns the gradient `dY`
//! into `dZ = dY * act'(Z)`, then `dW = dZ^T * X`, `db` = column sums of
//! `dZ`, and `dX = dZ * W`. Each layer is a [`Dense`] layer of
//! [`matmul`](crate::matmul), which picks gemm's path for its shapes: a
//! tiny layer (at most 256 multiply-adds at the batch size, such as every
//! layer of a 2-4-1 network) runs inline, one dot product per element.

//! # A network known at compile time
//!
//! [`Mlp::forward`], [`Mlp::backward`] and [`Mlp::step`] are
//! `#[inline(always)]`, and so is every optimizer's step, while the gemm
//! paths of large layers stay out of line. For a `const` network and
//! optimizer, the usual case in firmware, the compiler then knows every
//! shape, activation and hyperparameter: the checks and the dispatch fold
//! away and the loops over tiny layers unroll. On a Cortex-M4F this took a
//! training step of a 2-4-1 network from 2,560 instructions to 680 (see the
//! README), and the code grew no larger.
//!
//! # Example
//!
//! XOR with a 2-4-1 network, everything on the stack:
//!
//! ```
//! use microprop::nn::{Init, LayerSpec, Mlp};
//! use microprop::optim::Sgd;
//! use microprop::{Activation, loss};
//! use rand_core::SeedableRng;
//!
//! const LAYERS: [LayerSpec; 2] = [
//!     LayerSpec::new(4, Activation::Tanh),
//!     LayerSpec::new(1, Activation::Identity),
//! ];
//! const NET: Mlp<'static> = match Mlp::new(2, &LAYERS) {
//!     Ok(net) => net,
//!     Err(_) => panic!("invalid network"),
//! };
//! const BATCH: usize = 4;
//! let mut params = [0.0f32; NET.param_len()];
//! let mut grads = [0.0f32; NET.param_len()];
//! let mut acts = [0.0f32; NET.activations_len(BATCH)];
//! let mut masks = [0u32; NET.mask_len(BATCH)]; // empty: no dropout here
//! let mut workspace = [0.0f32; 256]; // gemm packing scratch, more than enough here
//! let workspace = &mut workspace[..NET.workspace_len(BATCH)];
//!
//! let opt = Sgd { lr: 0.1, momentum: 0.9, ..Sgd::default() };
//! let mut state = [0.0f32; 64];
//! let state = &mut state[..NET.state_len(&opt, &opt)];
//!
//! let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
//! let target = [0.0, 1.0, 1.0, 0.0];
//! let mut rng = rand_xoshiro::Xoshiro128PlusPlus::seed_from_u64(7);
//! NET.init(&mut params, Init::GlorotUniform, &mut rng)?;
//! let mut grad_out = [0.0f32; BATCH];
//! for t in 1..=500 {
//!     let out = NET.forward(&params, &x, BATCH, &mut acts, &mut masks, workspace, &mut rng)?;
//!     loss::bce_with_logits(out, &target, &mut grad_out)?;
//!     NET.backward(&params, &x, BATCH, &mut acts, &masks, &grad_out, &mut grads, workspace)?;
//!     NET.step(t, &mut params, &grads, state, &opt, &opt)?;
//! }
//! let mut buffer = [0.0f32; NET.infer_len(BATCH)];
//! let logits = NET.infer(&params, &x, BATCH, &mut buffer, workspace)?;
//! for (z, t) in logits.iter().zip(target) {
//!     assert_eq!(*z > 0.0, t > 0.5);
//! }
//! # Ok::<(), microprop::Error>(())
//! ```

mod pass;

use crate::error::{Error, Result, check_len};
use crate::init::{self, FanMode};
use crate::matmul::Dense;
use crate::optim::Optimizer;
use crate::{Activation, Dropout};

use rand_core::Rng;

/// One dense layer: `units` outputs, an activation, and the probability of
/// dropping each output in training (0 for none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerSpec {
    /// Number of outputs (neurons) of the layer; at least 1.
    pub units: usize,
    /// Applied to `X * W^T + b`.
    pub activation: Activation,
    /// Inverted dropout on the layer's output in training, in `[0, 1)`.
    pub dropout: f32,
}

impl LayerSpec {
    /// A layer without dropout.
    pub const fn new(units: usize, activation: Activation) -> Self {
        Self {
            units,
            activation,
            dropout: 0.0,
        }
    }

    /// The same layer with dropout probability `p` in training.
    pub const fn with_dropout(self, p: f32) -> Self {
        Self { dropout: p, ..self }
    }
}

/// How [`Mlp::init`] draws the weights; biases start at zero.
///
/// Each scheme uses the gain that [`init::gain`] gives for the layer's
/// activation (`torch.nn.init.calculate_gain`'s values). The He schemes
/// take their fan from a [`FanMode`], as torch's `mode=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Uniform with bound `gain * sqrt(6 / (fan_in + fan_out))`.
    GlorotUniform,
    /// Normal with standard deviation `gain * sqrt(2 / (fan_in + fan_out))`.
    GlorotNormal,
    /// Uniform with bound `gain * sqrt(3 / fan)`.
    HeUniform(FanMode),
    /// Normal with standard deviation `gain / sqrt(fan)`.
    HeNormal(FanMode),
}

/// A multilayer perceptron: an input size and a slice of layers.
///
/// The description is `Copy` and borrows the layer slice, so a `const`
/// network can size `static` arrays at compile time (see the module
/// example). All length functions are exact: buffers must have precisely
/// those lengths. A length that would overflow `usize` saturates to
/// `usize::MAX`, which no buffer can match, so the calls report an error.
#[derive(Clone, Copy, Debug)]
pub struct Mlp<'a> {
    input: usize,
    layers: &'a [LayerSpec],
    /// Sizes that every call checks against, computed once by [`Mlp::new`].
    sizes: Sizes,
}

/// The sizes of an [`Mlp`] that do not depend on the batch, each saturating
/// at `usize::MAX`.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    /// Weights of all layers.
    weights: usize,
    /// Weights and biases of all layers.
    params: usize,
    /// Units of the widest layer.
    widest: usize,
    /// Forward intermediates (see [`Mlp::activations_len`]) per row of the
    /// batch.
    kept: usize,
    /// Activations, the intermediates and two gradient buffers, per row.
    acts: usize,
    /// Whether any layer has dropout.
    dropout: bool,
}

/// `a * b + c`, saturating at `usize::MAX`.
const fn mul_add(a: usize, b: usize, c: usize) -> usize {
    a.saturating_mul(b).saturating_add(c)
}

impl Sizes {
    /// The sizes of a network with `input` features and `layers`.
    const fn of(input: usize, layers: &[LayerSpec]) -> Self {
        let (mut weights, mut biases, mut widest, mut kept) = (0usize, 0usize, 0, 0);
        let mut dropout = false;
        let mut fan_in = input;
        let mut l = 0;
        while l < layers.len() {
            let (units, slots) = (layers[l].units, slots(&layers[l]));
            let size = units.saturating_mul(fan_in);
            weights = weights.saturating_add(size);
            biases = biases.saturating_add(units);
            widest = if units > widest { units } else { widest };
            kept = mul_add(slots, units, kept);
            dropout |= layers[l].dropout > 0.0;
            fan_in = units;
            l += 1;
        }
        Self {
            weights,
            params: weights.saturating_add(biases),
            widest,
            kept,
            acts: mul_add(2, widest, kept),
            dropout,
        }
    }
}

/// Buffers per element of a layer's output: pre-activation and activation,
/// plus the dropout output if it has dropout.
const fn slots(layer: &LayerSpec) -> usize {
    if layer.dropout > 0.0 { 3 } else { 2 }
}

impl<'a> Mlp<'a> {
    /// Checks and wraps a network description.
    ///
    /// Fails if `input` is 0, `layers` is empty, a layer has 0 units, its
    /// dropout probability is not in `[0, 1)` or its activation an invalid
    /// hyperparameter (see [`Activation::validate`]), or the parameter
    /// count overflows `usize`.
    pub const fn new(input: usize, layers: &'a [LayerSpec]) -> Result<Self> {
        if input == 0 {
            return Err(Error::InvalidParameter {
                arg: "input",
                value: 0.0,
                expected: "at least 1",
            });
        }
        if layers.is_empty() {
            return Err(Error::InvalidParameter {
                arg: "layers",
                value: 0.0,
                expected: "at least one layer",
            });
        }
        let mut i = 0;
        while i < layers.len() {
            let l = &layers[i];
            if l.units == 0 {
                return Err(Error::InvalidParameter {
                    arg: "layers[_].units",
                    value: 0.0,
                    expected: "at least 1",
                });
            }
            if !(l.dropout >= 0.0 && l.dropout < 1.0) {
                return Err(Error::InvalidParameter {
                    arg: "layers[_].dropout",
                    value: l.dropout as f64,
                    expected: "in [0, 1)",
                });
            }
            if let Err(e) = l.activation.validate() {
                return Err(e);
            }
            i += 1;
        }
        let sizes = Sizes::of(input, layers);
        if sizes.params == usize::MAX {
            return Err(Error::SizeOverflow { arg: "layers" });
        }
        Ok(Self {
            input,
            layers,
            sizes,
        })
    }

    /// Number of input features.
    pub const fn input(&self) -> usize {
        self.input
    }

    /// Number of outputs of the last layer.
    pub const fn output(&self) -> usize {
        self.layers[self.layers.len() - 1].units
    }

    /// The layers, first to last.
    pub const fn layers(&self) -> &'a [LayerSpec] {
        self.layers
    }

    /// Number of inputs of layer `l` (the previous layer's units).
    const fn fan_in(&self, l: usize) -> usize {
        if l == 0 {
            self.input
        } else {
            self.layers[l - 1].units
        }
    }

    /// Number of `f32` in the parameters (and in the gradients): for each
    /// layer, `units * inputs` weights and `units` biases.
    pub const fn param_len(&self) -> usize {
        self.sizes.params
    }

    /// Number of weights of all layers: the parameters start with them, and
    /// the biases of all layers follow.
    pub const fn weight_len(&self) -> usize {
        self.sizes.weights
    }

    /// Number of `f32` of optimizer state: the weight optimizer's state for
    /// all weights, then the bias optimizer's for all biases (see
    /// [`Mlp::step`]).
    pub fn state_len<W, B>(&self, weights: &W, biases: &B) -> usize
    where
        W: Optimizer + ?Sized,
        B: Optimizer + ?Sized,
    {
        weights
            .state_len(self.weight_len())
            .saturating_add(biases.state_len(self.param_len() - self.weight_len()))
    }

    /// Number of `f32` that [`Mlp::forward`] and [`Mlp::backward`] need for
    /// a batch: per layer the pre-activations and activations (and the
    /// dropout output when `dropout > 0`), plus two gradient buffers of the
    /// widest layer.
    pub const fn activations_len(&self, batch: usize) -> usize {
        batch.saturating_mul(self.sizes.acts)
    }

    /// Number of `u32` words of dropout masks for a batch: one bit per
    /// output of every layer with `dropout > 0`.
    pub const fn mask_len(&self, batch: usize) -> usize {
        if !self.sizes.dropout {
            return 0;
        }
        let mut n = 0usize;
        let mut l = 0;
        while l < self.layers.len() {
            if self.layers[l].dropout > 0.0 {
                n = n.saturating_add(Dropout::mask_len(
                    batch.saturating_mul(self.layers[l].units),
                ));
            }
            l += 1;
        }
        n
    }

    /// Number of `f32` of gemm workspace for a batch: the largest that any
    /// of the forward and backward products needs.
    ///
    /// With the `parallel` feature, the passes run every product on
    /// `matmul::gemm_parallel`: a workspace of
    /// `threads` times this length splits each large product over up to
    /// `threads` of rayon's threads, with the same bits as one thread.
    pub fn workspace_len(&self, batch: usize) -> usize {
        let mut len = 0;
        for l in 0..self.layers.len() {
            len = len.max(self.dense(l).workspace_len(batch));
        }
        len
    }

    /// Layer `l` as a [`Dense`] layer of matmul.
    #[inline(always)]
    fn dense(&self, l: usize) -> Dense {
        Dense {
            inputs: self.fan_in(l),
            units: self.layers[l].units,
            activation: self.layers[l].activation,
        }
    }

    /// Number of `f32` of the buffer of [`Mlp::infer`]: two batches of the
    /// widest layer's outputs. Never more than [`Mlp::activations_len`].
    pub const fn infer_len(&self, batch: usize) -> usize {
        self.widest_len(batch).saturating_mul(2)
    }

    /// One batch of the widest layer's outputs.
    const fn widest_len(&self, batch: usize) -> usize {
        batch.saturating_mul(self.sizes.widest)
    }

    /// Buffers per element of layer `l`'s output (see [`slots`]).
    const fn slots(&self, l: usize) -> usize {
        slots(&self.layers[l])
    }

    /// Offsets of layer `l`'s weights and of its biases in the parameters.
    fn param_offsets(&self, l: usize) -> (usize, usize) {
        let w: usize = (0..l).map(|i| self.layers[i].units * self.fan_in(i)).sum();
        let b: usize = (0..l).map(|i| self.layers[i].units).sum();
        (w, self.weight_len() + b)
    }

    /// Layer `l`'s weights `(units, inputs)` and biases in `params` (or in
    /// the gradients, which have the same layout).
    ///
    /// Fails if `params` does not have [`Mlp::param_len`] elements or `l` is
    /// not a layer.
    pub fn layer<'p>(&self, params: &'p [f32], l: usize) -> Result<(&'p [f32], &'p [f32])> {
        self.check_layer(params.len(), l)?;
        let (w, b) = self.param_offsets(l);
        let units = self.layers[l].units;
        Ok((
            &params[w..][..units * self.fan_in(l)],
            &params[b..][..units],
        ))
    }

    /// Layer `l`'s weights and biases in `params`, writable (for a custom
    /// initialisation or loading trained values).
    ///
    /// Fails as [`Mlp::layer`] does.
    pub fn layer_mut<'p>(
        &self,
        params: &'p mut [f32],
        l: usize,
    ) -> Result<(&'p mut [f32], &'p mut [f32])> {
        self.check_layer(params.len(), l)?;
        let (w, b) = self.param_offsets(l);
        let units = self.layers[l].units;
        let (weights, biases) = params.split_at_mut(self.weight_len());
        Ok((
            &mut weights[w..][..units * self.fan_in(l)],
            &mut biases[b - self.weight_len()..][..units],
        ))
    }

    fn check_layer(&self, params_len: usize, l: usize) -> Result<()> {
        check_len("params", params_len, self.param_len())?;
        if l >= self.layers.len() {
            return Err(Error::IndexOutOfRange {
                arg: "l",
                position: 0,
                index: l,
                bound: self.layers.len(),
            });
        }
        Ok(())
    }

    /// Initialises the parameters: weights by `scheme` with the gain of each
    /// layer's activation, biases to zero. Draws from `rng` layer by layer,
    /// in storage order, so a seed gives the same network on every target.
    pub fn init<R: Rng + ?Sized>(
        &self,
        params: &mut [f32],
        scheme: Init,
        rng: &mut R,
    ) -> Result<()> {
        check_len("params", params.len(), self.param_len())?;
        for (l, spec) in self.layers.iter().enumerate() {
            let (w, b) = self.layer_mut(params, l)?;
            let (fan_in, fan_out) = (self.fan_in(l), spec.units);
            let gain = init::gain(spec.activation)?;
            match scheme {
                Init::GlorotUniform => init::glorot_uniform(w, fan_in, fan_out, gain, rng)?,
                Init::GlorotNormal => init::glorot_normal(w, fan_in, fan_out, gain, rng)?,
                Init::HeUniform(mode) => init::he_uniform(w, mode.fan(fan_out, fan_in), gain, rng)?,
                Init::HeNormal(mode) => init::he_normal(w, mode.fan(fan_out, fan_in), gain, rng)?,
            }
            b.fill(0.0);
        }
        Ok(())
    }

    /// Applies one optimizer step: `weights` to the weights of all layers
    /// and `biases` to the biases (for example the same optimizer without
    /// weight decay). `t` counts steps from 1, and a zeroed `state` starts
    /// both optimizers fresh.
    ///
    /// The weights of all layers are contiguous and so are the biases, so a
    /// step is two optimizer calls whatever the depth. Every optimizer in
    /// [`optim`](crate::optim) works element by element, so this is
    /// identical to stepping each tensor on its own.
    ///
    /// Fails if `params` or `grads` do not have [`Mlp::param_len`]
    /// elements, `state` does not have [`Mlp::state_len`] elements, `t` is
    /// 0, or an optimizer rejects its configuration. Both optimizers are
    /// validated before either steps, so an error changes nothing.
    #[inline(always)]
    pub fn step<W, B>(
        &self,
        t: u64,
        params: &mut [f32],
        grads: &[f32],
        state: &mut [f32],
        weights: &W,
        biases: &B,
    ) -> Result<()>
    where
        W: Optimizer + ?Sized,
        B: Optimizer + ?Sized,
    {
        weights.validate()?;
        biases.validate()?;
        check_len("params", params.len(), self.param_len())?;
        check_len("grads", grads.len(), self.param_len())?;
        check_len("state", state.len(), self.state_len(weights, biases))?;
        // What remains to fail is `t == 0`, and the weights' step fails
        // first.
        let n = self.weight_len();
        let (pw, pb) = params.split_at_mut(n);
        let (gw, gb) = grads.split_at(n);
        let (sw, sb) = state.split_at_mut(weights.state_len(n));
        weights.step(t, pw, gw, sw)?;
        biases.step(t, pb, gb, sb)
    }

    /// Writes the L2 norm of each layer's gradient (weights and biases
    /// together) into `norms`, first layer first: a vanishing or exploding
    /// layer shows up here before it shows in the loss.
    ///
    /// Fails if `grads` does not have [`Mlp::param_len`] elements or `norms`
    /// does not have one element per layer.
    ///
    /// # Precision
    ///
    /// The squares are summed in `f32`, in 16 interleaved partial sums
    /// (which vectorise); the relative error is at most about
    /// `(n / 16 + 16) * f32::EPSILON` for a layer of `n` parameters.
    pub fn grad_norms(&self, grads: &[f32], norms: &mut [f32]) -> Result<()> {
        check_len("grads", grads.len(), self.param_len())?;
        check_len("norms", norms.len(), self.layers.len())?;
        // The partial sums are plain `f32`s, so every instruction set
        // gives the same bits; dispatching lets each vectorise them.
        crate::backend::dispatch!(_V => {
            let squares = core::convert::identity(crate::backend::inlined!(|v: &[f32]| {
                let (body, tail) = v.as_chunks::<16>();
                let mut sums = [0.0f32; 16];
                for chunk in body {
                    for (s, g) in sums.iter_mut().zip(chunk) {
                        *s += g * g;
                    }
                }
                sums.iter().sum::<f32>() + tail.iter().map(|g| g * g).sum::<f32>()
            }));
            for (l, norm) in norms.iter_mut().enumerate() {
                let (w, b) = self.layer(grads, l)?;
                *norm = libm::sqrtf(squares(w) + squares(b));
            }
            Ok(())
        })
    }
}
