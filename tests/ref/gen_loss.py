"""Fixtures for tests/test_dwt.c and tests/test_loss.c.

usage: /usr/bin/python3 tests/ref/gen_loss.py   (writes tests/ref/fixtures/{dwt,loss}.safetensors)

References, all in float64 from the float32 inputs stored in the file:
- DWT: pywt.dwt2(x, 'haar', mode='zero') band by band; partial inverses:
  pywt.idwt2 with the bands outside the mask zeroed, cropped to h x w.
- CE: F.cross_entropy (mean over the batch).
- KD: KL(softmax(t/T) || softmax(s/T)) summed over classes, mean over the
  batch, times T^2 (F.kl_div on log_softmax, as mdistiller's kd_loss).
- DKD: the formula of mdistiller's dkd_loss (Zhao et al. 2022), written out
  below as dkd_direct; for logits where its log(p) underflows (1e4
  magnitudes) the same quantity in log-sum-exp form, dkd_stable, which is
  checked here to equal dkd_direct wherever the latter is finite.
- FiGKD: a Haar DWT written in torch (checked here against pywt), MSE or L1
  over the chosen bands, mean over their elements and the batch.
Gradients are torch autograd's, with respect to the student's logits.

Tensors per loss case `<case>/...`: student, teacher (N, C) float32, labels
(N) int64, params [T, alpha, beta, h, w], then `<loss>/value` (1) and
`<loss>/grad` (N, C) for ce, kd, dkd and figkd_<kind>_<mask>.
Per DWT case `<h>x<w>/...`: x (N, h*w), bands (N, 4, ceil(h/2), ceil(w/2)),
inv<mask> (N, h*w).
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fkio  # noqa: E402

OUT = os.path.join(HERE, "fixtures")
LL, LH, HL, HH = 1, 2, 4, 8
INV_MASKS = [LL | LH | HL | HH, LL, LH | HL | HH, LH, HL, HH, LL | HH]
FIGKD_VARIANTS = [("mse", LH | HL | HH), ("l1", LH | HL | HH), ("mse", LL), ("mse", LH),
                  ("mse", LL | LH | HL | HH), ("l1", LL | LH | HL | HH)]


def grid(c):
    h = max(d for d in range(1, int(c ** 0.5) + 1) if c % d == 0)
    return h, c // h


# ---- Haar DWT -----------------------------------------------------------

def haar_bands(x, h, w):
    """x (N, h*w) -> (N, 4, ceil(h/2), ceil(w/2)): LL, LH, HL, HH."""
    g = x.reshape(x.shape[0], h, w)
    g = F.pad(g, (0, w % 2, 0, h % 2))
    a, b = g[:, 0::2, 0::2], g[:, 0::2, 1::2]
    c, d = g[:, 1::2, 0::2], g[:, 1::2, 1::2]
    return torch.stack([(a + b + c + d) / 2, (a + b - c - d) / 2,
                        (a - b + c - d) / 2, (a - b - c + d) / 2], dim=1)


def pywt_bands(x, h, w):
    import pywt  # only the DWT fixtures need it
    out = []
    for row in x.reshape(-1, h, w):
        ca, (ch, cv, cd) = pywt.dwt2(row, "haar", mode="zero")
        out.append(np.stack([ca, ch, cv, cd]))
    return np.stack(out)


def pywt_inverse(bands, h, w, mask):
    import pywt
    out = []
    for b in bands:
        z = [b[i] if mask & (1 << i) else np.zeros_like(b[i]) for i in range(4)]
        r = pywt.idwt2((z[0], (z[1], z[2], z[3])), "haar", mode="zero")
        out.append(r[:h, :w].reshape(-1))
    return np.stack(out)


# ---- losses ---------------------------------------------------------------

def ce_ref(s, t, y, p):
    return F.cross_entropy(s, y)


def kd_ref(s, t, y, p):
    T = p["T"]
    kl = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="none")
    return kl.sum(1).mean() * T * T


def dkd_direct(s, t, y, p):
    """DKD exactly as the paper's reference code computes it."""
    T, n = p["T"], s.shape[0]
    gt = F.one_hot(y, s.shape[1]).to(s.dtype)
    ps, pt = F.softmax(s / T, dim=1), F.softmax(t / T, dim=1)
    bs = torch.stack([(ps * gt).sum(1), (ps * (1 - gt)).sum(1)], dim=1)
    bt = torch.stack([(pt * gt).sum(1), (pt * (1 - gt)).sum(1)], dim=1)
    tckd = F.kl_div(torch.log(bs), bt, reduction="sum") * T * T / n
    ls2 = F.log_softmax(s / T - 1000.0 * gt, dim=1)
    pt2 = F.softmax(t / T - 1000.0 * gt, dim=1)
    nckd = F.kl_div(ls2, pt2, reduction="sum") * T * T / n
    return p["alpha"] * tckd + p["beta"] * nckd


