//! The path for small products: no workspace.
//!
//! Packing into the workspace pays for itself when each packed element is
//! reused many times. For small or skinny products (32 x 32, or a layer with
//! 10 outputs) the block set-up and the copies cost as much as the
//! arithmetic, so these products pack only what the micro-kernel needs, a
//! few `KS`-long slices at a time, into buffers on the stack:
//!
//! - when the rows of B are contiguous, C is swept one `MR`-row strip at a
//!   time: the strip's slice of A is packed once on the stack and the
//!   micro-kernel reads B in place (only the partial tile at the right edge
//!   reads its columns of B from the stack, copied once per slice);
//! - otherwise (B transposed, as in a layer's forward pass `X * W^T`), C is
//!   swept one `NR`-column strip at a time: the strip's slice of B is
//!   packed once, and each `MR`-row slice of A is packed as it is used.
//!
//! The stack buffers take `KS * (MR + NR)` floats (11 KiB with AVX2, 1 KiB
//! on Cortex-M).
//!
//! Tiny products (at most [`TINY_MAX`] multiply-adds, such as the layers of
//! a 2-4-1 network) skip even that: each element of C is one dot product
//! read straight from the views, so the cost is about `m * n * k`
//! multiply-adds plus a constant, with no buffer to set up.

use super::direct::Scale;
use super::driver::{Epilogue, store_tile};
use super::kernel::{Tile, kernel, kernel_strided};
use super::pack::{pack_a, pack_b};
use super::view::{MatMut, MatRef};
use crate::backend::Vector;

/// Products with at most this many multiply-adds (`m * n * k`) take the
/// path without workspace.
const SMALL_MAX: usize = 1 << 19;

/// Products with at most this many multiply-adds take [`gemm_tiny`]: below
/// this size the tiled path's stack buffers cost more to set up than the
/// arithmetic they serve.
const TINY_MAX: usize = 256;

/// Whether `gemm` computes an `m x k` by `k x n` product without workspace.
pub(crate) fn is_small(m: usize, n: usize, k: usize) -> bool {
    m.saturating_mul(n).saturating_mul(k) <= SMALL_MAX
}

/// Whether an `m x k` by `k x n` product takes [`gemm_tiny`].
pub(crate) fn is_tiny(m: usize, n: usize, k: usize) -> bool {
    m.saturating_mul(n).saturating_mul(k) <= TINY_MAX
}

/// `a * b + c` with the rounding of the micro-kernel's `V::mul_add`
/// (fused where the vector type has FMA, two roundings elsewhere), on one
/// value.
#[inline(always)]
fn mul_add<V: Vector>(a: f32, b: f32, c: f32) -> f32 {
    crate::backend::lane0(V::splat(a).mul_add(V::splat(b), V::splat(c)))
}

/// The pairs `(a[i], b[i])` of two slices, for [`dot`].
#[inline(always)]
fn pairs<'a>(a: &'a [f32], b: &'a [f32]) -> impl Iterator<Item = (f32, f32)> + 'a {
    a.iter().copied().zip(b.iter().copied())
}

/// The dot product of the pairs, accumulated in order from 0 with the
/// micro-kernel's rounding: every element of a tiny product.
#[inline(always)]
fn dot<V: Vector>(pairs: impl Iterator<Item = (f32, f32)>) -> f32 {
    let mut acc = 0.0;
    for (x, y) in pairs {
        acc = mul_add::<V>(x, y, acc);
    }
    acc
}

/// `C = alpha * A * B + beta * C` one dot product per element
/// ([`tiny_products`]), for non-empty shapes with C row-major; C then goes
/// through the epilogue.
#[inline(always)]
pub(crate) fn gemm_tiny<V: Vector>(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: &mut MatMut,
    epi: &mut dyn Epilogue,
) {
    let (m, n) = (a.rows, b.cols);
    let s = Scale { alpha, beta };
    let rs = c.rs;
    tiny_products::<V>(
        a,
        b,
        crate::backend::inlined!(|i, j, acc| s.scalar(acc, &mut c.data[i * rs + j])),
    );
    epi.apply(c, (0, 0), (m, n));
}

