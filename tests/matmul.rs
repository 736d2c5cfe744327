//! `matmul::gemm` against the naive f64 reference: every small shape, both
//! transposes of each operand, strided views inside larger buffers, odd
//! sizes, and every malformed argument.

mod common;

use common::TestRng;
use microprop::{Error, MatMut, MatRef, matmul, reference};

/// The constant of the error bound documented in `matmul`:
/// `|C - C_ref| <= BOUND_C * (k + 2) * 2^-23 * (|alpha| |A||B| + |beta| |C|)`
/// element-wise. The `k` covers the `k - 1` additions and `k` products of
/// each dot product (one rounding each when not fused), the `+ 2` the
/// scaling by `alpha` and the addition of `beta * C`.
const BOUND_C: f64 = 2.0;

/// Value that surrounds every view: reads of it would turn the result into
/// NaN, writes to it are caught by the sentinel check.
const SENTINEL: f32 = f32::NAN;

/// A matrix stored inside a larger buffer: `offset` sentinels in front,
/// `pad` unused sentinels after each row, and a sentinel tail.
struct Stored {
    buf: Vec<f32>,
    offset: usize,
    rows: usize,
    cols: usize,
    stride: usize,
}

impl Stored {
    /// A `rows x cols` matrix (as stored: a transposed view swaps them).
    fn new(rng: &mut TestRng, rows: usize, cols: usize, pad: usize, offset: usize) -> Self {
        let stride = cols + pad;
        let mut buf = vec![SENTINEL; offset + rows * stride + 3];
        for i in 0..rows {
            for j in 0..cols {
                buf[offset + i * stride + j] = rng.uniform(-1.0, 1.0);
            }
        }
        Self {
            buf,
            offset,
            rows,
            cols,
            stride,
        }
    }

    fn view(&self, transposed: bool) -> MatRef<'_> {
        let v =
            MatRef::strided(&self.buf[self.offset..], self.rows, self.cols, self.stride).unwrap();
        if transposed { v.t() } else { v }
    }

    fn view_mut(&mut self, transposed: bool) -> MatMut<'_> {
        let v = MatMut::strided(
            &mut self.buf[self.offset..],
            self.rows,
            self.cols,
            self.stride,
        )
        .unwrap();
        if transposed { v.t() } else { v }
    }

    fn is_inside(&self, idx: usize) -> bool {
        self.stride > 0
            && idx >= self.offset
            && (idx - self.offset) / self.stride < self.rows
            && (idx - self.offset) % self.stride < self.cols
    }

    /// Every sentinel outside the view is still a sentinel.
    fn assert_sentinels(&self, what: &str) {
        for (idx, x) in self.buf.iter().enumerate() {
            if !self.is_inside(idx) {
                assert!(x.is_nan(), "{what}: sentinel at {idx} overwritten with {x}");
            }
        }
    }
}

/// Which operands are transposed views: (A, B, C).
#[derive(Clone, Copy, Debug)]
struct Trans(bool, bool, bool);

