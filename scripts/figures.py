#!/usr/bin/env python3
"""Figures of distillation runs, as PNG, from figkd-cl's own outputs.

    figures.py curves RUN [RUN ...] --out curves.png [--names A,B]
        test top-1 and every loss term per epoch, from each run's
        metrics.jsonl (RUN: an out_dir or a metrics.jsonl file); the teacher
        stage (out_dir/teacher/metrics.jsonl) is drawn too when present.
    figures.py bands --logits A.npy [B.npy ...] --out bands.png
                     [--names A,B] [--samples 0,1,2] [--class-names FILE]
        the logit grid of chosen samples (the FiGKD grid for the class count,
        zero padding on an odd side) with its low-frequency (LL) and its
        high-frequency (LH, HL, HH) reconstruction, per model, as heatmaps.
    figures.py tsne --features A.npy B.npy --labels L.npy --out tsne.png
                    [--names KD,FiGKD] [--max-points 2000]
        t-SNE of penultimate features (`figkd-cl predict --features`), one
        panel per model, points coloured by label.
    figures.py sensitivity RUN [RUN ...] --param distill.beta --out sens.png [--default 1]
        best test top-1 against a config value (read from each run's
        config.ini, --set overrides included), mean and spread over the runs
        that share a value (seeds); --default is the value of a run whose
        config does not set it (the program's default, e.g. beta 1).

Needs Debian's python3-numpy, python3-matplotlib and (tsne) python3-sklearn.
"""

import argparse
import json
import math
import os
import statistics
import sys

import numpy as np

# "none": the term column of ce (and of a teacher stage), always 0
NOT_TERMS = {"stage", "epoch", "step", "lr", "train_acc", "test_acc", "test_acc5", "test_loss",
             "img_per_s", "seconds", "none"}


def fail(msg):
    print("figures.py: %s" % msg, file=sys.stderr)
    sys.exit(1)


def plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as p
    return p


# ---- inputs --------------------------------------------------------------

def read_metrics(path):
    rows = []
    try:
        with open(path) as f:
            for i, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError as e:
                        fail("%s:%d: not JSON: %s" % (path, i, e))
    except OSError as e:
        fail("%s: %s" % (path, e.strerror))
    if not rows:
        fail("%s: no epochs" % path)
    return rows


def run_series(run):
    """[(label suffix, rows)] of a run: the student's and, if any, the teacher's."""
    if os.path.isdir(run):
        out = []
        teacher = os.path.join(run, "teacher", "metrics.jsonl")
        if os.path.exists(teacher):
            out.append(("teacher", read_metrics(teacher)))
        out.append(("", read_metrics(os.path.join(run, "metrics.jsonl"))))
        return out
    return [("", read_metrics(run))]


def run_value(run, param, default=None):
    """The value of section.key in a run's config.ini (a later '# --set' wins),
    default when neither sets it."""
    section, _, key = param.partition(".")
    if not key:
        fail("--param %s: write it as section.key" % param)
    path = os.path.join(run, "config.ini")
    value, current = None, None
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        fail("%s: %s" % (path, e.strerror))
    for line in lines:
        s = line.strip()
        if s.startswith("# --set "):
            k, _, v = s[len("# --set "):].partition("=")
            if k.strip() == param:
                value = v.strip()
        elif s.startswith("[") and s.endswith("]"):
            current = s[1:-1].strip()
        elif s and s[0] not in "#;" and "=" in s and current == section:
            k, _, v = s.partition("=")
            if k.strip() == key:
                value = v.split(";")[0].split("#")[0].strip()
    if value is None:
        value = default
    if value is None:
        fail("%s: %s is not set (the figure needs it written in the config, by --set or --default)" % (path, param))
    try:
        return float(value)
    except ValueError:
        fail("%s: %s = '%s' is not a number" % (path, param, value))


def names_for(args_names, items):
    if args_names:
        names = args_names.split(",")
        if len(names) != len(items):
            fail("--names has %d names for %d inputs" % (len(names), len(items)))
        return names
    return [os.path.basename(os.path.normpath(x)) for x in items]


