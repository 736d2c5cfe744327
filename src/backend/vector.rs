//! The lane-vector interface the kernels are written against.
//!
//! Every kernel is generic over a [`Vector`] (f32 lanes) and its [`Bits`]
//! (u32 lanes of the same width), so the same source is compiled once per
//! instruction set: with `wide`'s types for the instruction set the build
//! enables, and on x86-64 with `std` also with the AVX2 and AVX-512 types of
//! [`super::x86`], selected at run time.
//!
//! The methods are `wide`'s, with `wide`'s semantics lane for lane (masks
//! are vectors whose lanes are all ones or all zeros; `max`/`min` keep
//! `self` when `rhs` is NaN), so a kernel gives the same results with either
//! implementation of the same width.

use core::ops::{
    Add, AddAssign, BitAnd, BitOr, BitXor, Div, DivAssign, Mul, MulAssign, Neg, Not, Shl, Shr, Sub,
    SubAssign,
};

/// A vector of `LANES` f32 lanes.
pub(crate) trait Vector:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + BitXor<Output = Self>
    + Not<Output = Self>
{
    /// The u32 lanes of the same width.
    type Bits: Bits;
    /// `[f32; LANES]`.
    type Array: Copy + AsRef<[f32]> + AsMut<[f32]>;
    /// The number of lanes.
    const LANES: usize;
    /// Whether the lanes are emulated one by one (no SIMD unit): see
    /// [`EMULATED`](super::EMULATED).
    const EMULATED: bool;
    /// Whether [`mul_add`](Self::mul_add) is one fused instruction.
    const FMA: bool;
    /// Every lane `0.0`.
    const ZERO: Self;

    /// Every lane `x`.
    fn splat(x: f32) -> Self;
    /// The lanes of `a`.
    fn new(a: Self::Array) -> Self;
    /// The lanes as an array.
    fn to_array(self) -> Self::Array;
    /// `s` as whole vectors' worth of lanes and the shorter tail.
    fn split(s: &[f32]) -> (&[Self::Array], &[f32]);
    /// `s` as whole vectors' worth of lanes and the shorter tail.
    fn split_mut(s: &mut [f32]) -> (&mut [Self::Array], &mut [f32]);
    /// The first `LANES` values of `s`, which must be at least that long.
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        let mut a = Self::ZERO.to_array();
        a.as_mut().copy_from_slice(&s[..Self::LANES]);
        Self::new(a)
    }
    /// Stores the lanes into the first `LANES` values of `s`.
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        s[..Self::LANES].copy_from_slice(self.to_array().as_ref());
    }
    /// `self * m + a`: fused where [`FMA`](Self::FMA), else two roundings.
    fn mul_add(self, m: Self, a: Self) -> Self;
    /// `self * m - a`, as [`mul_add`](Self::mul_add).
    fn mul_sub(self, m: Self, a: Self) -> Self;
    /// `a - self * m`, as [`mul_add`](Self::mul_add).
    fn mul_neg_add(self, m: Self, a: Self) -> Self;
    /// Lanes where `self != rhs` or either is NaN.
    fn simd_ne(self, rhs: Self) -> Self;
    /// Lanes where `self < rhs` (ordered).
    fn simd_lt(self, rhs: Self) -> Self;
    /// Lanes where `self <= rhs` (ordered).
    fn simd_le(self, rhs: Self) -> Self;
    /// Lanes where `self > rhs` (ordered).
    fn simd_gt(self, rhs: Self) -> Self;
    /// `if_true` where this mask is set, `if_false` elsewhere.
    fn select(self, if_true: Self, if_false: Self) -> Self;
    /// x86's `maxps`: `self` if it is greater, else `rhs` (so `rhs` when
    /// either is NaN).
    fn fast_max(self, rhs: Self) -> Self;
    /// x86's `minps`, as [`fast_max`](Self::fast_max).
    fn fast_min(self, rhs: Self) -> Self;
    /// The lanes with the sign bit cleared.
    fn abs(self) -> Self;
    /// The correctly rounded square root of each lane.
    fn sqrt(self) -> Self;
    /// Lanes that are neither infinite nor NaN.
    fn is_finite(self) -> Self;
    /// The sum of the lanes, in the implementation's order.
    fn reduce_add(self) -> f32;
    /// The bits of each lane.
    fn to_bits(self) -> Self::Bits;
    /// Lanes with the given bits.
    fn from_bits(bits: Self::Bits) -> Self;
    /// `[Self; LANES]`: a square block of `LANES x LANES` lanes, one vector
    /// per row.
    type Square: Copy + AsRef<[Self]> + AsMut<[Self]>;
    /// The square block with every lane `0.0`.
    const ZERO_SQUARE: Self::Square;
    /// The block transposed, in registers: lane `c` of row `r` of the result
    /// is lane `r` of row `c` of `rows`.
    fn transpose(rows: Self::Square) -> Self::Square;
}

