//! The forward, backward and inference passes of [`Mlp`].

use super::Mlp;
use crate::dropout::Dropout;
use crate::error::{Result, check_capacity, check_len};
#[cfg(feature = "parallel")]
use crate::matmul::gemm_parallel as product;
use crate::matmul::{dot, is_tiny, mul_add, pairs};
#[cfg(not(feature = "parallel"))]
use crate::matmul::{gemm as product, gemm_bias_activation};
use crate::{Activation, MatMut, MatRef};
use rand_core::Rng;

impl Mlp<'_> {
    /// Checks the arguments every pass shares.
    #[inline]
    fn check_pass(
        &self,
        params: &[f32],
        input: &[f32],
        batch: usize,
        workspace: &[f32],
    ) -> Result<()> {
        check_len("params", params.len(), self.param_len())?;
        check_len("input", input.len(), batch.saturating_mul(self.input))?;
        check_capacity("workspace", workspace.len(), self.workspace_len(batch))
    }

    /// `y = act(x * W^T + b)` for layer `l`, whose weights `w` and biases
    /// `b` come from [`Mlp::walk`], also keeping `z = x * W^T + b` in
    /// `keep` if given (for the backward pass).
    ///
    /// A layer whose product is tiny goes element by element: the same dot
    /// products as gemm's path for tiny products, the bias, then the
    /// activation, with none of gemm's per-call checks, since the shapes
    /// hold by construction. The bits are those of the fused gemm.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn dense(
        &self,
        (w, b): (&[f32], &[f32]),
        l: usize,
        x: &[f32],
        batch: usize,
        activation: Activation,
        keep: Option<&mut [f32]>,
        y: &mut [f32],
        workspace: &mut [f32],
    ) -> Result<()> {
        let (units, fan_in) = (self.layers[l].units, self.fan_in(l));
        if is_tiny(batch, units, fan_in) {
            let mut keep = keep;
            crate::backend::dispatch!(V => {
                let rows = x.chunks_exact(fan_in).zip(y.chunks_exact_mut(units));
                for (r, (x, y)) in rows.enumerate() {
                    for (j, ((w, &b), y)) in w.chunks_exact(fan_in).zip(b).zip(y).enumerate() {
                        let z = dot::<V>(pairs(x, w)) + b;
                        if let Some(keep) = keep.as_deref_mut() {
                            keep[r * units + j] = z;
                        }
                        *y = activation.forward_one(z);
                    }
                }
            });
            return Ok(());
        }
        dense_gemm((w, b), x, batch, activation, keep, y, workspace)
    }

    /// The offsets of each layer's weights and of its biases in the
    /// parameters (or gradients), first layer first, computed in one sweep
    /// instead of once per layer.
    #[inline]
    fn walk(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut w = 0;
        let mut b = self.weight_len();
        self.layers.iter().enumerate().map(move |(l, spec)| {
            let at = (w, b);
            w += spec.units * self.fan_in(l);
            b += spec.units;
            at
        })
    }

    /// Layer `l`'s weights and biases in `params` (checked to be
    /// [`Mlp::param_len`] long), at offsets `(w, b)` from [`Mlp::walk`].
    #[inline]
    fn slices<'p>(
        &self,
        params: &'p [f32],
        l: usize,
        (w, b): (usize, usize),
    ) -> (&'p [f32], &'p [f32]) {
        let units = self.layers[l].units;
        (
            &params[w..][..units * self.fan_in(l)],
            &params[b..][..units],
        )
    }

    /// Offset of layer `l`'s dropout mask in the masks buffer.
    fn mask_offset(&self, l: usize, batch: usize) -> usize {
        (0..l)
            .filter(|&i| self.layers[i].dropout > 0.0)
            .map(|i| (batch * self.layers[i].units).div_ceil(32))
            .sum()
    }

    /// The training forward pass of a batch of `batch` rows of `input`
    /// (`(batch, input)` row-major): keeps every intermediate in `acts` for
    /// [`Mlp::backward`], applies dropout with `rng` (drawing in element
    /// order, layer by layer) and records it in `masks`. Returns the
    /// `(batch, output)` output of the last layer, a view into `acts`.
    ///
    /// Fails if a buffer's length differs from its [`Mlp`] length function
    /// (`workspace` may be longer), or `input` is not `batch * input` long.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn forward<'b, R: Rng + ?Sized>(
        &self,
        params: &[f32],
        input: &[f32],
        batch: usize,
        acts: &'b mut [f32],
        masks: &mut [u32],
        workspace: &mut [f32],
        rng: &mut R,
    ) -> Result<&'b [f32]> {
        self.check_pass(params, input, batch, workspace)?;
        check_len("acts", acts.len(), self.activations_len(batch))?;
        check_len("masks", masks.len(), self.mask_len(batch))?;
        let mut start = 0;
        let mut masks = masks;
        for ((l, spec), at) in self.layers.iter().enumerate().zip(self.walk()) {
            let (fan_in, n) = (self.fan_in(l), batch * spec.units);
            let (done, rest) = acts.split_at_mut(start);
            // The previous layer's output is the last thing before this one.
            let x = if l == 0 {
                input
            } else {
                &done[done.len() - batch * fan_in..]
            };
            let (z, rest) = rest.split_at_mut(n);
            let (y, rest) = rest.split_at_mut(n);
            let wb = self.slices(params, l, at);
            self.dense(wb, l, x, batch, spec.activation, Some(z), y, workspace)?;
            if spec.dropout > 0.0 {
                let (mask, rest_masks) = core::mem::take(&mut masks).split_at_mut(n.div_ceil(32));
                Dropout::new(spec.dropout)?.forward(y, &mut rest[..n], mask, rng)?;
                masks = rest_masks;
            }
            start += self.slots(l) * n;
        }
        let acts: &'b [f32] = acts;
        let out = batch * self.output();
        Ok(&acts[start - out..start])
    }

    /// The backward pass after [`Mlp::forward`] with the same `params`,
    /// `input`, `batch`, `acts` and `masks`: from `grad_output`, the
    /// gradient of the loss with respect to the `(batch, output)` output,
    /// writes the gradient of every weight and bias into `grads` (same
    /// layout as the parameters, overwritten, not accumulated).
    ///
    /// Per layer, from the last: dropout and activation backward in place,
    /// then `dW = dZ^T * X`, `db` = column sums of `dZ`, and (except for the
    /// first layer) `dX = dZ * W`. Overwrites the gradient buffers at the end
    /// of `acts`; the forward intermediates are only read.
    ///
    /// Fails if a buffer's length differs from its [`Mlp`] length function
    /// (`workspace` may be longer), `input` is not `batch * input` long or
    /// `grad_output` not `batch * output`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn backward(
        &self,
        params: &[f32],
        input: &[f32],
        batch: usize,
        acts: &mut [f32],
        masks: &[u32],
        grad_output: &[f32],
        grads: &mut [f32],
        workspace: &mut [f32],
    ) -> Result<()> {
        self.check_pass(params, input, batch, workspace)?;
        check_len("acts", acts.len(), self.activations_len(batch))?;
        check_len("masks", masks.len(), self.mask_len(batch))?;
        check_len("grad_output", grad_output.len(), batch * self.output())?;
        check_len("grads", grads.len(), self.param_len())?;
        let width = self.widest_len(batch);
        let (fwd, buffers) = acts.split_at_mut(acts.len() - 2 * width);
        let (mut g, mut gx) = buffers.split_at_mut(width);
        g[..grad_output.len()].copy_from_slice(grad_output);
        // The end of the last layer's intermediates.
        let mut start = batch * self.sizes.kept;
        let weights = self.weight_len();
        let (grad_w, grad_b) = grads.split_at_mut(weights);
        // Offsets of the layer's weights and biases, walked from the end.
        let (mut w0, mut b0) = (weights, self.param_len());
        // By index: for a constant network LLVM unrolls this form of the
        // loop, as it does the forward pass's, and not the iterator form.
        for l in (0..self.layers.len()).rev() {
            let spec = &self.layers[l];
            let (fan_in, n) = (self.fan_in(l), batch * spec.units);
            start -= self.slots(l) * n;
            w0 -= spec.units * fan_in;
            b0 -= spec.units;
            let (z, y) = fwd[start..start + 2 * n].split_at(n);
            let dz = &mut g[..n];
            if spec.dropout > 0.0 {
                let mask = &masks[self.mask_offset(l, batch)..][..n.div_ceil(32)];
                Dropout::new(spec.dropout)?.backward_in_place(mask, dz)?;
            }
            let x = if l == 0 {
                input
            } else {
                &fwd[start - batch * fan_in..start]
            };
            let w = &params[w0..][..spec.units * fan_in];
            let dw = &mut grad_w[w0..][..w.len()];
            let db = &mut grad_b[b0 - weights..][..spec.units];
            let dx = if l > 0 {
                Some(&mut gx[..batch * fan_in])
            } else {
                None
            };
            if is_tiny(batch, spec.units, fan_in) {
                for ((g, &z), &y) in dz.iter_mut().zip(z).zip(y) {
                    *g = spec.activation.backward_one(z, y, *g);
                }
                products_tiny(dz, x, w, dw, db, dx);
            } else {
                spec.activation.backward_in_place(z, y, dz)?;
                products(dz, x, w, dw, db, dx, workspace)?;
            }
            if l > 0 {
                core::mem::swap(&mut g, &mut gx);
            }
        }
        Ok(())
    }

    /// Inference, and evaluation in training: runs `batch` rows of `input`
    /// through the network without dropout and returns the `(batch,
    /// output)` output, a view into `buffer`. Needs only the parameters,
    /// `buffer` of [`Mlp::infer_len`] floats (the layers alternate between
    /// its halves; the start of a training pass's activations will do) and
    /// the gemm workspace: on a microcontroller the whole deployment is the
    /// parameters plus this buffer.
    ///
    /// Fails if `params` is not [`Mlp::param_len`] long, `input` not
    /// `batch * input`, `buffer` not [`Mlp::infer_len`], or `workspace`
    /// shorter than [`Mlp::workspace_len`].
    pub fn infer<'b>(
        &self,
        params: &[f32],
        input: &[f32],
        batch: usize,
        buffer: &'b mut [f32],
        workspace: &mut [f32],
    ) -> Result<&'b [f32]> {
        self.check_pass(params, input, batch, workspace)?;
        check_len("buffer", buffer.len(), self.infer_len(batch))?;
        let (ping, pong) = buffer.split_at_mut(self.widest_len(batch));
        let (mut cur, mut next) = (ping, pong);
        for ((l, spec), at) in self.layers.iter().enumerate().zip(self.walk()) {
            let fan_in = self.fan_in(l);
            let x = if l == 0 {
                input
            } else {
                &cur[..batch * fan_in]
            };
            let y = &mut next[..batch * spec.units];
            let wb = self.slices(params, l, at);
            self.dense(wb, l, x, batch, spec.activation, None, y, workspace)?;
            core::mem::swap(&mut cur, &mut next);
        }
        let cur: &'b [f32] = cur;
        Ok(&cur[..batch * self.output()])
    }
}

