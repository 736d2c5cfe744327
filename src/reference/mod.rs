//! Plain scalar versions of every kernel, written to be obviously correct
//! rather than fast.
//!
//! They are the oracles that the tests, the fuzz targets and the benches
//! compare the SIMD kernels with, and they are compiled in every build so a
//! user can check a result on their own target. They follow the same argument
//! conventions as the kernels but assume valid arguments: check lengths with
//! the kernels' own functions first.

pub mod activation;
pub mod dropout;
pub mod init;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod rng;
