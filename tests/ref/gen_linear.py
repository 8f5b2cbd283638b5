#!/usr/bin/python3
"""Linear fixtures (fixtures/linear.safetensors), PyTorch in float64.

cfg = [N, I, O, has_bias]. Tensors: x (N, I), weight (O, I), bias (O, when
present), y (N, O), dy (N, O), dx, dweight, dbias (when present)."""

import torch
import torch.nn.functional as F

from opref import Fixture, rand


def case(fx, gen, n, i, o, bias):
    x = rand(gen, n, i)
    w = rand(gen, o, i, lo=-0.2, hi=0.2)
    b = rand(gen, o) if bias else None
    xg, wg = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    bg = b.clone().requires_grad_(True) if bias else None
    y = F.linear(xg, wg, bg)
    dy = rand(gen, n, o)
    y.backward(dy)
    extra = dict(bias=b, dbias=bg.grad) if bias else {}
    fx.case([n, i, o, int(bias)], x=x, weight=w, y=y, dy=dy, dx=xg.grad, dweight=wg.grad, **extra)


def main():
    gen = torch.Generator().manual_seed(20240603)
    fx = Fixture("linear", "gen_linear.py")
    case(fx, gen, 4, 37, 10, True)
    case(fx, gen, 1, 64, 100, True)      # batch 1, CIFAR-100 head
    case(fx, gen, 5, 17, 23, False)
    case(fx, gen, 32, 64, 100, True)
    case(fx, gen, 3, 130, 7, False)
    fx.write()


if __name__ == "__main__":
    main()
