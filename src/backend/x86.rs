//! AVX2+FMA and AVX-512 lane vectors, chosen at run time on x86-64.
//!
//! `wide` picks its instructions when it is compiled, from the build's
//! target features, so a default build (SSE2) gets SSE2 kernels even inside
//! a `#[target_feature]` function. These types call the intrinsics
//! directly instead: every method is `#[inline(always)]`, and so is every
//! kernel, so a kernel instantiated with them inside [`with_avx2`] or
//! [`with_avx512`] compiles to that instruction set as a whole.
//!
//! # Safety
//!
//! The intrinsics are `unsafe` because the CPU must support them. Values of
//! these types are only made by kernels that [`dispatch`]
//! runs after [`level`] found the instruction set on the running CPU (or
//! after the user forced a level that the CPU reports); no other code names
//! these types. That is the invariant each `SAFETY` comment below refers to.

#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::ops::{
    Add, AddAssign, BitAnd, BitAndAssign, BitOr, BitOrAssign, BitXor, BitXorAssign, Div, DivAssign,
    Mul, MulAssign, Neg, Not, Shl, Shr, Sub, SubAssign,
};
use std::sync::atomic::{AtomicU8, Ordering};

use super::gemm::Gemm;
use super::vector::{Bits, Vector};

/// Evaluates `$body` with the type name `$V` bound to the [`Vector`] of the
/// instruction set the kernels run with, and the trait's methods in scope.
///
/// On x86-64 with `std` (and no forced width) that is decided at run time
/// ([`level`]): `$body` is compiled three times, for the build's own
/// instruction set with `wide`'s [`F32s`](super::F32s), for AVX2+FMA and for AVX-512F, and
/// the two latter copies run inside a `#[target_feature]` function. Every
/// generic function that `$body` calls must therefore be `#[inline(always)]`
/// down to the vector operations, and every closure [`inlined!`], or it
/// would be compiled for the baseline.
/// Elsewhere `$V` is [`F32s`](super::F32s), fixed when the crate is compiled.
///
/// Call it once per public entry point: it costs one relaxed atomic load
/// and a branch.
macro_rules! dispatch {
    ($V:ident => $body:expr) => {
        match $crate::backend::x86::level() {
            $crate::backend::x86::Level::Avx512(level) => level.run(
                #[inline(always)]
                || $crate::backend::with_vector!($V = $crate::backend::x86::F32x16 => $body),
            ),
            $crate::backend::x86::Level::Avx2(level) => level.run(
                #[inline(always)]
                || $crate::backend::with_vector!($V = $crate::backend::x86::F32x8 => $body),
            ),
            $crate::backend::x86::Level::Baseline => {
                $crate::backend::with_vector!($V = $crate::backend::F32s => $body)
            }
        }
    };
}

pub(crate) use dispatch;

/// A closure of a kernel, `#[inline(always)]` where [`dispatch!`] compiles
/// the kernel per run-time level (an outlined closure would be compiled for
/// the baseline); elsewhere left to the inliner, which on a Cortex-M keeps
/// large closures out of line (forcing them cost 8% of flash and 12% of an
/// Adam step on the M4F).
///
/// Attributes on closures are stable only in argument position, so a
/// closure bound with `let` is written
/// `let f = core::convert::identity(inlined!(move |x: V| ...));`.
macro_rules! inlined {
    ($closure:expr) => {
        #[inline(always)]
        $closure
    };
}

pub(crate) use inlined;

/// The largest value of `$value` over the [`Vector`] types the kernels may
/// run with (`$V` names each): a size that every level's kernels fit in,
/// for buffers the caller allocates before the level is chosen.
macro_rules! largest {
    ($V:ident => $value:expr) => {{
        let baseline = {
            type $V = $crate::backend::F32s;
            $value
        };
        let avx2 = {
            type $V = $crate::backend::x86::F32x8;
            $value
        };
        let avx512 = {
            type $V = $crate::backend::x86::F32x16;
            $value
        };
        baseline.max(avx2).max(avx512)
    }};
}

pub(crate) use largest;

/// The instruction set the kernels run with, decided once per process.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Level {
    /// `wide`'s types, for what the build enables (SSE2 by default).
    Baseline,
    /// AVX2 and FMA, 8 lanes.
    Avx2(Avx2),
    /// AVX-512F, 16 lanes.
    Avx512(Avx512),
}

