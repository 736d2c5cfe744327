//! A dense layer's products: the forward pass `y = act(x * W^T + b)` and the
//! backward products `dW = dz^T * x`, `db` and `dx = dz * W`.
//!
//! Each call takes the path that [`gemm`](super::gemm) would take for its
//! shapes (with the `parallel` feature, that of `gemm_parallel`), chosen
//! here once for the layer. A tiny layer (such as those of a 2-4-1
//! network) runs gemm's tiny path inline, so that for a layer known at
//! compile time the checks fold away and the loops unroll; the other paths
//! stay out of line.

use super::driver::{Epilogue, Plain};
use super::fused::BiasActivation;
use super::view::{MatMut, MatRef};
use super::{gemm_workspace_len, small};
use crate::activation::Activation;
use crate::error::{Result, check_capacity, check_len};

/// A dense layer `y = act(x * W^T + b)`, as `torch.nn.Linear` followed by
/// an activation: `x` is a `(batch, inputs)` batch, `W` the `(units,
/// inputs)` weights and `b` the `units` biases, all row-major.
///
/// # Example
///
/// One forward and backward pass of a layer of 2 units over 3 inputs:
///
/// ```
/// use microprop::Activation;
/// use microprop::matmul::Dense;
///
/// let layer = Dense { inputs: 3, units: 2, activation: Activation::Relu };
/// let (x, batch) = ([1.0, 2.0, 3.0, -1.0, 0.0, 1.0], 2);
/// let w = [1.0, 0.0, 1.0, 0.0, 1.0, -1.0];
/// let b = [0.5, 0.0];
/// let mut workspace = vec![0.0; layer.workspace_len(batch)];
/// let (mut z, mut y) = ([0.0; 4], [0.0; 4]);
/// layer.forward(&w, &b, &x, batch, Some(&mut z), &mut y, &mut workspace)?;
/// assert_eq!(z, [4.5, -1.0, 0.5, -1.0]);
/// assert_eq!(y, [4.5, 0.0, 0.5, 0.0]);
///
/// // The loss's gradient with respect to y; the ReLU passes it where z > 0.
/// let mut grad = [1.0, 5.0, 2.0, 5.0];
/// let (mut dw, mut db, mut dx) = ([0.0; 6], [0.0; 2], [0.0; 6]);
/// layer.backward(&w, &x, &z, &y, batch, &mut grad, &mut dw, &mut db, Some(&mut dx), &mut workspace)?;
/// assert_eq!(grad, [1.0, 0.0, 2.0, 0.0]);
/// assert_eq!(dw, [-1.0, 2.0, 5.0, 0.0, 0.0, 0.0]);
/// assert_eq!(db, [3.0, 0.0]);
/// assert_eq!(dx, [1.0, 0.0, 1.0, 2.0, 0.0, 2.0]);
/// # Ok::<(), microprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dense {
    /// Features of each input row (`fan_in`).
    pub inputs: usize,
    /// Outputs of the layer.
    pub units: usize,
    /// Applied to `x * W^T + b`.
    pub activation: Activation,
}

impl Dense {
    /// Number of `f32` of workspace that [`Dense::forward`] and
    /// [`Dense::backward`] need for a batch: the largest
    /// [`gemm_workspace_len`] of the layer's three products, 0 when they
    /// are small. With the `parallel` feature, `threads` times this length
    /// lets each large product use up to `threads` of rayon's threads, with
    /// the same bits as one.
    #[inline]
    pub fn workspace_len(&self, batch: usize) -> usize {
        let (units, inputs) = (self.units, self.inputs);
        // The three products have the same size: either all take a path
        // without workspace or none does.
        if small::is_small(batch, units, inputs) {
            return 0;
        }
        gemm_workspace_len(batch, units, inputs)
            .max(gemm_workspace_len(units, inputs, batch))
            .max(gemm_workspace_len(batch, inputs, units))
    }

