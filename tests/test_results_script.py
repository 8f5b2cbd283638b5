"""scripts/results.py with a stand-in for figkd-cl (no training): which
runs it starts, in which order, and the tables it writes.

- a run shared by two tables is trained once: the ablation's "none" is the
  ce runs, its "LH+HL+HH" and the sweep's beta 1 the figkd runs;
- a finished run (last.safetensors of the student stage with figkd.done 1)
  is skipped, an interrupted one gets --resume, an out_dir without a
  checkpoint --force;
- the order: figkd first, then dkd, then the baselines dist, at, pkt, rkd
  and mlkd a seed at a time, the sweep a seed at a time;
- the tables: mean ± sample standard deviation over the seeds, the shared
  rows equal, a missing run named; each method's settings are its
  defaults from docs/config.md, then the config's [distill] values;
  --report-only starts nothing; the hand-written part after the marker
  line is kept.

usage: test_results_script.py WORKDIR
"""
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from e2e import check, finish  # noqa: E402

SCRIPT = os.path.join(HERE, "..", "scripts", "results.py")
WORK = os.path.abspath(sys.argv[1])

# The stand-in: logs its arguments, and for train writes a finished run
# whose accuracy follows from the --set values (so the tables can be checked).
FAKE = r'''#!/usr/bin/env python3
import json, os, struct, sys
log = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calls.jsonl")
with open(log, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")
if sys.argv[1] != "train":
    sys.exit(0)
sets = dict(a.split("=", 1) for a in sys.argv[2:] if "=" in a and not a.startswith("-"))
out = sets["run.out_dir"]
acc = 0.5 + 0.01 * int(sets["run.seed"]) + 0.1 * float(sets.get("distill.beta", "1")) \
    + {"ce": 0.0, "kd": 0.02, "dkd": 0.03, "figkd": 0.05, "dist": 0.04, "mlkd": 0.06, "at": 0.07,
       "pkt": 0.08, "rkd": 0.09, "fitnet": 0.10}[sets["distill.method"]] \
    + {"LL": 0.001, "LL,LH,HL,HH": 0.002}.get(sets.get("distill.bands", ""), 0.0)
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "metrics.jsonl"), "w") as f:
    f.write(json.dumps({"stage": "student", "epoch": 1, "test_acc": acc - 0.1, "seconds": 30}) + "\n")
    f.write(json.dumps({"stage": "student", "epoch": 2, "test_acc": acc, "seconds": 30}) + "\n")
h = json.dumps({"__metadata__": {"figkd.stage": "student", "figkd.done": "1"}}).encode()
with open(os.path.join(out, "last.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
'''