/// Proof that the CPU has AVX2 and FMA: only [`level`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

/// Proof that the CPU has AVX-512F, AVX2 and FMA: only [`level`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(());

impl Avx2 {
    /// Runs `f` compiled for AVX2 and FMA.
    #[inline(always)]
    pub(crate) fn run<R>(self, f: impl FnOnce() -> R) -> R {
        // SAFETY: `self` exists, so the CPU has AVX2 and FMA.
        unsafe { with_avx2(f) }
    }
}

impl Avx512 {
    /// The AVX2 level, which every AVX-512 CPU [`level`] accepts also has.
    #[cfg(test)]
    pub(crate) fn avx2(self) -> Avx2 {
        Avx2(())
    }

    /// Runs `f` compiled for AVX-512F.
    #[inline(always)]
    pub(crate) fn run<R>(self, f: impl FnOnce() -> R) -> R {
        // SAFETY: `self` exists, so the CPU has AVX-512F, AVX2 and FMA.
        unsafe { with_avx512(f) }
    }
}

/// `f` in a function compiled for AVX2 and FMA: `f` (a closure called only
/// here) and the `#[inline(always)]` kernels it calls are inlined into it.
///
/// # Safety
///
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `f` compiled for AVX-512F, as [`with_avx2`].
///
/// # Safety
///
/// The CPU must support AVX-512F, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The level in use: 0 until first asked, then 1 + the index of `Level`'s
/// variant.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The environment variable that caps the level: `sse2`, `avx2` or
/// `avx512`.
pub(crate) const ENV: &str = "MICROPROP_SIMD";

/// The best level the CPU supports, capped by [`ENV`] if set; decided on the
/// first call and cached (one relaxed load afterwards).
#[inline(always)]
pub(crate) fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        1 => Level::Baseline,
        2 => Level::Avx2(Avx2(())),
        3 => Level::Avx512(Avx512(())),
        _ => detect(),
    }
}

#[cold]
#[inline(never)]
fn detect() -> Level {
    let cap = match std::env::var(ENV).as_deref() {
        Ok("sse2" | "baseline") => 1,
        Ok("avx2") => 2,
        _ => 3,
    };
    let avx2 = cap >= 2
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma");
    let avx512 = cap >= 3 && avx2 && std::arch::is_x86_feature_detected!("avx512f");
    let level = if avx512 {
        3
    } else if avx2 {
        2
    } else {
        1
    };
    LEVEL.store(level, Ordering::Relaxed);
    self::level()
}

/// Implements a binary operator and its assigning form with an intrinsic.
macro_rules! binary {
    ($ty:ident, $trait:ident, $method:ident, $assign:ident, $assign_method:ident, $intrinsic:ident) => {
        impl $trait for $ty {
            type Output = Self;
            #[inline(always)]
            fn $method(self, rhs: Self) -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $intrinsic(self.0, rhs.0) })
            }
        }
        impl $assign for $ty {
            #[inline(always)]
            fn $assign_method(&mut self, rhs: Self) {
                *self = $trait::$method(*self, rhs);
            }
        }
    };
}

/// Implements the bitwise operators of a float vector through its bits.
macro_rules! float_bitwise {
    ($ty:ident) => {
        impl BitAnd for $ty {
            type Output = Self;
            #[inline(always)]
            fn bitand(self, rhs: Self) -> Self {
                Self::from_bits(self.to_bits() & rhs.to_bits())
            }
        }
        impl BitOr for $ty {
            type Output = Self;
            #[inline(always)]
            fn bitor(self, rhs: Self) -> Self {
                Self::from_bits(self.to_bits() | rhs.to_bits())
            }
        }
        impl BitXor for $ty {
            type Output = Self;
            #[inline(always)]
            fn bitxor(self, rhs: Self) -> Self {
                Self::from_bits(self.to_bits() ^ rhs.to_bits())
            }
        }
        impl Not for $ty {
            type Output = Self;
            #[inline(always)]
            fn not(self) -> Self {
                Self::from_bits(!self.to_bits())
            }
        }
        impl Neg for $ty {
            type Output = Self;
            #[inline(always)]
            fn neg(self) -> Self {
                self ^ Self::splat(-0.0)
            }
        }
    };
}

