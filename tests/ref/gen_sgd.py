"""Fixture for the SGD test: torch.optim.SGD over three steps on two
parameters with given gradients, plain momentum and Nesterov, with a
learning-rate change between steps as a schedule makes.
usage: /usr/bin/python3 gen_sgd.py OUT_DIR"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkio  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "fixtures")
    g = torch.Generator().manual_seed(7)
    a0 = torch.randn(5, 3, 3, 3, generator=g)
    b0 = torch.randn(37, generator=g)
    grads = [(torch.randn(5, 3, 3, 3, generator=g), torch.randn(37, generator=g)) for _ in range(3)]
    lrs = [0.1, 0.1, 0.01]
    t = {"a0": a0, "b0": b0}
    for i, (ga, gb) in enumerate(grads):
        t[f"ga{i}"], t[f"gb{i}"] = ga, gb
    for nesterov in (False, True):
        a = a0.clone().requires_grad_(True)
        b = b0.clone().requires_grad_(True)
        opt = torch.optim.SGD([a, b], lr=lrs[0], momentum=0.9, weight_decay=5e-4, nesterov=nesterov)
        for i, (ga, gb) in enumerate(grads):
            for group in opt.param_groups:
                group["lr"] = lrs[i]
            a.grad, b.grad = ga.clone(), gb.clone()
            opt.step()
            t[f"a{i + 1}_n{int(nesterov)}"] = a.detach().clone()
            t[f"b{i + 1}_n{int(nesterov)}"] = b.detach().clone()
    fkio.write_safetensors(os.path.join(out, "sgd.safetensors"),
                           {k: v.numpy().astype(np.float32) for k, v in t.items()},
                           {"lrs": ",".join(map(str, lrs)), "momentum": "0.9", "weight_decay": "5e-4"})


if __name__ == "__main__":
    main()
