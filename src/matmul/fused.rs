//! The dense layer's forward pass in one sweep: `C = act(A * B + bias)`.

use super::driver::Epilogue;
use super::view::{MatMut, MatRef};
use super::{check_shapes, gemm_workspace_len, run};
use crate::activation::Activation;
use crate::error::{Result, check_capacity, check_len};

/// Adds the bias to a finished block of C and applies the activation,
/// while the block is still in cache: one activation call for a block of
/// whole rows, one per row otherwise. The activation's output goes to `out`
/// if given (C then keeps the pre-activation `A * B + bias` for a backward
/// pass), else over C.
pub(crate) struct BiasActivation<'a, 'o> {
    pub(crate) bias: &'a [f32],
    pub(crate) activation: Activation,
    pub(crate) out: Option<MatMut<'o>>,
}

impl Epilogue for BiasActivation<'_, '_> {
    #[inline(always)]
    fn apply(&mut self, c: &mut MatMut, (i0, j0): (usize, usize), (rows, cols): (usize, usize)) {
        let bias = &self.bias[j0..][..cols];
        for i in i0..i0 + rows {
            let row = c.row_segment(i, j0, cols);
            row.iter_mut().zip(bias).for_each(|(x, &b)| *x += b);
        }
        // The activation was validated up front, and the blocks of C and
        // `out` have the same length.
        let act = self.activation;
        let whole_rows = cols == c.cols;
        match self.out.as_mut() {
            None => match c.rows_mut(i0, rows).filter(|_| whole_rows) {
                Some(block) => act.forward_in_place_validated(block),
                None => (i0..i0 + rows)
                    .for_each(|i| act.forward_in_place_validated(c.row_segment(i, j0, cols))),
            },
            Some(out) => match (c.rows_mut(i0, rows), out.rows_mut(i0, rows)) {
                (Some(z), Some(y)) if whole_rows => act.forward_validated(z, y),
                _ => (i0..i0 + rows).for_each(|i| {
                    act.forward_validated(c.row_segment(i, j0, cols), out.row_segment(i, j0, cols))
                }),
            },
        }
    }
}

/// `C = act(A * B + bias)`: a dense layer's forward pass, with the bias (a
/// row vector of length `n`, added to every row) and the activation applied
/// to each finished block of C (a strip of whole rows where the path
/// allows) while it is still in cache, instead of in a second pass over C.
///
/// `a` is `m x k`, `b` is `k x n`, `c` is `m x n` and is only written.
/// `workspace` is sized by [`gemm_workspace_len`], as for
/// [`gemm`](super::gemm). When `c` is a transposed view the bias and the
/// activation are applied in a second pass over C instead.
///
/// # Errors
///
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) for disagreeing
/// shapes, [`Error::LengthMismatch`](crate::Error::LengthMismatch) unless
/// `bias.len() == n`, [`Error::BufferTooSmall`](crate::Error::BufferTooSmall)
/// for a short workspace, and
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for an
/// activation with a bad hyperparameter.
///
/// # Precision
///
/// The product as in [`gemm`](super::gemm), then one rounding for the bias
/// addition, then the activation's own bound.
///
/// # Example
///
/// ```
/// use microprop::{Activation, MatMut, MatRef, matmul};
/// let x = [1.0, -2.0, 3.0, 4.0]; // batch of 2, 2 inputs
/// let w = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]; // 3 outputs x 2 inputs
/// let bias = [0.5, 0.0, -10.0];
/// let mut y = [0.0; 6];
/// matmul::gemm_bias_activation(
///     MatRef::new(&x, 2, 2)?,
///     MatRef::new(&w, 3, 2)?.t(),
///     &bias,
///     Activation::Relu,
///     MatMut::new(&mut y, 2, 3)?,
///     &mut [],
/// )?;
/// assert_eq!(y, [0.0, 0.0, 0.0, 7.5, 4.0, 0.0]);
/// # Ok::<(), microprop::Error>(())
/// ```
pub fn gemm_bias_activation(
    a: MatRef,
    b: MatRef,
    bias: &[f32],
    activation: Activation,
    c: MatMut,
    workspace: &mut [f32],
) -> Result<()> {
    check_shapes(&a, &b, &c)?;
    check_len("bias", bias.len(), b.cols)?;
    activation.validate()?;
    check_capacity(
        "workspace",
        workspace.len(),
        gemm_workspace_len(a.rows, b.cols, a.cols),
    )?;
    if c.cs == 1 {
        run(
            1.0,
            a,
            b,
            0.0,
            c,
            workspace,
            &mut BiasActivation {
                bias,
                activation,
                out: None,
            },
        );
    } else {
        let mut c = c;
        run(
            1.0,
            a,
            b,
            0.0,
            c.rb_mut(),
            workspace,
            &mut super::driver::Plain,
        );
        // Columns of C are contiguous: each gets one bias element.
        let mut ct = c.t();
        let m = ct.cols;
        for (j, &bj) in bias.iter().enumerate() {
            let col = ct.row_segment(j, 0, m);
            col.iter_mut().for_each(|x| *x += bj);
            activation.forward_in_place(col)?;
        }
    }
    Ok(())
}
