//! Every activation on arbitrary f32 inputs (NaN, infinities and subnormals
//! included): the separate-output and in-place paths agree to the bit, NaN
//! propagates, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprop::Activation;

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fuzz_target!(
    init: eprintln!("SIMD backend: {}", microprop::simd_backend()),
    |data: &[u8]| {
        let Some((&which, rest)) = data.split_first() else {
            return;
        };
        let act = match which % 10 {
            0 => Activation::Identity,
            1 => Activation::Sigmoid,
            2 => Activation::Tanh,
            3 => Activation::Relu,
            4 => Activation::LeakyRelu(0.01),
            5 => Activation::Elu(1.0),
            6 => Activation::Gelu,
            7 => Activation::GeluTanh,
            8 => Activation::Silu,
            _ => Activation::Softplus,
        };
        let x: Vec<f32> = rest
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let n = x.len();

        let mut y = vec![0.0; n];
        act.forward(&x, &mut y).expect("equal lengths");
        let mut y2 = x.clone();
        act.forward_in_place(&mut y2).expect("valid activation");
        for i in 0..n {
            assert!(
                same(y[i], y2[i]),
                "{act:?}({}) = {} vs {}",
                x[i],
                y[i],
                y2[i]
            );
            if x[i].is_nan() {
                assert!(y[i].is_nan(), "{act:?}(NaN) = {}", y[i]);
            }
        }

        let grad_out: Vec<f32> = x.iter().rev().copied().collect();
        let mut grad_in = vec![0.0; n];
        act.backward(&x, &y, &grad_out, &mut grad_in)
            .expect("equal lengths");
        let mut grad = grad_out.clone();
        act.backward_in_place(&x, &y, &mut grad)
            .expect("equal lengths");
        for i in 0..n {
            assert!(same(grad_in[i], grad[i]));
        }
        if n > 0 {
            assert!(act.forward(&x, &mut y[..n - 1]).is_err());
        }
    }
);
