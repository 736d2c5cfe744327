//! # microprop
//!
//! SIMD kernels for training neural networks by back-propagation, from a
//! Cortex-M microcontroller to an AVX-512 desktop.
//!
//! The core is `#![no_std]` and never allocates: every kernel works on slices
//! the caller owns, and every scratch buffer is sized by a companion function
//! and passed in. A thin `std` feature adds a trainer on top.
//!
//! ## Errors
//!
//! Every fallible function returns [`Result`]. A wrong length, shape or
//! hyperparameter is an [`Error`] that names the argument and the sizes; no
//! public function panics on any input.
//!
//! ## SIMD and target features
//!
//! The lane width is chosen when the crate is compiled ([`SIMD_BACKEND`] says
//! which): 16 lanes with `avx512f`, 8 with `avx`, 4 otherwise. On x86 desktops
//! build with `RUSTFLAGS="-C target-cpu=native"` to use every extension of
//! the CPU.
//!
//! ## Crate features
//!
//! - `std` (default): the trainer layer. Without it the crate is `no_std` and
//!   builds for `thumbv6m-none-eabi` and `thumbv7em-none-eabihf`.
//! - `parallel` (implies `std`, uses rayon): `matmul::gemm_parallel`, a
//!   multi-threaded matrix multiply; everything else stays single-threaded.
#![no_std]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod activation;
pub mod clip;
pub mod dropout;
mod error;
pub mod init;
pub mod loss;
pub mod matmul;
pub mod nn;
pub mod optim;
pub mod reference;
pub mod rng;
pub mod schedule;
mod simd;
#[cfg(feature = "std")]
pub mod train;

pub use activation::Activation;
pub use dropout::Dropout;
pub use error::{Error, Result};
pub use matmul::{MatMut, MatRef};
pub use optim::{
    Adadelta, Adagrad, Adam, AdamW, Adamax, Lion, NAdam, Optimizer, RAdam, RmsProp, Sgd,
};
pub use simd::SIMD_BACKEND;
