//! The checkpoint reader fed arbitrary bytes: it must return `Ok` or `Err`,
//! never panic, and a checkpoint it accepts must be written back as the
//! same parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprop::Activation;
use microprop::nn::LayerSpec;
use microprop::train::{Config, Trainer};

const LAYERS: [LayerSpec; 2] = [
    LayerSpec::new(3, Activation::Relu),
    LayerSpec::new(2, Activation::Identity),
];

fuzz_target!(
    init: eprintln!("SIMD backend: {}", microprop::simd_backend()),
    |data: &[u8]| {
        let mut trainer = Trainer::new(Config::new(2, &LAYERS)).expect("a valid configuration");
        if trainer.load_safetensors(data).is_ok() {
            let bytes = trainer.to_safetensors().expect("a checkpoint");
            let mut again =
                Trainer::new(Config::new(2, &LAYERS)).expect("a valid configuration");
            again.load_safetensors(&bytes).expect("its own checkpoint");
            let bits = |t: &Trainer| t.params().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&again), bits(&trainer));
        }
    }
);
