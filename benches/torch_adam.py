#!/usr/bin/env python3
"""PyTorch's CPU Adam on one thread, for comparison with `cargo bench --bench optim`.

    python3 benches/torch_adam.py        (needs torch; not a crate dependency)

Prints the median time per step and parameters per second for one tensor of
N = 100k, 1M and 10M elements, for the fused kernel (fused=True) and the
default for-loop implementation.
"""
import time

import torch


def main():
    torch.set_num_threads(1)
    for n in (100_000, 1_000_000, 10_000_000):
        for fused in (True, False):
            p = torch.nn.Parameter(torch.randn(n))
            p.grad = torch.randn(n) * 1e-3
            kw = dict(fused=True) if fused else dict(foreach=False)
            opt = torch.optim.Adam([p], lr=1e-6, **kw)
            reps = max(3, int(2e7 // n))
            for _ in range(3):
                opt.step()
            times = []
            for _ in range(7):
                t0 = time.perf_counter()
                for _ in range(reps):
                    opt.step()
                times.append((time.perf_counter() - t0) / reps)
            med = sorted(times)[len(times) // 2]
            name = "fused" if fused else "for-loop"
            print(f"adam {name:8} n={n:>9}: {med * 1e6:9.1f} us/step  "
                  f"{n / med / 1e9:6.2f} G params/s  {28 * n / med / 1e9:6.1f} GB/s")


if __name__ == "__main__":
    main()
