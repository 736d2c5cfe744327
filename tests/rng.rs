//! The interleaved generator: every stream is xoshiro128++ exactly as
//! `rand_xoshiro` implements it, and the SIMD and scalar versions agree.

use microprop::reference;
use microprop::rng::{STREAMS, StreamRng};
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::{Xoshiro128PlusPlus, Xoshiro256PlusPlus};

#[test]
fn each_stream_is_rand_xoshiros_xoshiro128plusplus() {
    // Under Miri, two seeds of 20 blocks.
    let (seeds, steps) = if cfg!(miri) { (2, 20) } else { (20, 300) };
    for seed in 0..seeds {
        let mut fast = StreamRng::from_rng(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        let mut scalar =
            reference::rng::StreamRng::from_rng(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        let mut draws = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut oracles: Vec<Xoshiro128PlusPlus> = (0..STREAMS)
            .map(|_| {
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&draws.next_u64().to_le_bytes());
                bytes[8..].copy_from_slice(&draws.next_u64().to_le_bytes());
                Xoshiro128PlusPlus::from_seed(bytes)
            })
            .collect();
        for step in 0..steps {
            let block = fast.next_block();
            assert_eq!(block, scalar.next_block(), "seed {seed} step {step}");
            for (s, oracle) in oracles.iter_mut().enumerate() {
                assert_eq!(
                    block[s],
                    oracle.next_u32(),
                    "seed {seed} step {step} stream {s}"
                );
            }
        }
    }
}

/// A generator that returns zeros: every stream's state would be all zero,
/// which xoshiro cannot leave, so seeding replaces it.
struct Zeros;

impl rand_xoshiro::rand_core::TryRng for Zeros {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(0);
        Ok(())
    }
}

#[test]
fn an_all_zero_seed_still_gives_random_bits() {
    let mut fast = StreamRng::from_rng(&mut Zeros);
    let mut scalar = reference::rng::StreamRng::from_rng(&mut Zeros);
    let mut ones = 0;
    for _ in 0..100 {
        let block = fast.next_block();
        assert_eq!(block, scalar.next_block());
        ones += block.iter().map(|w| w.count_ones()).sum::<u32>();
    }
    // 51200 bits: far from all zero after the first few steps
    assert!((20000..31200).contains(&ones), "{ones}");
}