/// Each element `(i, j)` of `A * B`, in row-major order, as
/// `f(i, j, acc)`: one dot product read straight from the views, its `k`
/// terms accumulated in order from 0 with the micro-kernel's rounding. The
/// tiny path of both [`gemm`](super::gemm) and [`Dense`](super::Dense),
/// for non-empty shapes.
#[inline(always)]
pub(crate) fn tiny_products<V: Vector>(a: MatRef, b: MatRef, mut f: impl FnMut(usize, usize, f32)) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if k == 1 && b.cs == 1 {
        // An outer product with a contiguous row of B (the backward products
        // of a batch of one): one multiply per element.
        for (i, &ai) in a.data.iter().step_by(a.rs).take(m).enumerate() {
            for (j, &bj) in b.data[..n].iter().enumerate() {
                f(i, j, mul_add::<V>(ai, bj, 0.0));
            }
        }
    } else {
        dot_products::<V>(a, b, f);
    }
}

/// [`tiny_products`] as dot products of any length, with the same bits:
/// the forward pass of a [`Dense`](super::Dense) layer, where calling `f`
/// in one place keeps the inlined layer small.
#[inline(always)]
pub(crate) fn dot_products<V: Vector>(a: MatRef, b: MatRef, mut f: impl FnMut(usize, usize, f32)) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    // Rows of A and columns of B contiguous (always so for k = 1): plain
    // slices, no index checks.
    let contiguous = k == 1 || (a.cs == 1 && b.rs == 1);
    for i in 0..m {
        let a_row = if contiguous {
            &a.data[i * a.rs..][..k]
        } else {
            &[]
        };
        for j in 0..n {
            let acc = if contiguous {
                let b_col = &b.data[j * b.cs..][..k];
                dot::<V>(pairs(a_row, b_col))
            } else {
                dot::<V>((0..k).map(crate::backend::inlined!(|p| (
                    a.data[i * a.rs + p * a.cs],
                    b.data[p * b.rs + j * b.cs]
                ))))
            };
            f(i, j, acc);
        }
    }
}

/// `C = alpha * A * B + beta * C` without workspace, for non-empty shapes
/// with C row-major.
#[inline(always)]
pub(crate) fn gemm_small<
    V: Vector,
    const MR: usize,
    const NV: usize,
    const NR: usize,
    const KS: usize,
>(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: &mut MatMut,
    epi: &mut dyn Epilogue,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut a_pack = [[0.0f32; MR]; KS];
    let mut b_pack = [[0.0f32; NR]; KS];
    for p0 in (0..k).step_by(KS) {
        let ks = KS.min(k - p0);
        let beta = if p0 == 0 { beta } else { 1.0 };
        let last = p0 + ks == k;
        let (a_pack, b_pack) = (&mut a_pack[..ks], &mut b_pack[..ks]);
        let mut tile = core::convert::identity(crate::backend::inlined!(
            |acc: Tile<V, MR, NV>, at, size| {
                store_tile::<V, MR, NV, NR>(&acc, alpha, beta, c, at, size);
                if last {
                    epi.apply(c, at, size);
                }
            }
        ));
        if b.cs == 1 {
            // The partial tile at the right edge reads its columns of B from
            // the stack, packed once for every strip.
            let edge = n - n % NR;
            if edge < n {
                pack_b::<V, NR>(&b, p0, ks, edge, n - edge, b_pack);
            }
            for i0 in (0..m).step_by(MR) {
                let mr = MR.min(m - i0);
                pack_a::<V, MR>(&a, i0, mr, p0, ks, a_pack);
                for j0 in (0..n).step_by(NR) {
                    let nr = NR.min(n - j0);
                    let acc = if nr == NR {
                        let start = p0 * b.rs + j0;
                        let end = (p0 + ks - 1) * b.rs + j0 + NR;
                        kernel_strided::<V, MR, NV, NR>(a_pack, &b.data[start..end], b.rs)
                    } else {
                        kernel::<V, MR, NV, NR>(a_pack, b_pack)
                    };
                    tile(acc, (i0, j0), (mr, nr));
                }
            }
        } else {
            for j0 in (0..n).step_by(NR) {
                let nr = NR.min(n - j0);
                pack_b::<V, NR>(&b, p0, ks, j0, nr, b_pack);
                for i0 in (0..m).step_by(MR) {
                    let mr = MR.min(m - i0);
                    pack_a::<V, MR>(&a, i0, mr, p0, ks, a_pack);
                    tile(kernel::<V, MR, NV, NR>(a_pack, b_pack), (i0, j0), (mr, nr));
                }
            }
        }
    }
}
