//! The checkpoint parser fed arbitrary bytes: it must return `Ok` or `Err`,
//! never panic, and whatever it accepts must encode back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprop::train::Checkpoint;

fuzz_target!(
    init: eprintln!("SIMD backend: {}", microprop::SIMD_BACKEND),
    |data: &[u8]| {
        if let Ok(ck) = Checkpoint::from_bytes("fuzz", data) {
            assert_eq!(ck.to_bytes(), data);
        }
    }
);
