"""Fixtures for tests/test_conv.c: torch.nn.functional.conv2d forward and
backward on small shapes that cover every path of src/ops/conv.c.

Each file tests/ref/fixtures/conv_<name>.safetensors holds
  x (N, C_in, H, W), weight (C_out, C_in/groups, K, K), bias (C_out) when the
  case has one, out (N, C_out, H_out, W_out), dout (same shape as out: a
  random upstream gradient), din, dweight, dbias (when the case has a bias)
and metadata n, c_in, h, w, c_out, k, stride, pad, groups, bias (0/1).
Inputs are drawn in float32; the reference is computed in float64 from those
exact float32 values and stored as float32.

Run with Debian's python (numpy, torch):
    /usr/bin/python3 tests/ref/gen_conv.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkio  # noqa: E402

# name: (n, c_in, h, w, c_out, k, stride, pad, groups, bias)
CASES = {
    "k3s1p1": (2, 4, 8, 8, 6, 3, 1, 1, 1, True),           # ResNet body conv
    "k3s2p1": (2, 6, 9, 9, 8, 3, 2, 1, 1, False),          # stride-2 conv, odd input
    "k1s1": (3, 8, 6, 6, 16, 1, 1, 0, 1, True),            # 1x1 stride 1: plain GEMM path
    "k1s2": (2, 8, 7, 7, 16, 1, 2, 0, 1, False),           # downsample shortcut
    "k5s2p2": (1, 3, 11, 11, 4, 5, 2, 2, 1, True),         # 5x5 stride 2
    "k7s2p3": (2, 3, 16, 16, 8, 7, 2, 3, 1, False),        # ImageNet stem
    "odd7x9": (3, 3, 7, 9, 5, 3, 1, 1, 1, True),           # odd H, W; 3 -> 5 channels; batch 3
    "batch1": (1, 3, 6, 5, 5, 3, 1, 1, 1, False),          # batch 1, 3 -> 5
    "k3p0": (2, 3, 6, 5, 4, 3, 1, 0, 1, True),             # no padding, rectangular
    "k2s2": (2, 4, 8, 8, 4, 2, 2, 0, 1, False),            # even kernel
    "k3s3p1": (2, 5, 10, 8, 3, 3, 3, 1, 1, True),          # stride 3
    "k1s1p1": (2, 4, 5, 5, 6, 1, 1, 1, 1, False),          # 1x1 with padding: not the GEMM path
    "g3k1": (2, 12, 6, 6, 24, 1, 1, 0, 3, False),          # ShuffleNetV1 grouped 1x1
    "g2k3": (2, 4, 7, 7, 6, 3, 1, 1, 2, True),             # grouped 3x3
    "g3k3s2": (3, 6, 9, 7, 9, 3, 2, 1, 3, False),          # grouped 3x3 stride 2
    "dw3s1": (3, 5, 8, 8, 5, 3, 1, 1, 5, False),           # depthwise 3x3 stride 1
    "dw3s2": (2, 6, 9, 9, 6, 3, 2, 1, 6, True),            # depthwise 3x3 stride 2
    "dw3m2": (2, 4, 6, 6, 8, 3, 1, 1, 4, True),            # depthwise, channel multiplier 2
    "dw5s2": (2, 3, 11, 11, 3, 5, 2, 2, 3, False),         # depthwise 5x5 stride 2
    # N*HO*WO < C_out: the weight gradient runs in chunks of one sample
    "chunk3x3": (3, 4, 5, 5, 16, 3, 2, 0, 1, True),
    "chunk1x1": (3, 4, 2, 2, 16, 1, 1, 0, 1, False),
    # 32 input channels: on CPU devices the weight gradient reads the input
    # with its channels last (wgrad_hwc); odd sides, padding, stride 2 and
    # output channels that are not a multiple of the register tile's rows
    "c32k3s1": (2, 32, 7, 9, 8, 3, 1, 1, 1, True),
    "c32k3s2": (3, 32, 9, 8, 12, 3, 2, 1, 1, False),
}


def make(name, n, c_in, h, w, c_out, k, stride, pad, groups, bias, seed):
    g = torch.Generator().manual_seed(seed)
    f32 = dict(generator=g, dtype=torch.float32)
    x = torch.rand(n, c_in, h, w, **f32) * 2 - 1
    bound = 1.0 / np.sqrt(c_in // groups * k * k)
    wt = (torch.rand(c_out, c_in // groups, k, k, **f32) * 2 - 1) * bound
    b = (torch.rand(c_out, **f32) * 2 - 1) * bound if bias else None
    xd = x.double().requires_grad_()
    wd = wt.double().requires_grad_()
    bd = b.double().requires_grad_() if bias else None
    out = F.conv2d(xd, wd, bd, stride=stride, padding=pad, groups=groups)
    dout = torch.rand(out.shape, **f32) * 2 - 1
    out.backward(dout.double())
    t = {
        "x": x.numpy(), "weight": wt.numpy(),
        "out": out.detach().float().numpy(), "dout": dout.numpy(),
        "din": xd.grad.float().numpy(), "dweight": wd.grad.float().numpy(),
    }
    if bias:
        t["bias"] = b.numpy()
        t["dbias"] = bd.grad.float().numpy()
    # the float32 reference of PyTorch agrees (guards against a float64 quirk)
    out32 = F.conv2d(x, wt, b, stride=stride, padding=pad, groups=groups)
    assert torch.allclose(out32.double(), out.detach(), atol=1e-5), name
    meta = dict(n=n, c_in=c_in, h=h, w=w, c_out=c_out, k=k, stride=stride, pad=pad,
                groups=groups, bias=int(bias))
    meta = {key: str(v) for key, v in meta.items()}
    meta["note"] = "conv2d %s, tests/ref/gen_conv.py, seed %d" % (name, seed)
    return t, meta


def main():
    outdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    os.makedirs(outdir, exist_ok=True)
    only = sys.argv[1:]  # names to (re)write; all without
    for i, (name, args) in enumerate(CASES.items()):
        if only and name not in only:
            continue
        t, meta = make(name, *args, seed=100 + i)
        path = os.path.join(outdir, "conv_%s.safetensors" % name)
        fkio.write_safetensors(path, t, meta)
        print("%-40s %7d bytes" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main()
