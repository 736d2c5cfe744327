#!/usr/bin/env python3
"""Golden data for the optimizer, schedule and clipping tests.

Runs torch.optim optimizers in float32 for 100 steps on parameter vectors of
lengths 1, 7, 37 and 1031, with gradients that depend on the parameters, and
writes the parameters at selected steps as f32 bit patterns in hex. Lion is not
in torch.optim: its trajectories come from a numpy float32 implementation of
optax's formulas below. Learning-rate schedules and ReduceLROnPlateau are
recorded from torch.optim.lr_scheduler (f64 bit patterns), and gradient
clipping from torch.nn.utils.clip_grad_norm_ / clip_grad_value_.

How to run (from the repository root; torch is not a dependency of the crate):

    python3 -m venv ../torchenv && ../torchenv/bin/pip install torch numpy
    ../torchenv/bin/python tests/golden/make_golden.py

It rewrites tests/golden/optim.txt, schedules.txt and clip.txt. Made with
torch 2.15.0 and numpy 2.4 on x86-64 (AVX2).

Gradient of element i at step t (1-based), in float32, shared with the Rust
tests (tests/optim_golden.rs): a quadratic bowl around a target that wobbles
with t, scaled per element, so errors feed back through the parameters:

    p0[i] = X[i % 7] * M[(i // 7) % 4]
    c[i]  = gsign * C[i % 5]
    s[i]  = -(c[i] * (p0[i] / 2)) * (1 + W[(3 i + 5 t) % 16] / 4)
    g[i]  = 0                              if i % 7 == 3 or (i + t) % 11 == 0
          = (c[i] * p[i] + s[i]) * E[i % 4]  otherwise

Every constant is a short dyadic fraction, so only `c * p`, the sum and the
product with E round (in that order). The minimum lies between 3/8 and 5/8 of
p0, on the same side of zero, so the parameters stay away from zero, where
a relative comparison would be meaningless. `gsign` is -1 for the `maximize`
cases, so that gradient ascent converges too. E spans 2^-24 to 8, so eps
matters for some elements.

File format (optim.txt): a `case <name> <Optimizer> gsign=<+1|-1> key=value...`
line, then for each length a `n <len>` line followed by `t <step> <hex>...`
lines (parameters after that step), and `end` after the last length.
"""
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 100
LENGTHS = (1, 7, 37, 1031)
SNAPS_SMALL = (1, 2, 3, 5, 6, 7, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
SNAPS_LARGE = (1, 6, 50, 100)

X = [0.5, -1.25, 2.0, 0.0, -0.75, 1.5, 3.75]
M = [1.0, 1.25, 0.75, 1.5]
E = [1.0, 2.0 ** -24, 8.0, 2.0 ** -10]
C = [0.5, 0.25, 1.0, 0.125, 2.0]
W = [0.5, -0.25, 0.75, -1.0, 0.125, 0.375, -0.625, 0.875,
     -0.5, 0.25, -0.75, 1.0, -0.125, -0.375, 0.625, -0.875]

CASES = [
    ("sgd_plain", "SGD", dict(lr=0.1)),
    ("sgd_momentum", "SGD", dict(lr=0.1, momentum=0.9)),
    ("sgd_dampening", "SGD", dict(lr=0.1, momentum=0.5, dampening=0.3)),
    ("sgd_mom_damp_wd", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("sgd_nesterov", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd_nesterov_wd_max", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01,
                                        maximize=True)),
    ("adagrad_lr0.1", "Adagrad", dict(lr=0.1)),
    ("adagrad_decay_wd_init", "Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                              initial_accumulator_value=0.1)),
    ("adagrad_max_eps", "Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
    ("adadelta_default", "Adadelta", dict()),
    ("adadelta_wd", "Adadelta", dict(lr=0.5, rho=0.95, eps=1e-6, weight_decay=0.01)),
    ("adadelta_max", "Adadelta", dict(rho=0.8, maximize=True)),
    ("adam_lr0.01", "Adam", dict(lr=0.01)),
    ("adam_l2wd", "Adam", dict(lr=0.01, weight_decay=0.1)),
    ("adam_decoupled", "Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adam_amsgrad", "Adam", dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True)),
    ("adam_max_eps", "Adam", dict(lr=0.01, eps=1e-6, maximize=True)),
    ("adam_big_lerp_weight", "Adam", dict(lr=0.01, betas=(0.3, 0.9))),
    ("adamw_default_lr0.01", "AdamW", dict(lr=0.01)),
    ("adamw_wd_amsgrad", "AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("adamw_max", "AdamW", dict(lr=0.01, maximize=True)),
    ("adamax_lr0.01", "Adamax", dict(lr=0.01)),
    ("adamax_wd_betas", "Adamax", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("adamax_max", "Adamax", dict(lr=0.01, maximize=True)),
    ("nadam_lr0.01", "NAdam", dict(lr=0.01)),
    ("nadam_l2wd", "NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("nadam_decoupled", "NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("nadam_md_inf", "NAdam", dict(lr=0.01, momentum_decay=1e9)),
    ("nadam_md_big_max", "NAdam", dict(lr=0.01, momentum_decay=0.1, maximize=True)),
    ("radam_lr0.01", "RAdam", dict(lr=0.01)),
    ("radam_l2wd", "RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("radam_decoupled", "RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("radam_betas_max", "RAdam", dict(lr=0.01, betas=(0.8, 0.9), maximize=True)),
    ("rmsprop_default", "RMSprop", dict()),
    ("rmsprop_centered", "RMSprop", dict(lr=0.01, centered=True)),
    ("rmsprop_momentum", "RMSprop", dict(lr=0.01, momentum=0.5)),
    ("rmsprop_centered_mom", "RMSprop", dict(lr=0.001, centered=True, momentum=0.9)),
    ("rmsprop_wd_mom_max", "RMSprop", dict(lr=0.002, alpha=0.9, eps=1e-6, weight_decay=0.01,
                                           momentum=0.5, maximize=True)),
    ("lion_wd", "Lion", dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)),
    ("lion_betas", "Lion", dict(lr=0.003, betas=(0.95, 0.98), weight_decay=0.0)),
]


def hex32(values):
    return " ".join("%08x" % b for b in np.asarray(values, np.float32).view(np.uint32))


def hex64(values):
    return " ".join("%016x" % b for b in np.asarray(values, np.float64).view(np.uint64))


def problem(n, gsign):
    """Initial parameters, and the gradient as a function of (p, t)."""
    i = np.arange(n)
    f = np.float32
    p0 = np.array([X[k % 7] for k in i], f) * np.array([M[(k // 7) % 4] for k in i], f)
    c = np.array([gsign * C[k % 5] for k in i], f)
    half = p0 * f(0.5)
    e = np.array([E[k % 4] for k in i], f)

    def grad(p, t):
        w = np.array([1 + W[(3 * k + 5 * t) % 16] / 4 for k in i], f)
        s = -(c * half) * w
        g = (c * p + s) * e
        zero = np.array([k % 7 == 3 or (k + t) % 11 == 0 for k in i])
        return np.where(zero, f(0), g).astype(f)

    return p0, grad


def run_torch(cls_name, kwargs, n, gsign, snaps):
    p0, grad = problem(n, gsign)
    p = torch.nn.Parameter(torch.tensor(p0))
    opt = getattr(torch.optim, cls_name)([p], foreach=False, **kwargs)
    out = {}
    for t in range(1, STEPS + 1):
        p.grad = torch.tensor(grad(p.detach().numpy(), t))
        opt.step()
        if t in snaps:
            out[t] = p.detach().numpy().copy()
    return out


def run_lion(kwargs, n, gsign, snaps):
    """optax.lion (b1, b2, weight_decay), in numpy float32, no fused operations."""
    f = np.float32
    lr = kwargs["lr"]
    b1, b2 = kwargs["betas"]
    wd = kwargs["weight_decay"]
    p0, grad = problem(n, gsign)
    p = p0.copy()
    m = np.zeros_like(p)
    out = {}
    for t in range(1, STEPS + 1):
        g = grad(p, t)
        direction = np.sign(f(1 - b1) * g + f(b1) * m)
        u = direction + f(wd) * p
        m = f(1 - b2) * g + f(b2) * m
        p = p + u * f(-lr)
        if t in snaps:
            out[t] = p.copy()
    return out


def fmt_kw(kwargs):
    parts = []
    for k, v in kwargs.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, tuple):
            v = ",".join(repr(float(x)) for x in v)
        else:
            v = repr(float(v))
        parts.append(f"{k}={v}")
    return " ".join(parts)


def write_optim(path):
    names = {"RMSprop": "RmsProp", "SGD": "Sgd"}
    with open(path, "w") as fh:
        fh.write(f"# Golden optimizer trajectories (float32), torch {torch.__version__}; "
                 "see make_golden.py\n")
        for name, cls, kw in CASES:
            gsign = -1 if kw.get("maximize") else 1
            fh.write(f"case {name} {names.get(cls, cls)} gsign={gsign:+d} {fmt_kw(kw)}\n".rstrip()
                     + "\n")
            for n in LENGTHS:
                snaps = SNAPS_SMALL if n < 100 else SNAPS_LARGE
                if cls == "Lion":
                    traj = run_lion(kw, n, gsign, snaps)
                else:
                    traj = run_torch(cls, kw, n, gsign, snaps)
                fh.write(f"n {n}\n")
                for t in snaps:
                    fh.write(f"t {t} {hex32(traj[t])}\n")
            fh.write("end\n")


def scheduled(make, k_max):
    from torch.optim import lr_scheduler as _  # noqa: F401
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sch = make(opt)
    lrs = []
    for _ in range(k_max + 1):
        lrs.append(opt.param_groups[0]["lr"])  # the lr used by optimizer step k
        opt.step()
        sch.step()
    return lrs


def write_schedules(path):
    from torch.optim import lr_scheduler as L
    specs = [
        ("step step_size=3 gamma=0.5", lambda o: L.StepLR(o, 3, 0.5), 20),
        ("multistep milestones=4,7,7 gamma=0.1", lambda o: L.MultiStepLR(o, [4, 7, 7], 0.1), 12),
        ("exponential gamma=0.9", lambda o: L.ExponentialLR(o, 0.9), 30),
        ("cosine total=10 min_lr=0.001", lambda o: L.CosineAnnealingLR(o, 10, 0.001), 10),
        ("cosine total=37 min_lr=0", lambda o: L.CosineAnnealingLR(o, 37, 0.0), 37),
        ("inverse_time decay=0.5", lambda o: L.LambdaLR(o, lambda k: 1 / (1 + 0.5 * k)), 30),
        ("warmup_constant warmup=5 start_factor=0.2",
         lambda o: L.LinearLR(o, 0.2, 1.0, 5), 12),
        ("warmup_cosine warmup=3 start_factor=0.1 total=8 min_lr=0.001",
         lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, 3),
                                      L.CosineAnnealingLR(o, 8, 0.001)], [3]), 11),
        ("warmup_step warmup=4 start_factor=0.25 step_size=2 gamma=0.5",
         lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.25, 1.0, 4), L.StepLR(o, 2, 0.5)], [4]), 14),
        ("warmup_exponential warmup=2 start_factor=0.5 gamma=0.8",
         lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.5, 1.0, 2), L.ExponentialLR(o, 0.8)], [2]),
         12),
    ]
    metrics = [1.0, 0.9, 0.95, 0.91, 0.905, 0.9, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.79,
               0.795, 0.7951, 0.7952, 0.7953, 0.7954, 0.7955, 0.7956, 0.7957, 0.5, 0.51, 0.52,
               0.53, 0.54, 0.55, 0.56, 0.57, 0.58]
    plateaus = [
        ("plateau mode=min factor=0.5 patience=2 threshold=0.01 threshold_mode=rel cooldown=1 "
         "min_lr=0.001", dict(mode="min", factor=0.5, patience=2, threshold=0.01,
                              threshold_mode="rel", cooldown=1, min_lr=0.001), metrics),
        ("plateau mode=max factor=0.1 patience=1 threshold=0.05 threshold_mode=abs cooldown=0 "
         "min_lr=0", dict(mode="max", factor=0.1, patience=1, threshold=0.05,
                          threshold_mode="abs", cooldown=0, min_lr=0.0),
         [-m for m in metrics]),
        ("plateau mode=min factor=0.1 patience=10 threshold=0.0001 threshold_mode=rel cooldown=0 "
         "min_lr=0", dict(), metrics + [0.6] * 12),
    ]
    with open(path, "w") as fh:
        fh.write(f"# Learning rates from torch {torch.__version__} lr_scheduler, base lr 0.1, "
                 "for k = 0, 1, ... (f64 bits); see make_golden.py\n")
        for spec, make, k_max in specs:
            fh.write(f"sched {spec}\nlr {hex64(scheduled(make, k_max))}\n")
        for spec, kw, ms in plateaus:
            p = torch.nn.Parameter(torch.zeros(1))
            opt = torch.optim.SGD([p], lr=0.1)
            sch = L.ReduceLROnPlateau(opt, **kw)
            lrs = []
            for m in ms:
                opt.step()
                sch.step(m)
                lrs.append(opt.param_groups[0]["lr"])
            fh.write(f"sched {spec}\nmetrics {hex64(ms)}\nlr {hex64(lrs)}\n")