#[allow(clippy::too_many_arguments)]
fn check(
    rng: &mut TestRng,
    (m, n, k): (usize, usize, usize),
    t: Trans,
    alpha: f32,
    beta: f32,
    pad: usize,
    use_workspace: bool,
) {
    let swap = |r, c, tr: bool| if tr { (c, r) } else { (r, c) };
    let (ar, ac) = swap(m, k, t.0);
    let (br, bc) = swap(k, n, t.1);
    let (cr, cc) = swap(m, n, t.2);
    let a = Stored::new(rng, ar, ac, pad, 1 + pad);
    let b = Stored::new(rng, br, bc, pad + 1, 2);
    let mut c = Stored::new(rng, cr, cc, pad, 3);
    if beta == 0.0 {
        // C must not be read: NaN in it would leak into the result.
        for i in 0..cr {
            for j in 0..cc {
                c.buf[c.offset + i * c.stride + j] = f32::NAN;
            }
        }
    }
    let c0 = c.buf.clone();
    let mut expected = Stored {
        buf: c0.clone(),
        offset: c.offset,
        rows: cr,
        cols: cc,
        stride: c.stride,
    };
    reference::matmul::gemm(
        alpha,
        a.view(t.0),
        b.view(t.1),
        beta,
        expected.view_mut(t.2),
    );

    let len = matmul::gemm_workspace_len(m, n, k);
    let mut ws = vec![f32::NAN; if use_workspace { len } else { 0 }];
    matmul::gemm(
        alpha,
        a.view(t.0),
        b.view(t.1),
        beta,
        c.view_mut(t.2),
        &mut ws,
    )
    .unwrap_or_else(|e| panic!("{m}x{n}x{k} {t:?}: {e}"));

    c.assert_sentinels("c");
    let (av, bv) = (a.view(t.0), b.view(t.1));
    let cv0 = MatRef::strided(&c0[c.offset..], cr, cc, c.stride).unwrap();
    let cv0 = if t.2 { cv0.t() } else { cv0 };
    let got = c.view_mut(t.2);
    let want = expected.view_mut(t.2);
    let gamma = BOUND_C * (k + 2) as f64 * f64::from(f32::EPSILON);
    for i in 0..m {
        for j in 0..n {
            let abs_ab: f64 = (0..k)
                .map(|p| f64::from(av.get(i, p).unwrap() * bv.get(p, j).unwrap()).abs())
                .sum();
            let abs_c = if beta == 0.0 {
                0.0
            } else {
                f64::from(beta * cv0.get(i, j).unwrap()).abs()
            };
            let bound = gamma * (f64::from(alpha.abs()) * abs_ab + abs_c);
            let (g, w) = (got.get(i, j).unwrap(), want.get(i, j).unwrap());
            let err = (f64::from(g) - f64::from(w)).abs();
            assert!(
                err <= bound,
                "{m}x{n}x{k} {t:?} alpha={alpha} beta={beta} pad={pad}: \
                 C[{i},{j}] = {g}, expected {w} (error {err:e} > bound {bound:e})"
            );
        }
    }
}

const TRANSPOSES: [Trans; 8] = [
    Trans(false, false, false),
    Trans(true, false, false),
    Trans(false, true, false),
    Trans(true, true, false),
    Trans(false, false, true),
    Trans(true, false, true),
    Trans(false, true, true),
    Trans(true, true, true),
];

const COEFFICIENTS: [(f32, f32); 6] = [
    (1.0, 0.0),
    (-0.5, 1.0),
    (1.0, 0.5),
    (-0.5, 0.0),
    (1.0, 1.0),
    (-0.5, 0.5),
];

/// Covers two full tiles plus one of the widest backend's micro-kernel
/// (14 x 32 with AVX-512) in each direction.
#[test]
fn every_small_shape_matches_the_reference() {
    let mut rng = TestRng(1);
    let mut combo = 0usize;
    for m in 0..=2 * 14 + 1 {
        for n in 0..=2 * 32 + 1 {
            for k in [0, 1, 2, 7, 17, 33] {
                for t in &TRANSPOSES[..4] {
                    // Rotate through the coefficients and paddings so each
                    // meets every shape class.
                    let (alpha, beta) = COEFFICIENTS[combo % COEFFICIENTS.len()];
                    check(&mut rng, (m, n, k), *t, alpha, beta, combo % 3, true);
                    combo += 1;
                }
            }
        }
    }
}

/// Every count of rows left over below the register tile, next to one and
/// two tiles of columns (the 16-lane tile is 14 x 32). With AVX-512 the
/// direct path once assumed a 6-row tile and left leftover strips of 6 to
/// 13 rows unwritten (6x32x2, 20x4x32, 64x64x64).
#[test]
fn every_leftover_row_strip_is_computed() {
    let mut rng = TestRng(5);
    for m in 1..=47 {
        for n in [1, 7, 16, 17, 32, 33, 40, 64] {
            for k in [0, 1, 2, 5, 35] {
                for t in &TRANSPOSES[..4] {
                    for beta in [0.0, 1.0] {
                        check(&mut rng, (m, n, k), *t, 1.0, beta, 1, true);
                    }
                }
            }
        }
    }
    for (m, n, k) in [(20, 32, 4), (64, 64, 64), (10, 15, 35)] {
        let a = vec![1.0f32; m * k];
        let b = vec![1.0f32; k * n];
        let mut c = vec![f32::NAN; m * n];
        let mut ws = vec![0.0; matmul::gemm_workspace_len(m, n, k)];
        matmul::gemm(
            1.0,
            MatRef::new(&a, m, k).unwrap(),
            MatRef::new(&b, k, n).unwrap(),
            0.0,
            MatMut::new(&mut c, m, n).unwrap(),
            &mut ws,
        )
        .unwrap();
        assert!(
            c.iter().all(|&x| x == k as f32),
            "{m}x{n}x{k} of ones: {c:?}"
        );
    }
}

