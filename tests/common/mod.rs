//! Helpers shared by the integration tests: length and offset sweeps, and
//! inputs that favour the edge cases.
#![allow(dead_code)]

/// The widest lane count of any backend: sweeps up to `3 * MAX_LANES + 1`
/// cover the body, the tail and the empty case on every backend.
pub const MAX_LANES: usize = 16;

/// Every length a kernel must handle: `0..=3 * MAX_LANES + 1`. Under Miri,
/// which interprets some thousand times slower and runs the 4-lane
/// baseline, `0..=2 * 4 + 1`: every tail of that width, and two bodies.
pub fn lengths() -> impl Iterator<Item = usize> {
    0..=if cfg!(miri) { 9 } else { 3 * MAX_LANES + 1 }
}

/// Every start offset within a vector: `0..MAX_LANES` (under Miri, aligned
/// and one off).
pub fn offsets() -> impl Iterator<Item = usize> {
    0..if cfg!(miri) { 2 } else { MAX_LANES }
}

/// A small deterministic generator (SplitMix64) for test inputs, so tests do
/// not depend on any RNG crate's stream.
pub struct TestRng(pub u64);

impl TestRng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }

    /// A vector of `n` values uniform in `[lo, hi)`.
    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// f32 values every element-wise kernel must get right: zeros of both signs,
/// subnormals, ones, the extremes, infinities and NaN.
pub const EDGE_CASES: [f32; 14] = [
    0.0,
    -0.0,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1.0e-45,
    -1.0e-45,
    1.0,
    -1.0,
    f32::MAX,
    f32::MIN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::EPSILON,
];

/// Distance in units in the last place between two finite f32 values of the
/// same sign region (used for ULP bounds).
pub fn ulp_distance(a: f32, b: f32) -> u32 {
    fn key(x: f32) -> i64 {
        let bits = x.to_bits() as i32 as i64;
        if bits < 0 {
            i64::from(i32::MIN) - bits
        } else {
            bits
        }
    }
    (key(a) - key(b)).unsigned_abs() as u32
}

/// Error of an f32 result against an f64 oracle, in units of the f32 ulp at
/// the oracle's value (for oracle values in the normal f32 range).
pub fn ulp_error(got: f32, want: f64) -> f64 {
    (f64::from(got) - want).abs() / ulp_of(want)
}

/// The f32 ulp at the magnitude of `want` (the subnormal spacing below the
/// normal range).
pub fn ulp_of(want: f64) -> f64 {
    let exp = ((want.abs().to_bits() >> 52) & 0x7ff) as i32 - 1023;
    2f64.powi(exp.max(-126) - 23)
}

/// Whether `got` agrees with the f64 value `want` in the ways every kernel
/// must get exactly right: NaN for NaN, the same infinity, and for results
/// below the normal range something no larger than the smallest normal
/// with no wrong sign.
pub fn special_agrees(got: f32, want: f64) -> Option<bool> {
    if want.is_nan() {
        return Some(got.is_nan());
    }
    if want.abs() > f64::from(f32::MAX) {
        return Some(got.is_infinite() && (got > 0.0) == (want > 0.0));
    }
    if want.abs() < f64::from(f32::MIN_POSITIVE) {
        let ok = got.abs() <= f32::MIN_POSITIVE && (got == 0.0 || (got > 0.0) == (want > 0.0));
        return Some(ok);
    }
    None
}
