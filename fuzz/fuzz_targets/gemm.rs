//! `gemm` against the scalar reference on arbitrary shapes, transposes,
//! strides and scalars, within the documented error bound; malformed
//! arguments must be errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprop::matmul::{gemm, gemm_workspace_len};
use microprop::{MatMut, MatRef, reference};

fuzz_target!(
    init: eprintln!("SIMD backend: {}", microprop::simd_backend()),
    |data: &[u8]| {
        if data.len() < 8 {
            return;
        }
        let (head, body) = data.split_at(8);
        let m = usize::from(head[0] % 40);
        let n = usize::from(head[1] % 40);
        let k = usize::from(head[2] % 40);
        let (ta, tb) = (head[3] & 1 == 1, head[3] & 2 == 2);
        let pad = usize::from(head[4] % 4);
        let alpha = [1.0, -0.5, 0.0, 2.0][usize::from(head[5] % 4)];
        let beta = [0.0, 1.0, 0.5, -1.0][usize::from(head[6] % 4)];
        let short_workspace = head[7] & 1 == 1;

        // Values from the body bytes, in [-2, 2] in steps of 1/64.
        let mut bytes = body.iter().cycle();
        let mut fill = |len: usize| -> Vec<f32> {
            (0..len)
                .map(|_| (f32::from(*bytes.next().unwrap_or(&0)) - 128.0) / 64.0)
                .collect()
        };
        fn view(d: &[f32], r: usize, c: usize, pad: usize, t: bool) -> MatRef<'_> {
            let v = MatRef::strided(d, r, c, c + pad).expect("view covers its slice");
            if t { v.t() } else { v }
        }
        // A is m x k; stored as k x m when transposed. Rows are padded by `pad`.
        let (ar, ac) = if ta { (k, m) } else { (m, k) };
        let (br, bc) = if tb { (n, k) } else { (k, n) };
        let a_data = fill(ar * (ac + pad));
        let b_data = fill(br * (bc + pad));
        let c_init = fill(m * (n + pad));

        let a = view(&a_data, ar, ac, pad, ta);
        let b = view(&b_data, br, bc, pad, tb);

        let mut c = c_init.clone();
        if beta == 0.0 {
            c.iter_mut().for_each(|x| *x = f32::NAN);
        }
        let mut expected = c_init.clone();
        reference::matmul::gemm(
            alpha,
            a,
            b,
            beta,
            MatMut::strided(&mut expected, m, n, n + pad).expect("view"),
        );

        let need = gemm_workspace_len(m, n, k);
        let mut workspace = vec![0.0; need];
        let cm = MatMut::strided(&mut c, m, n, n + pad).expect("view");
        if short_workspace && need > 0 {
            assert!(gemm(alpha, a, b, beta, cm, &mut workspace[..need - 1]).is_err());
            return;
        }
        gemm(alpha, a, b, beta, cm, &mut workspace).expect("valid arguments");

        for i in 0..m {
            for j in 0..n {
                let mut abs = 0.0f64;
                for p in 0..k {
                    let (x, y) = (a.get(i, p).unwrap(), b.get(p, j).unwrap());
                    abs += f64::from(x.abs()) * f64::from(y.abs());
                }
                let c0 = f64::from(c_init[i * (n + pad) + j].abs());
                let bound = 2.0
                    * k as f64
                    * 2f64.powi(-23)
                    * (f64::from(alpha.abs()) * abs + f64::from(beta.abs()) * c0);
                let (got, want) = (c[i * (n + pad) + j], expected[i * (n + pad) + j]);
                assert!(
                    (f64::from(got) - f64::from(want)).abs()
                        <= bound + f64::from(want.abs()) * 2f64.powi(-24),
                    "({i}, {j}) of {m}x{n}x{k}: {got} vs {want}"
                );
            }
        }
        // The padding between rows is never written.
        for i in 0..m {
            for j in n..n + pad {
                let x = c[i * (n + pad) + j];
                if beta == 0.0 {
                    assert!(x.is_nan());
                } else {
                    assert_eq!(x.to_bits(), c_init[i * (n + pad) + j].to_bits());
                }
            }
        }
    }
);