#[test]
fn transposed_output_and_other_coefficients() {
    let mut rng = TestRng(2);
    for m in [0, 1, 5, 7, 13, 29] {
        for n in [0, 1, 9, 16, 17, 33] {
            for k in [0, 1, 7, 33] {
                for t in TRANSPOSES {
                    for (alpha, beta) in [(1.0, 1.0), (-0.5, 0.5), (1.0, 0.0), (0.0, 0.5)] {
                        check(&mut rng, (m, n, k), t, alpha, beta, 2, true);
                    }
                }
            }
        }
    }
}

#[test]
fn odd_sizes_match_the_reference() {
    let mut rng = TestRng(3);
    for (shape, betas) in [
        ((17, 17, 17), &[0.0, 1.0, 0.5][..]),
        ((257, 257, 257), &[0.0, 0.5][..]),
        ((266, 265, 263), &[0.0][..]),
        ((3, 700, 600), &[1.0][..]),
        ((300, 5, 600), &[1.0][..]),
    ] {
        // Each layout meets one of the coefficients, in turn.
        for (idx, t) in TRANSPOSES.into_iter().enumerate() {
            check(&mut rng, shape, t, -0.5, betas[idx % betas.len()], 3, true);
        }
    }
}

/// Shapes that need more than one cache block in every direction.
#[test]
fn several_cache_blocks_match_the_reference() {
    let mut rng = TestRng(4);
    for t in [TRANSPOSES[0], TRANSPOSES[3]] {
        check(&mut rng, (150, 2050, 520), t, 1.0, 0.5, 1, true);
    }
}

#[test]
fn an_oversized_workspace_is_fine() {
    let mut rng = TestRng(5);
    let a = rng.vec(40 * 30, -1.0, 1.0);
    let b = rng.vec(30 * 20, -1.0, 1.0);
    let mut c = vec![f32::NAN; 40 * 20];
    let mut c_ref = c.clone();
    let mut ws = vec![f32::NAN; matmul::gemm_workspace_len(400, 400, 400)];
    let (av, bv) = (
        MatRef::new(&a, 40, 30).unwrap(),
        MatRef::new(&b, 30, 20).unwrap(),
    );
    matmul::gemm(
        1.0,
        av,
        bv,
        0.0,
        MatMut::new(&mut c, 40, 20).unwrap(),
        &mut ws,
    )
    .unwrap();
    reference::matmul::gemm(1.0, av, bv, 0.0, MatMut::new(&mut c_ref, 40, 20).unwrap());
    for (x, y) in c.iter().zip(&c_ref) {
        assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
    }
}

#[test]
fn malformed_views_are_errors() {
    let data = [0.0f32; 12];
    let mut out = [0.0f32; 12];
    // Slice too short.
    assert!(matches!(
        MatRef::new(&data, 4, 4),
        Err(Error::BufferTooSmall {
            needed: 16,
            found: 12,
            ..
        })
    ));
    assert!(matches!(
        MatMut::new(&mut out, 3, 5),
        Err(Error::BufferTooSmall { .. })
    ));
    // Stride shorter than a row.
    assert!(matches!(
        MatRef::strided(&data, 2, 4, 3),
        Err(Error::InvalidParameter {
            arg: "row_stride",
            ..
        })
    ));
    assert!(MatMut::strided(&mut out, 2, 4, 3).is_err());
    // (rows - 1) * stride + cols just past the slice.
    assert!(MatRef::strided(&data, 3, 3, 5).is_err());
    assert!(MatRef::strided(&data, 3, 2, 5).is_ok());
    // Sizes that overflow usize.
    assert!(matches!(
        MatRef::strided(&data, usize::MAX, 2, usize::MAX / 2),
        Err(Error::SizeOverflow { .. })
    ));
    assert!(matches!(
        MatMut::strided(&mut out, 3, usize::MAX, usize::MAX),
        Err(Error::SizeOverflow { .. })
    ));
    // Empty views are valid, even over an empty slice.
    assert!(MatRef::new(&[], 0, 5).is_ok());
    assert!(MatRef::new(&[], 5, 0).is_ok());
    assert!(MatMut::new(&mut [], 0, 0).is_ok());
    assert!(MatRef::strided(&[], usize::MAX, 0, 0).is_ok());
}

