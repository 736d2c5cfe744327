//! Fused optimizer steps against the scalar reference, bit for bit, on
//! arbitrary parameters, gradients, lengths and step counts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprop::optim::{
    Adadelta, Adagrad, Adam, AdamW, Adamax, Lion, NAdam, Optimizer, RAdam, RmsProp, Sgd,
};
use microprop::reference::optim as reference;

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn check<O: Optimizer>(
    opt: &O,
    oracle: fn(&O, u64, &mut [f32], &[f32], &mut [f32]),
    steps: u64,
    params: &[f32],
    grads: &[f32],
) {
    let n = params.len();
    let (mut p, mut q) = (params.to_vec(), params.to_vec());
    let mut s = vec![0.0; opt.state_len(n)];
    let mut r = s.clone();
    for t in 1..=steps {
        opt.step(t, &mut p, grads, &mut s).expect("valid arguments");
        oracle(opt, t, &mut q, grads, &mut r);
    }
    assert!(p.iter().zip(&q).all(|(a, b)| same(*a, *b)));
    assert!(s.iter().zip(&r).all(|(a, b)| same(*a, *b)));
    assert!(opt.step(0, &mut p, grads, &mut s).is_err());
}

fuzz_target!(
    init: eprintln!("SIMD backend: {}", microprop::simd_backend()),
    |data: &[u8]| {
        if data.len() < 2 {
            return;
        }
        let (which, steps) = (data[0] % 11, u64::from(data[1] % 8) + 1);
        let values: Vec<f32> = data[2..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let (params, grads) = values.split_at(values.len() / 2);
        let grads = &grads[..params.len()];
        let sgd = Sgd {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.01,
            ..Sgd::default()
        };
        match which {
            0 => check(&sgd, reference::sgd, steps, params, grads),
            1 => check(
                &Adagrad::default(),
                reference::adagrad,
                steps,
                params,
                grads,
            ),
            2 => check(
                &Adadelta::default(),
                reference::adadelta,
                steps,
                params,
                grads,
            ),
            3 => check(&Adam::default(), reference::adam, steps, params, grads),
            4 => {
                let amsgrad = Adam {
                    amsgrad: true,
                    weight_decay: 0.1,
                    ..Adam::default()
                };
                check(&amsgrad, reference::adam, steps, params, grads)
            }
            5 => check(&AdamW::default(), reference::adamw, steps, params, grads),
            6 => check(&Adamax::default(), reference::adamax, steps, params, grads),
            7 => check(&NAdam::default(), reference::nadam, steps, params, grads),
            8 => check(&RAdam::default(), reference::radam, steps, params, grads),
            9 => {
                let centered = RmsProp {
                    centered: true,
                    momentum: 0.5,
                    ..RmsProp::default()
                };
                check(&centered, reference::rmsprop, steps, params, grads)
            }
            _ => check(&Lion::default(), reference::lion, steps, params, grads),
        }
    }
);