# ---- the FiGKD grid and its bands (cl/dwt.cl, include/figkd/bands.h) ------

def figkd_grid(c):
    best = 1
    d = 1
    while d * d <= c:
        if c % d == 0:
            best = d
        d += 1
    return best, c // best


def band_split(x, h, w):
    """(grid, low, high) of one logit row: LL alone and LH+HL+HH alone, inverted."""
    g = np.zeros((h + h % 2, w + w % 2))
    g[:h, :w] = np.asarray(x, dtype=np.float64).reshape(h, w)
    a, b, c, d = g[0::2, 0::2], g[0::2, 1::2], g[1::2, 0::2], g[1::2, 1::2]
    ll = 0.5 * (a + b + c + d)
    lh, hl, hh = 0.5 * (a + b - c - d), 0.5 * (a - b + c - d), 0.5 * (a - b - c + d)
    low, high = np.zeros_like(g), np.zeros_like(g)
    low[0::2, 0::2] = low[0::2, 1::2] = low[1::2, 0::2] = low[1::2, 1::2] = 0.5 * ll
    high[0::2, 0::2] = 0.5 * (lh + hl + hh)
    high[0::2, 1::2] = 0.5 * (lh - hl - hh)
    high[1::2, 0::2] = 0.5 * (-lh + hl - hh)
    high[1::2, 1::2] = 0.5 * (-lh - hl + hh)
    return g[:h, :w], low[:h, :w], high[:h, :w]


# ---- figures ---------------------------------------------------------------

def curves(args):
    p = plt()
    from matplotlib.ticker import MaxNLocator
    series = []
    for name, run in zip(names_for(args.names, args.runs), args.runs):
        for suffix, rows in run_series(run):
            series.append((name + (" (%s)" % suffix if suffix else ""), rows))
    terms = []
    for _, rows in series:
        for r in rows:
            for k, v in r.items():
                if k not in NOT_TERMS and isinstance(v, (int, float)) and k not in terms:
                    terms.append(k)
    panels = ["test_acc"] + terms
    cols = min(3, len(panels))
    nrows = math.ceil(len(panels) / cols)
    fig, axes = p.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, panels):
        for i, (name, rows) in enumerate(series):
            pts = [(r["epoch"], r[key] * (100 if key == "test_acc" else 1)) for r in rows if key in r]
            if pts:  # one colour per series in every panel, also where some have no such column
                ax.plot(*zip(*pts), marker="o", markersize=3, label=name, color="C%d" % (i % 10))
        ax.set_title("test top-1 (%)" if key == "test_acc" else "loss: " + key)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=args.dpi)
    return fig


