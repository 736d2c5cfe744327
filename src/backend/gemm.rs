//! The matrix product's choices that depend on the target: the register
//! tile, the cache blocks, the stack slices and which paths exist.
//!
//! The tile leaves room in the register file for the `NV` vectors of one
//! packed row of B and one broadcast element of A:
//!
//! | lanes | registers        | MR x NR | accumulators + B + A |
//! |-------|------------------|---------|----------------------|
//! | 16    | 32 zmm (AVX-512) | 10 x 32 | 20 + 2 + 1 = 23      |
//! | 8     | 16 ymm (AVX2)    | 6 x 16  | 12 + 2 + 1 = 15      |
//! | 4     | 16 xmm (SSE), 32 (NEON) | 6 x 8 | 12 + 2 + 1 = 15 |
//! | 4 emulated (e.g. Cortex-M) | 32 s-registers | 4 x 4 | 16 + 4 + 1 |
//!
//! With AVX-512 the tile could have 14 rows (31 registers), but batches of
//! 100 or 128 rows would then end in a strip of 2 computed as 7, and 10
//! rows divide 100, 300 and 500: the products of a batch-100 MLP epoch took
//! 4-10% less time, and the cubes the same.
//!
//! Targets without SIMD registers have no data cache to block for and
//! little stack, so their blocks and stack slices are small, and they skip
//! the direct paths (a tile read straight from the views), whose gain is in
//! the vector loads. [`matmul::blocking`](crate::matmul) explains the sizes.

use super::{EMULATED, LANES, Vector};

/// Whether the target has SIMD registers and caches to tune for.
const SIMD: bool = !EMULATED;

/// Rows in the register tile.
pub(crate) const MR: usize = if !SIMD {
    4
} else if LANES == 16 {
    10
} else {
    6
};

/// Vectors in a row of the register tile.
pub(crate) const NV: usize = if SIMD { 2 } else { 1 };

/// Columns in the register tile.
pub(crate) const NR: usize = NV * LANES;

/// The longest slice of the inner dimension packed at a time.
pub(crate) const KC: usize = if !SIMD {
    64
} else if NR > 16 {
    384
} else {
    512
};

/// Rows of A packed at a time (a multiple of [`MR`]).
pub(crate) const MC: usize = MR * if SIMD { 144 / MR } else { 8 };

/// Columns of B packed at a time (a multiple of [`NR`]).
pub(crate) const NC: usize = NR * if SIMD { 2048 / NR } else { 16 };

/// Slice of the inner dimension that the workspace-free path packs on the
/// stack at a time.
pub(crate) const KS: usize = if SIMD { 128 } else { 32 };

/// Whether the direct paths exist.
pub(crate) const DIRECT: bool = SIMD;

/// The tile, blocks and paths of the matrix product for one [`Vector`]
/// type: the constants above for `wide`'s [`F32s`](super::F32s), and the
/// AVX2 and AVX-512 choices of the table for the run-time types.
///
/// Stable Rust cannot size an array by an associated constant in generic
/// code, so the kernels take `MR`, `NV`, `NR` and `KS` as const generic
/// parameters as well, instantiated from these where the vector type is
/// known (the dispatch sites).
pub(crate) trait Gemm: Vector {
    /// Rows in the register tile.
    const MR: usize;
    /// Vectors in a row of the register tile.
    const NV: usize;
    /// Columns in the register tile.
    const NR: usize = Self::NV * Self::LANES;
    /// The longest slice of the inner dimension packed at a time.
    const KC: usize;
    /// Rows of A packed at a time (a multiple of `MR`).
    const MC: usize;
    /// Columns of B packed at a time (a multiple of `NR`).
    const NC: usize;
    /// Slice of the inner dimension packed on the stack at a time.
    const KS: usize;
    /// Whether the direct paths exist.
    const DIRECT: bool;
}

impl Gemm for super::F32s {
    const MR: usize = MR;
    const NV: usize = NV;
    const KC: usize = KC;
    const MC: usize = MC;
    const NC: usize = NC;
    const KS: usize = KS;
    const DIRECT: bool = DIRECT;
}
