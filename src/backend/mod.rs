//! What depends on the target, decided in one place.
//!
//! This is the only module that reads the target configuration
//! (`target_feature`, `target_arch`, and the `microprop_lanes` cfg below) and
//! the only one that names `wide`. Every other module takes its decisions
//! from here:
//!
//! - the [`Vector`] interface of the kernels, `wide`'s lane type [`F32s`]
//!   and its width [`LANES`] where the width is fixed at compile time, and
//!   the run-time levels of [`x86`];
//! - whether [`F32s::mul_add`](wide::f32x4::mul_add) is one fused
//!   instruction ([`FMA`]) and whether the lanes are emulated one by one
//!   ([`EMULATED`]);
//! - how a compare-and-select clamp is best written ([`at_least`],
//!   [`at_most`]);
//! - the Cortex-M FPU's instructions ([`fpu`]);
//! - the matrix product's register tile, cache blocks and which of its
//!   paths exist ([`gemm`]).
//!
//! # Lane width
//!
//! `wide` picks its instructions when the crate is compiled, so the width is
//! fixed at compile time: 16 lanes where `avx512f` is enabled, 8 with `avx`,
//! and 4 everywhere else (SSE2, NEON, wasm `simd128`, and `wide`'s portable
//! scalar lanes on microcontrollers).
//!
//! # Forced widths
//!
//! Code for a width that the build machine's CPU does not select is still
//! shipped, so the tests must run it anyway. Building with
//! `RUSTFLAGS='--cfg microprop_lanes="16"'` (or `"8"`, `"4"`, `"emulated"`)
//! makes the whole crate use that width on any x86-64 machine, with every
//! width-dependent choice (tile, blocks, paths, tails) following it: `wide`
//! runs a 16-lane vector as two 8-lane or four 4-lane ones where the CPU
//! lacks AVX-512, with the same results lane for lane. `"emulated"` takes the
//! choices of a target without SIMD registers (a Cortex-M): 4 lanes processed
//! as if one by one, scalar tails, the small register tile and blocks, no
//! direct matrix paths.
//!
//! Tails are handled by padding: the last partial chunk is copied into a full
//! vector, processed by the same vector code as the body, and only its valid
//! lanes are stored. Every element therefore goes through identical
//! arithmetic whatever its position, and no element is processed twice (which
//! matters for in-place updates).

/// Evaluates `$body` with `$V` bound to the vector type `$T` and the
/// [`Vector`] methods in scope: one arm of [`dispatch!`].
macro_rules! with_vector {
    ($V:ident = $T:ty => $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::backend::Vector as _;
        type $V = $T;
        $body
    }};
}

pub(crate) use with_vector;

#[cfg(not(all(
    target_arch = "x86_64",
    feature = "std",
    not(any(
        microprop_lanes = "16",
        microprop_lanes = "8",
        microprop_lanes = "4",
        microprop_lanes = "emulated"
    ))
)))]
mod fixed;
pub(crate) mod fpu;
pub(crate) mod gemm;
mod vector;
#[cfg(all(
    target_arch = "x86_64",
    feature = "std",
    not(any(
        microprop_lanes = "16",
        microprop_lanes = "8",
        microprop_lanes = "4",
        microprop_lanes = "emulated"
    ))
))]
pub(crate) mod x86;

// The macros of the way the kernels' instruction set is chosen: at run time
// (`x86`) or when the crate is compiled (`fixed`).
#[cfg(not(all(
    target_arch = "x86_64",
    feature = "std",
    not(any(
        microprop_lanes = "16",
        microprop_lanes = "8",
        microprop_lanes = "4",
        microprop_lanes = "emulated"
    ))
)))]
pub(crate) use fixed::{dispatch, inlined, largest};
#[cfg(all(
    target_arch = "x86_64",
    feature = "std",
    not(any(
        microprop_lanes = "16",
        microprop_lanes = "8",
        microprop_lanes = "4",
        microprop_lanes = "emulated"
    ))
))]
pub(crate) use x86::{dispatch, inlined, largest};

pub(crate) use gemm::Gemm;
pub(crate) use vector::{Bits, Vector};

#[cfg(any(
    microprop_lanes = "16",
    all(
        not(any(
            microprop_lanes = "8",
            microprop_lanes = "4",
            microprop_lanes = "emulated"
        )),
        target_feature = "avx512f"
    )
))]
mod lanes {
    pub(crate) type F32s = wide::f32x16;
    pub(crate) const LANES: usize = 16;
}

#[cfg(any(
    microprop_lanes = "8",
    all(
        not(any(
            microprop_lanes = "16",
            microprop_lanes = "4",
            microprop_lanes = "emulated"
        )),
        target_feature = "avx",
        not(target_feature = "avx512f")
    )
))]
mod lanes {
    pub(crate) type F32s = wide::f32x8;
    pub(crate) const LANES: usize = 8;
}

