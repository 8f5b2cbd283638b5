"""Fixtures for tests/test_mlkd.c (the MLKD loss, src/loss/mlkd.c), and the
reference of MLKD's term for tests/ref/gen_step.py.

usage: /usr/bin/python3 tests/ref/gen_mlkd.py   (writes tests/ref/fixtures/mlkd.safetensors)

Reference: the authors' code, Jin-Ying/Multi-Level-Logit-Distillation
mdistiller/distillers/KD_ours.py (forward_train), transcribed in
`official_terms` with the KD weight left out: kd_loss, cc_loss and bc_loss at
the temperatures [T, 3, 5, 2, 6] as that code sums them (the "strong" KD sum
takes its T = 2 and 6 terms from the weak logits; the strong cc and bc sums
are computed there but not returned, so they are not here), the masks
`confidence <= np.percentile(confidence, 50)` of the teacher's weak softmax
at T = 1, computed as that code computes them (float32 torch softmax, numpy
percentile, torch comparison), each multiplying a batch-mean loss and then
averaged (`(loss * mask).mean()`). With logit_stand, kd_loss standardises
both logits first (sunshangquan/logit-standardization-KD MLKD.py:
(x - mean) / (1e-7 + std), unbiased std).

figkd-cl computes the term one view at a time (`view_term`: view 0 takes
the weak logits, view 1 the strong); the generator checks that the two
views sum to the transcription, value and both gradients, to 1e-12.
Values and gradients are float64 autograd from the float32 inputs stored.

Tensors per case `<case>_w` (view 0) and `<case>_s` (view 1): student,
teacher (N, C) float32, params [T, standardize, view], value (1), grad (N, C).
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


def temps(T):
    return [T, 3.0, 5.0, 2.0, 6.0]


def normalize(logit):
    mean = logit.mean(dim=-1, keepdims=True)
    stdv = logit.std(dim=-1, keepdims=True)
    return (logit - mean) / (1e-7 + stdv)


def kd_loss(s, t, T, stand=False):
    if stand:
        s, t = normalize(s), normalize(t)
    log_p = F.log_softmax(s / T, dim=1)
    q = F.softmax(t / T, dim=1)
    return F.kl_div(log_p, q, reduction="none").sum(1).mean() * T ** 2


def cc_loss(s, t, T):
    c = t.shape[1]
    p, q = F.softmax(s / T, dim=1), F.softmax(t / T, dim=1)
    return ((q.t() @ q - p.t() @ p) ** 2).sum() / c


def bc_loss(s, t, T):
    n = t.shape[0]
    p, q = F.softmax(s / T, dim=1), F.softmax(t / T, dim=1)
    return ((q @ q.t() - p @ p.t()) ** 2).sum() / n


def masks(t_weak):
    """The two boolean masks as KD_ours.py computes them (float32)."""
    pred = F.softmax(t_weak.detach().float(), dim=1)
    conf, _ = pred.max(dim=1)
    mask = conf.le(np.percentile(conf.cpu().numpy().flatten(), 50)).bool()
    cls = torch.sum(pred, dim=0)
    cmask = cls.le(np.percentile(cls.cpu().numpy().flatten(), 50)).bool()
    return mask, cmask


def official_terms(sw, ss, tw, ts, T, stand=False):
    """loss_kd + loss_cc + loss_bc of forward_train with KD weight 1."""
    mask, cmask = masks(tw)
    m, mc = mask.to(sw.dtype), cmask.to(sw.dtype)
    Ts = temps(T)
    kd_weak = sum((kd_loss(sw, tw, x, stand) * m).mean() for x in Ts)
    kd_strong = sum(kd_loss(ss, ts, x, stand) for x in Ts[:3]) + sum(kd_loss(sw, tw, x, stand) for x in Ts[3:])
    cc_weak = sum((cc_loss(sw, tw, x) * mc).mean() for x in Ts)
    bc_weak = sum((bc_loss(sw, tw, x) * m).mean() for x in Ts)
    return kd_weak + kd_strong + cc_weak + bc_weak


def view_term(s, t, t_weak, view, T, stand=False):
    """The term of one view as src/loss/mlkd.c splits it."""
    Ts = temps(T)
    if view == 1:
        return sum(kd_loss(s, t, x, stand) for x in Ts[:3])
    mask, cmask = masks(t_weak)
    m, mc = mask.double().mean().item(), cmask.double().mean().item()
    return sum((m + (1.0 if k >= 3 else 0.0)) * kd_loss(s, t, x, stand) + mc * cc_loss(s, t, x)
               + m * bc_loss(s, t, x) for k, x in enumerate(Ts))


def add_case(out, name, sw, ss, tw, ts, T, stand=False):
    f = [np.asarray(a, np.float32) for a in (sw, ss, tw, ts)]
    sw_d, ss_d = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in f[:2])
    tw_d, ts_d = (torch.tensor(a, dtype=torch.float64) for a in f[2:])
    total = official_terms(sw_d, ss_d, tw_d, ts_d, T, stand)
    gw, gs = torch.autograd.grad(total, (sw_d, ss_d))
    parts = []
    for view, s, t in ((0, f[0], f[2]), (1, f[1], f[3])):
        sd = torch.tensor(s, dtype=torch.float64, requires_grad=True)
        td = torch.tensor(t, dtype=torch.float64)
        v = view_term(sd, td, tw_d, view, T, stand)
        g, = torch.autograd.grad(v, sd)
        assert np.isfinite(v.item()) and torch.isfinite(g).all(), name
        parts.append((v.item(), g))
        key = "%s_%s" % (name, "ws"[view])
        out[key + "/student"] = s
        out[key + "/teacher"] = t
        out[key + "/params"] = np.array([T, 1.0 if stand else 0.0, view], np.float32)
        out[key + "/value"] = np.array([v.item()], np.float32)
        out[key + "/grad"] = g.numpy().astype(np.float32)
    scale = max(1.0, abs(total.item()))
    assert abs(parts[0][0] + parts[1][0] - total.item()) <= 1e-12 * scale, name
    assert (parts[0][1] - gw).abs().max().item() <= 1e-12 * scale, name
    assert (parts[1][1] - gs).abs().max().item() <= 1e-12 * scale, name


def pair(rng, n, c, spread=2.0):
    sw = rng.normal(0, spread, (n, c))
    tw = rng.normal(0, 1.5 * spread, (n, c)) + 0.5 * sw
    ss = sw + rng.normal(0, spread, (n, c))
    ts = tw + rng.normal(0, spread, (n, c))
    return sw, ss, tw, ts


def main():
    rng = np.random.default_rng(20261203)
    os.makedirs(OUT, exist_ok=True)
    out = {}
    # (N, C, T, standardize): even and odd batches and class counts (the
    # median of an even count interpolates, of an odd one is an element)
    for n, c, T, stand in ((8, 10, 4.0, False), (64, 100, 4.0, False), (5, 67, 4.0, False),
                           (8, 100, 2.0, True), (7, 10, 4.0, True), (3, 200, 1.0, False)):
        add_case(out, "n%dc%d_t%d%s" % (n, c, T, "_ls" if stand else ""), *pair(rng, n, c), T, stand)
    # ties at the median: four rows of the weak teacher equal (their
    # confidences tie, so more than half are at or below the median), and
    # four equal class columns (tied class confidences), chosen so that
    # the ties sit at the median
    sw, ss, tw0, ts = pair(rng, 8, 10)
    found = False
    for r in range(8):
        for col in range(10):
            tw = tw0.copy()
            tw[2:6] = tw0[r]
            tw[:, 0:4] = tw[:, [col]]
            m, mc = masks(torch.tensor(tw.astype(np.float32)))
            if m.sum().item() > 4 and mc.sum().item() > 5:
                found = True
                break
        if found:
            break
    assert found
    add_case(out, "ties", sw, ss, tw, ts, 4.0)
    print("ties: %d of 8 rows, %d of 10 classes at or below the median" % (m.sum().item(), mc.sum().item()))
    # large logits (one-hot softmaxes at every temperature)
    sw, ss, tw, ts = (rng.uniform(-300, 300, (6, 10)) for _ in range(4))
    add_case(out, "x_n6c10", sw, ss, tw, ts, 4.0)
    # one sample
    add_case(out, "n1c10", *pair(rng, 1, 10), 4.0)

    path = os.path.join(OUT, "mlkd.safetensors")
    fkio.write_safetensors(path, out, metadata={"generator": "tests/ref/gen_mlkd.py", "torch": torch.__version__})
    print(path, os.path.getsize(path), "bytes,", len([k for k in out if k.endswith("/params")]), "cases")


if __name__ == "__main__":
    main()
