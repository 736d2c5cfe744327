//! The direct path: small and skinny products read straight from the views,
//! with nothing packed, zeroed or copied, and no workspace.
//!
//! Packing pays when each packed element is reused many times; for products
//! of a few hundred thousand multiply-adds (32 x 32, a layer with 10
//! outputs) the copies and the set-up cost as much as the arithmetic. Two
//! micro-kernels cover the layouts of a dense layer's three products, with C
//! row-major:
//!
//! - **Broadcast** (rows of B contiguous: `A * B` and `A^T * B`, the square
//!   products, `dX = dY * W` and `dW = dY^T * X`): the packed path's
//!   register tile, `NR` columns by `MR` rows but at most 8, with each
//!   element of A broadcast from the view and each row of B loaded from the
//!   view. C is swept in `NR`-column panels (the `k x NR` panel of B stays
//!   in L1) and strips of the tile's rows.
//! - **Dot** (rows of A and columns of B contiguous: `A * B^T`, the forward
//!   pass `Y = X * W^T`): a `DR x DC` tile of vector accumulators, each a
//!   dot product over `k` done `LANES` terms at a time and summed across
//!   lanes at the end. With `DC = 5`, the 10-output layer is two tiles wide
//!   and no lane is wasted.
//!
//! Edges: the last strip of rows runs a kernel with fewer rows; the last
//! panel of columns is shifted left to end at column `n`, overlapping the
//! previous one. Every element of C goes through the same operations in the
//! same order whichever tile it falls in, so the result does not depend on
//! the tiling (or on how `gemm_parallel` cuts C into bands), and the
//! shifted panel may store the shared columns again, whole vectors rather
//! than masked ones, unless `beta != 0` makes it read C there.

use super::driver::Epilogue;
use super::kernel::{load_row, rank1};
use super::view::{MatMut, MatRef};
use crate::backend::{Gemm, Vector, load_partial};

/// Rows in a dot-product tile.
const DR: usize = 2;
/// Columns in a dot-product tile.
const DC: usize = 5;
/// The dot kernel hands finished rows of C to the epilogue in blocks of at
/// least this many floats (16 KiB, half of a typical L1), not row by row.
const EPILOGUE_BLOCK: usize = 4096;

/// The most rows in a broadcast tile: the packed path's tile height where
/// it is at most this.
const BROADCAST_ROWS: usize = 8;

/// Products with at most this many multiply-adds take the direct path when
/// their layout allows it.
const DIRECT_MAX: usize = 1 << 19;

/// Which direct kernel, if any, computes the product with these views (C
/// row-major).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direct {
    /// Rows of B contiguous, at least `V::NR` columns.
    Broadcast,
    /// Rows of A and columns of B contiguous, at least `DC` columns.
    Dot,
}

impl Direct {
    /// The kernel for `a * b`, or `None` if the product is too large or its
    /// layout or width suits neither kernel, with the vector type `V`.
    #[inline(always)]
    pub(crate) fn choose<V: Gemm>(a: &MatRef, b: &MatRef) -> Option<Self> {
        let (m, k, n) = (a.rows, a.cols, b.cols);
        if !V::DIRECT || m.saturating_mul(n).saturating_mul(k) > DIRECT_MAX {
            None
        } else if b.cs == 1 && n >= V::NR {
            Some(Self::Broadcast)
        } else if a.cs == 1 && b.rs == 1 && n >= DC {
            Some(Self::Dot)
        } else {
            None
        }
    }

    /// `C = alpha * A * B + beta * C` with this kernel, for non-empty
    /// shapes with C row-major that [`Direct::choose`] accepted with `V`.
    #[inline(always)]
    pub(crate) fn gemm<V: Vector, const MR: usize, const NV: usize, const NR: usize>(
        self,
        alpha: f32,
        a: MatRef,
        b: MatRef,
        beta: f32,
        c: &mut MatMut,
        epi: &mut dyn Epilogue,
    ) {
        let s = Scale { alpha, beta };
        match self {
            // Tiles of more rows (AVX-512's 10) measured slower here: with
            // 14 the kernel spilled its accumulators, and 10 rows were
            // slower on the 32 cube (see docs/design/matmul.md).
            Self::Broadcast if MR > BROADCAST_ROWS => {
                broadcast::<V, BROADCAST_ROWS, NV, NR>(s, a, b, c, epi)
            }
            Self::Broadcast => broadcast::<V, MR, NV, NR>(s, a, b, c, epi),
            Self::Dot => dot::<V>(s, a, b, c, epi),
        }
    }
}

/// The `alpha` and `beta` of a product.
#[derive(Clone, Copy)]
pub(crate) struct Scale {
    pub(crate) alpha: f32,
    pub(crate) beta: f32,
}