def bands(args):
    p = plt()
    logits = []
    for path in args.logits:
        try:
            a = np.load(path)
        except (OSError, ValueError) as e:
            fail("%s: %s" % (path, e))
        if a.ndim != 2:
            fail("%s: logits must be N x C, got shape %s" % (path, a.shape))
        logits.append(a)
    n, c = logits[0].shape
    if any(a.shape != (n, c) for a in logits):
        fail("the logit files have different shapes: %s" % [a.shape for a in logits])
    samples = [int(s) for s in args.samples.split(",")]
    for s in samples:
        if not 0 <= s < n:
            fail("--samples: %d is outside 0..%d" % (s, n - 1))
    class_names = None
    if args.class_names:
        class_names = [line.strip() for line in open(args.class_names) if line.strip()]
        if len(class_names) != c:
            fail("%s: %d names for %d classes" % (args.class_names, len(class_names), c))
    h, w = figkd_grid(c)
    names = names_for(args.names, args.logits)
    rows = len(samples) * len(logits)
    fig, axes = p.subplots(rows, 3, figsize=(3.2 * 3 + 1, 2.6 * rows * max(1.0, h / w)), squeeze=False)
    for si, s in enumerate(samples):
        for mi, a in enumerate(logits):
            parts = band_split(a[s], h, w)
            r = si * len(logits) + mi
            for ci, (title, g) in enumerate(zip(("logits", "low (LL)", "high (LH+HL+HH)"), parts)):
                ax = axes[r, ci]
                im = ax.imshow(g, cmap="coolwarm", vmin=-np.abs(g).max(), vmax=np.abs(g).max())
                top = int(np.argmax(g.reshape(-1)))
                label = class_names[top] if class_names else str(top)
                ax.set_title("%s #%d %s\narg-max %s" % (names[mi], s, title, label), fontsize=8)
                ax.set_xticks([])
                ax.set_yticks([])
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
                if class_names and h * w <= 64:
                    for k in range(c):
                        ax.text(k % w, k // w, class_names[k][:6], ha="center", va="center", fontsize=5)
    fig.tight_layout()
    fig.savefig(args.out, dpi=args.dpi)


def tsne(args):
    p = plt()
    from sklearn.manifold import TSNE
    labels = np.load(args.labels).reshape(-1)
    feats = [np.load(f) for f in args.features]
    for f, a in zip(args.features, feats):
        if a.ndim != 2 or a.shape[0] != labels.shape[0]:
            fail("%s: features must be N x D with N = %d labels, got shape %s" % (f, labels.shape[0], a.shape))
    idx = np.arange(labels.shape[0])
    if idx.size > args.max_points:
        idx = np.random.default_rng(0).choice(idx, args.max_points, replace=False)
    names = names_for(args.names, args.features)
    fig, axes = p.subplots(1, len(feats), figsize=(4.5 * len(feats), 4.5), squeeze=False)
    for ax, name, a in zip(axes.flat, names, feats):
        perplexity = min(30.0, max(2.0, (idx.size - 1) / 3.0))
        emb = TSNE(n_components=2, init="pca", random_state=0, perplexity=perplexity,
                   learning_rate="auto").fit_transform(a[idx].astype(np.float64))
        ax.scatter(emb[:, 0], emb[:, 1], c=labels[idx], cmap="tab20", s=4)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(args.out, dpi=args.dpi)


def sensitivity(args):
    p = plt()
    by_value = {}
    for run in args.runs:
        best = max(r["test_acc"] for r in read_metrics(os.path.join(run, "metrics.jsonl")) if "test_acc" in r)
        by_value.setdefault(run_value(run, args.param, args.default), []).append(100 * best)
    xs = sorted(by_value)
    means = [statistics.mean(by_value[x]) for x in xs]
    sds = [statistics.stdev(by_value[x]) if len(by_value[x]) > 1 else 0.0 for x in xs]
    fig, ax = p.subplots(figsize=(5, 3.5))
    ax.errorbar(xs, means, yerr=sds, marker="o", capsize=3)
    if len(xs) > 1 and min(xs) > 0 and max(xs) / min(xs) >= 10:
        ax.set_xscale("log")
    ax.set_xlabel(args.param)
    ax.set_ylabel("best test top-1 (%)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=args.dpi)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="figure", required=True)
    c = sub.add_parser("curves")
    c.add_argument("runs", nargs="+")
    b = sub.add_parser("bands")
    b.add_argument("--logits", nargs="+", required=True)
    b.add_argument("--samples", default="0")
    b.add_argument("--class-names")
    t = sub.add_parser("tsne")
    t.add_argument("--features", nargs="+", required=True)
    t.add_argument("--labels", required=True)
    t.add_argument("--max-points", type=int, default=2000)
    s = sub.add_parser("sensitivity")
    s.add_argument("runs", nargs="+")
    s.add_argument("--param", required=True)
    s.add_argument("--default", help="the value of a run whose config does not set --param")
    for q in (c, b, t, s):
        q.add_argument("--out", required=True)
        q.add_argument("--names")
        q.add_argument("--dpi", type=int, default=100)
    args = ap.parse_args(argv)
    {"curves": curves, "bands": bands, "tsne": tsne, "sensitivity": sensitivity}[args.figure](args)
    print(args.out)


if __name__ == "__main__":
    main()
