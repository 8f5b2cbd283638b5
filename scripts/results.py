#!/usr/bin/env python3
"""The quickstart-scale experiments on Fashion-MNIST, three seeds each, one
shared teacher, and docs/results.md from them:

- the methods: ce, the logit baselines kd, dkd, dist and mlkd, the feature
  baselines fitnet, at, pkt and rkd, and figkd, each with its defaults (read from
  docs/config.md, which the method table writes);
- the band ablation (the paper's Table VI): no distillation (the ce runs),
  LL only, LH+HL+HH only (the figkd runs: the default bands) and all four;
- the beta sweep of figkd (beta 1 is the figkd runs).

Runs shared between tables are run once (same out_dir). A run whose out_dir
holds a finished run is skipped, an interrupted one is resumed, so the
script can be stopped and started again; --report-only runs nothing and
writes the tables from the runs there are, naming the missing ones. The
hand-written part of the output after the line KEEP_MARK is kept.

usage: python3 scripts/results.py [--figkd build/figkd-cl] [--config configs/quickstart.ini]
                                  [--seeds 0,1,2] [--betas 0.5,1,2,4] [--runs runs/results]
                                  [--out docs/results.md] [--set section.key=value ...] [--report-only]
"""
import argparse
import configparser
import json
import os
import statistics
import struct
import subprocess
import sys
import time

METHODS = ["ce", "kd", "dkd", "dist", "mlkd", "fitnet", "at", "pkt", "rkd", "figkd"]
# the baselines added after the first tables, queued after them a seed at a time
BASELINES = ["dist", "at", "pkt", "rkd", "mlkd", "fitnet"]
# where each method's defaults come from (the method files say the same)
SOURCES = {
    "ce": "cross-entropy alone",
    "kd": "mdistiller's KD (CIFAR-100 setting)",
    "dkd": "mdistiller's DKD; its warm-up of 20 epochs leaves the DKD term at 5, 10 and 15% "
           "of its weight in these 3 epochs",
    "dist": "the authors' CIFAR setting (hunto/DIST_KD, dist_cifar.yaml: tau 4, inter and intra "
            "weight 1, loss weight 2 folded into beta and gamma)",
    "mlkd": "the authors' code (Jin-Ying/Multi-Level-Logit-Distillation, mdistiller's CIFAR-100 KD "
            "weights); every step trains on two views of the batch, the config's augmentation and "
            "a strong one (RandAugment(2, 10) + Cutout), each through both models",
    "fitnet": "mdistiller's FitNet (CFG.FITNET): the hint at the second stage's output through a trained "
              "regressor (conv, BatchNorm, ReLU), updated by the student's SGD",
    "at": "mdistiller's AT (CFG.AT): attention maps of the stage outputs after the first",
    "pkt": "mdistiller's PKT (CFG.PKT), on the pooled embeddings",
    "rkd": "mdistiller's RKD (CFG.RKD), on the pooled embeddings",
    "figkd": "FiGKD's defaults",
}
CONFIG_MD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "config.md")
# (label, run name prefix, --set values); "none" and the default bands are the ce and figkd runs
BANDS = [("none (CE only)", "ce", []),
         ("LL only", "figkd-bands-LL", ["distill.bands=LL"]),
         ("LH+HL+HH (default)", "figkd", []),
         ("LL+LH+HL+HH", "figkd-bands-all", ["distill.bands=LL,LH,HL,HH"])]
KEEP_MARK = "<!-- everything below is hand-written; scripts/results.py keeps it -->"


def beta_name(beta):
    return "figkd" if float(beta) == 1.0 else f"figkd-beta{beta}"


def run_sets(name):
    """The --set values of the run called name (without seed)."""
    if name in METHODS:
        return [f"distill.method={name}"]
    for _, n, sets in BANDS:
        if n == name:
            return ["distill.method=figkd"] + sets
    if name.startswith("figkd-beta"):
        return ["distill.method=figkd", f"distill.beta={name[len('figkd-beta'):]}"]
    raise ValueError(name)


def method_defaults():
    """{method: [(key, default)]} from docs/config.md's "#### method = M" tables."""
    out, method = {}, None
    with open(CONFIG_MD) as f:
        for line in f:
            if line.startswith("#"):
                method = line.split("=", 1)[1].strip() if line.startswith("#### method = ") else None
                if method:
                    out[method] = []
            elif method and line.startswith("| `"):
                cols = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
                out[method].append((cols[0], cols[1]))
    return out