/// Implements the shifts of a bits vector by a scalar count.
macro_rules! shifts {
    ($ty:ident, $sll:ident, $srl:ident) => {
        impl Shl<u32> for $ty {
            type Output = Self;
            #[inline(always)]
            fn shl(self, n: u32) -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $sll(self.0, _mm_cvtsi32_si128(n as i32)) })
            }
        }
        impl Shr<u32> for $ty {
            type Output = Self;
            #[inline(always)]
            fn shr(self, n: u32) -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $srl(self.0, _mm_cvtsi32_si128(n as i32)) })
            }
        }
    };
}

/// 8 f32 lanes in a `ymm` register (AVX2 and FMA).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct F32x8(__m256);

/// 8 u32 lanes in a `ymm` register (AVX2).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct U32x8(__m256i);

binary!(F32x8, Add, add, AddAssign, add_assign, _mm256_add_ps);
binary!(F32x8, Sub, sub, SubAssign, sub_assign, _mm256_sub_ps);
binary!(F32x8, Mul, mul, MulAssign, mul_assign, _mm256_mul_ps);
binary!(F32x8, Div, div, DivAssign, div_assign, _mm256_div_ps);
float_bitwise!(F32x8);

binary!(U32x8, Add, add, AddAssign, add_assign, _mm256_add_epi32);
binary!(U32x8, Sub, sub, SubAssign, sub_assign, _mm256_sub_epi32);
binary!(
    U32x8,
    BitAnd,
    bitand,
    BitAndAssign,
    bitand_assign,
    _mm256_and_si256
);
binary!(
    U32x8,
    BitOr,
    bitor,
    BitOrAssign,
    bitor_assign,
    _mm256_or_si256
);
binary!(
    U32x8,
    BitXor,
    bitxor,
    BitXorAssign,
    bitxor_assign,
    _mm256_xor_si256
);
shifts!(U32x8, _mm256_sll_epi32, _mm256_srl_epi32);

impl Not for U32x8 {
    type Output = Self;
    #[inline(always)]
    fn not(self) -> Self {
        self ^ Self::splat(u32::MAX)
    }
}

impl F32x8 {
    /// The comparison `P` as a mask vector.
    #[inline(always)]
    fn compare<const P: i32>(self, rhs: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_cmp_ps::<P>(self.0, rhs.0) })
    }
}

impl Vector for F32x8 {
    type Bits = U32x8;
    type Array = [f32; 8];
    const LANES: usize = 8;
    const EMULATED: bool = false;
    const FMA: bool = true;
    // SAFETY: an all-zero `__m256` is 8 lanes of +0.0.
    const ZERO: Self = Self(unsafe { core::mem::transmute::<[f32; 8], __m256>([0.0; 8]) });

