//! Packing: copies a block of A or B into the workspace in the order the
//! micro-kernel reads it, zero-padding partial panels.
//!
//! A block of A (`mc x kc`) becomes `ceil(mc / MR)` panels, each `kc`
//! columns of `MR` consecutive floats; a block of B (`kc x nc`) becomes
//! `ceil(nc / NR)` panels, each `kc` rows of `NR` consecutive floats. The
//! micro-kernel then reads both with unit stride, whatever the strides and
//! transposition of the views.

use super::view::MatRef;
use crate::backend::Vector;

/// Packs rows `i0..i0 + mc` and columns `p0..p0 + kc` of `a` into `out`.
#[inline(always)]
pub(crate) fn pack_a<V: Vector, const MR: usize>(
    a: &MatRef,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
    out: &mut [[f32; MR]],
) {
    for (ir, panel) in (0..mc).step_by(MR).zip(out.chunks_exact_mut(kc)) {
        let mr = MR.min(mc - ir);
        if a.cs == 1 {
            // Rows of A are contiguous: load `LANES` columns of each row as
            // a vector and transpose the block in registers. Only full
            // panels take this path, so that the row loop has a constant
            // trip count and its loads stay in registers.
            let mut rows: [&[f32]; MR] = [&[]; MR];
            for (i, row) in rows.iter_mut().enumerate().take(mr) {
                *row = a.row_segment(i0 + ir + i, p0, kc);
            }
            let lanes = V::LANES;
            let body = if MR <= lanes && mr == MR {
                kc - kc % lanes
            } else {
                0
            };
            for (q, block) in panel[..body].chunks_exact_mut(lanes).enumerate() {
                let mut v = V::ZERO_SQUARE;
                for (vi, row) in v.as_mut().iter_mut().zip(&rows) {
                    *vi = V::load(&row[q * lanes..]);
                }
                for (dst, col) in block.iter_mut().zip(V::transpose(v).as_ref()) {
                    // `MR <= LANES` here: the first `MR` lanes.
                    dst.copy_from_slice(&col.to_array().as_ref()[..MR]);
                }
            }
            for (i, row) in rows.iter().enumerate() {
                for (p, dst) in panel.iter_mut().enumerate().take(kc).skip(body) {
                    dst[i] = if i < mr { row[p] } else { 0.0 };
                }
            }
        } else {
            // Columns of A are contiguous: copy a column segment per step.
            let at = a.t();
            for (p, dst) in panel.iter_mut().enumerate() {
                let src = at.row_segment(p0 + p, i0 + ir, mr);
                if let Ok(whole) = <&[f32; MR]>::try_from(src) {
                    *dst = *whole;
                } else {
                    dst[..mr].copy_from_slice(src);
                    dst[mr..].fill(0.0);
                }
            }
        }
    }
}

/// Packs rows `p0..p0 + kc` and columns `j0..j0 + nc` of `b` into `out`.
#[inline(always)]
pub(crate) fn pack_b<V: Vector, const NR: usize>(
    b: &MatRef,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    out: &mut [[f32; NR]],
) {
    if b.cs == 1 {
        // Rows of B are contiguous: copy them in groups of `ROWS`, so that
        // the source is read row after row (which the hardware prefetcher
        // follows) and each panel receives `ROWS` consecutive rows at a time.
        const ROWS: usize = 8;
        for p in (0..kc).step_by(ROWS) {
            let rows = p..kc.min(p + ROWS);
            for (jr, panel) in (0..nc).step_by(NR).zip(out.chunks_exact_mut(kc)) {
                let nr = NR.min(nc - jr);
                for (q, dst) in rows.clone().zip(&mut panel[rows.clone()]) {
                    let src = b.row_segment(p0 + q, j0 + jr, nr);
                    if let Ok(whole) = <&[f32; NR]>::try_from(src) {
                        *dst = *whole;
                    } else {
                        dst[..nr].copy_from_slice(src);
                        dst[nr..].fill(0.0);
                    }
                }
            }
        }
    } else {
        // Columns of B are contiguous: transpose `LANES x LANES` blocks in
        // registers, `NV` of them side by side per `LANES` rows of a full
        // panel; the rest goes element by element.
        let bt = b.t();
        for (jr, panel) in (0..nc).step_by(NR).zip(out.chunks_exact_mut(kc)) {
            let nr = NR.min(nc - jr);
            let mut cols: [&[f32]; NR] = [&[]; NR];
            for (j, col) in cols.iter_mut().enumerate().take(nr) {
                *col = bt.row_segment(j0 + jr + j, p0, kc);
            }
            let lanes = V::LANES;
            let body = if nr == NR { kc - kc % lanes } else { 0 };
            for (q, block) in panel[..body].chunks_exact_mut(lanes).enumerate() {
                for (v, group) in cols.chunks_exact(lanes).enumerate() {
                    let mut square = V::ZERO_SQUARE;
                    for (x, col) in square.as_mut().iter_mut().zip(group) {
                        *x = V::load(&col[q * lanes..]);
                    }
                    for (dst, row) in block.iter_mut().zip(V::transpose(square).as_ref()) {
                        row.store(&mut dst[v * lanes..]);
                    }
                }
            }
            for (j, col) in cols.iter().enumerate() {
                for (p, dst) in panel.iter_mut().enumerate().skip(body) {
                    dst[j] = if j < nr { col[p] } else { 0.0 };
                }
            }
        }
    }
}
