//! Plain scalar versions of every kernel, written to be obviously correct
//! rather than fast.
//!
//! They are the oracles that the tests, the fuzz targets and the benches
//! compare the SIMD kernels with, behind the `reference` feature so a user
//! can check a result on their own target. They follow the same argument
//! conventions as the kernels but assume valid arguments: check lengths with
//! the kernels' own functions first. They are test oracles, not part of the
//! crate's promise that no public function panics: the `# Panics` section of
//! each says on which arguments it does.
//!
//! ```
//! use microprop::{Activation, reference};
//! let x = [0.5f32, -2.0, 7.0];
//! let (mut fast, mut slow) = ([0.0f32; 3], [0.0f32; 3]);
//! Activation::Tanh.forward(&x, &mut fast)?;
//! reference::activation::forward(Activation::Tanh, &x, &mut slow);
//! for (f, s) in fast.iter().zip(slow) {
//!     assert!((f - s).abs() <= 4.0 * f32::EPSILON * s.abs());
//! }
//! # Ok::<(), microprop::Error>(())
//! ```

pub mod activation;
pub mod dropout;
pub mod init;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod rng;