    #[inline(always)]
    fn splat(x: f32) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_set1_ps(x) })
    }
    #[inline(always)]
    fn new(a: [f32; 8]) -> Self {
        // SAFETY: see the module docs; `a` holds 8 lanes.
        Self(unsafe { _mm256_loadu_ps(a.as_ptr()) })
    }
    #[inline(always)]
    fn to_array(self) -> [f32; 8] {
        let mut a = [0.0; 8];
        // SAFETY: see the module docs; `a` holds 8 lanes.
        unsafe { _mm256_storeu_ps(a.as_mut_ptr(), self.0) };
        a
    }
    #[inline(always)]
    fn split(s: &[f32]) -> (&[[f32; 8]], &[f32]) {
        s.as_chunks()
    }
    #[inline(always)]
    fn split_mut(s: &mut [f32]) -> (&mut [[f32; 8]], &mut [f32]) {
        s.as_chunks_mut()
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        let s = &s[..8];
        // SAFETY: see the module docs; `s` holds 8 lanes.
        Self(unsafe { _mm256_loadu_ps(s.as_ptr()) })
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        let s = &mut s[..8];
        // SAFETY: see the module docs; `s` holds 8 lanes.
        unsafe { _mm256_storeu_ps(s.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn mul_add(self, m: Self, a: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_fmadd_ps(self.0, m.0, a.0) })
    }
    #[inline(always)]
    fn mul_sub(self, m: Self, a: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_fmsub_ps(self.0, m.0, a.0) })
    }
    #[inline(always)]
    fn mul_neg_add(self, m: Self, a: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_fnmadd_ps(self.0, m.0, a.0) })
    }
    #[inline(always)]
    fn simd_ne(self, rhs: Self) -> Self {
        self.compare::<_CMP_NEQ_UQ>(rhs)
    }
    #[inline(always)]
    fn simd_lt(self, rhs: Self) -> Self {
        self.compare::<_CMP_LT_OQ>(rhs)
    }
    #[inline(always)]
    fn simd_le(self, rhs: Self) -> Self {
        self.compare::<_CMP_LE_OQ>(rhs)
    }
    #[inline(always)]
    fn simd_gt(self, rhs: Self) -> Self {
        self.compare::<_CMP_GT_OQ>(rhs)
    }
    #[inline(always)]
    fn select(self, if_true: Self, if_false: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_blendv_ps(if_false.0, if_true.0, self.0) })
    }
    #[inline(always)]
    fn fast_max(self, rhs: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_max_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    fn fast_min(self, rhs: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_min_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Self::from_bits(self.to_bits() & U32x8::splat(0x7FFF_FFFF))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_sqrt_ps(self.0) })
    }
    #[inline(always)]
    fn is_finite(self) -> Self {
        self.abs().compare::<_CMP_LT_OQ>(Self::splat(f32::INFINITY))
    }
    #[inline(always)]
    fn reduce_add(self) -> f32 {
        // SAFETY: see the module docs. The order is `wide`'s for AVX: the
        // two halves, then the two pairs, then the two lanes.
        unsafe {
            let quad = _mm_add_ps(
                _mm256_castps256_ps128(self.0),
                _mm256_extractf128_ps::<1>(self.0),
            );
            let dual = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
            let sum = _mm_add_ss(dual, _mm_shuffle_ps::<0b01>(dual, dual));
            _mm_cvtss_f32(sum)
        }
    }
    #[inline(always)]
    fn to_bits(self) -> U32x8 {
        // SAFETY: see the module docs.
        U32x8(unsafe { _mm256_castps_si256(self.0) })
    }
    #[inline(always)]
    fn from_bits(bits: U32x8) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_castsi256_ps(bits.0) })
    }
    type Square = [Self; 8];
    const ZERO_SQUARE: [Self; 8] = [Self::ZERO; 8];
    #[inline(always)]
    fn transpose(r: [Self; 8]) -> [Self; 8] {
        let mut out = [Self::ZERO; 8];
        // SAFETY: see the module docs.
        unsafe {
            // Rows interleaved in pairs: `t[2 p]` holds columns 0, 1, 4, 5
            // and `t[2 p + 1]` columns 2, 3, 6, 7 of rows `2 p` and `2 p + 1`.
            let mut t = [_mm256_setzero_ps(); 8];
            for p in 0..4 {
                t[2 * p] = _mm256_unpacklo_ps(r[2 * p].0, r[2 * p + 1].0);
                t[2 * p + 1] = _mm256_unpackhi_ps(r[2 * p].0, r[2 * p + 1].0);
            }
            // Then in quadruples: `s[4 h + j]` holds columns `j` and `j + 4`
            // of rows `4 h..4 h + 4`.
            let mut s = [_mm256_setzero_ps(); 8];
            for h in 0..2 {
                let t = &t[4 * h..];
                s[4 * h] = _mm256_shuffle_ps::<0x44>(t[0], t[2]);
                s[4 * h + 1] = _mm256_shuffle_ps::<0xEE>(t[0], t[2]);
                s[4 * h + 2] = _mm256_shuffle_ps::<0x44>(t[1], t[3]);
                s[4 * h + 3] = _mm256_shuffle_ps::<0xEE>(t[1], t[3]);
            }
            // Then the 128-bit halves exchanged.
            for j in 0..4 {
                out[j] = Self(_mm256_permute2f128_ps::<0x20>(s[j], s[j + 4]));
                out[j + 4] = Self(_mm256_permute2f128_ps::<0x31>(s[j], s[j + 4]));
            }
        }
        out
    }
}

