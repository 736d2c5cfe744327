//! # microprop
//!
//! SIMD kernels for training neural networks by back-propagation, from a
//! Cortex-M microcontroller to an AVX-512 desktop.
//!
//! The core is `#![no_std]` and never allocates: every kernel works on slices
//! the caller owns, and every scratch buffer is sized by a companion function
//! ([`matmul::gemm_workspace_len`], [`Optimizer::state_len`],
//! [`Dropout::mask_len`], the [`Mlp`] layout) and passed in. The `std`
//! feature adds [`train`], the only module that owns memory.
//!
//! | module | what it holds |
//! |---|---|
//! | [`matmul`] | `C = alpha*A*B + beta*C` over strided views, and a dense layer's fused forward pass and backward products ([`matmul::Dense`]) |
//! | [`activation`] | [`Activation`]: forward, fused backward, softmax |
//! | [`loss`] | softmax cross-entropy, MSE, BCE with logits: value and gradient in one pass |
//! | [`dropout`] | inverted dropout with a bit-packed mask |
//! | [`init`] | Glorot/Xavier and He/Kaiming, uniform and normal, torch's gains |
//! | [`rng`] | the vectorised generator behind dropout and init |
//! | [`optim`] | fused steps of SGD, Adagrad, Adadelta, Adam(W), Adamax, NAdam, RAdam, RMSprop, Lion |
//! | [`schedule`] | learning-rate schedules in torch's closed forms |
//! | [`clip`] | gradient clipping by global norm and by value |
//! | [`nn`] | a multilayer perceptron laid out in caller buffers |
#![cfg_attr(
    feature = "reference",
    doc = "| [`reference`](mod@reference) | plain scalar oracles for every kernel (feature `reference`) |"
)]
#![cfg_attr(
    not(feature = "reference"),
    doc = "| `reference` | plain scalar oracles for every kernel (feature `reference`) |"
)]
//!
//! ## Example
//!
//! One training step of a dense softmax classifier, kernel by kernel (the
//! [`nn`] module composes the same calls for whole networks):
//!
//! ```
//! use microprop::matmul::{gemm, gemm_workspace_len};
//! use microprop::{loss, Adam, MatMut, MatRef, Optimizer};
//!
//! let (batch, inputs, classes) = (2, 3, 4);
//! let x = [0.5, -1.0, 2.0, 1.5, 0.25, -0.5]; // (batch, inputs)
//! let labels = [3, 1];
//! let mut w = [0.1f32; 4 * 3]; // (classes, inputs), as torch.nn.Linear
//! let mut logits = [0.0f32; 2 * 4];
//! let mut grad_logits = [0.0f32; 2 * 4];
//! let mut grad_w = [0.0f32; 4 * 3];
//! let mut workspace = vec![0.0; gemm_workspace_len(batch, classes, inputs)];
//!
//! // logits = X * W^T
//! let xm = MatRef::new(&x, batch, inputs)?;
//! gemm(1.0, xm, MatRef::new(&w, classes, inputs)?.t(), 0.0,
//!      MatMut::new(&mut logits, batch, classes)?, &mut workspace)?;
//! let before = loss::softmax_cross_entropy(&logits, &labels, classes, &mut grad_logits)?;
//! // dW = dLogits^T * X
//! gemm(1.0, MatRef::new(&grad_logits, batch, classes)?.t(), xm, 0.0,
//!      MatMut::new(&mut grad_w, classes, inputs)?, &mut workspace)?;
//! let adam = Adam { lr: 0.1, ..Adam::default() };
//! let mut state = vec![0.0; adam.state_len(w.len())];
//! adam.step(1, &mut w, &grad_w, &mut state)?;
//!
//! gemm(1.0, xm, MatRef::new(&w, classes, inputs)?.t(), 0.0,
//!      MatMut::new(&mut logits, batch, classes)?, &mut workspace)?;
//! let after = loss::softmax_cross_entropy(&logits, &labels, classes, &mut grad_logits)?;
//! assert!(after < before);
//! # Ok::<(), microprop::Error>(())
//! ```
//!
//! ## API conventions
//!
//! - Arguments come in one order: `self` (the configuration), the data read,
//!   its shape (`batch`, `cols`, `classes`), the data written (a buffer
//!   updated in place counts as written), scratch (dropout masks, optimizer
//!   state, gemm workspace), then the values that configure a call without
//!   a `self` to hold them (an initialiser's fans and gain, a clipping
//!   threshold, [`Mlp::init`]'s scheme, [`Mlp::step`]'s optimizers), and
//!   the random generator last: `softmax(x, cols, y)`,
//!   `Dropout::forward(x, y, mask, rng)`, `init::he_uniform(w, fan, gain,
//!   rng)`.
//! - A backward pass takes what its forward pass kept, in the forward's
//!   order, then the incoming gradient, then the gradient it writes.
//! - The step count `t` starts at 1. A schedule is a function of `t`, its
//!   last argument; a step applies step `t` to the tensors that follow it,
//!   parameters before gradients as in `torch.optim`'s functional form
//!   ([`Optimizer::step`], [`Mlp::step`]).
//! - [`matmul`]'s products read as their formulas, in BLAS's order:
//!   `gemm(alpha, a, b, beta, c, workspace)` is `C = alpha*A*B + beta*C`.
//! - Hyperparameters of the optimizers and schedules are `f64`, because
//!   PyTorch computes their per-step coefficients in double; so are
//!   metrics such as a loss averaged over an epoch. Values applied to `f32`
//!   data are `f32`: dropout probabilities, clipping thresholds, init gains
//!   and bounds, activation parameters, gemm's `alpha` and `beta`.
//! - Types with a constructor ([`Dropout::new`], [`Mlp::new`],
//!   [`schedule::ReduceOnPlateau::new`], `train::Trainer::new`) check their
//!   configuration once there. The optimizers are plain structs with public
//!   fields, so each step checks them ([`Optimizer::validate`]); with a
//!   constant configuration the check folds away.
//! - A buffer's length comes from a companion function (`*_len`) and must
//!   match exactly; only a gemm workspace may be longer.
//! - Matrices are row-major: element `(i, j)` of a view with row stride `rs`
//!   is `data[i * rs + j]`; `.t()` swaps the roles of rows and columns
//!   without moving data. A batch is a `(batch, features)` matrix, and a
//!   dense layer's weights are `(outputs, inputs)`, as in `torch.nn.Linear`.
//! - Element-wise kernels take equal-length slices; `*_in_place` variants
//!   overwrite their input; a `backward` computes `grad_in = grad_out * f'`
//!   and says which of `x` and `y` it reads.
//! - Optimizer state is a flat `f32` buffer of [`Optimizer::state_len`]
//!   elements; all zeros is a fresh optimizer.
//! - Dropout masks pack one bit per element: bit `i % 32` of word `i / 32`,
//!   1 = kept.
//!
//! ## Errors
//!
//! Every fallible function returns [`Result`]. A wrong length, shape,
//! stride or hyperparameter is an [`Error`] that names the argument and the
//! sizes or value; no public function panics on any input.
//!
//! ## SIMD and target features
//!
//! On x86-64 with `std`, every kernel is compiled for SSE2, AVX2+FMA and
//! AVX-512F, and the first call picks the best level the CPU supports
//! ([`simd_backend`] says which; `MICROPROP_SIMD=sse2` or `avx2` caps it).
//! Elsewhere the lane width is chosen when the crate is compiled: 16 lanes
//! with `avx512f`, 8 with `avx`, 4 otherwise (SSE2, NEON, wasm `simd128`,
//! and portable scalar code on microcontrollers).
//!
//! For testing, `RUSTFLAGS='--cfg microprop_lanes="16"'` (or `"8"`, `"4"`,
//! `"emulated"`) forces a width on any x86-64 machine, so that the code of
//! every width runs wherever the tests do; `"emulated"` takes the choices
//! of a target without SIMD registers, such as a Cortex-M.
//!
//! On Cortex-M cores with a single-precision FPU (`thumbv7em-none-eabihf`,
//! `thumbv8m.main-none-eabihf`) the optimizers' fused multiply-adds and
//! square roots are the FPU's `vfma.f32` and `vsqrt.f32`, through inline
//! assembly in one private module, the crate's only `unsafe` code. Both round
//! correctly, like the software routines used where there is no such
//! instruction, so the results are the same bits.
//!
//! ## Precision
//!
//! Each kernel documents its error bound in a `# Precision` section:
//! element-wise functions against an f64 oracle (in ULP, or absolute near
//! zero), [`matmul::gemm`] with a bound that grows with `k`, and the
//! optimizers against PyTorch's float32 trajectories. Scalar coefficients
//! that PyTorch computes in f64 (bias corrections, `lr / bc1`) are computed in
//! f64 and rounded once. NaN and infinities propagate.
//!
//! ## Crate features
//!
//! - `std` (default): [`train`] (the trainer, its monitoring rules and
//!   safetensors checkpoints, the MNIST loader) and `wide/std`. Without it the crate is `no_std`, never
//!   allocates, and builds for `thumbv6m-none-eabi` and
//!   `thumbv7em-none-eabihf`.
//! - `parallel`: `matmul::gemm_parallel`, which splits a product over
//!   rayon's threads; [`nn`]'s passes and the trainer's `threads` use it.
//! - `reference`: `reference`, plain scalar oracles of every kernel for
//!   tests, benches and fuzzing. They assume valid arguments and may panic,
//!   so they are not part of the no-panic promise above.
//!
//! ## Reproducibility
//!
//! Randomness comes from the caller's [`rand_core::Rng`]; nothing is global.
//! For a given seed, weights and dropout masks are bit-identical on every
//! lane width and target, because [`rng`] draws in element order.
//!
//! ## MSRV
//!
//! Rust 1.89.
#![no_std]
// The no-panic promise, kept by the compiler outside the tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable
    )
)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod activation;
mod backend;
pub mod clip;
pub mod dropout;
mod error;
pub mod init;
pub mod loss;
pub mod matmul;
pub mod nn;
pub mod optim;
#[cfg(any(test, feature = "reference"))]
pub mod reference;
pub mod rng;
pub mod schedule;
#[cfg(feature = "std")]
pub mod train;

pub use activation::Activation;
pub use backend::simd_backend;
pub use dropout::Dropout;
pub use error::{Error, Result};
pub use matmul::{MatMut, MatRef};
pub use nn::{Init, LayerSpec, Mlp};
pub use optim::{
    Adadelta, Adagrad, Adam, AdamW, Adamax, Lion, NAdam, Optimizer, RAdam, RmsProp, Sgd,
};
