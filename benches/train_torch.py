#!/usr/bin/env python3
"""PyTorch's side of `cargo bench --bench train`: one epoch of the same two
networks on the same MNIST images, one thread, batch 100.

    python3 benches/train_torch.py [EPOCHS]    (needs torch and numpy)

  relu-adamw: 784-256-128-10 ReLU, dropout 0.2 after each hidden layer,
              AdamW (fused) lr 1e-3, weight decay 1e-4 on the weights,
              softmax cross-entropy, the first 55,000 training images
  tanh-sgd:   784-500-300-10 tanh, SGD lr 0.1, the 60,000 training images

Prints one line per epoch, `torch NAME SECONDS`: the training pass only
(shuffle, batches, forward, loss, backward, step), as the Rust bench times
it. The bench runs this script itself when torch is importable.
"""
import gzip
import os
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")


def idx(name, header):
    with gzip.open(os.path.join(ROOT, name)) as f:
        return np.frombuffer(f.read()[header:], dtype=np.uint8)


def network(sizes, act, dropout):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def epoch(model, opt, x, y, batch=100):
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    order = torch.randperm(len(x))
    for i in range(0, len(x), batch):
        j = order[i : i + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[j]), y[j])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main():
    torch.set_num_threads(1)
    torch.manual_seed(2024)
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    x = torch.tensor(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784), dtype=torch.float32) / 255
    y = torch.tensor(idx("train-labels-idx1-ubyte.gz", 8), dtype=torch.long)

    relu = network([784, 256, 128, 10], nn.ReLU, 0.2)
    weights = [p for n, p in relu.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in relu.named_parameters() if n.endswith("bias")]
    adamw = torch.optim.AdamW(
        [{"params": weights, "weight_decay": 1e-4}, {"params": biases, "weight_decay": 0.0}],
        lr=1e-3,
        fused=True,
    )
    tanh = network([784, 500, 300, 10], nn.Tanh, 0.0)
    sgd = torch.optim.SGD(tanh.parameters(), lr=0.1)
    for _ in range(epochs):
        print(f"torch relu-adamw {epoch(relu, adamw, x[:55_000], y[:55_000]):.4f}", flush=True)
        print(f"torch tanh-sgd {epoch(tanh, sgd, x, y):.4f}", flush=True)


if __name__ == "__main__":
    main()
