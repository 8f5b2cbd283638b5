"""Fixtures for tests/test_feat_losses.c (the feature losses AT, PKT and
RKD: src/loss/at.c, pkt.c and rkd.c).

usage: /usr/bin/python3 tests/ref/gen_feat.py   (writes tests/ref/fixtures/feat.safetensors)

References: mdistiller (github.com/megvii-research/mdistiller)
mdistiller/distillers/AT.py at_loss, PKT.py pkt_loss and RKD.py rkd_loss,
copied below, computed in float64 from the float32 inputs stored in
the file; gradients are torch autograd's, with respect to the student's
features.

Tensors per case `<case>/...`: params [kind (0 AT, 1 PKT, 2 RKD), p,
stages, distance weight, angle weight],
s<i>, t<i> the student's and teacher's features of stage i (AT: (N, C, H, W);
PKT, RKD: s0, t0 (N, D)), value (1), grad<i> (d value / d s<i>).
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


def single_stage_at_loss(f_s, f_t, p):
    def _at(feat, p):
        return F.normalize(feat.pow(p).mean(1).reshape(feat.size(0), -1))

    s_H, t_H = f_s.shape[2], f_t.shape[2]
    if s_H > t_H:
        f_s = F.adaptive_avg_pool2d(f_s, (t_H, t_H))
    elif s_H < t_H:
        f_t = F.adaptive_avg_pool2d(f_t, (s_H, s_H))
    return (_at(f_s, p) - _at(f_t, p)).pow(2).mean()


def at_loss(g_s, g_t, p):
    return sum([single_stage_at_loss(f_s, f_t, p) for f_s, f_t in zip(g_s, g_t)])


def pkt_loss(f_s, f_t, eps=1e-7):
    output_net_norm = torch.sqrt(torch.sum(f_s ** 2, dim=1, keepdim=True))
    f_s = f_s / (output_net_norm + eps)
    f_s[f_s != f_s] = 0
    target_net_norm = torch.sqrt(torch.sum(f_t ** 2, dim=1, keepdim=True))
    f_t = f_t / (target_net_norm + eps)
    f_t[f_t != f_t] = 0
    model_similarity = torch.mm(f_s, f_s.transpose(0, 1))
    target_similarity = torch.mm(f_t, f_t.transpose(0, 1))
    model_similarity = (model_similarity + 1.0) / 2.0
    target_similarity = (target_similarity + 1.0) / 2.0
    model_similarity = model_similarity / torch.sum(model_similarity, dim=1, keepdim=True)
    target_similarity = target_similarity / torch.sum(target_similarity, dim=1, keepdim=True)
    return torch.mean(target_similarity * torch.log((target_similarity + 1e-7) / (model_similarity + 1e-7)))


def _pdist(e, squared, eps):
    e_square = e.pow(2).sum(dim=1)
    prod = e @ e.t()
    res = (e_square.unsqueeze(1) + e_square.unsqueeze(0) - 2 * prod).clamp(min=eps)
    if not squared:
        res = res.sqrt()
    res = res.clone()
    res[range(len(e)), range(len(e))] = 0
    return res


def rkd_loss(f_s, f_t, squared=False, eps=1e-12, distance_weight=25, angle_weight=50):
    stu = f_s.view(f_s.shape[0], -1)
    tea = f_t.view(f_t.shape[0], -1)
    with torch.no_grad():
        t_d = _pdist(tea, squared, eps)
        mean_td = t_d[t_d > 0].mean()
        t_d = t_d / mean_td
    d = _pdist(stu, squared, eps)
    mean_d = d[d > 0].mean()
    d = d / mean_d
    loss_d = F.smooth_l1_loss(d, t_d)
    with torch.no_grad():
        td = tea.unsqueeze(0) - tea.unsqueeze(1)
        norm_td = F.normalize(td, p=2, dim=2)
        t_angle = torch.bmm(norm_td, norm_td.transpose(1, 2)).view(-1)
    sd = stu.unsqueeze(0) - stu.unsqueeze(1)
    norm_sd = F.normalize(sd, p=2, dim=2)
    s_angle = torch.bmm(norm_sd, norm_sd.transpose(1, 2)).view(-1)
    loss_a = F.smooth_l1_loss(s_angle, t_angle)
    return distance_weight * loss_d + angle_weight * loss_a


def add_case(out, name, kind, p, ss, ts, wd=25.0, wa=50.0):
    ss = [s.astype(np.float32) for s in ss]
    ts = [t.astype(np.float32) for t in ts]
    sd = [torch.tensor(s, dtype=torch.float64, requires_grad=True) for s in ss]
    td = [torch.tensor(t, dtype=torch.float64) for t in ts]
    v = (at_loss(sd, td, p) if kind == 0 else pkt_loss(sd[0], td[0]) if kind == 1
         else rkd_loss(sd[0], td[0], distance_weight=wd, angle_weight=wa))
    v.backward()
    assert np.isfinite(v.item()), name
    out[name + "/params"] = np.array([kind, p, len(ss), wd, wa], np.float32)
    out[name + "/value"] = np.array([v.item()], np.float32)
    for i, (s, t, d) in enumerate(zip(ss, ts, sd)):
        g = d.grad.numpy()
        assert np.isfinite(g).all(), name
        out["%s/s%d" % (name, i)] = s
        out["%s/t%d" % (name, i)] = t
        out["%s/grad%d" % (name, i)] = g.astype(np.float32)


def main():
    rng = np.random.default_rng(20261204)
    os.makedirs(OUT, exist_ok=True)
    out = {}
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    # AT: post-ReLU stages of equal size, different channel counts (p = 2,
    # mdistiller's default, and p = 3, 1)
    for p in (2.0, 3.0, 1.0):
        ss = [relu(rng.normal(0, 1, (4, 8, 8, 8))), relu(rng.normal(0, 2, (4, 16, 4, 4)))]
        ts = [relu(rng.normal(0, 1, (4, 12, 8, 8))), relu(rng.normal(0, 1, (4, 6, 4, 4)))]
        add_case(out, "at_p%d" % p, 0, p, ss, ts)
    # signed features (WRN's stage outputs are pre-activation), 3 stages
    ss = [rng.normal(0, 1, (3, 4, 8, 8)), rng.normal(0, 1, (3, 8, 4, 4)), rng.normal(0, 1, (3, 16, 2, 2))]
    ts = [rng.normal(0, 1, (3, 8, 8, 8)), rng.normal(0, 1, (3, 16, 4, 4)), rng.normal(0, 1, (3, 32, 2, 2))]
    add_case(out, "at_signed", 0, 2.0, ss, ts)
    # the larger map pooled: student 8x8 to the teacher's 4x4, teacher 8x8 to the student's 2x2
    ss = [relu(rng.normal(0, 1, (4, 6, 8, 8))), relu(rng.normal(0, 1, (4, 6, 2, 2)))]
    ts = [relu(rng.normal(0, 1, (4, 5, 4, 4))), relu(rng.normal(0, 1, (4, 5, 8, 8)))]
    add_case(out, "at_pool", 0, 2.0, ss, ts)
    # sides that do not divide: bins of adaptive_avg_pool2d overlap (7 -> 3,
    # as a 28x28 input gives: resnet's 7x7 against vgg's 3x3; 5 -> 2)
    ss = [relu(rng.normal(0, 1, (3, 4, 7, 7))), relu(rng.normal(0, 1, (3, 4, 2, 2)))]
    ts = [relu(rng.normal(0, 1, (3, 6, 3, 3))), relu(rng.normal(0, 1, (3, 6, 5, 5)))]
    add_case(out, "at_uneven", 0, 2.0, ss, ts)
    # a sample whose student features are all zero: its map's norm is below
    # eps (F.normalize's clamp), and its gradient is 0
    s = relu(rng.normal(0, 1, (4, 8, 4, 4)))
    s[2] = 0.0
    add_case(out, "at_zero", 0, 2.0, [s], [relu(rng.normal(0, 1, (4, 8, 4, 4)))])
    # batch 64 over 8x8 maps (resnet8x4's last stage, fewer channels)
    add_case(out, "at_n64", 0, 2.0, [relu(rng.normal(0, 1, (64, 4, 8, 8)))],
             [relu(rng.normal(0, 1, (64, 8, 8, 8)))])

    # PKT: embeddings (after ReLU and pooling: non-negative) of other widths
    for n, ds, dt in ((8, 16, 24), (5, 7, 3), (64, 128, 64)):
        s = relu(rng.normal(0, 1, (n, ds)))
        t = relu(rng.normal(0, 1, (n, dt)))
        add_case(out, "pkt_n%dd%d_%d" % (n, ds, dt), 1, 0.0, [s], [t])
    # similar rows (pooled ReLU features: cosines near 1), resnet8x4's width
    base = np.abs(rng.normal(0, 1, 256))
    s = base * np.abs(1 + 0.3 * rng.normal(0, 1, (8, 256)))
    t = base * np.abs(1 + 0.3 * rng.normal(0, 1, (8, 256)))
    add_case(out, "pkt_similar", 1, 0.0, [s], [t])
    # signed embeddings, and the student equal to the teacher (value ~0)
    s = rng.normal(0, 1, (6, 10))
    add_case(out, "pkt_signed", 1, 0.0, [s], [rng.normal(0, 1, (6, 12))])
    add_case(out, "pkt_same", 1, 0.0, [s], [s.copy()])

    # RKD: embeddings of other widths (mdistiller's weights 25 and 50, and
    # others), signed ones, far apart (smooth_l1 past its knee), similar rows
    for n, ds, dt, wd, wa in ((8, 16, 24, 25.0, 50.0), (5, 7, 3, 1.0, 2.0), (16, 64, 32, 25.0, 50.0)):
        s = relu(rng.normal(0, 1, (n, ds)))
        t = relu(rng.normal(0, 1, (n, dt)))
        add_case(out, "rkd_n%dd%d_%d" % (n, ds, dt), 2, 0.0, [s], [t], wd, wa)
    add_case(out, "rkd_signed", 2, 0.0, [rng.normal(0, 1, (6, 10))], [rng.normal(0, 1, (6, 12))])
    s = rng.normal(0, 1, (6, 10))
    s[0] *= 20.0  # one far point: normalised distances differ by more than 1
    add_case(out, "rkd_far", 2, 0.0, [s], [rng.normal(0, 1, (6, 12))])
    base = np.abs(rng.normal(0, 1, 64))
    add_case(out, "rkd_similar", 2, 0.0, [base * np.abs(1 + 0.3 * rng.normal(0, 1, (8, 64)))],
             [base * np.abs(1 + 0.3 * rng.normal(0, 1, (8, 64)))])

    path = os.path.join(OUT, "feat.safetensors")
    fkio.write_safetensors(path, out, metadata={"generator": "tests/ref/gen_feat.py", "torch": torch.__version__})
    print(path, os.path.getsize(path), "bytes,", len([k for k in out if k.endswith("/params")]), "cases")


if __name__ == "__main__":
    main()
