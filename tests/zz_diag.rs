//! scratch
mod common;
use common::{special_agrees, ulp_error};
use microprop::Activation;
use microprop::reference::activation as reference;
#[test]
fn diag() {
    let acts = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Elu(1.0),
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
        Activation::Softplus,
    ];
    let xs: Vec<f32> = (0..(1u64 << 22))
        .map(|i| f32::from_bits((i * 1021) as u32))
        .filter(|x| x.is_finite())
        .collect();
    for act in acts {
        let mut y = vec![0.0; xs.len()];
        act.forward(&xs, &mut y).unwrap();
        let mut d = vec![1.0; xs.len()];
        act.backward_in_place(&xs, &y, &mut d).unwrap();
        let (mut w, mut wx, mut bad) = (0.0f64, 0.0f32, 0);
        let (mut da, mut dax, mut dr, mut drx) = (0.0f64, 0.0f32, 0.0f64, 0.0f32);
        for i in 0..xs.len() {
            let want = reference::value(act, xs[i] as f64);
            match special_agrees(y[i], want) {
                Some(ok) => {
                    if !ok {
                        bad += 1;
                        if bad < 4 {
                            eprintln!("  special {:e} -> {:e} want {:e}", xs[i], y[i], want);
                        }
                    }
                }
                None => {
                    let e = ulp_error(y[i], want);
                    if e > w {
                        w = e;
                        wx = xs[i];
                    }
                }
            }
            let dw = reference::derivative(act, xs[i] as f64);
            if dw.is_finite() {
                let e = (d[i] as f64 - dw).abs();
                if e > da {
                    da = e;
                    dax = xs[i];
                }
                if dw.abs() > 1e-30 {
                    let r = e / dw.abs() / 1.19e-7;
                    if r > dr && e > 1e-7 {
                        dr = r;
                        drx = xs[i];
                    }
                }
            }
        }
        eprintln!(
            "{act:?}: fwd {w:.2} ulp at {wx:e}, bad {bad}; bwd abs {da:e} at {dax:e}, rel(>1e-7 abs) {dr:.2} ulp at {drx:e}"
        );
    }
}