impl Bits for U32x8 {
    type Array = [u32; 8];
    // SAFETY: an all-zero `__m256i` is 8 lanes of 0.
    const ZERO: Self = Self(unsafe { core::mem::transmute::<[u32; 8], __m256i>([0; 8]) });

    #[inline(always)]
    fn splat(x: u32) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_set1_epi32(x as i32) })
    }
    #[inline(always)]
    fn new(a: [u32; 8]) -> Self {
        // SAFETY: see the module docs; `a` holds 8 lanes.
        Self(unsafe { _mm256_loadu_si256(a.as_ptr().cast()) })
    }
    #[inline(always)]
    fn to_array(self) -> [u32; 8] {
        let mut a = [0; 8];
        // SAFETY: see the module docs; `a` holds 8 lanes.
        unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), self.0) };
        a
    }
    #[inline(always)]
    fn simd_eq(self, rhs: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_cmpeq_epi32(self.0, rhs.0) })
    }
    #[inline(always)]
    fn signed_gt(self, rhs: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_cmpgt_epi32(self.0, rhs.0) })
    }
    #[inline(always)]
    fn to_bitmask(self) -> u32 {
        // SAFETY: see the module docs.
        unsafe { _mm256_movemask_ps(_mm256_castsi256_ps(self.0)) as u32 }
    }
}

/// 16 f32 lanes in a `zmm` register (AVX-512F).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct F32x16(__m512);

/// 16 u32 lanes in a `zmm` register (AVX-512F).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct U32x16(__m512i);

binary!(F32x16, Add, add, AddAssign, add_assign, _mm512_add_ps);
binary!(F32x16, Sub, sub, SubAssign, sub_assign, _mm512_sub_ps);
binary!(F32x16, Mul, mul, MulAssign, mul_assign, _mm512_mul_ps);
binary!(F32x16, Div, div, DivAssign, div_assign, _mm512_div_ps);
float_bitwise!(F32x16);

binary!(U32x16, Add, add, AddAssign, add_assign, _mm512_add_epi32);
binary!(U32x16, Sub, sub, SubAssign, sub_assign, _mm512_sub_epi32);
binary!(
    U32x16,
    BitAnd,
    bitand,
    BitAndAssign,
    bitand_assign,
    _mm512_and_si512
);
binary!(
    U32x16,
    BitOr,
    bitor,
    BitOrAssign,
    bitor_assign,
    _mm512_or_si512
);
binary!(
    U32x16,
    BitXor,
    bitxor,
    BitXorAssign,
    bitxor_assign,
    _mm512_xor_si512
);
shifts!(U32x16, _mm512_sll_epi32, _mm512_srl_epi32);

impl Not for U32x16 {
    type Output = Self;
    #[inline(always)]
    fn not(self) -> Self {
        self ^ Self::splat(u32::MAX)
    }
}

impl U32x16 {
    /// The lanes of `mask` as all ones or all zeros.
    #[inline(always)]
    fn from_mask(mask: __mmask16) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_maskz_mov_epi32(mask, _mm512_set1_epi32(-1)) })
    }

    /// The lanes whose sign bit is set, as a mask register.
    #[inline(always)]
    fn sign_mask(self) -> __mmask16 {
        // SAFETY: see the module docs.
        unsafe { _mm512_cmplt_epi32_mask(self.0, _mm512_setzero_si512()) }
    }
}

impl F32x16 {
    /// The comparison `P` as a mask vector.
    #[inline(always)]
    fn compare<const P: i32>(self, rhs: Self) -> Self {
        // SAFETY: see the module docs.
        Self::from_bits(U32x16::from_mask(unsafe {
            _mm512_cmp_ps_mask::<P>(self.0, rhs.0)
        }))
    }
}

impl Vector for F32x16 {
    type Bits = U32x16;
    type Array = [f32; 16];
    const LANES: usize = 16;
    const EMULATED: bool = false;
    const FMA: bool = true;
    // SAFETY: an all-zero `__m512` is 16 lanes of +0.0.
    const ZERO: Self = Self(unsafe { core::mem::transmute::<[f32; 16], __m512>([0.0; 16]) });

