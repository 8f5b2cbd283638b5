#!/usr/bin/python3
"""Pooling fixtures (fixtures/pool.safetensors), PyTorch in float64.

cfg = [kind, k, stride, pad] with kind 0 = max_pool2d, 1 = avg_pool2d
(ceil_mode False, count_include_pad True), 2 = global average pool
(adaptive_avg_pool2d to 1x1; k, stride, pad unused).
Tensors: x (N, C, H, W), y, dy (shape of y), dx."""

import torch
import torch.nn.functional as F

from opref import Fixture, rand, randn


def case(fx, gen, kind, shape, k=0, s=0, p=0, x=None):
    if x is None:
        x = randn(gen, *shape)
    xg = x.clone().requires_grad_(True)
    if kind == 0:
        y = F.max_pool2d(xg, k, s, p)
    elif kind == 1:
        y = F.avg_pool2d(xg, k, s, p)
    else:
        y = F.adaptive_avg_pool2d(xg, 1)
    dy = rand(gen, *y.shape)
    y.backward(dy)
    fx.case([kind, k, s, p], x=x, y=y, dy=dy, dx=xg.grad)


def main():
    gen = torch.Generator().manual_seed(20240602)
    fx = Fixture("pool", "gen_pool.py")
    # max: ResNet18's stem pool on ReLU output (many tied zeros), odd sizes
    case(fx, gen, 0, None, 3, 2, 1, x=torch.relu(randn(gen, 2, 3, 15, 17)))
    case(fx, gen, 0, (1, 5, 16, 16), 3, 2, 1)
    # VGG's 2x2 stride 2, even and odd sizes (the last row/column is dropped)
    case(fx, gen, 0, (3, 6, 8, 8), 2, 2, 0)
    case(fx, gen, 0, (2, 5, 7, 9), 2, 2, 0)
    # small integers: ties everywhere, the first maximum in row-major order wins
    case(fx, gen, 0, None, 3, 1, 1, x=torch.randint(-2, 3, (2, 3, 6, 7), generator=gen).double())
    case(fx, gen, 0, None, 2, 2, 0, x=torch.randint(-1, 2, (1, 4, 6, 6), generator=gen).double())
    # all-negative input: the padding (-inf) never wins
    case(fx, gen, 0, None, 3, 2, 1, x=-rand(gen, 1, 2, 5, 5, lo=1.0, hi=2.0))
    # average: ShuffleNetV1's shortcut (3x3 stride 2 pad 1), odd and even
    case(fx, gen, 1, (2, 6, 15, 17), 3, 2, 1)
    case(fx, gen, 1, (1, 3, 8, 8), 3, 2, 1)
    case(fx, gen, 1, (3, 5, 8, 8), 2, 2, 0)
    case(fx, gen, 1, (2, 5, 7, 7), 3, 1, 1)
    case(fx, gen, 1, (2, 4, 8, 8), 4, 4, 0)     # ResNet-CIFAR style final pool
    # global average
    case(fx, gen, 2, (4, 10, 8, 8))
    case(fx, gen, 2, (1, 7, 4, 4))
    case(fx, gen, 2, (2, 3, 7, 7))
    case(fx, gen, 2, (3, 5, 1, 1))
    fx.write()


if __name__ == "__main__":
    main()