def settings(args, name, defaults):
    """The [distill] values of the run called name: the method's defaults, then
    the config's [distill] section, then the --set values."""
    sets = run_sets(name) + args.set
    method = [s.split("=", 1)[1] for s in sets if s.startswith("distill.method=")][-1]
    values = dict(defaults.get(method, []))
    ini = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    try:
        ini.read(args.config)
        values.update((k, v) for k, v in ini["distill"].items() if k in values)
    except (configparser.Error, KeyError):
        pass
    for s in sets:
        key, _, value = s.partition("=")
        if key.startswith("distill.") and key[len("distill."):] in values:
            values[key[len("distill."):]] = value
    return ", ".join(f"{k} {v}" for k, v in values.items())


def checkpoint_meta(path):
    """The __metadata__ of a safetensors file, {} when it cannot be read."""
    try:
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            return json.loads(f.read(n)).get("__metadata__", {})
    except (OSError, ValueError, struct.error):
        return {}


def finished(out_dir):
    meta = checkpoint_meta(os.path.join(out_dir, "last.safetensors"))
    return meta.get("figkd.stage") == "student" and meta.get("figkd.done") == "1"


def train(args, name, seed):
    out_dir = os.path.join(args.runs, f"{name}-seed{seed}")
    if finished(out_dir):
        print(f"= {out_dir}: finished, skipped", flush=True)
        return
    cmd = [args.figkd, "train", args.config, "--set", f"run.seed={seed}", "--set", f"run.out_dir={out_dir}",
           "--set", f"teacher.checkpoint={os.path.join(args.runs, 'teacher.safetensors')}"]
    for s in run_sets(name) + args.set:
        cmd += ["--set", s]
    if os.path.exists(os.path.join(out_dir, "last.safetensors")):
        cmd.append("--resume")
    elif os.path.isdir(out_dir):
        cmd.append("--force")  # a run that stopped before its first checkpoint
    print("$", " ".join(cmd), flush=True)
    t0 = time.time()
    r = subprocess.run(cmd)
    print(f"= {out_dir}: exit {r.returncode} after {(time.time() - t0) / 60:.1f} min", flush=True)