    #[inline(always)]
    fn splat(x: f32) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_set1_ps(x) })
    }
    #[inline(always)]
    fn new(a: [f32; 16]) -> Self {
        // SAFETY: see the module docs; `a` holds 16 lanes.
        Self(unsafe { _mm512_loadu_ps(a.as_ptr()) })
    }
    #[inline(always)]
    fn to_array(self) -> [f32; 16] {
        let mut a = [0.0; 16];
        // SAFETY: see the module docs; `a` holds 16 lanes.
        unsafe { _mm512_storeu_ps(a.as_mut_ptr(), self.0) };
        a
    }
    #[inline(always)]
    fn split(s: &[f32]) -> (&[[f32; 16]], &[f32]) {
        s.as_chunks()
    }
    #[inline(always)]
    fn split_mut(s: &mut [f32]) -> (&mut [[f32; 16]], &mut [f32]) {
        s.as_chunks_mut()
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        let s = &s[..16];
        // SAFETY: see the module docs; `s` holds 16 lanes.
        Self(unsafe { _mm512_loadu_ps(s.as_ptr()) })
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        let s = &mut s[..16];
        // SAFETY: see the module docs; `s` holds 16 lanes.
        unsafe { _mm512_storeu_ps(s.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn mul_add(self, m: Self, a: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_fmadd_ps(self.0, m.0, a.0) })
    }
    #[inline(always)]
    fn mul_sub(self, m: Self, a: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_fmsub_ps(self.0, m.0, a.0) })
    }
    #[inline(always)]
    fn mul_neg_add(self, m: Self, a: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_fnmadd_ps(self.0, m.0, a.0) })
    }
    #[inline(always)]
    fn simd_ne(self, rhs: Self) -> Self {
        self.compare::<_CMP_NEQ_UQ>(rhs)
    }
    #[inline(always)]
    fn simd_lt(self, rhs: Self) -> Self {
        self.compare::<_CMP_LT_OQ>(rhs)
    }
    #[inline(always)]
    fn simd_le(self, rhs: Self) -> Self {
        self.compare::<_CMP_LE_OQ>(rhs)
    }
    #[inline(always)]
    fn simd_gt(self, rhs: Self) -> Self {
        self.compare::<_CMP_GT_OQ>(rhs)
    }
    #[inline(always)]
    fn select(self, if_true: Self, if_false: Self) -> Self {
        let mask = self.to_bits().sign_mask();
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_mask_blend_ps(mask, if_false.0, if_true.0) })
    }
    #[inline(always)]
    fn fast_max(self, rhs: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_max_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    fn fast_min(self, rhs: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_min_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Self::from_bits(self.to_bits() & U32x16::splat(0x7FFF_FFFF))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_sqrt_ps(self.0) })
    }
    #[inline(always)]
    fn is_finite(self) -> Self {
        self.abs().compare::<_CMP_LT_OQ>(Self::splat(f32::INFINITY))
    }
    #[inline(always)]
    fn reduce_add(self) -> f32 {
        // SAFETY: see the module docs.
        unsafe { _mm512_reduce_add_ps(self.0) }
    }
    #[inline(always)]
    fn to_bits(self) -> U32x16 {
        // SAFETY: see the module docs.
        U32x16(unsafe { _mm512_castps_si512(self.0) })
    }
    #[inline(always)]
    fn from_bits(bits: U32x16) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_castsi512_ps(bits.0) })
    }
    type Square = [Self; 16];
    const ZERO_SQUARE: [Self; 16] = [Self::ZERO; 16];
    #[inline(always)]
    fn transpose(r: [Self; 16]) -> [Self; 16] {
        let mut out = [Self::ZERO; 16];
        // SAFETY: see the module docs.
        unsafe {
            // Rows interleaved in pairs: in each 128-bit lane `l` of
            // `t[2 p]`, columns `4 l` and `4 l + 1` of rows `2 p` and
            // `2 p + 1`; of `t[2 p + 1]`, columns `4 l + 2` and `4 l + 3`.
            let mut t = [_mm512_setzero_ps(); 16];
            for p in 0..8 {
                t[2 * p] = _mm512_unpacklo_ps(r[2 * p].0, r[2 * p + 1].0);
                t[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p].0, r[2 * p + 1].0);
            }
            // Then in quadruples, from the pairs of the top two rows and of
            // the bottom two: lane `l` of `u[4 h + j]` holds column `4 l + j`
            // of rows `4 h..4 h + 4`.
            let mut u = [_mm512_setzero_ps(); 16];
            for h in 0..4 {
                let (top01, bottom01) =
                    (_mm512_castps_pd(t[4 * h]), _mm512_castps_pd(t[4 * h + 2]));
                let (top23, bottom23) = (
                    _mm512_castps_pd(t[4 * h + 1]),
                    _mm512_castps_pd(t[4 * h + 3]),
                );
                u[4 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(top01, bottom01));
                u[4 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(top01, bottom01));
                u[4 * h + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(top23, bottom23));
                u[4 * h + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(top23, bottom23));
            }
            // Then the lanes gathered: column `4 l + j` is lane `l` of
            // `u[j]`, `u[4 + j]`, `u[8 + j]` and `u[12 + j]`, in two steps
            // of taking the even (0x88) or odd (0xDD) lanes of two vectors.
            for j in 0..4 {
                let even_top = _mm512_shuffle_f32x4::<0x88>(u[j], u[4 + j]);
                let odd_top = _mm512_shuffle_f32x4::<0xDD>(u[j], u[4 + j]);
                let even_bottom = _mm512_shuffle_f32x4::<0x88>(u[8 + j], u[12 + j]);
                let odd_bottom = _mm512_shuffle_f32x4::<0xDD>(u[8 + j], u[12 + j]);
                out[j] = Self(_mm512_shuffle_f32x4::<0x88>(even_top, even_bottom));
                out[j + 4] = Self(_mm512_shuffle_f32x4::<0x88>(odd_top, odd_bottom));
                out[j + 8] = Self(_mm512_shuffle_f32x4::<0xDD>(even_top, even_bottom));
                out[j + 12] = Self(_mm512_shuffle_f32x4::<0xDD>(odd_top, odd_bottom));
            }
        }
        out
    }
}