def dkd_stable(s, t, y, p):
    """The same DKD with log(p_y) and log(1 - p_y) as log-sum-exp differences."""
    T, n = p["T"], s.shape[0]
    gt = F.one_hot(y, s.shape[1]).to(s.dtype)

    def logb(z):
        lse = torch.logsumexp(z, dim=1)
        nt = torch.logsumexp(z.masked_fill(gt.bool(), float("-inf")), dim=1)
        zy = (z * gt).sum(1)
        return torch.stack([zy - lse, nt - lse], dim=1)

    lbs, lbt = logb(s / T), logb(t / T)
    bt = lbt.exp()
    tckd = torch.where(bt > 0, bt * (lbt - lbs), torch.zeros_like(bt)).sum() * T * T / n
    ls2 = F.log_softmax(s / T - 1000.0 * gt, dim=1)
    pt2 = F.softmax(t / T - 1000.0 * gt, dim=1)
    nckd = F.kl_div(ls2, pt2, reduction="sum") * T * T / n
    return p["alpha"] * tckd + p["beta"] * nckd


def figkd_ref(kind, mask):
    def f(s, t, y, p):
        h, w = p["h"], p["w"]
        sel = [i for i in range(4) if mask & (1 << i)]
        e = haar_bands(s, h, w)[:, sel] - haar_bands(t, h, w)[:, sel]
        return (e * e).mean() if kind == "mse" else e.abs().mean()
    return f


