//! The unpacked path for small products.
//!
//! Packing pays for itself when each packed element is reused many times.
//! For small or skinny products (a 32 x 32 product, or a layer with 10
//! outputs) the copies, the per-call set-up and the zero-padded edge tiles
//! cost as much as the arithmetic, so these products are computed straight
//! from the views, with no workspace:
//!
//! - when the rows of B are contiguous (B not transposed), the same
//!   `MR x NR` register tile as the packed kernel, fed directly: each step
//!   loads one row segment of B and broadcasts one column segment of A;
//! - when the columns of B and the rows of A are contiguous (`A * B^T`, the
//!   forward pass of a dense layer), a tile of `DR x DS` dot products
//!   vectorised along `k`.
//!
//! Edge tiles gather their operands into stack buffers, so nothing outside
//! the views is read.

use super::driver::{Epilogue, finish_tile, store_tile};
use super::kernel::{MR, NR, NV, Tile, load_row, rank1};
use super::view::{MatMut, MatRef};
use crate::simd::{F32s, LANES, load_partial};

/// Products with at most this many multiply-adds (`m * n * k`) take the
/// unpacked path; measured on AVX2 the packed path wins above about 80^3.
const SMALL_MAX: usize = 1 << 19;

/// Whether `gemm` computes an `m x k` by `k x n` product without packing.
pub(crate) fn is_small(m: usize, n: usize, k: usize) -> bool {
    m.saturating_mul(n).saturating_mul(k) <= SMALL_MAX
}

/// `C = alpha * A * B + beta * C` without packing, for non-empty shapes with
/// C row-major.
pub(crate) fn gemm_small(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: &mut MatMut,
    epi: &impl Epilogue,
) {
    if b.cs != 1 && a.cs == 1 {
        return gemm_dot(alpha, a, b, beta, c, epi);
    }
    let (m, k, n) = (a.rows, a.cols, b.cols);
    for i0 in (0..m).step_by(MR) {
        let mr = MR.min(m - i0);
        for j0 in (0..n).step_by(NR) {
            let nr = NR.min(n - j0);
            let acc = if mr == MR && nr == NR && b.cs == 1 {
                tile_direct(&a, &b, i0, j0, k)
            } else {
                tile_gathered(&a, &b, (i0, j0), (mr, nr), k)
            };
            store_tile(&acc, alpha, beta, c, (i0, j0), (mr, nr));
            finish_tile(epi, c, (i0, j0), (mr, nr));
        }
    }
}

/// A full tile with the rows of B contiguous.
#[inline(always)]
fn tile_direct(a: &MatRef, b: &MatRef, i0: usize, j0: usize, k: usize) -> Tile {
    let mut acc = [[F32s::ZERO; NV]; MR];
    if a.cs == 1 {
        let rows: [&[f32]; MR] = core::array::from_fn(|i| a.row_segment(i0 + i, 0, k));
        for p in 0..k {
            let av: [f32; MR] = core::array::from_fn(|i| rows[i][p]);
            rank1(&mut acc, &av, &load_row(b.row_segment(p, j0, NR)));
        }
    } else {
        let at = a.t();
        for p in 0..k {
            let av = at.row_segment(p, i0, MR);
            rank1(&mut acc, av, &load_row(b.row_segment(p, j0, NR)));
        }
    }
    acc
}

/// Any tile, the `mr x nr` operands gathered into zero-padded stack rows.
fn tile_gathered(
    a: &MatRef,
    b: &MatRef,
    (i0, j0): (usize, usize),
    (mr, nr): (usize, usize),
    k: usize,
) -> Tile {
    let mut acc = [[F32s::ZERO; NV]; MR];
    let (at, bt) = (a.t(), b.t());
    for p in 0..k {
        let mut av = [0.0f32; MR];
        if a.rs == 1 {
            av[..mr].copy_from_slice(at.row_segment(p, i0, mr));
        } else {
            for (i, x) in av.iter_mut().enumerate().take(mr) {
                *x = a.data[(i0 + i) * a.rs + p];
            }
        }
        let mut bv = [0.0f32; NR];
        if b.cs == 1 {
            bv[..nr].copy_from_slice(b.row_segment(p, j0, nr));
        } else {
            for (j, x) in bv.iter_mut().enumerate().take(nr) {
                *x = bt.data[(j0 + j) * bt.rs + p];
            }
        }
        rank1(&mut acc, &av, &load_row(&bv));
    }
    acc
}

/// Rows of A per dot-product tile.
const DR: usize = 4;
/// Columns of B per dot-product tile.
const DS: usize = 3;

/// `C = alpha * A * B + beta * C` as dot products along `k`, for A with
/// contiguous rows and B with contiguous columns.
fn gemm_dot(alpha: f32, a: MatRef, b: MatRef, beta: f32, c: &mut MatMut, epi: &impl Epilogue) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let bt = b.t();
    for i0 in (0..m).step_by(DR) {
        let mr = DR.min(m - i0);
        // Rows past the edge repeat the last row: read, never stored.
        let rows: [&[f32]; DR] = core::array::from_fn(|i| a.row_segment(i0 + i.min(mr - 1), 0, k));
        for j0 in (0..n).step_by(DS) {
            let nr = DS.min(n - j0);
            let cols: [&[f32]; DS] =
                core::array::from_fn(|j| bt.row_segment(j0 + j.min(nr - 1), 0, k));
            let dots = dot_tile(&rows, &cols, k);
            for (i, d) in dots.iter().enumerate().take(mr) {
                let row = c.row_segment(i0 + i, j0, nr);
                for (x, &v) in row.iter_mut().zip(d) {
                    *x = if beta == 0.0 {
                        alpha * v
                    } else {
                        beta.mul_add(*x, alpha * v)
                    };
                }
                epi.apply(row, j0);
            }
        }
    }
}

/// The `DR x DS` dot products of `rows` with `cols`, all of length `k`.
#[inline(always)]
fn dot_tile(rows: &[&[f32]; DR], cols: &[&[f32]; DS], k: usize) -> [[f32; DS]; DR] {
    let body = k / LANES;
    fn split(s: &[f32], k: usize, body: usize) -> (&[[f32; LANES]], &[f32]) {
        let (chunks, tail) = s[..k].as_chunks::<LANES>();
        (&chunks[..body], tail)
    }
    let r: [_; DR] = core::array::from_fn(|i| split(rows[i], k, body));
    let c: [_; DS] = core::array::from_fn(|j| split(cols[j], k, body));
    let mut acc = [[F32s::ZERO; DS]; DR];
    for q in 0..body {
        let cv: [F32s; DS] = core::array::from_fn(|j| F32s::new(c[j].0[q]));
        for (acc_row, ri) in acc.iter_mut().zip(&r) {
            let rv = F32s::new(ri.0[q]);
            for (x, &cj) in acc_row.iter_mut().zip(&cv) {
                *x = rv.mul_add(cj, *x);
            }
        }
    }
    if k % LANES != 0 {
        let cv: [F32s; DS] = core::array::from_fn(|j| load_partial(c[j].1, 0.0));
        for (acc_row, ri) in acc.iter_mut().zip(&r) {
            let rv = load_partial(ri.1, 0.0);
            for (x, &cj) in acc_row.iter_mut().zip(&cv) {
                *x = rv.mul_add(cj, *x);
            }
        }
    }
    acc.map(|row| row.map(F32s::reduce_add))
}
