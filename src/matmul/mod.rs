//! Matrix multiply: `C = alpha * A * B + beta * C` on caller-owned views.
//!
//! # Views
//!
//! [`MatRef`] and [`MatMut`] describe a matrix inside a slice: row-major,
//! with a row stride of at least the number of columns, so a matrix can sit
//! inside a larger buffer. [`MatRef::t`] transposes a view by swapping its
//! strides, without copying, which gives the three products of a dense
//! layer directly: `Y = X * W^T`, `dW = dY^T * X` and `dX = dY * W`.
//!
//! # Workspace
//!
//! [`gemm`] never allocates. It packs panels of A and B into a workspace the
//! caller passes, sized by [`gemm_workspace_len`]; the length is capped by
//! the cache-block sizes, so one buffer of `gemm_workspace_len` for the
//! largest layer serves every call. Small products (up to 2^19
//! multiply-adds) are computed straight from the views, and for them
//! [`gemm_workspace_len`] is 0: an empty workspace is then enough (on a
//! microcontroller, no scratch memory at all).
//!
//! # Fused dense layer
//!
//! [`gemm_bias_activation`] computes `act(A * B + bias)` with the bias and
//! the activation applied to each tile as soon as it is final, so a dense
//! layer's forward pass is one sweep over its output. [`Dense`] runs a
//! whole layer: the forward pass, keeping the pre-activation for the
//! backward pass in the same sweep, and the backward products, each on
//! the path gemm would take.
//!
//! # Algorithm
//!
//! The BLIS loop nest: C is cut in blocks of `NC` columns, the inner
//! dimension in even slices of at most `KC`, and A in blocks of `MC` rows; each block of A
//! and B is packed once into the workspace, and a register-blocked
//! micro-kernel multiplies an `MR`-row panel of A by an `NR`-column panel of
//! B into a tile of accumulators that fills the register file (6 x 16 with
//! AVX2, 10 x 32 with AVX-512, 6 x 8 with SSE or NEON, 4 x 4 on Cortex-M).
//! The block sizes are chosen for 32 KiB of L1d and 512 KiB of L2 per core:
//! with AVX2, `KC = 512` keeps one packed `MR x KC` panel of A (12 KiB) in
//! L1 while the packed `KC x NR` panels of B stream past it, so the tiles of
//! C are visited along rows (which the hardware prefetchers follow); the
//! `MC = 144`-row packed block of A (288 KiB) stays in L2, and `NC = 2048`
//! bounds the packed block of B (4 MiB, in L3). With AVX-512
//! `KC = 384` (a 10 x 32 tile's B panel is twice as wide). Tiles
//! at the right and bottom edges go through a stack buffer, so nothing
//! outside the views is read or written.
//!
//! Small products skip the packing. On targets with SIMD registers, those
//! whose layout allows it read A and B in place (the `direct` module): the
//! same `MR x NR` tile with B's rows loaded from the view when they are
//! contiguous, or a tile of dot products when the rows of A and the columns
//! of B are (the forward pass `X * W^T`). The others, and every small
//! product on targets without SIMD registers, pack short slices on the
//! stack (the `small` module).
//!
//! # Threads
//!
//! With the `parallel` feature, `gemm_parallel` splits C into bands over
//! rayon's threads. `gemm` itself always runs on the calling thread, and the
//! core stays `no_std`.
//!
//! # Precision
//!
//! Each element of `A * B` is a sum of `k` products accumulated in `f32`,
//! in blocks of at most `KC` terms, with fused multiply-adds where the target has
//! them. The error against the exact result is at most about
//! `k * 2^-23 * (|alpha| * (|A| |B|)_ij + |beta| * |C_ij|)`, with `|A| |B|`
//! the product of the element-wise absolute values; the tests check it with
//! a constant of 2 against an `f64` reference.
//!
//! ```
//! use microprop::{MatMut, MatRef, matmul};
//! // A layer's forward product y = x w^T: 2 inputs of 3 features, 4 units.
//! let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let w = [1.0f32; 12];
//! let mut y = [0.0f32; 8];
//! let mut ws = vec![0.0f32; matmul::gemm_workspace_len(2, 4, 3)];
//! let (x, w) = (MatRef::new(&x, 2, 3)?, MatRef::new(&w, 4, 3)?);
//! matmul::gemm(1.0, x, w.t(), 0.0, MatMut::new(&mut y, 2, 4)?, &mut ws)?;
//! assert_eq!(y, [6.0, 6.0, 6.0, 6.0, 15.0, 15.0, 15.0, 15.0]);
//! # Ok::<(), microprop::Error>(())
//! ```

mod blocking;
mod direct;
mod driver;
mod fused;
mod kernel;
mod layer;
mod pack;
#[cfg(feature = "parallel")]
mod parallel;
mod small;
mod view;

pub use blocking::gemm_workspace_len;
pub use fused::gemm_bias_activation;
pub use layer::Dense;
pub(crate) use layer::threads;
#[cfg(feature = "parallel")]
pub use parallel::{gemm_parallel, gemm_parallel_workspace_len};
pub use view::{MatMut, MatRef};