/// [`Mlp::dense`] through gemm, for layers that are not tiny: kept out of
/// line, so that inlining the passes copies only the tiny path.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn dense_gemm(
    (w, b): (&[f32], &[f32]),
    x: &[f32],
    batch: usize,
    activation: Activation,
    keep: Option<&mut [f32]>,
    y: &mut [f32],
    workspace: &mut [f32],
) -> Result<()> {
    let (units, fan_in) = (b.len(), w.len() / b.len());
    let (a, w) = (
        MatRef::new(x, batch, fan_in)?,
        MatRef::new(w, units, fan_in)?,
    );
    match keep {
        Some(z) => {
            let zm = MatMut::new(z, batch, units)?;
            biased(a, w.t(), b, Activation::Identity, zm, workspace)?;
            activation.forward(z, y)
        }
        None => biased(
            a,
            w.t(),
            b,
            activation,
            MatMut::new(y, batch, units)?,
            workspace,
        ),
    }
}

/// `C = act(A * B + bias)` in one sweep of the fused gemm.
#[cfg(not(feature = "parallel"))]
fn biased(
    a: MatRef,
    b: MatRef,
    bias: &[f32],
    activation: Activation,
    c: MatMut,
    workspace: &mut [f32],
) -> Result<()> {
    gemm_bias_activation(a, b, bias, activation, c, workspace)
}

