//! Multi-threaded `gemm` on rayon's thread pool (feature `parallel`).
//!
//! C (made row-major first, as in [`gemm`](super::gemm)) is cut into
//! horizontal bands whose heights are multiples of the micro-kernel's `MR`,
//! one band per thread with its own part of the workspace; each band is an
//! independent single-threaded product, so the results are bit-identical to
//! [`gemm`](super::gemm)'s.

use super::driver::{Epilogue, Plain};
use super::view::{MatMut, MatRef};
use super::{Path, check_shapes, compute_with, gemm_workspace_len};
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
/// thread. The result is bit-identical to [`gemm`](super::gemm)'s.
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
    let (mr, path) = crate::backend::dispatch!(V => (V::MR, Path::choose::<V>(&a, &b)));
    let job = Job {
        alpha,
        beta,
        per,
        mr,
        path,
    };
    let whole = (c.rows, c.cols);
    job.bands(a, b, c.rb_mut(), workspace, parts);
    epi.apply(&mut c, (0, 0), whole);
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
