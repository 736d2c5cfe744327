//! Cache-block sizes and the workspace they need.
//!
//! The driver walks C in `MC x NC` blocks and the inner dimension in `KC`
//! slices (the BLIS loop order). The sizes follow from the caches of the CPU
//! the crate is tuned on (an x86-64 core with 32 KiB of L1d, 1 MiB of L2
//! and a shared 32 MiB L3), with 4-byte floats:
//!
//! - `KC`: one packed `KC x NR` panel of B stays in L1 while the
//!   micro-kernel sweeps the A block past it (256 x 16 x 4 B = 16 KiB with
//!   AVX2, half of L1, leaving room for the A panel and C tile streams).
//! - `MC`: the packed `MC x KC` block of A stays in L2 (144 x 256 x 4 B =
//!   144 KiB), reused for every B panel of the `NC` columns.
//! - `NC`: the packed `KC x NC` block of B (256 x 2048 x 4 B = 2 MiB) lives
//!   in L3, reused for every A block.
//!
//! Targets without SIMD registers (Cortex-M) have no data cache to block
//! for, so there the blocks are small to keep the workspace small.

use super::kernel::{MR, NR};
use super::small;

#[cfg(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_feature = "simd128"
))]
mod sizes {
    use super::{MR, NR};
    pub(crate) const KC: usize = if NR > 16 { 192 } else { 256 };
    pub(crate) const MC: usize = MR * (144 / MR);
    pub(crate) const NC: usize = NR * (2048 / NR);
}

#[cfg(not(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_feature = "simd128"
)))]
mod sizes {
    use super::{MR, NR};
    pub(crate) const KC: usize = 64;
    pub(crate) const MC: usize = MR * 8;
    pub(crate) const NC: usize = NR * 16;
}

pub(crate) use sizes::{KC, MC, NC};

/// The lengths of the packed A block and the packed B block for an
/// `m x k` by `k x n` product on the packed path.
pub(crate) fn packed_lens(m: usize, n: usize, k: usize) -> (usize, usize) {
    let kc = k.min(KC);
    (
        kc * m.min(MC).next_multiple_of(MR),
        kc * n.min(NC).next_multiple_of(NR),
    )
}

/// The number of `f32` of workspace that [`gemm`](super::gemm) needs for
/// an `m x k` by `k x n` product.
///
/// It is 0 for empty products and for the small shapes that
/// [`gemm`](super::gemm) computes without packing; otherwise it holds one
/// packed block of A and one of B, at most
/// `KC * (MC + NC)` floats (about 2.2 MB with AVX2) however large the
/// matrices are.
pub fn gemm_workspace_len(m: usize, n: usize, k: usize) -> usize {
    if m == 0 || n == 0 || k == 0 || small::is_small(m, n, k) {
        0
    } else {
        // A transposed C is computed as C^T = B^T * A^T, which swaps m and n.
        let (a, b) = packed_lens(m, n, k);
        let (at, bt) = packed_lens(n, m, k);
        (a + b).max(at + bt)
    }
}