impl Scale {
    /// `alpha * acc + beta * c` for one vector; `c` is only called (C only
    /// read) when `beta != 0`. `PLAIN` means `alpha == 1` and `beta == 0`,
    /// where the result is `acc` bit for bit.
    #[inline(always)]
    fn vector<V: Vector, const PLAIN: bool>(self, acc: V, c: impl FnOnce() -> V) -> V {
        if PLAIN {
            return acc;
        }
        let x = acc * V::splat(self.alpha);
        if self.beta == 0.0 {
            x
        } else {
            c().mul_add(V::splat(self.beta), x)
        }
    }

    /// `alpha * acc + beta * c` for one element, reading `c` only when
    /// `beta != 0`.
    #[inline(always)]
    pub(crate) fn scalar(self, acc: f32, c: &mut f32) {
        let x = self.alpha * acc;
        *c = if self.beta == 0.0 {
            x
        } else {
            self.beta * *c + x
        };
    }

    /// Whether this is the common `alpha == 1`, `beta == 0`.
    #[inline(always)]
    fn plain(self) -> bool {
        self.alpha == 1.0 && self.beta == 0.0
    }
}

/// The first column of each `width`-column window over `n >= width`
/// columns, with the number of its leading columns already covered by the
/// previous window: `0, width, 2 width, ...`, the last one shifted left to
/// end at `n`.
#[inline(always)]
fn windows(n: usize, width: usize) -> impl Iterator<Item = (usize, usize)> {
    debug_assert!(n >= width);
    let full = n / width;
    let rem = n % width;
    (0..full)
        .map(crate::backend::inlined!(move |w| (w * width, 0)))
        .chain((rem > 0).then_some((n - width, width - rem)))
}

/// The broadcast kernel over all of C: `NR`-column panels, `MR`-row strips.
#[inline(always)]
fn broadcast<V: Vector, const MR: usize, const NV: usize, const NR: usize>(
    s: Scale,
    a: MatRef,
    b: MatRef,
    c: &mut MatMut,
    epi: &mut dyn Epilogue,
) {
    if s.plain() {
        broadcast_with::<V, MR, NV, NR, true>(s, a, b, c, epi);
    } else {
        broadcast_with::<V, MR, NV, NR, false>(s, a, b, c, epi);
    }
}

/// [`broadcast`] with `PLAIN` as in [`Scale::vector`].
#[inline(always)]
fn broadcast_with<
    V: Vector,
    const MR: usize,
    const NV: usize,
    const NR: usize,
    const PLAIN: bool,
>(
    s: Scale,
    a: MatRef,
    b: MatRef,
    c: &mut MatMut,
    epi: &mut dyn Epilogue,
) {
    let m = a.rows;
    for (j0, shared) in windows(b.cols, NR) {
        // The shifted last panel recomputes the `shared` columns it has in
        // common with the panel before, bit for bit. With `beta == 0` it
        // stores them whole (over the values the epilogue of the panel
        // before made of them) and runs the epilogue on them again;
        // otherwise C holds updated values there, which its tiles must not
        // read as old ones, so it blends them back.
        let skip = if s.beta == 0.0 { 0 } else { shared };
        let mut i0 = 0;
        while m - i0 >= MR {
            broadcast_tile::<V, MR, NV, NR, PLAIN>(s, &a, &b, c, (i0, j0, skip));
            i0 += MR;
        }
        // The leftover strip, fewer than `MR` rows, in one tile of its
        // height (the arms at or past `MR` are never taken).
        const { assert!(MR <= 14) };
        let at = (i0, j0, skip);
        match m - i0 {
            0 => {}
            1 => broadcast_tile::<V, 1, NV, NR, PLAIN>(s, &a, &b, c, at),
            2 => broadcast_tile::<V, 2, NV, NR, PLAIN>(s, &a, &b, c, at),
            3 => broadcast_tile::<V, 3, NV, NR, PLAIN>(s, &a, &b, c, at),
            4 => broadcast_tile::<V, 4, NV, NR, PLAIN>(s, &a, &b, c, at),
            5 => broadcast_tile::<V, 5, NV, NR, PLAIN>(s, &a, &b, c, at),
            6 => broadcast_tile::<V, 6, NV, NR, PLAIN>(s, &a, &b, c, at),
            7 => broadcast_tile::<V, 7, NV, NR, PLAIN>(s, &a, &b, c, at),
            8 => broadcast_tile::<V, 8, NV, NR, PLAIN>(s, &a, &b, c, at),
            9 => broadcast_tile::<V, 9, NV, NR, PLAIN>(s, &a, &b, c, at),
            10 => broadcast_tile::<V, 10, NV, NR, PLAIN>(s, &a, &b, c, at),
            11 => broadcast_tile::<V, 11, NV, NR, PLAIN>(s, &a, &b, c, at),
            12 => broadcast_tile::<V, 12, NV, NR, PLAIN>(s, &a, &b, c, at),
            _ => broadcast_tile::<V, 13, NV, NR, PLAIN>(s, &a, &b, c, at),
        }
        // The panel's columns are finished in every row.
        epi.apply(c, (0, j0 + skip), (m, NR - skip));
    }
}