use crate::backend::Gemm;
use crate::error::{Error, Result, check_capacity};
use driver::{Epilogue, Plain, gemm_packed};

/// Calls `compute::<V, MR, HR, NV, NR, KS>(args)` with the tile and stack
/// slice of the vector type `V`.
macro_rules! compute_with {
    ($V:ident, $($arg:expr),* $(,)?) => {
        $crate::matmul::compute::<
            $V,
            { <$V as $crate::backend::Gemm>::MR },
            { <$V as $crate::backend::Gemm>::MR / 2 },
            { <$V as $crate::backend::Gemm>::NV },
            { <$V as $crate::backend::Gemm>::NR },
            { <$V as $crate::backend::Gemm>::KS },
        >($($arg),*)
    };
}
#[cfg(feature = "parallel")]
use compute_with;

/// `C = alpha * A * B + beta * C`, for every combination of plain and
/// transposed views.
///
/// `a` is `m x k`, `b` is `k x n` and `c` is `m x n`. When `beta == 0`, C
/// is only written, never read: NaN or garbage in it does not leak into the
/// result. `workspace` must hold at least [`gemm_workspace_len`]`(m, n, k)`
/// floats; its contents on entry do not matter and on return are
/// unspecified.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if the shapes of `b` or `c` do not agree with
/// `a`, and [`Error::BufferTooSmall`] if `workspace` is too short.
///
/// # Precision
///
/// See the [module docs](self#precision): the error is within
/// `2 k 2^-23 (|alpha| |A||B| + |beta| |C|)` element-wise.
///
/// # Example
///
/// ```
/// use microprop::{MatMut, MatRef, matmul};
/// let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2x3 input batch
/// let w = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]; // 2x3 weights (out x in)
/// let mut y = [0.0; 4]; // 2x2 output
/// let mut ws = vec![0.0; matmul::gemm_workspace_len(2, 2, 3)];
/// // Y = X * W^T
/// matmul::gemm(
///     1.0,
///     MatRef::new(&x, 2, 3)?,
///     MatRef::new(&w, 2, 3)?.t(),
///     0.0,
///     MatMut::new(&mut y, 2, 2)?,
///     &mut ws,
/// )?;
/// assert_eq!(y, [4.0, 2.0, 10.0, 5.0]);
/// # Ok::<(), microprop::Error>(())
/// ```
pub fn gemm(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: MatMut,
    workspace: &mut [f32],
) -> Result<()> {
    check_shapes(&a, &b, &c)?;
    check_capacity(
        "workspace",
        workspace.len(),
        gemm_workspace_len(a.rows, b.cols, a.cols),
    )?;
    run(alpha, a, b, beta, c, workspace, &mut Plain);
    Ok(())
}

/// Checks that `a` (`m x k`), `b` (`k x n`) and `c` (`m x n`) agree.
fn check_shapes(a: &MatRef, b: &MatRef, c: &MatMut) -> Result<()> {
    if b.rows != a.cols {
        return Err(Error::ShapeMismatch {
            arg: "b",
            expected: (a.cols, b.cols),
            found: (b.rows, b.cols),
        });
    }
    if (c.rows, c.cols) != (a.rows, b.cols) {
        return Err(Error::ShapeMismatch {
            arg: "c",
            expected: (a.rows, b.cols),
            found: (c.rows, c.cols),
        });
    }
    Ok(())
}

/// The checked product: makes C row-major, chooses the instruction set and
/// the path.
fn run(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: MatMut,
    workspace: &mut [f32],
    epi: &mut dyn Epilogue,
) {
    // C^T = B^T * A^T, with C^T row-major.
    let (a, b, c) = if c.cs == 1 {
        (a, b, c)
    } else {
        (b.t(), a.t(), c.t())
    };
    crate::backend::dispatch!(V => {
        let path = Path::choose::<V>(&a, &b);
        compute_with!(V, alpha, a, b, beta, c, workspace, epi, path)
    });
}

/// How a product with C row-major is computed. It is chosen once for the
/// whole product, so that `gemm_parallel`'s bands all take the path `gemm`
/// would take.
#[derive(Clone, Copy)]
enum Path {
    /// One dot product per element, for tiny products ([`small::gemm_tiny`]).
    Tiny,
    /// Straight from the views, nothing packed ([`direct`]).
    Direct(direct::Direct),
    /// Slices packed on the stack ([`small`]).
    Small,
    /// Blocks packed into the workspace ([`driver`]).
    Packed,
}

impl Path {
    /// The path for `a * b` with C row-major and the vector type `V`.
    #[inline(always)]
    fn choose<V: Gemm>(a: &MatRef, b: &MatRef) -> Self {
        if small::is_tiny(a.rows, b.cols, a.cols) {
            Self::Tiny
        } else if let Some(d) = direct::Direct::choose::<V>(a, b) {
            Self::Direct(d)
        } else if small::is_small(a.rows, b.cols, a.cols) {
            Self::Small
        } else {
            Self::Packed
        }
    }
}

