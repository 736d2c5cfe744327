//! The hardware square root and fused multiply-add of a Cortex-M's
//! single-precision FPU, and the software routines everywhere else.
//!
//! On a Cortex-M4F (or M7, M33, M55) `vsqrt.f32` and `vfma.f32` are single
//! instructions, but stable Rust reaches them only through `std`
//! (`f32::sqrt`, `f32::mul_add`), and the FPU's target features are not
//! visible to `cfg(target_feature)`, so `wide` and `libm` fall back to
//! software: `libm::fmaf` and `libm::sqrtf` compute in f64, which the
//! single-precision FPU emulates in software too, at about a hundred
//! instructions per call. The optimizers call one of them per parameter,
//! so on the M4F this module took most of the optimizer's share out of a
//! training step of a 2-4-1 network (SGD fell from 6,520 instructions to
//! about 500; see the README's footprint table). Hence the one place in the crate with
//! `unsafe`: an `asm!` block per instruction, operands through core
//! registers, one FPU register declared clobbered.
//!
//! Both instructions round correctly (IEEE 754 `fusedMultiplyAdd` and
//! `squareRoot`, round to nearest even), as `libm::fmaf` and
//! `libm::sqrtf` do, so results are bit-identical on every target.
//! NaN payloads aside (the FPU returns the default NaN), this holds for
//! every input, subnormals included: the Cortex-M FPU is IEEE compliant
//! with flush-to-zero off, its reset state.
//!
//! The hardware path is taken on bare-metal Arm targets with the hard-float
//! ABI and without 64-bit atomics, the signature of the M-profile targets
//! (`thumbv7em-none-eabihf`, `thumbv8m.main-none-eabihf`, ...), whose FPUs
//! all have both instructions; the A- and R-profile `eabihf` targets have
//! 64-bit atomics and keep the software path (an R5's VFPv3 has no
//! `vfma`). QEMU runs the hardware path in `examples/cortex-m/run.sh`, and
//! the host tests check that the software path equals the reference.

/// Whether [`fmaf`] and [`sqrtf`] are single FPU instructions on this target.
pub(crate) const HARDWARE: bool = cfg!(all(
    target_arch = "arm",
    target_abi = "eabihf",
    target_os = "none",
    not(target_has_atomic = "64")
));

pub(crate) use instructions::{fmaf, sqrtf};

/// The FPU instructions.
#[cfg(all(
    target_arch = "arm",
    target_abi = "eabihf",
    target_os = "none",
    not(target_has_atomic = "64")
))]
mod instructions {
    /// `a * b + c` rounded once.
    #[allow(unsafe_code)]
    #[inline(always)]
    pub(crate) fn fmaf(a: f32, b: f32, c: f32) -> f32 {
        let mut acc = c.to_bits();
        // SAFETY: only moves between core registers and s13-s15 (declared
        // clobbered) and one arithmetic instruction that the M-profile FPU of
        // every target this `cfg` admits implements; no memory, stack or flags.
        unsafe {
            core::arch::asm!(
                "vmov s13, {acc}",
                "vmov s14, {a}",
                "vmov s15, {b}",
                "vfma.f32 s13, s14, s15",
                "vmov {acc}, s13",
                acc = inout(reg) acc,
                a = in(reg) a.to_bits(),
                b = in(reg) b.to_bits(),
                out("s13") _,
                out("s14") _,
                out("s15") _,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        f32::from_bits(acc)
    }

    /// The square root, correctly rounded.
    #[allow(unsafe_code)]
    #[inline(always)]
    pub(crate) fn sqrtf(x: f32) -> f32 {
        let mut bits = x.to_bits();
        // SAFETY: only moves between a core register and s15 (declared
        // clobbered) and `vsqrt.f32`, which every VFP implements; no memory,
        // stack or flags.
        unsafe {
            core::arch::asm!(
                "vmov s15, {x}",
                "vsqrt.f32 s15, s15",
                "vmov {x}, s15",
                x = inout(reg) bits,
                out("s15") _,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        f32::from_bits(bits)
    }
}

/// The software routines, for every other target.
#[cfg(not(all(
    target_arch = "arm",
    target_abi = "eabihf",
    target_os = "none",
    not(target_has_atomic = "64")
)))]
mod instructions {
    /// `a * b + c` rounded once.
    #[inline(always)]
    pub(crate) fn fmaf(a: f32, b: f32, c: f32) -> f32 {
        libm::fmaf(a, b, c)
    }

    /// The square root, correctly rounded.
    #[inline(always)]
    pub(crate) fn sqrtf(x: f32) -> f32 {
        libm::sqrtf(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Correctly rounded `a * b + c` without an FMA: the product of two f32
    /// is exact in f64, the f64 sum's rounding error is recovered exactly
    /// (two-sum), and it decides the one case where rounding the f64 sum to
    /// f32 could go the wrong way, a sum exactly halfway between two f32.
    fn fma_reference(a: f32, b: f32, c: f32) -> f32 {
        let (p, c) = (f64::from(a) * f64::from(b), f64::from(c));
        let s = p + c;
        let bb = s - p;
        let err = (p - (s - bb)) + (c - bb);
        let r = s as f32;
        if err == 0.0 || !r.is_finite() || f64::from(r) == s {
            return r;
        }
        // The f32 neighbour of `r` on the side of `s`.
        let toward_s = if f64::from(r) < s {
            f32::INFINITY
        } else {
            f32::NEG_INFINITY
        };
        let other = libm::nextafterf(r, toward_s);
        if (f64::from(r) + f64::from(other)) / 2.0 != s {
            return r;
        }
        // Halfway: the exact value lies on the side of `err`.
        if (err > 0.0) == (f64::from(other) > s) {
            other
        } else {
            r
        }
    }

    #[test]
    // libm picks its FMA at run time with `cpuid`, which Miri cannot run.
    #[cfg_attr(miri, ignore)]
    fn fma_and_sqrt_are_correctly_rounded() {
        let mut seed = 0x9E37_79B9_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let specials = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            f32::MIN_POSITIVE,
            1e-40,
            f32::MAX,
            0.5,
        ];
        for i in 0..20_000 {
            let (a, b, c) = if i < 512 {
                (
                    specials[i % 8],
                    specials[(i / 8) % 8],
                    specials[(i / 64) % 8],
                )
            } else {
                // Operands whose exponents are close enough for the sum to
                // cancel or tie, plus the full range now and then.
                let spread = if i % 4 == 0 { 0xFF } else { 0x0F };
                let mk =
                    |r: u32| f32::from_bits((r & 0x807F_FFFF) | ((120 + (r >> 23) % spread) << 23));
                (mk(next()), mk(next()), mk(next()))
            };
            let got = fmaf(a, b, c);
            let want = fma_reference(a, b, c);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "fma({a:e}, {b:e}, {c:e}) = {got:e}, expected {want:e}"
            );
            let x = f32::from_bits(next() & 0x7FFF_FFFF);
            let got = sqrtf(x);
            let want = libm::sqrt(f64::from(x)) as f32;
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "sqrt({x:e}) = {got:e}, expected {want:e}"
            );
        }
    }
}