/// `C = act(A * B + bias)`: the product on as many of rayon's threads as
/// `workspace` has room for, then the bias and the activation, in the order
/// and with the rounding of the fused gemm, so the bits do not depend on
/// the number of threads.
#[cfg(feature = "parallel")]
fn biased(
    a: MatRef,
    b: MatRef,
    bias: &[f32],
    activation: Activation,
    c: MatMut,
    workspace: &mut [f32],
) -> Result<()> {
    let (rows, cols) = (a.rows(), b.cols());
    let mut c = c;
    product(1.0, a, b, 0.0, c.rb_mut(), workspace)?;
    for i in 0..rows {
        let row = c.row_segment(i, 0, cols);
        row.iter_mut().zip(bias).for_each(|(x, &b)| *x += b);
        activation.forward_in_place(row)?;
    }
    Ok(())
}

/// A layer's backward products from `dz`, the `(batch, units)` gradient of
/// its pre-activations, with `x` its `(batch, fan_in)` input and `w` its
/// `(units, fan_in)` weights: `dw = dz^T * x`, `db` = column sums of `dz`,
/// and, if wanted, `dx = dz * w`.
fn products(
    dz: &[f32],
    x: &[f32],
    w: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dx: Option<&mut [f32]>,
    workspace: &mut [f32],
) -> Result<()> {
    let (units, fan_in) = (db.len(), dw.len() / db.len());
    let batch = dz.len() / units;
    let dz_mat = MatRef::new(dz, batch, units)?;
    product(
        1.0,
        dz_mat.t(),
        MatRef::new(x, batch, fan_in)?,
        0.0,
        MatMut::new(dw, units, fan_in)?,
        workspace,
    )?;
    column_sums(dz, db);
    if let Some(dx) = dx {
        product(
            1.0,
            dz_mat,
            MatRef::new(w, units, fan_in)?,
            0.0,
            MatMut::new(dx, batch, fan_in)?,
            workspace,
        )?;
    }
    Ok(())
}

