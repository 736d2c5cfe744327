//! The IDX loader fed arbitrary bytes: it must return `Ok` or `Err`, never
//! panic, and whatever it accepts must be self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microprop::train::Dataset;

fuzz_target!(
    init: eprintln!("SIMD backend: {}", microprop::simd_backend()),
    |data: &[u8]| {
        // The first byte splits the input into an image file and a label file.
        let Some((&split, rest)) = data.split_first() else {
            return;
        };
        let at = usize::from(split).min(rest.len());
        let (labels, images) = rest.split_at(at);
        if let Ok(set) = Dataset::from_idx(images, labels, 10) {
            assert_eq!(set.inputs().len(), set.len() * set.features());
            assert_eq!(set.labels().len(), set.len());
            assert!(set.labels().iter().all(|&y| y < 10));
            assert!(set.inputs().iter().all(|&x| (0.0..=1.0).contains(&x)));
        }
    }
);