/// One `R x NR` tile at rows `i0..`, columns `j0..`, of which the first
/// `skip` columns are not stored (another tile stores them).
#[inline(always)]
fn broadcast_tile<
    V: Vector,
    const R: usize,
    const NV: usize,
    const NR: usize,
    const PLAIN: bool,
>(
    s: Scale,
    a: &MatRef,
    b: &MatRef,
    c: &mut MatMut,
    (i0, j0, skip): (usize, usize, usize),
) {
    let k = a.cols;
    let (b_data, b_rs) = (&b.data[j0..], b.rs);
    let acc = if a.cs == 1 {
        let mut rows: [&[f32]; R] = [&[]; R];
        for (r, row) in rows.iter_mut().enumerate() {
            *row = a.row_segment(i0 + r, 0, k);
        }
        broadcast_kernel::<V, R, NV, NR>(
            k,
            crate::backend::inlined!(|p| {
                let mut col = [0.0; R];
                for (x, row) in col.iter_mut().zip(&rows) {
                    *x = row[p];
                }
                col
            }),
            b_data,
            b_rs,
        )
    } else {
        // Columns of A are contiguous: the `R` elements of column p are
        // adjacent, `a.cs` apart from column to column.
        let (a_data, a_cs) = (&a.data[i0..], a.cs);
        broadcast_kernel::<V, R, NV, NR>(
            k,
            crate::backend::inlined!(|p| {
                let mut col = [0.0; R];
                col.copy_from_slice(&a_data[p * a_cs..][..R]);
                col
            }),
            b_data,
            b_rs,
        )
    };
    if skip == 0 {
        for (r, acc_row) in acc.iter().enumerate() {
            let row = c.row_segment(i0 + r, j0, NR);
            for (dst, &x) in row.chunks_exact_mut(V::LANES).zip(acc_row) {
                s.vector::<V, PLAIN>(x, crate::backend::inlined!(|| V::load(dst)))
                    .store(dst);
            }
        }
    } else {
        store_shifted::<V, R, NV, NR, PLAIN>(s, &acc, c, (i0, j0, skip));
    }
}

/// Stores the tile of [`broadcast_tile`] whose first `skip` columns are
/// stored already: those lanes are blended back from C (where the previous
/// panel and its epilogue left them), so every store is a whole vector.
#[inline(always)]
fn store_shifted<V: Vector, const R: usize, const NV: usize, const NR: usize, const PLAIN: bool>(
    s: Scale,
    acc: &[[V; NV]; R],
    c: &mut MatMut,
    (i0, j0, skip): (usize, usize, usize),
) {
    let mut stored = [V::ZERO; NV];
    for (v, mask) in stored.iter_mut().enumerate() {
        let mut column = V::ZERO.to_array();
        for (l, x) in column.as_mut().iter_mut().enumerate() {
            *x = (v * V::LANES + l) as f32;
        }
        *mask = V::new(column).simd_lt(V::splat(skip as f32));
    }
    for (r, acc_row) in acc.iter().enumerate() {
        let row = c.row_segment(i0 + r, j0, NR);
        for ((dst, &x), &mask) in row.chunks_exact_mut(V::LANES).zip(acc_row).zip(&stored) {
            let old = V::load(dst);
            let y = s.vector::<V, PLAIN>(x, crate::backend::inlined!(|| old));
            mask.select(old, y).store(dst);
        }
    }
}

/// `R x NR` accumulators over `k` columns of A, column `p` from `a_col(p)`,
/// and the `k` rows of B, row `p` the first `NR` floats from `p * rs` in `b`
/// (a view with one row may have any stride: `p` is then 0).
///
/// Plain indices rather than iterator adaptors: the loop must compile to
/// straight-line code inside each instruction set's copy, and a zipped or
/// mapped iterator this large may be left out of line, with a call per step.
#[inline(always)]
fn broadcast_kernel<V: Vector, const R: usize, const NV: usize, const NR: usize>(
    k: usize,
    a_col: impl Fn(usize) -> [f32; R],
    b: &[f32],
    rs: usize,
) -> [[V; NV]; R] {
    let mut acc = [[V::ZERO; NV]; R];
    // Row `p` of B starts `rest`, so each step checks one length.
    let mut rest = b;
    for p in 0..k {
        rank1(&mut acc, &a_col(p), &load_row::<V, NV>(&rest[..NR]));
        rest = &rest[rs.min(rest.len())..];
    }
    acc
}