def checkpoint(out_dir, done):
    os.makedirs(out_dir, exist_ok=True)
    h = json.dumps({"__metadata__": {"figkd.stage": "student", "figkd.done": "1" if done else "0"}}).encode()
    with open(os.path.join(out_dir, "last.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)


def results(args):
    r = subprocess.run([sys.executable, SCRIPT, "--figkd", "./fake", "--seeds", "0,1", "--betas", "1,2",
                        "--runs", "runs", "--out", "results.md"] + args, cwd=WORK, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0, "results.py %s: exit %d\n%s" % (" ".join(args), r.returncode, r.stderr[-1500:]))
    return r


def calls():
    path = os.path.join(WORK, "calls.jsonl")
    if not os.path.exists(path):
        return []
    out = [json.loads(l) for l in open(path)]
    os.remove(path)
    return [c for c in out if c[0] == "train"]


def row(text, first):
    for line in text.splitlines():
        if line.startswith("| %s |" % first):
            return [c.strip() for c in line.strip("|").split("|")]
    check(False, "no row '%s' in\n%s" % (first, text))
    return [""] * 6


def main():
    if os.path.exists(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    fake = os.path.join(WORK, "fake")
    with open(fake, "w") as f:
        f.write(FAKE)
    os.chmod(fake, 0o755)
    # figkd seed 0 finished (the fake's numbers), ce seed 1 interrupted, kd seed 0 never checkpointed
    subprocess.run([fake, "train", "--set", "run.seed=0", "--set", "run.out_dir=runs/figkd-seed0", "--set",
                    "distill.method=figkd"], cwd=WORK, check=True)
    calls()
    checkpoint(os.path.join(WORK, "runs", "ce-seed1"), False)
    os.makedirs(os.path.join(WORK, "runs", "kd-seed0"))
    with open(os.path.join(WORK, "results.md"), "w") as f:
        f.write("old tables\n<!-- everything below is hand-written; scripts/results.py keeps it -->\nNOTES 42\n")

    results([])
    done = calls()
    dirs = [next(a.split("=", 1)[1] for a in c if a.startswith("run.out_dir=")) for c in done]
    baselines = ("dist", "at", "pkt", "rkd", "mlkd", "fitnet")
    want = {"runs/%s-seed%d" % (n, s) for n in ("ce", "kd", "dkd", "figkd", "figkd-bands-LL", "figkd-bands-all",
                                                 "figkd-beta2") + baselines for s in (0, 1)} - {"runs/figkd-seed0"}
    check(len(dirs) == len(set(dirs)) and set(dirs) == want,
          "trained %s, expected each of %s once" % (sorted(dirs), sorted(want)))
    check(dirs[:1] == ["runs/figkd-seed1"] and dirs[-14:-12] == ["runs/dkd-seed0", "runs/dkd-seed1"]
          and dirs[-12:] == ["runs/%s-seed%d" % (n, s) for s in (0, 1) for n in baselines], "order: %s" % dirs)
    for c, d in zip(done, dirs):
        flag = [a for a in c if a in ("--resume", "--force")]
        expect = {"runs/ce-seed1": ["--resume"], "runs/kd-seed0": ["--force"]}.get(d, [])
        check(flag == expect, "%s: %s, expected %s" % (d, flag, expect))
        if "beta2" in d:
            check("distill.beta=2" in c and "distill.method=figkd" in c, "%s: %s" % (d, c))
        if d.startswith("runs/fitnet-"):
            check("distill.method=fitnet" in c, "%s: %s" % (d, c))
        if d.startswith("runs/at-"):
            check("distill.method=at" in c, "%s: %s" % (d, c))
        if "bands-all" in d:
            check("distill.bands=LL,LH,HL,HH" in c, "%s: %s" % (d, c))

    text = open(os.path.join(WORK, "results.md")).read()
    figkd = row(text, "figkd")
    want = "%.2f ± %.2f" % (statistics.mean([65.0, 66.0]), statistics.stdev([65.0, 66.0]))
    check(figkd[1] == want and figkd[3] == "65.00, 66.00", "figkd row %s, expected %s" % (figkd, want))
    check(row(text, "LH+HL+HH (default)")[2:] == figkd[1:4], "ablation's default bands differ from figkd")
    check(row(text, "none (CE only)")[2:] == row(text, "ce")[1:4], "ablation's none differs from ce")
    check(row(text, "1")[1:] == figkd[1:4], "sweep's beta 1 differs from figkd")
    check(row(text, "2")[1] == "75.50 ± 0.71", "beta 2: %s" % row(text, "2"))
    check(row(text, "LL only")[2] == "65.60 ± 0.71", "LL only: %s" % row(text, "LL only"))
    check(row(text, "at")[1:4] == ["67.50 ± 0.71", "67.50 ± 0.71", "67.00, 68.00"], "at: %s" % row(text, "at"))
    check(row(text, "mlkd")[3] == "66.00, 67.00" and row(text, "rkd")[3] == "69.00, 70.00", "mlkd, rkd rows")
    rows = [line.split("|")[1].strip() for line in text.split("## Band")[0].splitlines() if line.startswith("| ")]
    check(rows[1:] == ["ce", "kd", "dkd", "dist", "mlkd", "fitnet", "at", "pkt", "rkd", "figkd"], "method rows %s" % rows)
    for line in ("- `at`: alpha 1, beta 1000, p 2;", "- `rkd`: alpha 1, distance 25, angle 50;",
                 "- `dkd`: alpha 1, beta 8, ce_weight 1, temperature 4, warmup_epochs 20;",
                 "- `mlkd`: alpha 0.1, beta 0.9, temperature 4, standardize off;",
                 "- `fitnet`: alpha 1, beta 100, hint_layer 2;"):
        check(line in text, "no settings line %s in\n%s" % (line, text))
    check("Missing" not in text and "NOTES 42" in text and "old tables" not in text, "report:\n" + text)

    # nothing left to do: a second start trains nothing
    results([])
    check(calls() == [], "a second start trained again")
    # a run gone: --report-only starts nothing and names it; a config's
    # [distill] values replace the defaults of the methods that have the key
    shutil.rmtree(os.path.join(WORK, "runs", "figkd-bands-LL-seed1"))
    with open(os.path.join(WORK, "q.ini"), "w") as f:
        f.write("[run]\nseed = 0\n\n[distill]\n# a comment\nmethod = figkd\nbeta = 3  # inline\n")
    results(["--report-only", "--config", "q.ini"])
    check(calls() == [], "--report-only trained")
    text = open(os.path.join(WORK, "results.md")).read()
    check("bands LL only (seed 1)" in text and row(text, "LL only")[2] == "65.10 (1 seed)",
          "missing run not reported:\n" + text)
    check("- `figkd`: alpha 1, beta 3, bands LH,HL,HH," in text and "- `ce`: alpha 1;" in text
          and "- `at`: alpha 1, beta 3, p 2;" in text, "config's [distill] values not shown:\n" + text)
    finish("results_script")


if __name__ == "__main__":
    main()