    /// The forward pass of `batch` rows of `x`: writes the `(batch, units)`
    /// output `y = act(x * W^T + b)`, and, if `z` is given, the
    /// pre-activation `z = x * W^T + b` that [`Activation::backward`]
    /// needs. The bias and the activation are applied to each block of the
    /// product while it is still in cache, as in
    /// [`gemm_bias_activation`](super::gemm_bias_activation), whose bits
    /// these are.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`](crate::Error::LengthMismatch) naming the
    /// argument unless `w` is `units * inputs` long, `b` `units`, `x`
    /// `batch * inputs`, `z` and `y` `batch * units`;
    /// [`Error::BufferTooSmall`](crate::Error::BufferTooSmall) if
    /// `workspace` is shorter than [`Dense::workspace_len`];
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for an
    /// activation with a bad hyperparameter.
    ///
    /// # Precision
    ///
    /// As [`gemm_bias_activation`](super::gemm_bias_activation).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward(
        &self,
        w: &[f32],
        b: &[f32],
        x: &[f32],
        batch: usize,
        z: Option<&mut [f32]>,
        y: &mut [f32],
        workspace: &mut [f32],
    ) -> Result<()> {
        self.check(w, x, batch, workspace)?;
        check_len("b", b.len(), self.units)?;
        let n = batch.saturating_mul(self.units);
        if let Some(z) = z.as_deref() {
            check_len("z", z.len(), n)?;
        }
        check_len("y", y.len(), n)?;
        self.activation.validate()?;
        self.forward_checked(w, b, x, batch, z, y, workspace);
        Ok(())
    }

    /// [`Dense::forward`] on checked arguments (for [`Mlp`](crate::Mlp),
    /// whose shapes hold by construction).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn forward_checked(
        &self,
        w: &[f32],
        b: &[f32],
        x: &[f32],
        batch: usize,
        z: Option<&mut [f32]>,
        y: &mut [f32],
        workspace: &mut [f32],
    ) {
        if self.tiny(batch) {
            let (xm, wt) = (
                MatRef::whole(x, batch, self.inputs),
                MatRef::whole(w, self.units, self.inputs).t(),
            );
            // Element by element: the bias and the activation of each dot
            // product as it is done, with the arithmetic of the epilogue.
            // Forced inline on every target, not only where `inlined!`
            // forces it: for a layer known at compile time the activation
            // then folds to its own code.
            let (units, act) = (self.units, self.activation);
            let mut z = z;
            crate::backend::dispatch!(V => small::dot_products::<V>(
                xm,
                wt,
                #[inline(always)]
                |i, j, acc| {
                    let zij = acc + b[j];
                    if let Some(z) = z.as_deref_mut() {
                        z[i * units + j] = zij;
                    }
                    y[i * units + j] = act.forward_one(zij);
                },
            ));
        } else {
            self.forward_gemm(w, b, x, batch, z, y, workspace);
        }
    }

    /// The backward pass of `batch` rows after [`Dense::forward`] with the
    /// same `w` and `x`, which kept `z` and wrote `y`: turns `grad`, the
    /// `(batch, units)` gradient of `y` on entry, into that of `z`,
    /// `dz = grad * act'(z)` (as [`Activation::backward_in_place`]; with
    /// [`Activation::Identity`], `grad` is already `dz`), then writes
    /// `dw = dz^T * x`, `db` = the column sums of `dz` (each summed in row
    /// order) and, if given, `dx = dz * W`, the gradient of `x`. The
    /// gradients are overwritten, not accumulated.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`](crate::Error::LengthMismatch) naming the
    /// argument unless `w` and `dw` are `units * inputs` long, `x` and `dx`
    /// `batch * inputs`, `z`, `y` and `grad` `batch * units`, and `db`
    /// `units`; [`Error::BufferTooSmall`](crate::Error::BufferTooSmall) if
    /// `workspace` is shorter than [`Dense::workspace_len`];
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for an
    /// activation with a bad hyperparameter.
    ///
    /// # Precision
    ///
    /// The activation's derivative as [`Activation::backward`], the
    /// products as [`gemm`](super::gemm); `db` sums `batch` terms with one
    /// rounding each.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn backward(
        &self,
        w: &[f32],
        x: &[f32],
        z: &[f32],
        y: &[f32],
        batch: usize,
        grad: &mut [f32],
        dw: &mut [f32],
        db: &mut [f32],
        dx: Option<&mut [f32]>,
        workspace: &mut [f32],
    ) -> Result<()> {
        self.check(w, x, batch, workspace)?;
        let n = batch.saturating_mul(self.units);
        check_len("z", z.len(), n)?;
        check_len("y", y.len(), n)?;
        check_len("grad", grad.len(), n)?;
        check_len("dw", dw.len(), w.len())?;
        check_len("db", db.len(), self.units)?;
        if let Some(dx) = dx.as_deref() {
            check_len("dx", dx.len(), x.len())?;
        }
        self.activation.validate()?;
        self.backward_checked(w, x, z, y, batch, grad, dw, db, dx, workspace);
        Ok(())
    }

    /// [`Dense::backward`] on checked arguments (for [`Mlp`](crate::Mlp),
    /// whose shapes hold by construction).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn backward_checked(
        &self,
        w: &[f32],
        x: &[f32],
        z: &[f32],
        y: &[f32],
        batch: usize,
        grad: &mut [f32],
        dw: &mut [f32],
        db: &mut [f32],
        dx: Option<&mut [f32]>,
        workspace: &mut [f32],
    ) {
        if self.tiny(batch) {
            let act = self.activation;
            let (xm, wm) = (
                MatRef::whole(x, batch, self.inputs),
                MatRef::whole(w, self.units, self.inputs),
            );
            for ((g, &z), &y) in grad.iter_mut().zip(z).zip(y) {
                *g = act.backward_one(z, y, *g);
            }
            let dz = MatRef::whole(grad, batch, self.units);
            let inputs = self.inputs;
            let mut dx = dx;
            crate::backend::dispatch!(V => {
                small::tiny_products::<V>(
                    dz.t(),
                    xm,
                    crate::backend::inlined!(|i, j, acc| dw[i * inputs + j] = acc),
                );
                if let Some(dx) = dx.as_mut() {
                    small::tiny_products::<V>(
                        dz,
                        wm,
                        crate::backend::inlined!(|i, j, acc| dx[i * inputs + j] = acc),
                    );
                }
            });
        } else {
            self.backward_gemm(w, x, z, y, batch, grad, dw, dx, workspace);
        }
        column_sums(grad, db);
    }

    /// Checks the arguments both passes share.
    #[inline(always)]
    fn check(&self, w: &[f32], x: &[f32], batch: usize, workspace: &[f32]) -> Result<()> {
        check_len("w", w.len(), self.units.saturating_mul(self.inputs))?;
        check_len("x", x.len(), batch.saturating_mul(self.inputs))?;
        check_capacity("workspace", workspace.len(), self.workspace_len(batch))
    }

    /// Whether the layer's products at this batch size take gemm's tiny
    /// path: all three have the same size, none of them empty.
    #[inline(always)]
    fn tiny(&self, batch: usize) -> bool {
        batch != 0
            && self.units != 0
            && self.inputs != 0
            && small::is_tiny(batch, self.units, self.inputs)
    }
}

