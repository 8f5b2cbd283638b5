"""PyTorch peer of `figkd-cl bench`: the same teacher -> student pair, batch,
input size, class count and thread count, on synthetic input, timed the same
way (3 warm-up steps, then `steps` steps). Prints img/s, ms/step and the peak
resident memory of the process.

usage: python3 scripts/torch_peer.py [--student resnet8x4] [--teacher resnet32x4]
           [--batch 64] [--steps 10] [--threads 2] [--size 32] [--classes 100]
           [--device cpu|cuda]
--teacher none: the student's cross-entropy step alone (bench with
distill.method = ce). With a teacher: the FiGKD step (teacher forward in eval
mode without gradients, CE + MSE of the LH, HL, HH Haar bands of the logits
on a 10x10 grid for 100 classes), as figkd-cl's defaults."""
import argparse
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Basic(nn.Module):
    def __init__(s, i, o, stride=1):
        super().__init__()
        s.c1 = nn.Conv2d(i, o, 3, stride, 1, bias=False)
        s.b1 = nn.BatchNorm2d(o)
        s.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
        s.b2 = nn.BatchNorm2d(o)
        s.downsample = None
        if stride != 1 or i != o:
            s.downsample = nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o))

    def forward(s, x):
        y = F.relu(s.b1(s.c1(x)))
        y = s.b2(s.c2(y))
        return F.relu(y + (x if s.downsample is None else s.downsample(x)))


class ResNet(nn.Module):
    """mdistiller's CIFAR ResNet (resnet.py), as models/resnet_cifar.c."""

    def __init__(s, depth, filters, ncls):
        super().__init__()
        n = (depth - 2) // 6
        s.conv1 = nn.Conv2d(3, filters[0], 3, 1, 1, bias=False)
        s.bn1 = nn.BatchNorm2d(filters[0])
        layers, i = [], filters[0]
        for k, o in enumerate(filters[1:]):
            for j in range(n):
                layers.append(Basic(i, o, 2 if (j == 0 and k > 0) else 1))
                i = o
        s.layers = nn.Sequential(*layers)
        s.fc = nn.Linear(i, ncls)

    def forward(s, x):
        x = F.relu(s.bn1(s.conv1(x)))
        x = s.layers(x)
        return s.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def resnet(name, ncls):
    wide = name.endswith("x4")
    depth = int(name[len("resnet"):].replace("x4", ""))
    return ResNet(depth, [32, 64, 128, 256] if wide else [16, 16, 32, 64], ncls)


def grid(c):
    """figkd-cl's fk_figkd_grid: h the largest divisor of c up to sqrt(c)."""
    h = max(d for d in range(1, int(math.isqrt(c)) + 1) if c % d == 0)
    return h, c // h


def haar_details(z, h, w):
    """LH, HL, HH of a one-level Haar DWT of (B, h*w) logits, zero padding."""
    x = z.view(-1, h, w)
    x = F.pad(x, (0, w % 2, 0, h % 2))
    a, b = x[:, 0::2, 0::2], x[:, 0::2, 1::2]
    c, d = x[:, 1::2, 0::2], x[:, 1::2, 1::2]
    return torch.stack([(a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2], 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--student", default="resnet8x4")
    p.add_argument("--teacher", default="resnet32x4")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = a.device
    m = resnet(a.student, a.classes).to(dev)
    opt = torch.optim.SGD(m.parameters(), 0.05, momentum=0.9, weight_decay=5e-4)
    t = resnet(a.teacher, a.classes).to(dev).eval() if a.teacher != "none" else None
    for q in (t.parameters() if t is not None else []):
        q.requires_grad_(False)
    x = torch.rand(a.batch, 3, a.size, a.size, device=dev) * 2 - 1
    y = torch.arange(a.batch, device=dev) % a.classes
    gh, gw = grid(a.classes)

    def step():
        out = m(x)
        loss = F.cross_entropy(out, y)
        if t is not None:
            with torch.no_grad():
                tl = t(x)
            loss = loss + F.mse_loss(haar_details(out, gh, gw), haar_details(tl, gh, gw))
        opt.zero_grad()
        loss.backward()
        opt.step()

    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    for _ in range(3):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    sync()
    dt = (time.perf_counter() - t0) / a.steps
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    pair = f"{a.teacher} -> {a.student}" if t is not None else a.student
    print(f"torch {torch.__version__} {dev}, {pair}, batch {a.batch}, 3x{a.size}x{a.size} input, "
          f"{a.classes} classes, {a.threads} threads, {a.steps} steps")
    print(f"step: {dt * 1e3:.2f} ms, {a.batch / dt:.1f} img/s")
    print(f"peak resident memory: {rss:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
