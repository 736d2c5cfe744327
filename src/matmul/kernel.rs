//! The register-blocked micro-kernel: an `MR x NR` tile of accumulators
//! updated by `kc` rank-1 updates from packed panels.
//!
//! The tile's size is the backend's choice for the vector type
//! ([`crate::backend::gemm`]), passed down as the const parameters `MR`
//! (rows), `NV` (vectors per row) and `NR = NV * V::LANES` (columns). Each
//! step broadcasts one element of A and does `NV` multiply-adds.
//! `V::mul_add` is a fused multiply-add only where the vector type has FMA;
//! elsewhere it rounds twice.

use crate::backend::Vector;

/// The accumulator tile: `MR` rows of `NV` vectors.
pub(crate) type Tile<V, const MR: usize, const NV: usize> = [[V; NV]; MR];

/// Loads one row of B (`NV * V::LANES` floats from the start of `row`) as
/// `NV` vectors.
#[inline(always)]
pub(crate) fn load_row<V: Vector, const NV: usize>(row: &[f32]) -> [V; NV] {
    let mut b = [V::ZERO; NV];
    for (v, x) in b.iter_mut().enumerate() {
        *x = V::load(&row[v * V::LANES..]);
    }
    b
}

/// `acc[i] += a[i] * b` for the `R` rows of a tile (`MR` on the packed
/// path): one rank-1 update.
#[inline(always)]
pub(crate) fn rank1<V: Vector, const R: usize, const NV: usize>(
    acc: &mut [[V; NV]; R],
    a: &[f32; R],
    b: &[V; NV],
) {
    for (acc_row, &ai) in acc.iter_mut().zip(a) {
        let ai = V::splat(ai);
        for (x, &bv) in acc_row.iter_mut().zip(b) {
            *x = ai.mul_add(bv, *x);
        }
    }
}

/// The product of a packed `MR x kc` panel of A (`kc` columns of `MR`) and a
/// packed `kc x NR` panel of B (`kc` rows of `NR`).
#[inline(always)]
pub(crate) fn kernel<V: Vector, const MR: usize, const NV: usize, const NR: usize>(
    a: &[[f32; MR]],
    b: &[[f32; NR]],
) -> Tile<V, MR, NV> {
    let mut acc = [[V::ZERO; NV]; MR];
    // Advancing both panels by one row per step (rather than zipping them,
    // which indexes both with a shared counter) keeps the loop in
    // pointer-increment form whatever the surrounding code.
    let (mut a, mut b) = (a, b);
    while let (Some((ap, a_rest)), Some((bp, b_rest))) = (a.split_first(), b.split_first()) {
        rank1(&mut acc, ap, &load_row::<V, NV>(bp));
        (a, b) = (a_rest, b_rest);
    }
    acc
}

/// [`kernel`] for the first `R <= MR` rows of the panel of A only: the
/// last strip of a product whose rows are not a multiple of `MR`.
#[inline(always)]
pub(crate) fn kernel_rows<
    V: Vector,
    const MR: usize,
    const R: usize,
    const NV: usize,
    const NR: usize,
>(
    a: &[[f32; MR]],
    b: &[[f32; NR]],
) -> Tile<V, R, NV> {
    const { assert!(R <= MR) };
    let mut acc = [[V::ZERO; NV]; R];
    let (mut a, mut b) = (a, b);
    while let (Some((ap, a_rest)), Some((bp, b_rest))) = (a.split_first(), b.split_first()) {
        rank1(
            &mut acc,
            &core::array::from_fn(|i| ap[i]),
            &load_row::<V, NV>(bp),
        );
        (a, b) = (a_rest, b_rest);
    }
    acc
}

/// The product of a packed `MR x kc` panel of A and `kc` rows of B read in
/// place: row `p` is the first `NR` floats of the `p`-th `rs`-long chunk of
/// `b`.
#[inline(always)]
pub(crate) fn kernel_strided<V: Vector, const MR: usize, const NV: usize, const NR: usize>(
    a: &[[f32; MR]],
    b: &[f32],
    rs: usize,
) -> Tile<V, MR, NV> {
    let mut acc = [[V::ZERO; NV]; MR];
    for (p, ap) in a.iter().enumerate() {
        rank1(&mut acc, ap, &load_row::<V, NV>(&b[p * rs..][..NR]));
    }
    acc
}