/// A vector of u32 lanes, the bits of a [`Vector`]: random numbers, masks,
/// exponent arithmetic.
pub(crate) trait Bits:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + BitXor<Output = Self>
    + Not<Output = Self>
    + Shl<u32, Output = Self>
    + Shr<u32, Output = Self>
{
    /// `[u32; LANES]`.
    type Array: Copy + AsRef<[u32]> + AsMut<[u32]>;
    /// Every lane 0.
    const ZERO: Self;
    /// Every lane `x`.
    fn splat(x: u32) -> Self;
    /// The lanes of `a`.
    fn new(a: Self::Array) -> Self;
    /// The lanes as an array.
    fn to_array(self) -> Self::Array;
    /// Lanes (all ones) where `self == rhs`.
    fn simd_eq(self, rhs: Self) -> Self;
    /// Lanes (all ones) where `self > rhs` as signed `i32`.
    fn signed_gt(self, rhs: Self) -> Self;
    /// Bit `l` set where lane `l` has its sign bit set (where a mask is set).
    fn to_bitmask(self) -> u32;
}

/// Implements [`Vector`] and [`Bits`] for `wide`'s types by delegation.
macro_rules! wide_vector {
    ($f:ident, $u:ident, $i:ident, $lanes:literal, $fma:expr, $transpose:path) => {
        impl Vector for wide::$f {
            type Bits = wide::$u;
            type Array = [f32; $lanes];
            const LANES: usize = $lanes;
            const EMULATED: bool = super::EMULATED;
            const FMA: bool = $fma;
            const ZERO: Self = wide::$f::ZERO;

            #[inline(always)]
            fn splat(x: f32) -> Self {
                wide::$f::splat(x)
            }
            #[inline(always)]
            fn new(a: Self::Array) -> Self {
                wide::$f::new(a)
            }
            #[inline(always)]
            fn to_array(self) -> Self::Array {
                wide::$f::to_array(self)
            }
            #[inline(always)]
            fn split(s: &[f32]) -> (&[Self::Array], &[f32]) {
                s.as_chunks()
            }
            #[inline(always)]
            fn split_mut(s: &mut [f32]) -> (&mut [Self::Array], &mut [f32]) {
                s.as_chunks_mut()
            }
            #[inline(always)]
            fn mul_add(self, m: Self, a: Self) -> Self {
                wide::$f::mul_add(self, m, a)
            }
            #[inline(always)]
            fn mul_sub(self, m: Self, a: Self) -> Self {
                wide::$f::mul_sub(self, m, a)
            }
            #[inline(always)]
            fn mul_neg_add(self, m: Self, a: Self) -> Self {
                wide::$f::mul_neg_add(self, m, a)
            }
            #[inline(always)]
            fn simd_ne(self, rhs: Self) -> Self {
                wide::$f::simd_ne(self, rhs)
            }
            #[inline(always)]
            fn simd_lt(self, rhs: Self) -> Self {
                wide::$f::simd_lt(self, rhs)
            }
            #[inline(always)]
            fn simd_le(self, rhs: Self) -> Self {
                wide::$f::simd_le(self, rhs)
            }
            #[inline(always)]
            fn simd_gt(self, rhs: Self) -> Self {
                wide::$f::simd_gt(self, rhs)
            }
            #[inline(always)]
            fn select(self, if_true: Self, if_false: Self) -> Self {
                wide::Select::select(self, if_true, if_false)
            }
            #[inline(always)]
            fn fast_max(self, rhs: Self) -> Self {
                wide::$f::fast_max(self, rhs)
            }
            #[inline(always)]
            fn fast_min(self, rhs: Self) -> Self {
                wide::$f::fast_min(self, rhs)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                wide::$f::abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                wide::$f::sqrt(self)
            }
            #[inline(always)]
            fn is_finite(self) -> Self {
                wide::$f::is_finite(self)
            }
            #[inline(always)]
            fn reduce_add(self) -> f32 {
                wide::$f::reduce_add(self)
            }
            #[inline(always)]
            fn to_bits(self) -> Self::Bits {
                wide::$f::to_bits(self)
            }
            #[inline(always)]
            fn from_bits(bits: Self::Bits) -> Self {
                wide::$f::from_bits(bits)
            }
            type Square = [Self; $lanes];
            const ZERO_SQUARE: Self::Square = [wide::$f::ZERO; $lanes];
            #[inline(always)]
            fn transpose(rows: Self::Square) -> Self::Square {
                $transpose(rows)
            }
        }

        impl Bits for wide::$u {
            type Array = [u32; $lanes];
            const ZERO: Self = wide::$u::ZERO;

            #[inline(always)]
            fn splat(x: u32) -> Self {
                wide::$u::splat(x)
            }
            #[inline(always)]
            fn new(a: Self::Array) -> Self {
                wide::$u::new(a)
            }
            #[inline(always)]
            fn to_array(self) -> Self::Array {
                wide::$u::to_array(self)
            }
            #[inline(always)]
            fn simd_eq(self, rhs: Self) -> Self {
                wide::$u::simd_eq(self, rhs)
            }
            #[inline(always)]
            fn signed_gt(self, rhs: Self) -> Self {
                let (a, b): (wide::$i, wide::$i) = (super::bitcast(self), super::bitcast(rhs));
                super::bitcast(wide::$i::simd_gt(a, b))
            }
            #[inline(always)]
            fn to_bitmask(self) -> u32 {
                wide::$u::to_bitmask(self)
            }
        }
    };
}

