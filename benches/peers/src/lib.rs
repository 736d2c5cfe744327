//! Safe wrappers around the peer GEMM crates, for microprop's benches.
//!
//! `matrixmultiply::sgemm` and `gemm::gemm` take raw pointers and strides.
//! microprop forbids `unsafe`, so the benches call these wrappers, which
//! check that every element of each strided matrix lies inside its slice
//! before handing the pointers over.

/// A `rows x cols` matrix in `data`, element `(i, j)` at `i * rs + j * cs`.
#[derive(Clone, Copy)]
pub struct Strided<'a> {
    /// The storage.
    pub data: &'a [f32],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

/// The mutable counterpart of [`Strided`].
pub struct StridedMut<'a> {
    /// The storage.
    pub data: &'a mut [f32],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

/// Panics unless every element of the view lies inside `len` elements and
/// the strides fit in `isize`.
fn check(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) {
    assert!(isize::try_from(rs).is_ok() && isize::try_from(cs).is_ok());
    if rows > 0 && cols > 0 {
        let last = (rows - 1) * rs + (cols - 1) * cs;
        assert!(last < len, "view exceeds its slice");
    }
}

fn check_all(a: &Strided, b: &Strided, c: &StridedMut) -> (usize, usize, usize) {
    assert_eq!(a.cols, b.rows);
    assert_eq!((c.rows, c.cols), (a.rows, b.cols));
    check(a.data.len(), a.rows, a.cols, a.rs, a.cs);
    check(b.data.len(), b.rows, b.cols, b.rs, b.cs);
    check(c.data.len(), c.rows, c.cols, c.rs, c.cs);
    (a.rows, b.cols, a.cols)
}

/// `C = alpha * A * B + beta * C` with `matrixmultiply::sgemm`.
pub fn matrixmultiply_sgemm(alpha: f32, a: Strided, b: Strided, beta: f32, c: StridedMut) {
    let (m, n, k) = check_all(&a, &b, &c);
    // SAFETY: `check_all` proved that every element of A, B and C addressed
    // through these strides lies inside the corresponding slice, that the
    // shapes agree, and that the strides fit in isize; C is borrowed
    // mutably, so it does not alias A or B.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.data.as_mut_ptr(),
            c.rs as isize,
            c.cs as isize,
        );
    }
}

/// `C = alpha * A * B + beta * C` with `gemm::gemm` on one thread.
///
/// gemm's own convention is `dst = alpha * dst + beta * lhs * rhs`; this
/// wrapper maps BLAS's coefficients onto it.
pub fn gemm_sgemm(alpha: f32, a: Strided, b: Strided, beta: f32, c: StridedMut) {
    gemm_with(alpha, a, b, beta, c, gemm::Parallelism::None);
}

/// [`gemm_sgemm`] on rayon's threads.
pub fn gemm_sgemm_parallel(alpha: f32, a: Strided, b: Strided, beta: f32, c: StridedMut) {
    gemm_with(alpha, a, b, beta, c, gemm::Parallelism::Rayon(0));
}

fn gemm_with(alpha: f32, a: Strided, b: Strided, beta: f32, c: StridedMut, par: gemm::Parallelism) {
    let (m, n, k) = check_all(&a, &b, &c);
    // SAFETY: as in `matrixmultiply_sgemm`: every addressed element is
    // inside its slice, the shapes agree, C does not alias A or B. When
    // `beta == 0` the destination is not read (`read_dst == false`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.data.as_mut_ptr(),
            c.cs as isize,
            c.rs as isize,
            beta != 0.0,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            beta,
            alpha,
            false,
            false,
            false,
            par,
        );
    }
}