impl Bits for U32x16 {
    type Array = [u32; 16];
    // SAFETY: an all-zero `__m512i` is 16 lanes of 0.
    const ZERO: Self = Self(unsafe { core::mem::transmute::<[u32; 16], __m512i>([0; 16]) });

    #[inline(always)]
    fn splat(x: u32) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm512_set1_epi32(x as i32) })
    }
    #[inline(always)]
    fn new(a: [u32; 16]) -> Self {
        // SAFETY: see the module docs; `a` holds 16 lanes.
        Self(unsafe { _mm512_loadu_si512(a.as_ptr().cast()) })
    }
    #[inline(always)]
    fn to_array(self) -> [u32; 16] {
        let mut a = [0; 16];
        // SAFETY: see the module docs; `a` holds 16 lanes.
        unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), self.0) };
        a
    }
    #[inline(always)]
    fn simd_eq(self, rhs: Self) -> Self {
        // SAFETY: see the module docs.
        Self::from_mask(unsafe { _mm512_cmpeq_epi32_mask(self.0, rhs.0) })
    }
    #[inline(always)]
    fn signed_gt(self, rhs: Self) -> Self {
        // SAFETY: see the module docs.
        Self::from_mask(unsafe { _mm512_cmpgt_epi32_mask(self.0, rhs.0) })
    }
    #[inline(always)]
    fn to_bitmask(self) -> u32 {
        u32::from(self.sign_mask())
    }
}

/// The matrix product's tile and blocks of each level (see [`super::gemm`]).
impl Gemm for F32x8 {
    const MR: usize = 6;
    const NV: usize = 2;
    const KC: usize = 512;
    const MC: usize = 6 * (144 / 6);
    const NC: usize = 16 * (2048 / 16);
    const KS: usize = 128;
    const DIRECT: bool = true;
}