wide_vector!(f32x4, u32x4, i32x4, 4, super::FMA, wide::f32x4::transpose);
wide_vector!(f32x8, u32x8, i32x8, 8, super::FMA, wide::f32x8::transpose);
wide_vector!(f32x16, u32x16, i32x16, 16, super::FMA, transpose16);

/// The `16 x 16` block of `rows` transposed, in registers.
///
/// `wide` transposes 4 and 8 lanes with shuffles but 16 lanes element by
/// element through memory, where each load of a row just stored
/// element-wise stalls; packing a matrix that way took a fifth of a
/// 512-cube product. So this transposes the four 8 x 8 quadrants.
#[inline(always)]
fn transpose16(rows: [wide::f32x16; 16]) -> [wide::f32x16; 16] {
    use wide::f32x8;
    // Row `r` as its two halves, columns 0..8 and 8..16.
    let halves: [[f32x8; 2]; 16] = super::bitcast(rows);
    let quadrant = |r0: usize, h: usize| {
        let mut q = [f32x8::ZERO; 8];
        for (r, x) in q.iter_mut().enumerate() {
            *x = halves[r0 + r][h];
        }
        f32x8::transpose(q)
    };
    let (top_left, bottom_left) = (quadrant(0, 0), quadrant(8, 0));
    let (top_right, bottom_right) = (quadrant(0, 1), quadrant(8, 1));
    // Output rows 0..8 are the columns 0..8: the transposed left quadrants
    // side by side; rows 8..16 the right ones.
    let mut out = [[f32x8::ZERO; 2]; 16];
    for r in 0..8 {
        out[r] = [top_left[r], bottom_left[r]];
        out[r + 8] = [top_right[r], bottom_right[r]];
    }
    super::bitcast(out)
}