#[test]
fn mismatched_shapes_and_short_workspaces_are_errors() {
    let data = vec![1.0f32; 100 * 1100];
    let mut out = vec![0.0f32; 100 * 100];
    let a = MatRef::new(&data, 8, 6).unwrap();
    let b = MatRef::new(&data, 5, 7).unwrap();
    let c = MatMut::new(&mut out, 8, 7).unwrap();
    let e = matmul::gemm(1.0, a, b, 0.0, c, &mut []).unwrap_err();
    assert_eq!(
        e,
        Error::ShapeMismatch {
            arg: "b",
            expected: (6, 7),
            found: (5, 7)
        }
    );
    let b = MatRef::new(&data, 6, 7).unwrap();
    let c = MatMut::new(&mut out, 7, 8).unwrap();
    let e = matmul::gemm(1.0, a, b, 0.0, c, &mut []).unwrap_err();
    assert_eq!(
        e,
        Error::ShapeMismatch {
            arg: "c",
            expected: (8, 7),
            found: (7, 8)
        }
    );
    // A transposed C of the wrong orientation.
    let c = MatMut::new(&mut out, 8, 7).unwrap().t();
    assert!(matmul::gemm(1.0, a, b, 0.0, c, &mut []).is_err());

    for (m, n, k) in [(64, 64, 130), (60, 90, 100), (8, 64, 1100)] {
        let len = matmul::gemm_workspace_len(m, n, k);
        assert!(len > 0, "{m}x{n}x{k} should need a workspace");
        let a = MatRef::new(&data, m, k).unwrap();
        let b = MatRef::new(&data, k, n).unwrap();
        let mut ws = vec![0.0; len];
        let c = MatMut::new(&mut out, m, n).unwrap();
        let e = matmul::gemm(1.0, a, b, 0.0, c, &mut ws[..len - 1]).unwrap_err();
        assert_eq!(
            e,
            Error::BufferTooSmall {
                arg: "workspace",
                needed: len,
                found: len - 1
            }
        );
        let c = MatMut::new(&mut out, m, n).unwrap();
        matmul::gemm(1.0, a, b, 0.0, c, &mut ws).unwrap();
        assert!(out[..m * n].iter().all(|&x| x == k as f32));
    }
}

/// The workspace stays bounded by the cache blocks, however large the
/// matrices.
#[test]
fn the_workspace_is_bounded() {
    let big = matmul::gemm_workspace_len(100_000, 100_000, 100_000);
    assert!(big > 0 && big < 4 << 20, "{big}");
    assert_eq!(
        matmul::gemm_workspace_len(usize::MAX, usize::MAX, usize::MAX),
        big
    );
    assert_eq!(matmul::gemm_workspace_len(0, 100, 100), 0);
    assert_eq!(matmul::gemm_workspace_len(100, 100, 0), 0);
}