#[cfg(any(
    microprop_lanes = "4",
    microprop_lanes = "emulated",
    all(
        not(any(microprop_lanes = "16", microprop_lanes = "8")),
        not(target_feature = "avx")
    )
))]
mod lanes {
    pub(crate) type F32s = wide::f32x4;
    pub(crate) const LANES: usize = 4;
}

pub(crate) use lanes::{F32s, LANES};

/// Whether the width was forced with the `microprop_lanes` cfg.
const FORCED: bool = cfg!(any(
    microprop_lanes = "16",
    microprop_lanes = "8",
    microprop_lanes = "4",
    microprop_lanes = "emulated"
));

/// Whether the lanes are emulated one by one (no SIMD unit, as on a
/// Cortex-M): there a padded partial vector costs as much as a full one, so
/// a short tail is cheaper one element at a time with [`lane0`], and the
/// matrix product uses a small tile and no direct paths.
pub(crate) const EMULATED: bool = if FORCED {
    cfg!(microprop_lanes = "emulated")
} else {
    !cfg!(any(
        target_feature = "sse2",
        target_feature = "neon",
        target_feature = "simd128"
    ))
};

/// Whether `F32s::mul_add` is a fused multiply-add (one rounding); elsewhere
/// `wide` computes it as a product and a sum, rounded twice.
pub(crate) const FMA: bool = cfg!(any(
    target_feature = "fma",
    all(target_arch = "aarch64", target_feature = "neon")
));

/// The instruction set the kernels run with, and the lane width.
///
/// On x86-64 with the `std` feature the kernels for AVX2+FMA and AVX-512F
/// are chosen at run time, on the first call of any kernel, from what the
/// CPU supports; setting the environment variable `MICROPROP_SIMD` to
/// `sse2` or `avx2` before that caps the choice (for tests and
/// comparisons). That first call is the only one that may allocate (the
/// variable's value, when set); calling this function first makes the
/// choice at a time of the caller's choosing. Elsewhere the instruction set is what the build flags
/// enable (for example with `RUSTFLAGS="-C target-cpu=native"`). A width
/// forced with the `microprop_lanes` cfg is marked "forced". Benches and the
/// trainer print this next to their figures.
///
/// ```
/// println!("microprop runs {}", microprop::simd_backend());
/// ```
pub fn simd_backend() -> &'static str {
    #[cfg(all(
        target_arch = "x86_64",
        feature = "std",
        not(any(
            microprop_lanes = "16",
            microprop_lanes = "8",
            microprop_lanes = "4",
            microprop_lanes = "emulated"
        ))
    ))]
    match x86::level() {
        x86::Level::Avx512(_) => return "avx512f (16 x f32)",
        x86::Level::Avx2(_) => return "avx2+fma (8 x f32)",
        x86::Level::Baseline => {}
    }
    BUILD_BACKEND
}

/// What the build flags enable, the kernels' instruction set where it is not
/// chosen at run time.
const BUILD_BACKEND: &str = backend_name();

const fn backend_name() -> &'static str {
    if FORCED {
        return match (LANES, EMULATED) {
            (_, true) => "forced emulated (4 x f32)",
            (16, _) => "forced 16 lanes (16 x f32)",
            (8, _) => "forced 8 lanes (8 x f32)",
            _ => "forced 4 lanes (4 x f32)",
        };
    }
    if cfg!(target_feature = "avx512f") {
        "avx512f (16 x f32)"
    } else if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        "avx2+fma (8 x f32)"
    } else if cfg!(target_feature = "avx") {
        "avx (8 x f32)"
    } else if cfg!(target_feature = "sse4.1") {
        "sse4.1 (4 x f32)"
    } else if cfg!(target_feature = "sse2") {
        "sse2 (4 x f32)"
    } else if cfg!(target_feature = "neon") {
        "neon (4 x f32)"
    } else if cfg!(target_feature = "simd128") {
        "wasm simd128 (4 x f32)"
    } else {
        "portable scalar (4 x f32 emulated)"
    }
}

/// Whether `fast_max(a, b)` and `fast_min(a, b)` are x86's `maxps`/`minps`,
/// which return `b` unless `a` is greater (less), so also when either is
/// NaN: with `wide` where the build enables SSE, and with the run-time
/// types of [`x86`].
const X86_MIN_MAX: bool = cfg!(any(target_feature = "sse", target_arch = "x86_64"));

/// `x` where `x >= lo` or `x` is NaN, `lo` otherwise.
///
/// `min`/`max` differ between backends in which operand survives a NaN, so
/// this is a compare and select, except on x86: there `maxps(lo, x)` is
/// exactly that select in one instruction. With [`EMULATED`] lanes it is a
/// scalar select per lane (a conditional move), not a mask built and
/// blended bit by bit.
#[inline(always)]
pub(crate) fn at_least<V: Vector>(x: V, lo: f32) -> V {
    if V::EMULATED {
        let mut a = x.to_array();
        for v in a.as_mut() {
            if *v < lo {
                *v = lo;
            }
        }
        return V::new(a);
    }
    let lo = V::splat(lo);
    if X86_MIN_MAX {
        lo.fast_max(x)
    } else {
        x.simd_lt(lo).select(lo, x)
    }
}

