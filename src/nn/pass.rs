//! The forward, backward and inference passes of [`Mlp`].

use super::Mlp;
use crate::dropout::Dropout;
use crate::error::{Result, check_capacity, check_len};
use crate::matmul::threads;
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

    /// Layer `l`'s share of `workspace`: with the `parallel` feature, as
    /// many of its own [`Dense::workspace_len`](crate::matmul::Dense) as
    /// the network's workspace has [`Mlp::workspace_len`]s (its largest
    /// layer's), so that a smaller layer's products use no more threads
    /// than the caller gave room for; otherwise all of it.
    #[inline(always)]
    fn layer_workspace<'w>(
        &self,
        l: usize,
        batch: usize,
        workspace: &'w mut [f32],
    ) -> &'w mut [f32] {
        if cfg!(feature = "parallel") {
            let threads = threads(workspace.len(), self.workspace_len(batch));
            &mut workspace[..threads * self.dense(l).workspace_len(batch)]
        } else {
            workspace
        }
    }

    /// Offset of layer `l`'s dropout mask in the masks buffer.
    fn mask_offset(&self, l: usize, batch: usize) -> usize {
        (0..l)
            .filter(|&i| self.layers[i].dropout > 0.0)
            .map(|i| Dropout::mask_len(batch * self.layers[i].units))
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
            let (w, b) = self.slices(params, l, at);
            let ws = self.layer_workspace(l, batch, workspace);
            self.dense(l)
                .forward_checked(w, b, x, batch, Some(z), y, ws);
            if spec.dropout > 0.0 {
                let (mask, rest_masks) =
                    core::mem::take(&mut masks).split_at_mut(Dropout::mask_len(n));
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
                let mask = &masks[self.mask_offset(l, batch)..][..Dropout::mask_len(n)];
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
            let ws = self.layer_workspace(l, batch, workspace);
            self.dense(l)
                .backward_checked(w, x, z, y, batch, dz, dw, db, dx, ws);
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
            let (w, b) = self.slices(params, l, at);
            let ws = self.layer_workspace(l, batch, workspace);
            self.dense(l).forward_checked(w, b, x, batch, None, y, ws);
            core::mem::swap(&mut cur, &mut next);
        }
        let cur: &'b [f32] = cur;
        Ok(&cur[..batch * self.output()])
    }
}
