//! The unpacked path for small products.

/// Whether `gemm` computes an `m x k` by `k x n` product without packing.
pub(crate) fn is_small(_m: usize, _n: usize, _k: usize) -> bool {
    false
}
