#!/usr/bin/python3
"""ReLU and tensor plumbing fixtures (fixtures/tensor_ops.safetensors),
PyTorch in float64.

cfg = [kind, N, C, H, W, extra]:
  kind 0 relu:    x, y, dy, dx                          (extra unused)
  kind 1 add:     a, b, y, dy                           (da = db = dy)
  kind 2 concat:  a (N, extra, H, W), b (N, C - extra, H, W), y, dy, da, db
  kind 3 split:   x (N, C, H, W) -> a (first extra channels), b; da, db, dx
  kind 4 shuffle: x, y, dy, dx with extra = groups (ShuffleNet's
                  view(N, g, C/g, H, W).transpose(1, 2))"""

import torch

from opref import Fixture, rand, randn


def relu(fx, gen, shape):
    x = randn(gen, *shape)
    x.view(-1)[::7] = 0.0  # exact zeros: gradient 0 there, as PyTorch
    xg = x.clone().requires_grad_(True)
    y = torch.relu(xg)
    dy = rand(gen, *shape)
    y.backward(dy)
    fx.case([0, *shape, 0], x=x, y=y, dy=dy, dx=xg.grad)


def add(fx, gen, shape):
    a, b = randn(gen, *shape), randn(gen, *shape)
    fx.case([1, *shape, 0], a=a, b=b, y=a + b, dy=rand(gen, *shape))


def concat(fx, gen, shape, ca):
    n, c, h, w = shape
    a, b = randn(gen, n, ca, h, w).requires_grad_(True), randn(gen, n, c - ca, h, w).requires_grad_(True)
    y = torch.cat([a, b], dim=1)
    dy = rand(gen, *shape)
    y.backward(dy)
    fx.case([2, *shape, ca], a=a, b=b, y=y, dy=dy, da=a.grad, db=b.grad)


def split(fx, gen, shape, ca):
    n, c, h, w = shape
    x = randn(gen, *shape).requires_grad_(True)
    a, b = torch.split(x, [ca, c - ca], dim=1)
    da, db = rand(gen, *a.shape), rand(gen, *b.shape)
    torch.autograd.backward([a, b], [da, db])
    fx.case([3, *shape, ca], x=x, a=a, b=b, da=da, db=db, dx=x.grad)


def shuffle(fx, gen, shape, g):
    n, c, h, w = shape
    x = randn(gen, *shape).requires_grad_(True)
    y = x.view(n, g, c // g, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
    dy = rand(gen, *shape)
    y.backward(dy)
    fx.case([4, *shape, g], x=x, y=y, dy=dy, dx=x.grad)


def main():
    gen = torch.Generator().manual_seed(20240604)
    fx = Fixture("tensor_ops", "gen_tensor_ops.py")
    relu(fx, gen, (2, 3, 5, 7))
    relu(fx, gen, (1, 1, 1, 67))
    add(fx, gen, (2, 3, 5, 7))
    add(fx, gen, (1, 5, 3, 3))
    concat(fx, gen, (2, 7, 5, 3), 3)       # ShuffleNetV2 / DenseNet style
    concat(fx, gen, (1, 6, 4, 4), 5)
    split(fx, gen, (2, 10, 3, 5), 5)       # ShuffleNetV2's channel split
    split(fx, gen, (3, 7, 2, 2), 2)
    shuffle(fx, gen, (2, 12, 3, 5), 3)     # ShuffleNetV1 (g = 3)
    shuffle(fx, gen, (1, 8, 4, 4), 2)      # ShuffleNetV2 (g = 2)
    shuffle(fx, gen, (2, 6, 1, 1), 6)      # g = C: identity
    fx.write()


if __name__ == "__main__":
    main()