/// The fused layer equals gemm followed by a separate bias and activation
/// pass into C of the same layout, bit for bit, on every path and layout.
#[test]
fn fused_bias_activation_equals_the_separate_passes() {
    use microprop::Activation;
    let mut rng = TestRng(6);
    for (m, n, k) in [
        (0, 3, 4),
        (3, 0, 4),
        (5, 7, 0),
        (3, 5, 7),
        (13, 37, 19),
        (100, 10, 300),
        (700, 10, 30),
        (70, 90, 130),
        // Wider than one packed block of B: strips of C that are not
        // whole rows.
        (20, 2100, 30),
    ] {
        for t in TRANSPOSES {
            for act in [Activation::Relu, Activation::Tanh, Activation::Identity] {
                let (ar, ac) = if t.0 { (k, m) } else { (m, k) };
                let (br, bc) = if t.1 { (n, k) } else { (k, n) };
                let a = rng.vec(m * k, -1.0, 1.0);
                let b = rng.vec(k * n, -1.0, 1.0);
                let bias = rng.vec(n, -1.0, 1.0);
                let view = |d, r, c, tr: bool| {
                    let v = MatRef::new(d, r, c).unwrap();
                    if tr { v.t() } else { v }
                };
                let (av, bv) = (view(&a, ar, ac, t.0), view(&b, br, bc, t.1));
                let mut ws = vec![f32::NAN; matmul::gemm_workspace_len(m, n, k)];
                let mut fused = vec![f32::NAN; m * n];
                let c = if t.2 {
                    MatMut::new(&mut fused, n, m).unwrap().t()
                } else {
                    MatMut::new(&mut fused, m, n).unwrap()
                };
                matmul::gemm_bias_activation(av, bv, &bias, act, c, &mut ws).unwrap();
                // The separate passes write C in the same layout.
                let mut separate = vec![f32::NAN; m * n];
                let c = if t.2 {
                    MatMut::new(&mut separate, n, m).unwrap().t()
                } else {
                    MatMut::new(&mut separate, m, n).unwrap()
                };
                matmul::gemm(1.0, av, bv, 0.0, c, &mut ws).unwrap();
                let at = |i: usize, j: usize| if t.2 { j * m + i } else { i * n + j };
                for i in 0..m {
                    for (j, b) in bias.iter().enumerate() {
                        separate[at(i, j)] += b;
                    }
                }
                act.forward_in_place(&mut separate).unwrap();
                for i in 0..m {
                    for j in 0..n {
                        let (f, s) = (fused[at(i, j)], separate[at(i, j)]);
                        assert_eq!(
                            f.to_bits(),
                            s.to_bits(),
                            "{m}x{n}x{k} {t:?} {act:?} [{i},{j}]"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn fused_argument_errors() {
    use microprop::Activation;
    let a = [1.0f32; 6];
    let mut c = [0.0f32; 4];
    let av = MatRef::new(&a, 2, 3).unwrap();
    let bv = MatRef::new(&a, 3, 2).unwrap();
    let e = matmul::gemm_bias_activation(
        av,
        bv,
        &[0.0; 3],
        Activation::Relu,
        MatMut::new(&mut c, 2, 2).unwrap(),
        &mut [],
    )
    .unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { arg: "bias", .. }));
    let e = matmul::gemm_bias_activation(
        av,
        bv,
        &[0.0; 2],
        Activation::LeakyRelu(f32::NAN),
        MatMut::new(&mut c, 2, 2).unwrap(),
        &mut [],
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidParameter { .. }));
    let e = matmul::gemm_bias_activation(
        av,
        av,
        &[0.0; 3],
        Activation::Relu,
        MatMut::new(&mut c, 2, 2).unwrap(),
        &mut [],
    )
    .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { arg: "b", .. }));
}

/// The threaded product is bit-identical to the single-threaded one.
#[cfg(feature = "parallel")]
#[test]
fn parallel_equals_single_threaded() {
    let mut rng = TestRng(7);
    // The last two split C into blocks of columns (B is the large operand).
    for (m, n, k) in [
        (5, 6, 7),
        (100, 10, 300),
        (97, 131, 67),
        (300, 257, 263),
        (100, 256, 784),
        (37, 301, 203),
    ] {
        for t in TRANSPOSES {
            let (ar, ac) = if t.0 { (k, m) } else { (m, k) };
            let (br, bc) = if t.1 { (n, k) } else { (k, n) };
            let a = rng.vec(m * k, -1.0, 1.0);
            let b = rng.vec(k * n, -1.0, 1.0);
            let c0 = rng.vec(m * n, -1.0, 1.0);
            let view = |d, r, c, tr: bool| {
                let v = MatRef::new(d, r, c).unwrap();
                if tr { v.t() } else { v }
            };
            let (av, bv) = (view(&a, ar, ac, t.0), view(&b, br, bc, t.1));
            fn out(c: &mut [f32], m: usize, n: usize, transposed: bool) -> MatMut<'_> {
                if transposed {
                    MatMut::new(c, n, m).unwrap().t()
                } else {
                    MatMut::new(c, m, n).unwrap()
                }
            }
            // With beta = 0, C starts as NaN, which must not leak through.
            for (beta, c0) in [(0.5, c0), (0.0, vec![f32::NAN; m * n])] {
                let mut single = c0.clone();
                let mut ws = vec![0.0; matmul::gemm_workspace_len(m, n, k)];
                matmul::gemm(0.5, av, bv, beta, out(&mut single, m, n, t.2), &mut ws).unwrap();
                let mut threaded = c0;
                let mut ws = vec![0.0; matmul::gemm_parallel_workspace_len(m, n, k)];
                let c = out(&mut threaded, m, n, t.2);
                matmul::gemm_parallel(0.5, av, bv, beta, c, &mut ws).unwrap();
                let same = single
                    .iter()
                    .zip(&threaded)
                    .all(|(x, y)| x.to_bits() == y.to_bits() && !x.is_nan());
                assert!(same, "{m}x{n}x{k} {t:?} beta {beta}");
            }
        }
    }
}

/// `Dense`'s passes give the bits of the separate calls they stand for:
/// `gemm_bias_activation` (or gemm with the bias, then the activation) for
/// the forward pass, `Activation::backward` and two gemm products for the
/// backward pass, and row-order column sums for the bias gradient, on the
/// tiny, small and packed paths.
#[test]
fn dense_layer_passes_equal_gemm_and_the_activation() {
    use microprop::Activation;
    use microprop::matmul::Dense;
    let mut rng = TestRng(8);
    for (batch, inputs, units) in [
        (0, 3, 4),
        (1, 2, 4),
        (4, 4, 1),
        (3, 5, 7),
        (8, 16, 2),
        (8, 16, 16),
        (100, 30, 10),
        (64, 300, 200),
    ] {
        for activation in [
            Activation::Identity,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Relu,
        ] {
            let layer = Dense {
                inputs,
                units,
                activation,
            };
            let what = format!("{batch}x{inputs}->{units} {activation:?}");
            let w = rng.vec(units * inputs, -1.0, 1.0);
            let b = rng.vec(units, -1.0, 1.0);
            let x = rng.vec(batch * inputs, -1.0, 1.0);
            let n = batch * units;
            let mut ws = vec![f32::NAN; layer.workspace_len(batch)];
            let (xv, wv) = (
                MatRef::new(&x, batch, inputs).unwrap(),
                MatRef::new(&w, units, inputs).unwrap(),
            );

            // Forward, with and without the pre-activation.
            let (mut z, mut y, mut y_only) =
                (vec![f32::NAN; n], vec![f32::NAN; n], vec![f32::NAN; n]);
            layer
                .forward(&w, &b, &x, batch, Some(&mut z), &mut y, &mut ws)
                .unwrap();
            layer
                .forward(&w, &b, &x, batch, None, &mut y_only, &mut ws)
                .unwrap();
            let mut gws = vec![f32::NAN; matmul::gemm_workspace_len(batch, units, inputs)];
            let (mut want_z, mut want_y) = (vec![f32::NAN; n], vec![f32::NAN; n]);
            let c = MatMut::new(&mut want_z, batch, units).unwrap();
            matmul::gemm_bias_activation(xv, wv.t(), &b, Activation::Identity, c, &mut gws)
                .unwrap();
            activation.forward(&want_z, &mut want_y).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&z), bits(&want_z), "z of {what}");
            assert_eq!(bits(&y), bits(&want_y), "y of {what}");
            assert_eq!(bits(&y_only), bits(&want_y), "y without z of {what}");

            // Backward, with and without the input gradient.
            let g = rng.vec(n, -1.0, 1.0);
            let (mut grad, mut dw, mut db, mut dx) = (
                g.clone(),
                vec![f32::NAN; units * inputs],
                vec![f32::NAN; units],
                vec![f32::NAN; batch * inputs],
            );
            layer
                .backward(
                    &w,
                    &x,
                    &z,
                    &y,
                    batch,
                    &mut grad,
                    &mut dw,
                    &mut db,
                    Some(&mut dx),
                    &mut ws,
                )
                .unwrap();
            let mut dz = vec![f32::NAN; n];
            activation.backward(&want_z, &want_y, &g, &mut dz).unwrap();
            let dzv = MatRef::new(&dz, batch, units).unwrap();
            let (mut want_dw, mut want_dx) = (
                vec![f32::NAN; units * inputs],
                vec![f32::NAN; batch * inputs],
            );
            let mut gws = vec![f32::NAN; matmul::gemm_workspace_len(units, inputs, batch)];
            let c = MatMut::new(&mut want_dw, units, inputs).unwrap();
            matmul::gemm(1.0, dzv.t(), xv, 0.0, c, &mut gws).unwrap();
            let mut gws = vec![f32::NAN; matmul::gemm_workspace_len(batch, inputs, units)];
            let c = MatMut::new(&mut want_dx, batch, inputs).unwrap();
            matmul::gemm(1.0, dzv, wv, 0.0, c, &mut gws).unwrap();
            let want_db: Vec<f32> = (0..units)
                .map(|j| (0..batch).fold(0.0f32, |s, i| s + dz[i * units + j]))
                .collect();
            assert_eq!(bits(&grad), bits(&dz), "dz of {what}");
            assert_eq!(bits(&dw), bits(&want_dw), "dw of {what}");
            assert_eq!(bits(&db), bits(&want_db), "db of {what}");
            assert_eq!(bits(&dx), bits(&want_dx), "dx of {what}");
            let (mut grad, mut dw2, mut db2) = (
                g.clone(),
                vec![f32::NAN; units * inputs],
                vec![f32::NAN; units],
            );
            layer
                .backward(
                    &w, &x, &z, &y, batch, &mut grad, &mut dw2, &mut db2, None, &mut ws,
                )
                .unwrap();
            assert_eq!(bits(&dw2), bits(&want_dw), "dw without dx of {what}");
            assert_eq!(bits(&db2), bits(&want_db), "db without dx of {what}");
        }
    }
}