def write_clip(path):
    rng = np.random.default_rng(7)
    cases = [
        (6.5, [np.array([3, 4], np.float32), np.array([12], np.float32)]),
        (1.0, [rng.standard_normal(n).astype(np.float32) for n in (5, 37, 1)]),
        (100.0, [rng.standard_normal(n).astype(np.float32) for n in (5, 37, 1)]),
        (2.0, [rng.standard_normal(n).astype(np.float32) * 1e-3 for n in (1031, 3)]),
        (0.5, [np.zeros(4, np.float32), rng.standard_normal(9).astype(np.float32) * 1e15]),
    ]
    with open(path, "w") as fh:
        fh.write(f"# torch {torch.__version__} clip_grad_norm_ (max_norm, returned norm) and "
                 "clip_grad_value_ (clip value 0.3): f32 bits; see make_golden.py\n")
        for max_norm, grads in cases:
            ps = [torch.nn.Parameter(torch.zeros(len(g))) for g in grads]
            for p, g in zip(ps, grads):
                p.grad = torch.tensor(g)
            norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
            fh.write(f"clip_norm {hex32([max_norm])} {hex32([norm.item()])}\n")
            for p, g in zip(ps, grads):
                fh.write(f"before {hex32(g)}\nafter {hex32(p.grad.numpy())}\n")
            for p, g in zip(ps, grads):
                p.grad = torch.tensor(g)
            torch.nn.utils.clip_grad_value_(ps, 0.3)
            fh.write(f"clip_value {hex32([0.3])}\n")
            for p, g in zip(ps, grads):
                fh.write(f"before {hex32(g)}\nafter {hex32(p.grad.numpy())}\n")
        fh.write("end\n")


def main():
    torch.set_num_threads(1)
    write_optim(os.path.join(HERE, "optim.txt"))
    write_schedules(os.path.join(HERE, "schedules.txt"))
    write_clip(os.path.join(HERE, "clip.txt"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
