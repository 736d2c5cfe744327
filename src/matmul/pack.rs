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
            // Rows of A are contiguous: walk each row once.
            for i in 0..MR {
                if i < mr {
                    let row = a.row_segment(i0 + ir + i, p0, kc);
                    for (dst, &x) in panel.iter_mut().zip(row) {
                        dst[i] = x;
                    }
                } else {
                    panel.iter_mut().for_each(|dst| dst[i] = 0.0);
                }
            }
        } else {
            // Columns of A are contiguous: copy a column segment per step.
            let at = a.t();
            for (p, dst) in panel.iter_mut().enumerate() {
                dst[..mr].copy_from_slice(at.row_segment(p0 + p, i0 + ir, mr));
                dst[mr..].fill(0.0);
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
    for (jr, panel) in (0..nc).step_by(NR).zip(out.chunks_exact_mut(kc)) {
        let nr = NR.min(nc - jr);
        if b.cs == 1 {
            for (p, dst) in panel.iter_mut().enumerate() {
                dst[..nr].copy_from_slice(b.row_segment(p0 + p, j0 + jr, nr));
                dst[nr..].fill(0.0);
            }
        } else {
            let bt = b.t();
            for j in 0..NR {
                if j < nr {
                    let col = bt.row_segment(j0 + jr + j, p0, kc);
                    for (dst, &x) in panel.iter_mut().zip(col) {
                        dst[j] = x;
                    }
                } else {
                    panel.iter_mut().for_each(|dst| dst[j] = 0.0);
                }
            }
        }
    }
}