impl Dense {
    /// [`Dense::forward_checked`] on gemm's other paths, with the epilogue
    /// applied block by block; with the `parallel` feature and room for
    /// more than one thread, on `gemm_parallel`'s threads, then the
    /// epilogue over the whole of C, which gives the same bits. Kept out of
    /// line, so that inlining the layer copies only the tiny path.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn forward_gemm(
        &self,
        w: &[f32],
        b: &[f32],
        x: &[f32],
        batch: usize,
        z: Option<&mut [f32]>,
        y: &mut [f32],
        workspace: &mut [f32],
    ) {
        let (a, wt) = (
            MatRef::whole(x, batch, self.inputs),
            MatRef::whole(w, self.units, self.inputs).t(),
        );
        let y = MatMut::whole(y, batch, self.units);
        // With `z`, the product goes to `z` and the activation to `y`.
        let (c, out) = match z {
            Some(z) => (MatMut::whole(z, batch, self.units), Some(y)),
            None => (y, None),
        };
        let mut epi = BiasActivation {
            bias: b,
            activation: self.activation,
            out,
        };
        let threads = threads(workspace.len(), self.workspace_len(batch));
        product(a, wt, c, workspace, &mut epi, threads);
    }

    /// [`Dense::backward_checked`] on gemm's other paths (with the
    /// `parallel` feature, on `gemm_parallel`'s threads), except the bias
    /// gradient; kept out of line.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn backward_gemm(
        &self,
        w: &[f32],
        x: &[f32],
        z: &[f32],
        y: &[f32],
        batch: usize,
        grad: &mut [f32],
        dw: &mut [f32],
        dx: Option<&mut [f32]>,
        workspace: &mut [f32],
    ) {
        // Validated, with the lengths checked by `backward`.
        self.activation.backward_in_place_validated(z, y, grad);
        let threads = threads(workspace.len(), self.workspace_len(batch));
        let dz = MatRef::whole(grad, batch, self.units);
        let dw = MatMut::whole(dw, self.units, self.inputs);
        product(
            dz.t(),
            MatRef::whole(x, batch, self.inputs),
            dw,
            workspace,
            &mut Plain,
            threads,
        );
        if let Some(dx) = dx {
            let dx = MatMut::whole(dx, batch, self.inputs);
            product(
                dz,
                MatRef::whole(w, self.units, self.inputs),
                dx,
                workspace,
                &mut Plain,
                threads,
            );
        }
    }
}

/// The threads a workspace of `len` floats has room for at `per_thread`
/// each (at least one): a layer's products, which need different lengths,
/// are split over that many threads, not over as many as each one's own
/// workspace would allow.
#[inline(always)]
pub(crate) fn threads(len: usize, per_thread: usize) -> usize {
    len.checked_div(per_thread).map_or(1, |t| t.max(1))
}

/// `C = A * B` then `epi`, as [`gemm`](super::gemm) computes it, or
/// `gemm_parallel` on at most `threads` threads with the `parallel`
/// feature.
fn product(
    a: MatRef,
    b: MatRef,
    c: MatMut,
    workspace: &mut [f32],
    epi: &mut dyn Epilogue,
    threads: usize,
) {
    #[cfg(not(feature = "parallel"))]
    {
        let _ = threads;
        super::run(1.0, a, b, 0.0, c, workspace, epi);
    }
    #[cfg(feature = "parallel")]
    super::parallel::run_parallel(1.0, a, b, 0.0, c, workspace, epi, threads);
}

/// `db` = the column sums of the rows of `dz` (`db.len()` columns), each
/// summed in row order from 0. The first row starts the sums, so there is
/// no separate zeroing pass.
#[inline(always)]
fn column_sums(dz: &[f32], db: &mut [f32]) {
    if db.is_empty() {
        return;
    }
    let mut rows = dz.chunks_exact(db.len());
    match rows.next() {
        Some(first) => db.iter_mut().zip(first).for_each(|(d, v)| *d = 0.0 + v),
        None => db.fill(0.0),
    }
    for row in rows {
        for (d, v) in db.iter_mut().zip(row) {
            *d += v;
        }
    }
}
