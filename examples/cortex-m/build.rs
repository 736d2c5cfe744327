//! Hands cortex-m-rt's `link.x` the memory map of the QEMU machine that runs
//! each target (see `.cargo/config.toml`).
use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let map = match target.as_str() {
        // BBC micro:bit (nRF51822, Cortex-M0): 256 KiB flash, 16 KiB RAM.
        "thumbv6m-none-eabi" => "memory/microbit.x",
        // MPS2 AN386 (Cortex-M4F): 4 MiB SSRAM at 0 as flash, 4 MiB RAM.
        _ => "memory/mps2-an386.x",
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(map, out.join("memory.x")).expect("copy the memory map");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={map}");
    println!("cargo:rerun-if-changed=build.rs");
}