def value_and_grad(fn, s32, t32, y, p):
    s = torch.tensor(s32, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(t32, dtype=torch.float64)
    v = fn(s, t, torch.tensor(y), p)
    v.backward()
    return v.detach().numpy(), s.grad.numpy()


def loss_case(out, name, s, t, y, p, extreme=False):
    s, t = s.astype(np.float32), t.astype(np.float32)
    n, c = s.shape
    out[name + "/student"] = s
    out[name + "/teacher"] = t
    out[name + "/labels"] = y.astype(np.int64)
    out[name + "/params"] = np.array([p["T"], p["alpha"], p["beta"], p["h"], p["w"]], np.float32)
    fns = [("ce", ce_ref), ("kd", kd_ref), ("dkd", dkd_stable)]
    fns += [("figkd_%s_%d" % (k, m), figkd_ref(k, m)) for k, m in FIGKD_VARIANTS]
    for key, fn in fns:
        v, g = value_and_grad(fn, s, t, y, p)
        assert np.isfinite(v).all() and np.isfinite(g).all(), (name, key)
        out["%s/%s/value" % (name, key)] = np.float32(v).reshape(1)
        out["%s/%s/grad" % (name, key)] = g.astype(np.float32)
    # the log-sum-exp DKD is the paper's formula wherever that one is finite
    vd, gd = value_and_grad(dkd_direct, s, t, y, p)
    vs, gs = value_and_grad(dkd_stable, s, t, y, p)
    if extreme:
        assert not (np.isfinite(vd) and np.isfinite(gd).all()) or np.allclose(vd, vs)
    else:
        assert np.allclose(vd, vs, rtol=1e-10, atol=1e-12), (name, vd, vs)
        assert np.allclose(gd, gs, rtol=1e-8, atol=1e-12), name
    # the torch DWT is pywt's
    h, w = p["h"], p["w"]
    sb = haar_bands(torch.tensor(s, dtype=torch.float64), h, w).numpy()
    assert np.allclose(sb, pywt_bands(s.astype(np.float64), h, w), rtol=1e-12, atol=1e-9)


def main():
    import pywt
    rng = np.random.default_rng(20240601)
    os.makedirs(OUT, exist_ok=True)

    # DWT: the grids of the class counts users train with, plus odd and thin ones
    dwt = {}
    grids = [grid(c) for c in (10, 40, 67, 100, 120, 200)] + [(3, 5), (7, 1), (1, 1), (4, 25)]
    for h, w in grids:
        n = 3
        x = rng.normal(0, 2, (n, h * w)).astype(np.float32)
        b = pywt_bands(x.astype(np.float64), h, w)
        assert np.allclose(b, haar_bands(torch.tensor(x, dtype=torch.float64), h, w).numpy())
        key = "%dx%d/" % (h, w)
        dwt[key + "x"] = x
        dwt[key + "bands"] = b.astype(np.float32)
        for m in INV_MASKS:
            dwt[key + "inv%d" % m] = pywt_inverse(b, h, w, m).astype(np.float32)
        assert np.allclose(pywt_inverse(b, h, w, 15), x, atol=1e-5)
    fkio.write_safetensors(os.path.join(OUT, "dwt.safetensors"), dwt,
                           metadata={"generator": "tests/ref/gen_loss.py", "pywt": pywt.__version__})

    # losses
    loss = {}
    base = {"T": 4.0, "alpha": 1.0, "beta": 8.0}
    cases = [(10, 5, None, base), (40, 4, None, {"T": 2.0, "alpha": 0.5, "beta": 2.0}),
             (67, 4, None, base), (100, 4, None, base), (120, 3, None, base),
             (200, 3, None, base), (15, 4, (3, 5), base), (100, 2, (4, 25), base)]
    for c, n, shape, p in cases:
        h, w = shape or grid(c)
        p = dict(p, h=h, w=w)
        s = rng.normal(0, 2, (n, c))
        t = rng.normal(0, 3, (n, c)) + 0.5 * s
        y = rng.integers(0, c, n)
        s[0, y[0]] += 6.0                   # a confident sample
        t[-1] = s[-1]                        # teacher == student: every band diff is 0
        s32 = s.astype(np.float32)
        t32 = t.astype(np.float32)
        t32[-1] = s32[-1]
        if c >= 4:                           # some exact zero diffs in a 2x2 block of row 0
            t32[0, :2] = s32[0, :2]
        name = "c%d" % c + ("_%dx%d" % (h, w) if shape else "")
        loss_case(loss, name, s32, t32, y, p)

    # extreme logits: magnitudes up to 1e4
    for c, n in ((100, 4), (10, 3)):
        h, w = grid(c)
        p = dict(base, h=h, w=w)
        s = rng.uniform(-1e4, 1e4, (n, c))
        t = rng.uniform(-1e4, 1e4, (n, c))
        y = rng.integers(0, c, n)
        s[0, y[0]] = 1e4                     # student sure of the label, teacher not
        t[0, y[0]] = -1e4
        t[1, y[1]] = 1e4                     # teacher sure, student not
        s[1, y[1]] = -1e4
        loss_case(loss, "x%d" % c, s, t, y, p, extreme=True)
    fkio.write_safetensors(os.path.join(OUT, "loss.safetensors"), loss,
                           metadata={"generator": "tests/ref/gen_loss.py", "torch": torch.__version__})
    for f in ("dwt", "loss"):
        print(f, os.path.getsize(os.path.join(OUT, f + ".safetensors")), "bytes")


if __name__ == "__main__":
    main()
