#!/usr/bin/env bash
# Builds the Cortex-M example for a Cortex-M4F and a Cortex-M0, trains on
# both under QEMU (each run exits 0 only if training converged), and prints
# the footprint: text = flash, data + bss = static RAM.
# Needs: rustup targets thumbv7em-none-eabihf and thumbv6m-none-eabi,
#        qemu-system-arm; for sizes arm-none-eabi-size or llvm-tools.
set -euo pipefail
cd "$(dirname "$0")"

size_tool() {
  if command -v arm-none-eabi-size >/dev/null; then
    echo arm-none-eabi-size
  else
    rustup component add llvm-tools >/dev/null 2>&1
    echo "$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-size"
  fi
}

run() { # <target> <qemu machine> <label> [extra qemu options]
  local target=$1 machine=$2 label=$3
  local elf="target/$target/release/microprop-cortex-m"
  echo "== $label: $target on qemu-system-arm -machine $machine ${*:4}"
  cargo build --quiet --release --target "$target"
  # shellcheck disable=SC2068
  timeout 900 qemu-system-arm -machine "$machine" -nographic \
    -semihosting-config enable=on,target=native ${@:4} -kernel "$elf"
  echo "-- footprint ($label): text = flash, data + bss = static RAM, in bytes"
  "$(size_tool)" "$elf"
}

# `-icount shift=0`: one instruction per virtual nanosecond, so the
# instruction counts printed are exact.
run thumbv7em-none-eabihf mps2-an386 "Cortex-M4F" -icount shift=0
run thumbv6m-none-eabi microbit "Cortex-M0, 16 KiB RAM" -icount shift=0
echo "== both targets converged"
