//! Multi-threaded `gemm` on rayon's thread pool (feature `parallel`).
//!
//! C (made row-major first, as in [`gemm`](super::gemm)) is cut into
//! horizontal bands whose heights are multiples of the micro-kernel's `MR`,
//! one band per thread with its own part of the workspace. Every band packs
//! the whole of B, so when B is the large operand (a layer's weights against
//! a batch of a hundred rows) C is first cut into two blocks of columns
//! instead, each packing its half of B: the left block is computed in
//! place, the right one into the workspace and copied over (two mutable
//! views cannot share C's rows). Then no two threads read the same part of
//! B, which also spares the optimizer step that writes the weights next
//! from invalidating their copies in another core's cache. Each part is an
//! independent single-threaded product on the path the whole would take,
//! so the results are bit-identical to [`gemm`](super::gemm)'s.

use super::driver::{Epilogue, Plain};
use super::view::{MatMut, MatRef};
use super::{Path, blocking, check_shapes, compute_with, gemm_workspace_len};
use crate::backend::Gemm;
use crate::error::{Result, check_capacity};

/// Below this many multiply-adds (`m * n * k`) a product runs on the calling
/// thread alone: handing work to another thread costs more than it saves.
const MIN_PARALLEL: usize = 1 << 18;

/// The workspace length for [`gemm_parallel`] to use every thread of
/// rayon's current pool: one [`gemm_workspace_len`] per thread.
pub fn gemm_parallel_workspace_len(m: usize, n: usize, k: usize) -> usize {
    gemm_workspace_len(m, n, k).saturating_mul(rayon::current_num_threads())
}

/// [`gemm`](super::gemm) split over the threads of rayon's current pool.
///
/// Uses as many threads as the workspace has room for, one
/// [`gemm_workspace_len`]`(m, n, k)` each (up to
/// [`gemm_parallel_workspace_len`]); small products run on the calling
/// thread. C is split into bands of rows, or into two blocks of columns
/// when B is the larger operand (a layer's weights against a batch), so
/// that each thread packs only its part of B. The result is bit-identical
/// to [`gemm`](super::gemm)'s.
///
/// # Errors
///
/// As [`gemm`](super::gemm): [`Error::ShapeMismatch`](crate::Error::ShapeMismatch)
/// for disagreeing shapes, and [`Error::BufferTooSmall`](crate::Error::BufferTooSmall)
/// if `workspace` holds less than one [`gemm_workspace_len`]`(m, n, k)`.
pub fn gemm_parallel(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: MatMut,
    workspace: &mut [f32],
) -> Result<()> {
    check_shapes(&a, &b, &c)?;
    let per = gemm_workspace_len(a.rows, b.cols, a.cols);
    check_capacity("workspace", workspace.len(), per)?;
    run_parallel(alpha, a, b, beta, c, workspace, &mut Plain, usize::MAX);
    Ok(())
}

/// [`gemm_parallel`] on checked arguments and at most `threads` threads,
/// then `epi` over row-major C (as [`gemm`](super::gemm) makes it): block
/// by block when the product runs on the calling thread alone, else over
/// the whole of C once the threads are done (an element-wise epilogue gives
/// the same bits either way).
#[allow(clippy::too_many_arguments)]
pub(super) fn run_parallel(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: MatMut,
    workspace: &mut [f32],
    epi: &mut dyn Epilogue,
    threads: usize,
) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let per = gemm_workspace_len(m, n, k);
    let threads = rayon::current_num_threads().min(threads);
    let mut parts = workspace
        .len()
        .checked_div(per)
        .map_or(threads, |fit| threads.min(fit));
    if m.saturating_mul(n).saturating_mul(k) < MIN_PARALLEL {
        parts = 1;
    }
    if parts == 1 {
        return super::run(alpha, a, b, beta, c, workspace, epi);
    }
    let (a, b, mut c) = if c.cs == 1 {
        (a, b, c)
    } else {
        (b.t(), a.t(), c.t())
    };
    // Every band takes the path the whole product would take, so the
    // result does not depend on the number of threads.
    let (mr, path, split) = crate::backend::dispatch!(V => {
        let path = Path::choose::<V>(&a, &b);
        (V::MR, path, column_split::<V>(path, &a, &b, workspace.len(), parts))
    });
    let job = Job {
        alpha,
        beta,
        per,
        mr,
        path,
    };
    let whole = (c.rows, c.cols);
    match split {
        Some((h, half)) => job.columns(a, b, c.rb_mut(), workspace, parts, h, half),
        None => job.bands(a, b, c.rb_mut(), workspace, parts),
    }
    epi.apply(&mut c, (0, 0), whole);
}

