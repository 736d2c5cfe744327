//! The blocked driver: loops over cache blocks, packs, calls the
//! micro-kernel and writes each finished tile to C.

use super::blocking::{packed_lens, slice_len};
use super::kernel::{Tile, kernel, kernel_rows};
use super::pack::{pack_a, pack_b};
use super::view::{MatMut, MatRef};
use crate::backend::{Gemm, Vector};

/// Work done on each finished block of C, while it is still in cache (for
/// example a bias and an activation). The paths hand it blocks as large as
/// they can, whole rows where possible, so its fixed cost per call is
/// spread over many elements. The paths take it as `&dyn Epilogue`: one
/// copy of every kernel serves both `gemm` and the fused layer, so the two
/// run the same machine code (a copy per epilogue compiled differently and
/// made the fused layer up to 10% slower than two passes).
pub(crate) trait Epilogue {
    /// Transforms rows `i0..i0 + rows`, columns `j0..j0 + cols` of the
    /// row-major C.
    fn apply(&mut self, c: &mut MatMut, at: (usize, usize), size: (usize, usize));
}

/// No epilogue: plain `gemm`.
pub(crate) struct Plain;

impl Epilogue for Plain {
    #[inline(always)]
    fn apply(&mut self, _c: &mut MatMut, _at: (usize, usize), _size: (usize, usize)) {}
}

/// `c = alpha * acc + beta * c` for the `mr x nr` corner of the tile at
/// `(i0, j0)`; C is not read when `beta == 0`.
#[inline(always)]
pub(crate) fn store_tile<V: Vector, const MR: usize, const NV: usize, const NR: usize>(
    acc: &Tile<V, MR, NV>,
    alpha: f32,
    beta: f32,
    c: &mut MatMut,
    (i0, j0): (usize, usize),
    (mr, nr): (usize, usize),
) {
    let alpha_v = V::splat(alpha);
    let beta_v = V::splat(beta);
    if mr == MR && nr == NR {
        for (i, acc_row) in acc.iter().enumerate() {
            let row = c.row_segment(i0 + i, j0, NR);
            for (dst, &x) in row.chunks_exact_mut(V::LANES).zip(acc_row) {
                let v = if beta == 0.0 {
                    x * alpha_v
                } else {
                    V::load(dst).mul_add(beta_v, x * alpha_v)
                };
                v.store(dst);
            }
        }
    } else {
        // Edge tile: go through a stack tile so that only the `mr x nr`
        // elements inside C are read or written.
        let mut tile = [[0.0f32; NR]; MR];
        for (t, acc_row) in tile.iter_mut().zip(acc) {
            for (dst, &x) in t.chunks_exact_mut(V::LANES).zip(acc_row) {
                (x * alpha_v).store(dst);
            }
        }
        for (i, t) in tile.iter().enumerate().take(mr) {
            let row = c.row_segment(i0 + i, j0, nr);
            for (dst, &x) in row.iter_mut().zip(t) {
                *dst = if beta == 0.0 { x } else { beta * *dst + x };
            }
        }
    }
}

/// `C = alpha * A * B + beta * C` on the packed path, for non-empty shapes
/// with C row-major (`c.cs == 1`) and a workspace of at least
/// `packed_lens` floats. A last strip of at most `HR = MR / 2` rows (2 of a
/// batch of 128 with 6-row tiles) runs a tile of `HR` rows.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_packed<
    V: Gemm,
    const MR: usize,
    const HR: usize,
    const NV: usize,
    const NR: usize,
>(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: &mut MatMut,
    workspace: &mut [f32],
    epi: &mut dyn Epilogue,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let (mc_max, nc_max) = (V::MC, V::NC);
    let (a_len, b_len) = packed_lens::<V>(m, n, k);
    let (a_ws, rest) = workspace.split_at_mut(a_len);
    let (a_ws, _) = a_ws.as_chunks_mut::<MR>();
    let (b_ws, _) = rest[..b_len].as_chunks_mut::<NR>();
    let slice = slice_len::<V>(k);
    for jc in (0..n).step_by(nc_max) {
        let nc = nc_max.min(n - jc);
        for pc in (0..k).step_by(slice) {
            let kc = slice.min(k - pc);
            let beta = if pc == 0 { beta } else { 1.0 };
            let last = pc + kc == k;
            pack_b::<V, NR>(&b, pc, kc, jc, nc, b_ws);
            for ic in (0..m).step_by(mc_max) {
                let mc = mc_max.min(m - ic);
                pack_a::<V, MR>(&a, ic, mc, pc, kc, a_ws);
                // Each packed panel of A stays in L1 while the panels of B
                // stream past it, so the tiles of C are visited along rows.
                for (ir, a_panel) in (0..mc).step_by(MR).zip(a_ws.chunks_exact(kc)) {
                    let mr = MR.min(mc - ir);
                    for (jr, b_panel) in (0..nc).step_by(NR).zip(b_ws.chunks_exact(kc)) {
                        let nr = NR.min(nc - jr);
                        let at = (ic + ir, jc + jr);
                        if mr <= HR {
                            let acc = kernel_rows::<V, MR, HR, NV, NR>(a_panel, b_panel);
                            store_tile::<V, HR, NV, NR>(&acc, alpha, beta, c, at, (mr, nr));
                        } else {
                            let acc = kernel::<V, MR, NV, NR>(a_panel, b_panel);
                            store_tile::<V, MR, NV, NR>(&acc, alpha, beta, c, at, (mr, nr));
                        }
                    }
                    // The `mr x nc` strip of C is finished and still in
                    // cache: whole rows when `n <= NC`.
                    if last {
                        epi.apply(c, (ic + ir, jc), (mr, nc));
                    }
                }
            }
        }
    }
}
