//! Cache-block sizes and the workspace they need.
//!
//! The driver walks C in `MC x NC` blocks and the inner dimension in `KC`
//! slices (the BLIS loop order), then, inside a block, each `MR`-row panel
//! of A against every `NR`-column panel of B, so that the tiles of C are
//! visited along rows. The sizes follow from the caches of the CPU the
//! crate is tuned on (an x86-64 core with 32 KiB of L1d, 512 KiB of L2 and
//! a shared 32 MiB L3), with 4-byte floats:
//!
//! - `KC`: one packed `MR x KC` panel of A (6 x 512 x 4 B = 12 KiB with
//!   AVX2) stays in L1 while the `KC x NR` panels of B (32 KiB each) stream
//!   past it from L2. C is read and written once per slice, so a longer
//!   slice means fewer passes over C: 512 takes the inner dimensions of
//!   the MLP shapes the crate is tuned on (300 and 500) in one slice and
//!   784 in two, and measured 3-7% faster than 256 on those shapes and on
//!   a 1024 cube (384 was no better than 256).
//! - `MC`: the packed `MC x KC` block of A (144 x 512 x 4 B = 288 KiB) is
//!   packed in one go and stays in L2 until each of its panels has been
//!   used.
//! - `NC`: the packed `KC x NC` block of B (512 x 2048 x 4 B = 4 MiB) lives
//!   in L3 and is swept once per panel of A; a wide block means A is packed
//!   fewer times.
//!
//! Visiting C along rows matters more than keeping a B panel in L1: a tile
//! of C spans `MR` rows, and walking down a column of tiles touches new
//! pages at every step, which the hardware prefetchers do not follow, so
//! every update of C missed the caches; along a row the next tile is the
//! next cache line of the same rows. On a 1024 x 1024 x 1024 product this
//! order is about 1.3 times faster than the column order.
//!
//! With 16 lanes the `KC x NR` panel of B is twice as wide, and `KC` is
//! 384: the `10 x KC` panel of A (15 KiB) fits L1, 784 takes three
//! slices instead of five, and on Zen 4 it measured 1-2.5% faster than 192
//! on the MLP shapes and the 256 and 512 cubes (512 was no better).
//! Targets without SIMD registers (Cortex-M) have no data cache to block
//! for, so there the blocks are small to keep the workspace small.
//! The numbers live in the backend ([`crate::backend::gemm`]).

use super::small;
use crate::backend::Gemm;

/// The length of the slices of the inner dimension for a product with
/// inner dimension `k`: at most `KC`, and as even as a multiple of the lane
/// count allows, so that no slice is much shorter than the others (with
/// `k = 784`, four slices of 200, 200, 200 and 184 instead of three of 256
/// and one of 16, whose pass over C would cost as much as a full one).
#[inline(always)]
pub(crate) fn slice_len<V: Gemm>(k: usize) -> usize {
    k.div_ceil(k.div_ceil(V::KC))
        .next_multiple_of(V::LANES)
        .min(V::KC)
}

/// The lengths of the packed A block and the packed B block for an
/// `m x k` by `k x n` product on the packed path.
#[inline(always)]
pub(crate) fn packed_lens<V: Gemm>(m: usize, n: usize, k: usize) -> (usize, usize) {
    let kc = slice_len::<V>(k);
    (
        kc * m.min(V::MC).next_multiple_of(V::MR),
        kc * n.min(V::NC).next_multiple_of(V::NR),
    )
}

/// The workspace of the packed path with the vector type `V`, C either way
/// round.
fn packed_len<V: Gemm>(m: usize, n: usize, k: usize) -> usize {
    // A transposed C is computed as C^T = B^T * A^T, which swaps m and n.
    let (a, b) = packed_lens::<V>(m, n, k);
    let (at, bt) = packed_lens::<V>(n, m, k);
    (a + b).max(at + bt)
}

/// The number of `f32` of workspace that [`gemm`](super::gemm) needs for
/// an `m x k` by `k x n` product.
///
/// It is 0 for empty products and for the small shapes that
/// [`gemm`](super::gemm) computes without packing; otherwise it holds one
/// packed block of A and one of B, at most
/// `KC * (MC + NC)` floats (about 4.5 MB with AVX2) however large the
/// matrices are. Where the instruction set is chosen at run time, it fits
/// every instruction set the process may choose.
pub fn gemm_workspace_len(m: usize, n: usize, k: usize) -> usize {
    if m == 0 || n == 0 || k == 0 || small::is_small(m, n, k) {
        return 0;
    }
    crate::backend::largest!(V => packed_len::<V>(m, n, k))
}
