//! Packing: copies a block of A or B into the workspace in the order the
//! micro-kernel reads it, zero-padding partial panels.
//!
//! A block of A (`mc x kc`) becomes `ceil(mc / MR)` panels, each `kc`
//! columns of `MR` consecutive floats; a block of B (`kc x nc`) becomes
//! `ceil(nc / NR)` panels, each `kc` rows of `NR` consecutive floats. The
//! micro-kernel then reads both with unit stride, whatever the strides and
//! transposition of the views.

use super::kernel::{MR, NR};
use super::view::MatRef;
use crate::backend::{F32s, LANES, transpose};

/// Packs rows `i0..i0 + mc` and columns `p0..p0 + kc` of `a` into `out`.
pub(crate) fn pack_a(
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
            let rows: [&[f32]; MR] = core::array::from_fn(|i| {
                if i < mr {
                    a.row_segment(i0 + ir + i, p0, kc)
                } else {
                    &[]
                }
            });
            let body = if MR <= LANES && mr == MR {
                kc - kc % LANES
            } else {
                0
            };
            let chunks: [&[[f32; LANES]]; MR] = core::array::from_fn(|i| rows[i].as_chunks().0);
            for (q, block) in panel[..body].chunks_exact_mut(LANES).enumerate() {
                let mut v = [F32s::ZERO; LANES];
                for (vi, row) in v.iter_mut().zip(&chunks) {
                    *vi = F32s::new(row[q]);
                }
                for (dst, col) in block.iter_mut().zip(transpose(v)) {
                    // `MR <= LANES` here: the first `MR` lanes.
                    for (d, x) in dst.iter_mut().zip(col.to_array()) {
                        *d = x;
                    }
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
pub(crate) fn pack_b(
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
            let cols: [&[f32]; NR] = core::array::from_fn(|j| {
                if j < nr {
                    bt.row_segment(j0 + jr + j, p0, kc)
                } else {
                    &[]
                }
            });
            let body = if nr == NR { kc - kc % LANES } else { 0 };
            let chunks: [&[[f32; LANES]]; NR] = core::array::from_fn(|j| cols[j].as_chunks().0);
            for (q, block) in panel[..body].chunks_exact_mut(LANES).enumerate() {
                for (v, group) in chunks.chunks_exact(LANES).enumerate() {
                    let t = transpose(core::array::from_fn(|l| F32s::new(group[l][q])));
                    for (dst, row) in block.iter_mut().zip(t) {
                        dst[v * LANES..][..LANES].copy_from_slice(&row.to_array());
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
