#!/usr/bin/env python3
"""Run the quickstart-scale experiment for ce, kd, dkd and figkd with three
seeds on Fashion-MNIST and write docs/results.md (mean and spread of the
best and last test accuracy). One teacher (the quickstart's, trained on the
first run when missing) serves every student.

usage: python3 scripts/results.py [--figkd build/figkd-cl] [--config configs/quickstart.ini]
                                  [--seeds 0,1,2] [--out docs/results.md] [--set section.key=value ...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

METHODS = ["ce", "kd", "dkd", "figkd"]


def run(args, method, seed):
    out_dir = os.path.join(args.runs, f"{method}-seed{seed}")
    if args.report_only:
        return read_run(out_dir, None)
    cmd = [args.figkd, "train", args.config, "--set", f"distill.method={method}",
           "--set", f"run.seed={seed}", "--set", f"run.out_dir={out_dir}"]
    for s in args.set:
        cmd += ["--set", s]
    print("$", " ".join(cmd), flush=True)
    t0 = time.time()
    subprocess.run(cmd, check=True)
    return read_run(out_dir, time.time() - t0)


def read_run(out_dir, secs):
    accs, total = [], 0.0
    with open(os.path.join(out_dir, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            total += r.get("seconds", 0.0)
            if "test_acc" in r:
                accs.append(r["test_acc"])
    # training seconds from metrics.jsonl when the run was not timed here
    return max(accs), accs[-1], secs if secs is not None else total


def fmt(xs):
    m = statistics.mean(xs) * 100
    s = statistics.stdev(xs) * 100 if len(xs) > 1 else 0.0
    return f"{m:.2f} ± {s:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--figkd", default="build/figkd-cl")
    ap.add_argument("--config", default="configs/quickstart.ini")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--runs", default="runs/results")
    ap.add_argument("--out", default="docs/results.md")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--report-only", action="store_true", help="rewrite the table from existing runs")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = {}
    for method in METHODS:
        rows[method] = [run(args, method, s) for s in seeds]
    device = subprocess.run([args.figkd, "devices"], capture_output=True, text=True).stdout
    chosen = [l for l in device.splitlines() if l.startswith("FIGKD_DEVICE")]
    with open(args.out, "w") as f:
        f.write("# Results: the quickstart experiment\n\n")
        f.write(f"Written by `python3 scripts/results.py` on {time.strftime('%Y-%m-%d')}: "
                f"`{args.config}` ({', '.join(args.set) or 'as committed'}) for each method with seeds "
                f"{args.seeds}, one shared teacher. Test top-1 accuracy on the test images the config "
                f"evaluates (the quickstart: 2000 of Fashion-MNIST's test images, the first 200 "
                f"of each class), in percent, mean ± sample standard deviation over the seeds.\n\n")
        if chosen:
            f.write(f"Device: {chosen[0].split(' selects ', 1)[-1]}.\n\n")
        col = "training minutes per run (metrics.jsonl)" if args.report_only else "minutes per run"
        f.write(f"| method | best test top-1 | last test top-1 | per seed (best) | {col} |\n")
        f.write("|---|---|---|---|---|\n")
        for method in METHODS:
            r = rows[method]
            per = ", ".join(f"{b * 100:.2f}" for b, _, _ in r)
            mins = statistics.mean(s for _, _, s in r) / 60
            f.write(f"| {method} | {fmt([b for b, _, _ in r])} | {fmt([l for _, l, _ in r])} | {per} | {mins:.1f} |\n")
    print(open(args.out).read())


if __name__ == "__main__":
    sys.exit(main())
