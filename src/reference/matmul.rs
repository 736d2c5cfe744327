//! Naive matrix multiply with `f64` accumulation.
//!
//! ```
//! use microprop::{MatMut, MatRef, matmul, reference};
//! let (a, b) = ([1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [0.5f32, -1.0, 2.0, 0.25, 1.0, -2.0]);
//! let (mut c, mut c_ref) = ([0.0f32; 4], [0.0f32; 4]);
//! let (av, bv) = (MatRef::new(&a, 2, 3)?, MatRef::new(&b, 3, 2)?);
//! matmul::gemm(1.0, av, bv, 0.0, MatMut::new(&mut c, 2, 2)?, &mut [])?;
//! reference::matmul::gemm(1.0, av, bv, 0.0, MatMut::new(&mut c_ref, 2, 2)?);
//! assert_eq!(c, c_ref); // small integers and halves: exact either way
//! # Ok::<(), microprop::Error>(())
//! ```

use crate::matmul::{MatMut, MatRef};

/// `C = alpha * A * B + beta * C` by the textbook triple loop, each element
/// summed in `f64` and rounded once; C is not read when `beta == 0`.
///
/// Assumes the shapes agree (`a` is `m x k`, `b` is `k x n`, `c` is
/// `m x n`), as [`matmul::gemm`](crate::matmul::gemm) checks; elements
/// outside a mismatched shape are skipped.
pub fn gemm(alpha: f32, a: MatRef, b: MatRef, beta: f32, mut c: MatMut) {
    for i in 0..c.rows() {
        for j in 0..c.cols() {
            let dot: f64 = (0..a.cols())
                .map(|p| {
                    let x = a.get(i, p).unwrap_or(0.0);
                    let y = b.get(p, j).unwrap_or(0.0);
                    f64::from(x) * f64::from(y)
                })
                .sum();
            let mut v = f64::from(alpha) * dot;
            if beta != 0.0 {
                v += f64::from(beta) * f64::from(c.get(i, j).unwrap_or(0.0));
            }
            if let Some(x) = c.get_mut(i, j) {
                *x = v as f32;
            }
        }
    }
}
