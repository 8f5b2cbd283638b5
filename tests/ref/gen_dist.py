"""Fixtures for tests/test_dist.c (the DIST loss, src/loss/dist.c).

usage: /usr/bin/python3 tests/ref/gen_dist.py   (writes tests/ref/fixtures/dist.safetensors)

Reference: DIST as in the authors' code, hunto/image_classification_sota
lib/models/losses/dist_kd.py (the classification code DIST_KD links to):
y_s = softmax(z_s / tau), y_t = softmax(z_t / tau);
pearson(a, b) = cosine of the row-centred vectors with eps = 1e-8 added to
the product of the norms; inter = 1 - mean over rows of pearson(y_s, y_t),
intra = the same on the transposes; loss = tau^2 * (beta * inter + gamma *
intra). Computed in float64 from the float32 inputs stored in the file;
the gradient is torch autograd's, with respect to the student's logits.

Tensors per case `<case>/...`: student, teacher (N, C) float32, params
[T, beta, gamma], value (1), grad (N, C). Case names: `n<N>c<C>_t<T>`
(random logits), `x_...` (uniform in [-1e3, 1e3]), `eps_col` (one softened
teacher column exactly constant: its Pearson denominator is eps alone),
`eps_row` (one teacher row and one student row of equal logits: uniform
softmax rows, centred to zero), `n1c10_t4` and `n4c1_t4` (one row, one
class: every centred vector is zero).
"""

import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fkio  # noqa: E402

OUT = os.path.join(HERE, "fixtures")
EPS = 1e-8


def pearson_rows(a, b):
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + EPS)


def dist_ref(s, t, T, beta, gamma):
    ys, yt = torch.softmax(s / T, dim=1), torch.softmax(t / T, dim=1)
    inter = 1 - pearson_rows(ys, yt).mean()
    intra = 1 - pearson_rows(ys.t(), yt.t()).mean()
    return T * T * (beta * inter + gamma * intra)


def add_case(out, name, s, t, T, beta, gamma):
    s32, t32 = s.astype(np.float32), t.astype(np.float32)
    sd = torch.tensor(s32, dtype=torch.float64, requires_grad=True)
    td = torch.tensor(t32, dtype=torch.float64)
    v = dist_ref(sd, td, T, beta, gamma)
    v.backward()
    g = sd.grad.numpy()
    assert np.isfinite(v.item()) and np.isfinite(g).all(), name
    out[name + "/student"] = s32
    out[name + "/teacher"] = t32
    out[name + "/params"] = np.array([T, beta, gamma], np.float32)
    out[name + "/value"] = np.array([v.item()], np.float32)
    out[name + "/grad"] = g.astype(np.float32)
    return td


def main():
    rng = np.random.default_rng(20261203)
    os.makedirs(OUT, exist_ok=True)
    out = {}
    # (N, C, T, beta, gamma): the authors' defaults beta = gamma = 1 with
    # tau 1 (ImageNet) and 4 (CIFAR), and other weights
    for n, c, T, beta, gamma in ((8, 10, 4.0, 1.0, 1.0), (8, 10, 1.0, 1.0, 1.0),
                                 (64, 100, 4.0, 1.0, 2.0), (5, 67, 1.0, 1.0, 1.0),
                                 (3, 200, 1.0, 2.0, 0.5), (3, 200, 4.0, 1.0, 1.0)):
        s = rng.normal(0, 2, (n, c))
        t = rng.normal(0, 3, (n, c)) + 0.5 * s
        s[0, 1] += 6.0                           # a confident row
        t[-1] = s[-1]                            # teacher == student in one row
        add_case(out, "n%dc%d_t%d" % (n, c, T), s, t, T, beta, gamma)

    # extreme logits
    for n, c, T in ((6, 10, 4.0), (4, 100, 1.0), (16, 10, 1.0)):
        s = rng.uniform(-1e3, 1e3, (n, c))
        t = rng.uniform(-1e3, 1e3, (n, c))
        s[0] = t[0]                              # same one-hot row
        s[1, 2], t[1, 2] = 1e3, -1e3             # sure, and of the opposite
        add_case(out, "x_n%dc%d_t%d" % (n, c, T), s, t, T, 1.0, 1.0)

    # eps path, columns: teacher column 3 is the row maximum by more than 45,
    # so its softened value is exactly 1 in every row (float32 and float64),
    # the others below 1e-19 (their Pearson denominators are also below eps)
    n, c = 8, 10
    s = rng.normal(0, 2, (n, c))
    t = rng.uniform(-60.0, -45.0, (n, c))
    t[:, 3] = 0.0
    td = add_case(out, "eps_col", s, t, 1.0, 1.0, 1.0)
    q = torch.softmax(td, dim=1)
    assert (q[:, 3] == 1.0).all() and (q[:, [0, 1, 2, 4, 5, 6, 7, 8, 9]] < 1e-19).all()

    # eps path, rows: a constant teacher row and a constant student row
    n, c = 6, 12
    s = rng.normal(0, 2, (n, c))
    t = rng.normal(0, 3, (n, c))
    t[0] = 2.5
    s[1] = -1.0
    add_case(out, "eps_row", s, t, 4.0, 1.0, 1.0)

    # degenerate shapes: one row (every class column centres to 0: intra = 1)
    # and one class (every softmax row is 1: inter = 1)
    for n, c in ((1, 10), (4, 1)):
        add_case(out, "n%dc%d_t4" % (n, c), rng.normal(0, 2, (n, c)), rng.normal(0, 3, (n, c)), 4.0, 1.0, 1.0)

    path = os.path.join(OUT, "dist.safetensors")
    fkio.write_safetensors(path, out, metadata={"generator": "tests/ref/gen_dist.py", "torch": torch.__version__})
    print(path, os.path.getsize(path), "bytes,", len([k for k in out if k.endswith("/params")]), "cases")


if __name__ == "__main__":
    main()