def read_run(args, name, seed):
    """(best, last, training seconds) of a finished run, None otherwise."""
    out_dir = os.path.join(args.runs, f"{name}-seed{seed}")
    if not finished(out_dir):
        return None
    accs, total = [], 0.0
    with open(os.path.join(out_dir, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r.get("stage", "student") != "student":
                continue
            total += r.get("seconds", 0.0)
            if "test_acc" in r:
                accs.append(r["test_acc"])
    return max(accs), accs[-1], total


def fmt(xs, want):
    """mean ± sample std in percent; the count of seeds when some are missing"""
    if not xs:
        return "not run"
    m = statistics.mean(xs) * 100
    if len(xs) == 1:
        return f"{m:.2f} (1 seed)"
    n = f" ({len(xs)} seeds)" if len(xs) < want else ""
    return f"{m:.2f} ± {statistics.stdev(xs) * 100:.2f}{n}"


def cells(args, name, seeds):
    runs = [read_run(args, name, s) for s in seeds]
    done = [(s, r) for s, r in zip(seeds, runs) if r]
    best = [r[0] for _, r in done]
    last = [r[1] for _, r in done]
    per = ", ".join(f"{r[0] * 100:.2f}" if r else "—" for r in runs)
    mins = f"{statistics.mean(r[2] for _, r in done) / 60:.1f}" if done else "—"
    missing = [str(s) for s, r in zip(seeds, runs) if not r]
    return fmt(best, len(seeds)), fmt(last, len(seeds)), per, mins, missing


def report(args, seeds, betas):
    device = subprocess.run([args.figkd, "devices"], capture_output=True, text=True).stdout
    chosen = [l for l in device.splitlines() if l.startswith("FIGKD_DEVICE")]
    missing_all = []
    kept = ""
    if os.path.exists(args.out):
        text = open(args.out).read()
        if KEEP_MARK in text:
            kept = text[text.index(KEEP_MARK):]
    with open(args.out, "w") as f:
        f.write("# Results: the quickstart experiment\n\n")
        f.write(f"Written by `python3 scripts/results.py` on {time.strftime('%Y-%m-%d')}: "
                f"`{args.config}` ({', '.join(args.set) or 'as committed'}) with seeds "
                f"{args.seeds}, one shared teacher (resnet14, trained once with cross-entropy), "
                f"resnet8 students. Test top-1 accuracy on the test images the config "
                f"evaluates (the quickstart: 2000 of Fashion-MNIST's test images, the first 200 "
                f"of each class), in percent, mean ± sample standard deviation over the seeds; "
                f"\"best\" is the best epoch's, \"last\" the last epoch's. Runs in `{args.runs}/`.\n\n")
        if chosen:
            f.write(f"Device: {chosen[0].split(' selects ', 1)[-1]}.\n\n")
        f.write("## Methods\n\n")
        f.write("| method | best test top-1 | last test top-1 | per seed (best) | training minutes per run |\n")
        f.write("|---|---|---|---|---|\n")
        for method in METHODS:
            b, l, per, mins, miss = cells(args, method, seeds)
            if miss:
                missing_all.append(f"{method} (seed {', '.join(miss)})")
            f.write(f"| {method} | {b} | {l} | {per} | {mins} |\n")
        f.write("\nThe training minutes are the student stage's, from each run's metrics.jsonl, on a "
                "shared machine whose load changed between runs: they do not compare the methods' cost "
                "(docs/speed.md does, side by side).\n\n")
        f.write("Every method runs with its `[distill]` defaults (docs/config.md), the setting of the "
                "source it follows on CIFAR, not tuned for this data set or pair; the teacher, the "
                "student, the data and the schedule are the config's, the same for all:\n\n")
        defaults = method_defaults()
        for method in METHODS:
            f.write(f"- `{method}`: {settings(args, method, defaults)}; {SOURCES[method]}.\n")
        f.write("\n")
        f.write("## Band ablation (the paper's Table VI)\n\n")
        f.write("FiGKD (alpha 1, beta 1, mse) with the detail loss on the bands named; \"none\" is "
                "plain cross-entropy (the ce runs above), \"LH+HL+HH\" the figkd runs above.\n\n")
        f.write("| bands | `--set` | best test top-1 | last test top-1 | per seed (best) |\n")
        f.write("|---|---|---|---|---|\n")
        for label, name, sets in BANDS:
            b, l, per, _, miss = cells(args, name, seeds)
            if name not in METHODS and miss:
                missing_all.append(f"bands {label} (seed {', '.join(miss)})")
            how = " ".join(f"`{s}`" for s in sets) or ("`distill.method=ce`" if name == "ce" else "(default)")
            f.write(f"| {label} | {how} | {b} | {l} | {per} |\n")
        f.write("\n## Beta sweep\n\n")
        f.write("FiGKD with `--set distill.beta=B` (alpha 1, bands LH+HL+HH); beta 1 is the figkd runs.\n\n")
        f.write("| beta | best test top-1 | last test top-1 | per seed (best) |\n")
        f.write("|---|---|---|---|\n")
        for beta in betas:
            b, l, per, _, miss = cells(args, beta_name(beta), seeds)
            if beta_name(beta) not in METHODS and miss:
                missing_all.append(f"beta {beta} (seed {', '.join(miss)})")
            f.write(f"| {beta} | {b} | {l} | {per} |\n")
        f.write("\n")
        if missing_all:
            f.write(f"**Missing runs** (not finished when this was written; \"—\" in the tables, the "
                    f"mean and spread are over the seeds that finished): {'; '.join(missing_all)}.\n\n")
        f.write(kept if kept else KEEP_MARK + "\n")
    print(open(args.out).read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--figkd", default="build/figkd-cl")
    ap.add_argument("--config", default="configs/quickstart.ini")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--betas", default="0.5,1,2,4", help="the beta sweep's values")
    ap.add_argument("--runs", default="runs/results")
    ap.add_argument("--out", default="docs/results.md")
    ap.add_argument("--set", action="append", default=[], help="section.key=value for every run")
    ap.add_argument("--report-only", action="store_true", help="run nothing: the tables from the runs there are")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    betas = args.betas.split(",")
    if not args.report_only:
        # most valuable first: the teacher (trained by the first figkd run),
        # figkd, ce, the ablation, kd, the sweep a seed at a time, dkd last
        order = ["figkd", "ce", "figkd-bands-LL", "figkd-bands-all", "kd"]
        queue = [(n, s) for n in order for s in seeds]
        queue += [(beta_name(b), s) for s in seeds for b in betas if beta_name(b) != "figkd"]
        queue += [("dkd", s) for s in seeds]
        queue += [(m, s) for s in seeds for m in BASELINES]
        for name, seed in queue:
            train(args, name, seed)
            report(args, seeds, betas)
    report(args, seeds, betas)


if __name__ == "__main__":
    sys.exit(main())