impl Gemm for F32x16 {
    const MR: usize = 10;
    const NV: usize = 2;
    const KC: usize = 384;
    const MC: usize = 10 * (144 / 10);
    const NC: usize = 32 * (2048 / 32);
    const KS: usize = 128;
    const DIRECT: bool = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CI runs the tests at every level the CPU has by setting [`ENV`]:
    /// this checks that such a run really uses the level asked for.
    #[test]
    fn the_level_asked_for_is_the_level_run() {
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        let avx512 = avx2 && std::arch::is_x86_feature_detected!("avx512f");
        let want = match std::env::var(ENV).as_deref() {
            Ok("sse2" | "baseline") => 1,
            Ok("avx2") => 2,
            _ => 3,
        }
        .min(if avx512 {
            3
        } else if avx2 {
            2
        } else {
            1
        });
        let got = match level() {
            Level::Baseline => 1,
            Level::Avx2(_) => 2,
            Level::Avx512(_) => 3,
        };
        assert_eq!(got, want, "{}", super::super::simd_backend());
    }

    /// The results the kernels rely on, NaN and signed zeros included.
    fn ops<V: Vector>(a: V, b: V) -> [V; 11] {
        [
            a.fast_min(b),
            a.fast_max(b),
            a.simd_le(b),
            a.simd_lt(b),
            a.simd_ne(b),
            a.is_finite(),
            a.abs(),
            a.simd_gt(b).select(a, b),
            a.mul_add(b, a),
            -a,
            a.sqrt(),
        ]
    }

    /// `ops` of one vector type against `wide`'s 4 lanes, lane for lane.
    fn matches_wide<V: Vector>() {
        let special = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            f32::NAN,
            f32::INFINITY,
            -f32::INFINITY,
            3e-39,
        ];
        let a: std::vec::Vec<f32> = (0..V::LANES).map(|i| special[i % 8]).collect();
        let b: std::vec::Vec<f32> = (0..V::LANES).map(|i| special[(i * 3 + 1) % 8]).collect();
        let got = ops(V::load(&a), V::load(&b));
        for q in 0..V::LANES / 4 {
            let want = ops(
                wide::f32x4::load(&a[4 * q..]),
                wide::f32x4::load(&b[4 * q..]),
            );
            for (op, (g, w)) in got.iter().zip(want).enumerate() {
                // `wide` fuses only where the build enables FMA.
                if op == 8 && !crate::backend::FMA {
                    continue;
                }
                for l in 0..4 {
                    let (g, w) = (g.to_array().as_ref()[4 * q + l], w.to_array()[l]);
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{} lanes, op {op}, lane {}: {g} vs {w}",
                        V::LANES,
                        4 * q + l
                    );
                }
            }
        }
    }

    #[test]
    fn run_time_vectors_match_wide_lane_for_lane() {
        match level() {
            Level::Avx512(level) => {
                level.run(matches_wide::<F32x16>);
                level.avx2().run(matches_wide::<F32x8>);
            }
            Level::Avx2(level) => level.run(matches_wide::<F32x8>),
            Level::Baseline => {}
        }
    }

    /// `V::transpose` against `wide`'s transpose of the same width (whose
    /// 16 lanes transpose by quadrants), lane for lane.
    fn transposes_as_wide<V: Vector, W: Vector>() {
        assert_eq!(V::LANES, W::LANES);
        let n = V::LANES;
        let (mut v, mut w) = (V::ZERO_SQUARE, W::ZERO_SQUARE);
        for r in 0..n {
            let row: std::vec::Vec<f32> = (0..n).map(|c| (r * n + c) as f32).collect();
            v.as_mut()[r] = V::load(&row);
            w.as_mut()[r] = W::load(&row);
        }
        let (v, w) = (V::transpose(v), W::transpose(w));
        for r in 0..n {
            let (got, want) = (v.as_ref()[r].to_array(), w.as_ref()[r].to_array());
            for c in 0..n {
                assert_eq!(got.as_ref()[c], want.as_ref()[c], "{n} lanes ({r}, {c})");
                assert_eq!(got.as_ref()[c], (c * n + r) as f32);
            }
        }
    }

    #[test]
    fn run_time_transposes_match_wide() {
        match level() {
            Level::Avx512(level) => {
                level.run(transposes_as_wide::<F32x16, wide::f32x16>);
                level.avx2().run(transposes_as_wide::<F32x8, wide::f32x8>);
            }
            Level::Avx2(level) => level.run(transposes_as_wide::<F32x8, wide::f32x8>),
            Level::Baseline => {}
        }
    }
}
