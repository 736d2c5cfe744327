//! Measuring on the target: an instruction counter (SysTick under
//! `qemu -icount shift=0`), the stack high-water mark (stack painting) and a
//! float printer that needs no float formatting code.

use core::fmt;
use cortex_m::peripheral::{SYST, syst::SystClkSource};

/// SysTick as a free-running 24-bit down-counter on the core clock.
///
/// Under `qemu -icount shift=0` one guest instruction advances virtual time
/// by 1 ns, so ticks convert exactly to instructions; without it the figures
/// follow host time and mean nothing.
pub struct Counter {
    /// Instructions per SysTick tick, measured by [`Counter::new`].
    per_tick: u32,
}

impl Counter {
    /// Starts SysTick and calibrates it against a loop of known length.
    pub fn new(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_counter();
        const ITERATIONS: u32 = 100_000;
        let t0 = SYST::get_current();
        // SAFETY: a register-only countdown loop: touches no memory or stack.
        unsafe {
            core::arch::asm!("2:", "subs {0}, #1", "bne 2b", inout(reg) ITERATIONS => _, options(nomem, nostack));
        }
        let ticks = elapsed(t0, SYST::get_current()).max(1);
        Self {
            per_tick: (2 * ITERATIONS + ticks / 2) / ticks,
        }
    }

    /// Runs `f` and returns its result and the instructions it took
    /// (at most 2^24 ticks).
    #[inline(always)]
    pub fn measure<T>(&self, f: impl FnOnce() -> T) -> (T, u32) {
        let t0 = SYST::get_current();
        let r = f();
        (r, elapsed(t0, SYST::get_current()) * self.per_tick)
    }
}

/// Ticks between two readings of the down-counter (wrapping once at most).
fn elapsed(start: u32, end: u32) -> u32 {
    start.wrapping_sub(end) & 0x00FF_FFFF
}

unsafe extern "C" {
    /// Lowest address of the stack (end of static data), from `link.x`.
    static mut _stack_end: u32;
    /// Highest address of the stack (end of RAM), from `link.x`.
    static mut _stack_start: u32;
}

const PAINT: u32 = 0x5AA5_C33C;

/// Fills the free stack below the current frame with a pattern.
pub fn paint_stack() {
    let low = &raw mut _stack_end as usize;
    let high = cortex_m::register::msp::read() as usize - 128;
    for word in (low..high).step_by(4) {
        // SAFETY: the words between the end of static data and just below the
        // live stack frame belong to no object.
        unsafe { core::ptr::write_volatile(word as *mut u32, PAINT) };
    }
}

/// Bytes of stack used since [`paint_stack`]: the distance from the top of
/// RAM down to the lowest overwritten word.
pub fn stack_high_water() -> usize {
    let top = &raw mut _stack_start as usize;
    let mut word = &raw mut _stack_end as usize;
    // SAFETY: reads words of the painted region, which lies inside RAM.
    while unsafe { core::ptr::read_volatile(word as *const u32) } == PAINT {
        word += 4;
    }
    top - word
}

/// Prints an `f32` with `.1` decimals through integer formatting: `{:.4}`
/// on a float would link about 20 KB of float formatting code.
pub struct Fixed(pub f32, pub u32);

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10u32.pow(self.1);
        let sign = if self.0 < 0.0 { "-" } else { "" };
        let v = (libm::fabsf(self.0) * scale as f32 + 0.5) as u32;
        let width = self.1 as usize;
        write!(f, "{sign}{}.{:0width$}", v / scale, v % scale)
    }
}
