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
//!   micro-kernel reads B in place (only a partial tile at the right edge
//!   copies its columns of B to the stack);
//! - otherwise (B transposed, as in a layer's forward pass `X * W^T`), C is
//!   swept one `NR`-column strip at a time: the strip's slice of B is
//!   packed once, and each `MR`-row slice of A is packed as it is used.
//!
//! The stack buffers take `KS * (MR + NR)` floats (11 KiB with AVX2, 2 KiB
//! on Cortex-M).

use super::driver::{Epilogue, finish_tile, store_tile};
use super::kernel::{MR, NR, kernel, kernel_strided};
use super::pack::{pack_a, pack_b};
use super::view::{MatMut, MatRef};

/// Products with at most this many multiply-adds (`m * n * k`) take the
/// path without workspace.
const SMALL_MAX: usize = 1 << 19;

/// Slice of the inner dimension packed on the stack at a time.
#[cfg(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_feature = "simd128"
))]
const KS: usize = 128;
#[cfg(not(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_feature = "simd128"
)))]
const KS: usize = 64;

/// Whether `gemm` computes an `m x k` by `k x n` product without workspace.
pub(crate) fn is_small(m: usize, n: usize, k: usize) -> bool {
    m.saturating_mul(n).saturating_mul(k) <= SMALL_MAX
}

/// `C = alpha * A * B + beta * C` without workspace, for non-empty shapes
/// with C row-major.
pub(crate) fn gemm_small(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: &mut MatMut,
    epi: &impl Epilogue,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut a_pack = [[0.0f32; MR]; KS];
    let mut b_pack = [[0.0f32; NR]; KS];
    for p0 in (0..k).step_by(KS) {
        let ks = KS.min(k - p0);
        let beta = if p0 == 0 { beta } else { 1.0 };
        let last = p0 + ks == k;
        let (a_pack, b_pack) = (&mut a_pack[..ks], &mut b_pack[..ks]);
        let mut tile = |acc, at, size| {
            store_tile(&acc, alpha, beta, c, at, size);
            if last {
                finish_tile(epi, c, at, size);
            }
        };
        if b.cs == 1 {
            for i0 in (0..m).step_by(MR) {
                let mr = MR.min(m - i0);
                pack_a(&a, i0, mr, p0, ks, a_pack);
                for j0 in (0..n).step_by(NR) {
                    let nr = NR.min(n - j0);
                    let acc = if nr == NR {
                        let start = p0 * b.rs + j0;
                        let end = (p0 + ks - 1) * b.rs + j0 + NR;
                        kernel_strided(a_pack, &b.data[start..end], b.rs)
                    } else {
                        pack_b(&b, p0, ks, j0, nr, b_pack);
                        kernel(a_pack, b_pack)
                    };
                    tile(acc, (i0, j0), (mr, nr));
                }
            }
        } else {
            for j0 in (0..n).step_by(NR) {
                let nr = NR.min(n - j0);
                pack_b(&b, p0, ks, j0, nr, b_pack);
                for i0 in (0..m).step_by(MR) {
                    let mr = MR.min(m - i0);
                    pack_a(&a, i0, mr, p0, ks, a_pack);
                    tile(kernel(a_pack, b_pack), (i0, j0), (mr, nr));
                }
            }
        }
    }
}