/// The dot kernel over all of C: `DR`-row strips, `DC`-column windows.
#[inline(always)]
fn dot<V: Vector>(s: Scale, a: MatRef, b: MatRef, c: &mut MatMut, epi: &mut dyn Epilogue) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let bt = b.t();
    // The last `k % LANES` terms come from one vector ending at `k`, with
    // its leading lanes (already summed) masked off; below `LANES` terms,
    // from zero-padded vectors.
    let lanes = V::LANES;
    let rem = k % lanes;
    let mut mask = V::ZERO.to_array();
    for (l, x) in mask.as_mut().iter_mut().enumerate() {
        *x = f32::from_bits(if l >= lanes - rem { !0 } else { 0 });
    }
    let mask = V::new(mask);
    // Rows `..done` have been through the epilogue.
    let (mut i0, mut done) = (0, 0);
    while i0 < m {
        let rows = DR.min(m - i0);
        for (j0, skip) in windows(n, DC) {
            let mut cols: [&[f32]; DC] = [&[]; DC];
            for (j, col) in cols.iter_mut().enumerate() {
                *col = bt.row_segment(j0 + j, 0, k);
            }
            if rows == DR {
                let mut a_rows: [&[f32]; DR] = [&[]; DR];
                for (r, row) in a_rows.iter_mut().enumerate() {
                    *row = a.row_segment(i0 + r, 0, k);
                }
                dot_tile::<V, DR>(s, a_rows, cols, mask, c, (i0, j0, skip));
            } else {
                let a_rows = [a.row_segment(i0, 0, k)];
                dot_tile::<V, 1>(s, a_rows, cols, mask, c, (i0, j0, skip));
            }
        }
        i0 += rows;
        if (i0 - done) * n >= EPILOGUE_BLOCK || i0 == m {
            epi.apply(c, (done, 0), (i0 - done, n));
            done = i0;
        }
    }
}

/// One `R x DC` tile of dot products of the rows `a_rows` of A with the
/// columns `b_cols` of B (all `k` long), stored at rows `i0..`, columns
/// `j0 + skip..j0 + DC` of C.
#[inline(always)]
fn dot_tile<V: Vector, const R: usize>(
    s: Scale,
    a_rows: [&[f32]; R],
    b_cols: [&[f32]; DC],
    mask: V,
    c: &mut MatMut,
    (i0, j0, skip): (usize, usize, usize),
) {
    let k = a_rows[0].len();
    let lanes = V::LANES;
    let body = k / lanes;
    let mut a_chunks: [&[f32]; R] = [&[]; R];
    for (x, row) in a_chunks.iter_mut().zip(&a_rows) {
        *x = &row[..body * lanes];
    }
    let mut b_chunks: [&[f32]; DC] = [&[]; DC];
    for (x, col) in b_chunks.iter_mut().zip(&b_cols) {
        *x = &col[..body * lanes];
    }
    let mut acc = [[V::ZERO; DC]; R];
    for q in (0..body * lanes).step_by(lanes) {
        let mut av = [V::ZERO; R];
        for (x, row) in av.iter_mut().zip(&a_chunks) {
            *x = V::load(&row[q..]);
        }
        for (j, bc) in b_chunks.iter().enumerate() {
            let bv = V::load(&bc[q..]);
            for (acc_row, &ar) in acc.iter_mut().zip(&av) {
                acc_row[j] = ar.mul_add(bv, acc_row[j]);
            }
        }
    }
    if !k.is_multiple_of(lanes) {
        let tail = core::convert::identity(crate::backend::inlined!(|x: &[f32]| {
            if body == 0 {
                load_partial::<V>(x, 0.0)
            } else {
                V::load(&x[k - lanes..]) & mask
            }
        }));
        let mut av = [V::ZERO; R];
        for (x, row) in av.iter_mut().zip(&a_rows) {
            *x = tail(row);
        }
        for (j, bc) in b_cols.iter().enumerate() {
            let bv = tail(bc);
            for (acc_row, &ar) in acc.iter_mut().zip(&av) {
                acc_row[j] = ar.mul_add(bv, acc_row[j]);
            }
        }
    }
    // Every accumulator is summed before any is stored: selecting them by
    // the run-time `skip` made the compiler keep them in memory, stored at
    // every step of the loop above.
    let sums = acc.map(|acc_row| acc_row.map(V::reduce_add));
    for (r, sum_row) in sums.iter().enumerate() {
        let row = c.row_segment(i0 + r, j0, DC);
        for (dst, &x) in row.iter_mut().zip(sum_row).skip(skip) {
            s.scalar(x, dst);
        }
    }
}
