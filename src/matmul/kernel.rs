//! The register-blocked micro-kernel: an `MR x NR` tile of accumulators
//! updated by `kc` rank-1 updates from packed panels.
//!
//! The tile's size is the backend's choice ([`crate::backend::gemm`]).
//! Each step broadcasts one element of A and does `NV` multiply-adds.
//! `F32s::mul_add` is a fused multiply-add only where the `fma` target
//! feature is enabled; elsewhere it rounds twice.

pub(crate) use crate::backend::gemm::{MR, NR, NV};
use crate::backend::{F32s, LANES};

/// The accumulator tile: `MR` rows of `NV` vectors.
pub(crate) type Tile = [[F32s; NV]; MR];

/// Loads one row of B (`NR` floats, from a slice of exactly that length) as
/// `NV` vectors.
#[inline(always)]
pub(crate) fn load_row(row: &[f32]) -> [F32s; NV] {
    debug_assert_eq!(row.len(), NR);
    let (chunks, _) = row.as_chunks::<LANES>();
    core::array::from_fn(|v| F32s::new(chunks[v]))
}

/// `acc[i] += a[i] * b` for the `R` rows of a tile (`MR` on the packed
/// path): one rank-1 update.
#[inline(always)]
pub(crate) fn rank1<const R: usize>(acc: &mut [[F32s; NV]; R], a: &[f32; R], b: &[F32s; NV]) {
    for (acc_row, &ai) in acc.iter_mut().zip(a) {
        let ai = F32s::splat(ai);
        for (x, &bv) in acc_row.iter_mut().zip(b) {
            *x = ai.mul_add(bv, *x);
        }
    }
}

/// The product of a packed `MR x kc` panel of A (`kc` columns of `MR`) and a
/// packed `kc x NR` panel of B (`kc` rows of `NR`).
#[inline(always)]
pub(crate) fn kernel(a: &[[f32; MR]], b: &[[f32; NR]]) -> Tile {
    let mut acc = [[F32s::ZERO; NV]; MR];
    // Advancing both panels by one row per step (rather than zipping them,
    // which indexes both with a shared counter) keeps the loop in
    // pointer-increment form whatever the surrounding code.
    let (mut a, mut b) = (a, b);
    while let (Some((ap, a_rest)), Some((bp, b_rest))) = (a.split_first(), b.split_first()) {
        rank1(&mut acc, ap, &load_row(bp));
        (a, b) = (a_rest, b_rest);
    }
    acc
}

/// The product of a packed `MR x kc` panel of A and `kc` rows of B read in
/// place: row `p` is the first `NR` floats of the `p`-th `rs`-long chunk of
/// `b`.
#[inline(always)]
pub(crate) fn kernel_strided(a: &[[f32; MR]], b: &[f32], rs: usize) -> Tile {
    let mut acc = [[F32s::ZERO; NV]; MR];
    for (p, ap) in a.iter().enumerate() {
        rank1(&mut acc, ap, &load_row(&b[p * rs..][..NR]));
    }
    acc
}