/// `x` where `x <= hi` or `x` is NaN, `hi` otherwise (on x86 one `minps`,
/// see [`at_least`]).
#[inline(always)]
pub(crate) fn at_most<V: Vector>(x: V, hi: f32) -> V {
    if V::EMULATED {
        let mut a = x.to_array();
        for v in a.as_mut() {
            if *v > hi {
                *v = hi;
            }
        }
        return V::new(a);
    }
    let hi = V::splat(hi);
    if X86_MIN_MAX {
        hi.fast_min(x)
    } else {
        x.simd_gt(hi).select(hi, x)
    }
}

/// Loads the first `chunk.len()` lanes from `chunk` and fills the rest with
/// `fill` (the identity of a reduction, or any harmless value).
#[inline(always)]
pub(crate) fn load_partial<V: Vector>(chunk: &[f32], fill: f32) -> V {
    let mut lanes = V::splat(fill).to_array();
    lanes.as_mut()[..chunk.len()].copy_from_slice(chunk);
    V::new(lanes)
}

/// Stores the first `out.len()` lanes of `v` into `out`.
#[inline(always)]
pub(crate) fn store_partial<V: Vector>(v: V, out: &mut [f32]) {
    let n = out.len();
    out.copy_from_slice(&v.to_array().as_ref()[..n]);
}

/// `y[i] = f(x[i])` for equal-length slices; `f` sees whole vectors, the tail
/// padded with `fill`.
#[inline(always)]
pub(crate) fn map<V: Vector>(x: &[f32], y: &mut [f32], fill: f32, f: impl Fn(V) -> V) {
    debug_assert_eq!(x.len(), y.len());
    let (xb, xt) = V::split(x);
    let (yb, yt) = V::split_mut(y);
    for (xc, yc) in xb.iter().zip(yb) {
        *yc = f(V::new(*xc)).to_array();
    }
    if V::EMULATED {
        for (x, y) in xt.iter().zip(yt) {
            *y = lane0(f(V::splat(*x)));
        }
    } else if !xt.is_empty() {
        store_partial(f(load_partial(xt, fill)), yt);
    }
}

/// `x[i] = f(x[i])` in place; each element is read and written once.
#[inline(always)]
pub(crate) fn map_in_place<V: Vector>(x: &mut [f32], fill: f32, f: impl Fn(V) -> V) {
    let (xb, xt) = V::split_mut(x);
    for xc in xb {
        *xc = f(V::new(*xc)).to_array();
    }
    if V::EMULATED {
        for x in xt {
            *x = lane0(f(V::splat(*x)));
        }
    } else if !xt.is_empty() {
        let v = f(load_partial(xt, fill));
        store_partial(v, xt);
    }
}

/// Reinterprets the bits of a lane vector as another lane vector of the same
/// size, without conversion: random `u32` bits as `i32` for a signed compare,
/// a lane mask as `f32`.
#[inline(always)]
pub(crate) fn bitcast<A: wide::bytemuck::Pod, B: wide::bytemuck::Pod>(a: A) -> B {
    wide::bytemuck::cast(a)
}

/// Lane 0 of a vector: with [`EMULATED`] lanes, `f(F32s::splat(x))` read
/// through this computes only that lane (the others are dead code), with
/// exactly the arithmetic every lane of the vector path gets.
#[inline(always)]
pub(crate) fn lane0<V: Vector>(v: V) -> f32 {
    v.to_array().as_ref()[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_covers_every_length_and_touches_nothing_else() {
        for n in 0..=3 * LANES + 1 {
            let x: std::vec::Vec<f32> = (0..n).map(|i| i as f32).collect();
            let mut y = std::vec![f32::NAN; n + 1];
            map(&x, &mut y[..n], 0.0, |v: F32s| v + F32s::splat(1.0));
            for (i, &v) in y[..n].iter().enumerate() {
                assert_eq!(v, i as f32 + 1.0);
            }
            assert!(y[n].is_nan());
            let mut z = x.clone();
            map_in_place(&mut z, 0.0, |v: F32s| v * F32s::splat(2.0));
            for (i, &v) in z.iter().enumerate() {
                assert_eq!(v, 2.0 * i as f32);
            }
        }
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let rows: [F32s; LANES] =
            core::array::from_fn(|r| F32s::new(core::array::from_fn(|c| (r * LANES + c) as f32)));
        for (c, col) in <F32s as Vector>::transpose(rows).iter().enumerate() {
            for (r, &x) in col.to_array().iter().enumerate() {
                assert_eq!(x, (r * LANES + c) as f32);
            }
        }
    }

    #[test]
    fn backend_names_a_lane_width() {
        let name = simd_backend();
        assert!(
            ["4 x f32", "8 x f32", "16 x f32"]
                .iter()
                .any(|w| name.contains(w)),
            "{name}"
        );
    }
}
