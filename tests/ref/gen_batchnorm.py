#!/usr/bin/python3
"""BatchNorm2d fixtures (fixtures/batchnorm.safetensors), PyTorch in float64.

cfg = [train (1) or eval (0)]. Tensors per case:
  x (N, C, H, W), gamma, beta (C), rm0, rv0 (C), nbt0 (1): state before;
  train: y, save_mean, save_invstd (C), rm1, rv1 (C), nbt1 (1): state
         after; dy (N, C, H, W) and the gradients dx, dgamma, dbeta;
  eval:  y from the running statistics.
eps 1e-5, momentum 0.1 (PyTorch's defaults)."""

import torch

from opref import Fixture, rand, randn


def case(fx, gen, shape, train, mean=0.0, std=1.0):
    n, c, h, w = shape
    x = randn(gen, n, c, h, w, mean=mean, std=std)
    bn = torch.nn.BatchNorm2d(c).double()
    gamma, beta = rand(gen, c, lo=0.5, hi=1.5), rand(gen, c, lo=-0.5, hi=0.5)
    rm0, rv0 = rand(gen, c, lo=-0.3, hi=0.3), rand(gen, c, lo=0.5, hi=2.0)
    nbt0 = 3
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
        bn.running_mean.copy_(rm0)
        bn.running_var.copy_(rv0)
        bn.num_batches_tracked.fill_(nbt0)
    common = dict(x=x, gamma=gamma, beta=beta, rm0=rm0, rv0=rv0, nbt0=torch.tensor([float(nbt0)]))
    if not train:
        bn.eval()
        with torch.no_grad():
            y = bn(x)
        fx.case([0], y=y, **common)
        return
    bn.train()
    xg = x.clone().requires_grad_(True)
    y = bn(xg)
    dy = rand(gen, n, c, h, w)
    y.backward(dy)
    var = x.var(dim=(0, 2, 3), unbiased=False)
    fx.case([1], y=y, save_mean=x.mean(dim=(0, 2, 3)), save_invstd=1.0 / torch.sqrt(var + 1e-5),
            rm1=bn.running_mean, rv1=bn.running_var,
            nbt1=torch.tensor([float(bn.num_batches_tracked.item())]),
            dy=dy, dx=xg.grad, dgamma=bn.weight.grad, dbeta=bn.bias.grad, **common)


def main():
    gen = torch.Generator().manual_seed(20240601)
    fx = Fixture("batchnorm", "gen_batchnorm.py")
    case(fx, gen, (8, 5, 9, 7), True)                  # 504 values per channel, C odd
    case(fx, gen, (1, 3, 5, 5), True)                  # batch 1
    case(fx, gen, (4, 6, 4, 4), True, mean=3.0, std=0.5)  # small planes, offset mean
    case(fx, gen, (2, 7, 1, 1), True)                  # 1x1 planes (after a global pool)
    case(fx, gen, (3, 10, 12, 12), True, mean=-20.0, std=2.0)  # large offset: variance stability
    case(fx, gen, (8, 5, 9, 7), False)                 # eval mode
    case(fx, gen, (1, 3, 6, 5), False)
    fx.write()


if __name__ == "__main__":
    main()