/// Every argument of `Dense`'s passes with a wrong length is named in the
/// error, as is a bad activation and a short workspace.
#[test]
fn dense_layer_argument_errors() {
    use microprop::Activation;
    use microprop::matmul::Dense;
    let (batch, inputs, units) = (64, 300, 200);
    let layer = Dense {
        inputs,
        units,
        activation: Activation::Relu,
    };
    let len = layer.workspace_len(batch);
    assert!(len > 0, "this layer should take the packed path");
    let (w, b, x) = (
        vec![0.5; units * inputs],
        vec![0.0; units],
        vec![1.0; batch * inputs],
    );
    let n = batch * units;
    let arg = |e: Error| match e {
        Error::LengthMismatch { arg, .. } | Error::BufferTooSmall { arg, .. } => arg,
        other => panic!("unexpected {other:?}"),
    };
    let forward = |w: &[f32], b: &[f32], x: &[f32], z: usize, y: usize, ws: usize| {
        let (mut z, mut y, mut ws) = (vec![0.0; z], vec![0.0; y], vec![0.0; ws]);
        layer.forward(w, b, x, batch, Some(&mut z), &mut y, &mut ws)
    };
    assert!(forward(&w, &b, &x, n, n, len).is_ok());
    assert_eq!(arg(forward(&w[1..], &b, &x, n, n, len).unwrap_err()), "w");
    assert_eq!(arg(forward(&w, &b[1..], &x, n, n, len).unwrap_err()), "b");
    assert_eq!(arg(forward(&w, &b, &x[1..], n, n, len).unwrap_err()), "x");
    assert_eq!(arg(forward(&w, &b, &x, n + 1, n, len).unwrap_err()), "z");
    assert_eq!(arg(forward(&w, &b, &x, n, n - 1, len).unwrap_err()), "y");
    assert_eq!(
        arg(forward(&w, &b, &x, n, n, len - 1).unwrap_err()),
        "workspace"
    );
    let bad = Dense {
        activation: Activation::LeakyRelu(f32::NAN),
        ..layer
    };
    let (mut y, mut ws) = (vec![0.0; n], vec![0.0; len]);
    assert!(matches!(
        bad.forward(&w, &b, &x, batch, None, &mut y, &mut ws),
        Err(Error::InvalidParameter { .. })
    ));

    let (z, y) = (vec![0.0; n], vec![0.0; n]);
    let lens = [n, units * inputs, units, batch * inputs, len];
    let backward = |l: [usize; 5], z: &[f32]| {
        let (mut grad, mut dw, mut db, mut dx, mut ws) = (
            vec![0.0; l[0]],
            vec![0.0; l[1]],
            vec![0.0; l[2]],
            vec![0.0; l[3]],
            vec![0.0; l[4]],
        );
        layer.backward(
            &w,
            &x,
            z,
            &y,
            batch,
            &mut grad,
            &mut dw,
            &mut db,
            Some(&mut dx),
            &mut ws,
        )
    };
    assert!(backward(lens, &z).is_ok());
    assert_eq!(arg(backward(lens, &z[1..]).unwrap_err()), "z");
    for (i, name) in ["grad", "dw", "db", "dx", "workspace"]
        .into_iter()
        .enumerate()
    {
        let mut l = lens;
        l[i] -= 1;
        assert_eq!(arg(backward(l, &z).unwrap_err()), name);
    }
}