/// Where to cut C into two blocks of columns, and the workspace each of
/// their threads needs, if that beats bands of rows: on the packed `path`,
/// when packing A twice and copying the right block costs less than packing
/// B twice, with the cut at a multiple of `V`'s panel width and room in
/// `len` floats of workspace for `parts` threads and the right block.
fn column_split<V: Gemm>(
    path: Path,
    a: &MatRef,
    b: &MatRef,
    len: usize,
    parts: usize,
) -> Option<(usize, usize)> {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    let h = (n / 2).next_multiple_of(V::NR);
    if !matches!(path, Path::Packed) || h >= n || m * k + m * (n - h) >= k * n {
        return None;
    }
    let (a_len, b_len) = blocking::packed_lens::<V>(m, h, k);
    let half = a_len + b_len;
    let need = half.checked_mul(parts)?.checked_add(m * (n - h))?;
    (need <= len).then_some((h, half))
}

/// What every band shares.
#[derive(Clone, Copy)]
struct Job {
    alpha: f32,
    beta: f32,
    per: usize,
    /// The rows of the register tile, which the bands' heights are
    /// multiples of.
    mr: usize,
    path: Path,
}

impl Job {
    /// Computes columns `0..h` of row-major C in place and columns `h..`
    /// into the workspace, then copies them over; each block splits into
    /// bands for its share of the `parts` threads, each thread with `half`
    /// floats of workspace.
    #[allow(clippy::too_many_arguments)]
    fn columns(
        self,
        a: MatRef,
        b: MatRef,
        mut c: MatMut,
        workspace: &mut [f32],
        parts: usize,
        h: usize,
        half: usize,
    ) {
        let (m, n) = (c.rows, c.cols);
        let (right, workspace) = workspace.split_at_mut(m * (n - h));
        if self.beta != 0.0 {
            for (i, row) in right.chunks_exact_mut(n - h).enumerate() {
                row.copy_from_slice(c.row_segment(i, h, n - h));
            }
        }
        let left = parts / 2;
        let (w_left, w_right) = workspace.split_at_mut(left * half);
        let job = Job { per: half, ..self };
        rayon::join(
            || job.bands(a, b.sub_cols(0, h), c.rb_mut().first_cols(h), w_left, left),
            || {
                let c_right = MatMut::whole(&mut *right, m, n - h);
                job.bands(a, b.sub_cols(h, n - h), c_right, w_right, parts - left);
            },
        );
        for (i, row) in right.chunks_exact(n - h).enumerate() {
            c.row_segment(i, h, n - h).copy_from_slice(row);
        }
    }

    /// Splits row-major C into `parts` bands and runs them with
    /// `rayon::join`, each band dispatched on its own thread.
    fn bands(self, a: MatRef, b: MatRef, c: MatMut, workspace: &mut [f32], parts: usize) {
        let (m, mr) = (c.rows, self.mr);
        let parts = parts.min(m.div_ceil(mr)).max(1);
        if parts == 1 {
            let ws = &mut workspace[..self.per];
            let (alpha, beta, path) = (self.alpha, self.beta, self.path);
            return crate::backend::dispatch!(V => {
                compute_with!(V, alpha, a, b, beta, c, ws, &mut Plain, path)
            });
        }
        let left = parts / 2;
        let top = (m.div_ceil(mr) * left / parts) * mr;
        let (c_top, c_bottom) = c.split_rows(top);
        let (w_top, w_bottom) = workspace.split_at_mut(left * self.per);
        let (a_top, a_bottom) = (a.sub_rows(0, top), a.sub_rows(top, m - top));
        rayon::join(
            || self.bands(a_top, b, c_top, w_top, left),
            || self.bands(a_bottom, b, c_bottom, w_bottom, parts - left),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    /// The split each product of a 784 -> 256 layer at batch 100 takes on
    /// two threads, with the workspace `gemm_parallel` asks for.
    fn splits_by_columns(a: MatRef, b: MatRef) -> bool {
        let per = gemm_workspace_len(a.rows, b.cols, a.cols);
        crate::backend::dispatch!(V => {
            let path = Path::choose::<V>(&a, &b);
            column_split::<V>(path, &a, &b, 2 * per, 2).is_some()
        })
    }

    #[test]
    fn only_a_large_b_splits_by_columns() {
        let (x, w, dy) = (
            vec![0.0; 100 * 784],
            vec![0.0; 256 * 784],
            vec![0.0; 100 * 256],
        );
        let (x, w, dy) = (
            MatRef::whole(&x, 100, 784),
            MatRef::whole(&w, 256, 784),
            MatRef::whole(&dy, 100, 256),
        );
        assert!(splits_by_columns(x, w.t()), "forward: X W^T");
        assert!(!splits_by_columns(dy.t(), x), "weight gradient: dY^T X");
        assert!(splits_by_columns(dy, w), "input gradient: dY W");
    }
}