/// [`products`] for a tiny layer, element by element, as rank-1 updates
/// over the rows of `dz`: every element still accumulates its terms in
/// order from 0 with the rounding of gemm's path for tiny products, so the
/// bits are the same, and every access is contiguous. Not forced inline:
/// then LLVM would not unroll the backward pass's loop over the layers.
fn products_tiny(
    dz: &[f32],
    x: &[f32],
    w: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dx: Option<&mut [f32]>,
) {
    crate::backend::dispatch!(V => products_tiny_with::<V>(dz, x, w, dw, db, dx));
}

/// [`products_tiny`] with the rounding of the vector type `V`.
#[inline(always)]
fn products_tiny_with<V: crate::backend::Vector>(
    dz: &[f32],
    x: &[f32],
    w: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dx: Option<&mut [f32]>,
) {
    let (units, fan_in) = (db.len(), dw.len() / db.len());
    if dz.is_empty() {
        // An empty batch: no terms, every sum is 0.
        dw.fill(0.0);
    }
    for (r, (dz, x)) in dz
        .chunks_exact(units)
        .zip(x.chunks_exact(fan_in))
        .enumerate()
    {
        for (dw, &d) in dw.chunks_exact_mut(fan_in).zip(dz) {
            for (dw, &x) in dw.iter_mut().zip(x) {
                *dw = mul_add::<V>(d, x, if r == 0 { 0.0 } else { *dw });
            }
        }
    }
    column_sums(dz, db);
    if let Some(dx) = dx {
        for (dz, dx) in dz.chunks_exact(units).zip(dx.chunks_exact_mut(fan_in)) {
            for (j, (w, &d)) in w.chunks_exact(fan_in).zip(dz).enumerate() {
                for (dx, &w) in dx.iter_mut().zip(w) {
                    *dx = mul_add::<V>(d, w, if j == 0 { 0.0 } else { *dx });
                }
            }
        }
    }
}

/// `db` = the column sums of the rows of `dz` (`db.len()` columns), each
/// summed in row order from 0. The first row starts the sums, so a tiny
/// layer needs no separate zeroing pass.
#[inline]
fn column_sums(dz: &[f32], db: &mut [f32]) {
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