/// The product with C row-major, on `path` (chosen with the same `V`), with
/// the vector type `V` and its tile (`MR x NV` vectors of `NR` columns, and
/// `HR = MR / 2` rows for a short last strip) and stack slice `KS`
/// ([`Gemm`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn compute<
    V: Gemm,
    const MR: usize,
    const HR: usize,
    const NV: usize,
    const NR: usize,
    const KS: usize,
>(
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    mut c: MatMut,
    workspace: &mut [f32],
    epi: &mut dyn Epilogue,
    path: Path,
) {
    const { assert!(NR == NV * V::LANES && MR == V::MR && HR == MR / 2 && NR == V::NR && KS == V::KS) };
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            let row = c.row_segment(i, 0, n);
            if beta == 0.0 {
                row.fill(0.0);
            } else {
                row.iter_mut().for_each(|x| *x *= beta);
            }
        }
        epi.apply(&mut c, (0, 0), (m, n));
    } else {
        match path {
            Path::Tiny => small::gemm_tiny::<V>(alpha, a, b, beta, &mut c, epi),
            Path::Direct(d) => d.gemm::<V, MR, NV, NR>(alpha, a, b, beta, &mut c, epi),
            Path::Small => {
                small::gemm_small::<V, MR, NV, NR, KS>(alpha, a, b, beta, &mut c, epi);
            }
            Path::Packed => {
                gemm_packed::<V, MR, HR, NV, NR>(alpha, a, b, beta, &mut c, workspace, epi);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Every path swept over every tile-edge shape of each instruction set's
    //! kernel (the build's own and the run-time one), against the f64
    //! reference (the public tests see only the path that `gemm` picks for
    //! each shape).
    use super::*;
    use crate::backend::F32s;
    use crate::reference;
    use std::vec;

    #[test]
    fn every_path_matches_the_reference_at_every_tile_edge() {
        sweep::<F32s, { F32s::MR }, { F32s::MR / 2 }, { F32s::NV }, { F32s::NR }, { F32s::KS }>();
        crate::backend::dispatch!(V => sweep::<
            V,
            { <V as Gemm>::MR },
            { <V as Gemm>::MR / 2 },
            { <V as Gemm>::NV },
            { <V as Gemm>::NR },
            { <V as Gemm>::KS },
        >());
    }

    #[inline(always)]
    fn sweep<
        V: Gemm,
        const MR: usize,
        const HR: usize,
        const NV: usize,
        const NR: usize,
        const KS: usize,
    >() {
        let mut seed = 1u32;
        let mut next = core::convert::identity(
            #[inline(always)]
            move || {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1 << 24) as f32 - 0.5
            },
        );
        for m in 1..=2 * MR + 1 {
            for n in 1..=2 * NR + 1 {
                for k in [1, 2, 7, 33, V::KC + 3] {
                    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                        let mut a = vec![0.0; m * k];
                        a.iter_mut().for_each(
                            #[inline(always)]
                            |x| *x = next(),
                        );
                        let mut b = vec![0.0; k * n];
                        b.iter_mut().for_each(
                            #[inline(always)]
                            |x| *x = next(),
                        );
                        let av = if ta {
                            MatRef::new(&a, k, m).unwrap().t()
                        } else {
                            MatRef::new(&a, m, k).unwrap()
                        };
                        let bv = if tb {
                            MatRef::new(&b, n, k).unwrap().t()
                        } else {
                            MatRef::new(&b, k, n).unwrap()
                        };
                        let mut want = vec![0.0f32; m * n];
                        reference::matmul::gemm(
                            1.0,
                            av,
                            bv,
                            0.0,
                            MatMut::new(&mut want, m, n).unwrap(),
                        );
                        let (al, bl) = blocking::packed_lens::<V>(m, n, k);
                        let mut ws = vec![f32::NAN; al + bl];
                        let direct = direct::Direct::choose::<V>(&av, &bv);
                        for path in ["tiny", "direct", "small", "packed"] {
                            let mut got = vec![f32::NAN; m * n];
                            let mut c = MatMut::new(&mut got, m, n).unwrap();
                            match (path, direct) {
                                ("tiny", _) => {
                                    small::gemm_tiny::<V>(1.0, av, bv, 0.0, &mut c, &mut Plain);
                                }
                                ("direct", Some(d)) => {
                                    d.gemm::<V, MR, NV, NR>(1.0, av, bv, 0.0, &mut c, &mut Plain);
                                }
                                ("direct", None) => continue,
                                ("small", _) => small::gemm_small::<V, MR, NV, NR, KS>(
                                    1.0, av, bv, 0.0, &mut c, &mut Plain,
                                ),
                                _ => driver::gemm_packed::<V, MR, HR, NV, NR>(
                                    1.0, av, bv, 0.0, &mut c, &mut ws, &mut Plain,
                                ),
                            }
                            for (idx, (g, w)) in got.iter().zip(&want).enumerate() {
                                let tol = 1e-6 * (k as f32 + 2.0) * 2.0;
                                assert!(
                                    (g - w).abs() <= tol,
                                    "{} lanes: {m}x{n}x{k} ta={ta} tb={tb} {path} [{idx}]: {g} vs {w}",
                                    V::LANES
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
