"""Fault injection and a kill loop against `figkd-cl train` on a tiny
ImageFolder (16x16 PNGs, 4 classes, 64 training and 16 test images; batch
16, so 4 steps per epoch; resnet8 student, method ce, 3 epochs).

- failure points: a clean run under tests/fault_inject.c (LD_PRELOAD) logs
  every write, fsync, fdatasync, rename, open (for writing) and close on a
  file in its out_dir; a sample of those points (the first of each kind of
  call on each file, then evenly spaced ones) is failed in turn with ENOSPC
  or EIO, twice with a disk that stays full from that point on, and in a
  resumed run the points of the metrics rewrite. Each faulted run must:
  end by exit status, never by a signal; exit 0 only with every output
  (checkpoints' weights and position, metrics.jsonl, config.ini) equal to
  the clean run's, or else exit non-zero naming the file on stderr (for a
  temporary file, the name it stands for); leave no
  `*.tmp*` file; leave checkpoints that load and equal the clean run's at
  the same step, best.safetensors at the epoch last.safetensors calls best
  (or ahead of last);
  and a --resume after the first failed run of each kind of call on each
  file must end at the clean run's weights, best and metrics;
- kills at exact points of a save (the shim's FIGKD_FAULT_KILL): in the
  middle of a write, before a rename, between last and best; the
  checkpoints left load and a --resume ends at the clean run's weights;
- kill loop: 20 SIGKILLs of a 14-epoch run at seeded random moments (in the
  start-up, or a random fraction of a step after a random progress line, so
  that each run saves at most one more epoch and all 20 kill a live run),
  each followed by --resume; every checkpoint loads after each kill, and
  the run that finishes ends bit-identical (weights, BN statistics,
  momentum, metrics.jsonl) to an uninterrupted one.

Checks that fail on today's trainer are listed in KNOWN with the defect
behind each; they still fail the test (they are printed as known, never
skipped).

usage: /usr/bin/python3 test_faults.py FIGKD_CL LIBFAULT_INJECT.so WORK_DIR
"""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import e2e  # noqa: E402
import fkio  # noqa: E402

BIN, SHIM, WORK = (os.path.realpath(a) for a in sys.argv[1:4])
CLASSES, TRAIN_PER, TEST_PER, SIDE, BATCH = 4, 16, 4, 16, 16
SPE = CLASSES * TRAIN_PER // BATCH   # steps per epoch
EPOCHS = 3
CALLS = "write,fsync,fdatasync,rename,open,close"
SAMPLES = 25          # failure points of a fresh run to try (of ~470)
KILLS, KILL_EPOCHS, KILL_SEED = 20, 14, 19
META = ("figkd.stage", "figkd.model", "figkd.epoch", "figkd.batch", "figkd.step", "figkd.best_acc",
        "figkd.best_epoch", "figkd.acc", "figkd.done")

# Checks that fail today, with the defect behind them (tag -> description).
KNOWN = {
    "ignored-write": "src/cli/cmd_train.c: run_stage's fprintf/fflush on metrics.jsonl, fclose of "
                     "metrics.jsonl and cmd_train's fputs/fclose of config.ini are not checked: the run "
                     "exits 0 with a short or empty file",
    "stale-best": "src/cli/cmd_train.c run_stage: last.safetensors (holding best_acc and best_epoch of "
                  "the new best) is written before best.safetensors; when that write fails, "
                  "best.safetensors stays older than last says, and a --resume never writes it again",
    "trim-metrics": "src/cli/cmd_train.c trim_metrics: a failed fopen, fputs, fclose or rename of "
                    "metrics.jsonl.tmp is ignored: the resumed run exits 0 with the lines after its "
                    "checkpoint still in metrics.jsonl (epoch 3 twice) and metrics.jsonl.tmp left behind",
}
failures = []          # (tag or None, message)


def check(cond, msg, tag=None):
    if not cond:
        failures.append((tag, msg))
        print("FAIL%s: %s" % (" [known: %s]" % tag if tag else "", msg))
    return cond


CONFIG = e2e.ini(run={"seed": 7, "log_every": 1},
                 data=dict(e2e.DATA, augment="standard", shuffle="true", workers=1), student=e2e.STUDENT,
                 distill={"method": "ce"}, optim={"batch_size": BATCH, "epochs": EPOCHS, "milestones": 2})


def out_path(name):
    return os.path.join(WORK, name)


def resume_args(out):
    """--resume when out holds a checkpoint to resume, as a user would do;
    a run stopped before its first checkpoint starts again."""
    has = any(os.path.exists(os.path.join(out, f)) for f in ("last.safetensors", "teacher/last.safetensors"))
    return ["--resume"] if has else []


def train(name, steps=EPOCHS * SPE, resume=False, fault=None, epochs=None, log=None, kill=False, shim=True):
    """Run train into out_dir WORK/name, under the shim unless shim is
    False. fault: (n, errno name, sticky) or None; kill: SIGKILL at call n
    instead. Returns (CompletedProcess, seconds)."""
    out = out_path(name)
    args = ["--set", "run.out_dir=" + out, "--set", "optim.max_steps=%d" % steps]
    if epochs:
        args += ["--set", "optim.epochs=%d" % epochs]
    if resume:
        args += resume_args(out)
    env = dict(os.environ)
    if shim:
        env.update(LD_PRELOAD=(SHIM + " " + env.get("LD_PRELOAD", "")).strip(), FIGKD_FAULT_DIR=out,
                   FIGKD_FAULT_CALLS=CALLS)
    if fault:
        env.update(FIGKD_FAULT_AT=str(fault[0]), FIGKD_FAULT_ERRNO=fault[1], FIGKD_FAULT_STICKY="1" if fault[2] else "0",
                   FIGKD_FAULT_KILL="1" if kill else "0")
    if log:
        env.update(FIGKD_FAULT_LOG=log, FIGKD_FAULT_COUNT=log + ".count")
    r = e2e.train(BIN, WORK, *args, env=env)
    return r, r.seconds


def read_log(path, out):
    """[(n, call, role, path)]: role is the file relative to out with the pid
    of a temporary name dropped ("last.safetensors.tmp"), "." for out."""
    pts = []
    with open(path) as f:
        for line in f:
            n, call, p, _ = line.split()
            rel = os.path.relpath(p, out)
            pts.append((int(n), call, re.sub(r"\.tmp\.[0-9]+$", ".tmp", rel), p))
    return pts


def metrics_lines(name):
    p = os.path.join(out_path(name), "metrics.jsonl")
    if not os.path.exists(p):
        return None
    rows = []
    with open(p) as f:
        for line in f:
            try:
                row = json.loads(line)
                rows.append({k: v for k, v in row.items() if k not in ("img_per_s", "seconds")})
            except ValueError:
                rows.append({"unparsable line": line})
    return rows


def load(path):
    """(tensors, metadata) or the error text."""
    try:
        return fkio.read_safetensors(path)
    except Exception as e:  # noqa: BLE001 - any failure to parse is the finding
        return "%s: %s" % (type(e).__name__, e)


def same_ckpt(a, b):
    """'' when a and b hold the same tensors bit for bit and the same
    position, else what differs."""
    (ta, ma), (tb, mb) = a, b
    if sorted(ta) != sorted(tb):
        return "different tensor names"
    diff = [k for k in ta if ta[k].dtype != tb[k].dtype or ta[k].shape != tb[k].shape
            or ta[k].tobytes() != tb[k].tobytes()]
    if diff:
        return "%d of %d tensors differ (%s)" % (len(diff), len(ta), ", ".join(diff[:3]))
    md = [k for k in META if ma.get(k) != mb.get(k)]
    return "metadata %s differ" % md if md else ""


class Clean:
    """The undisturbed run's outputs: checkpoints at each epoch's end (from
    runs stopped there by max_steps, without the shim), metrics and
    config.ini; the whole run under the shim, logging its failure points
    (self.pts, self.seconds). The faulted runs' checkpoints equal to these
    also show that the shim changes nothing else."""

    def __init__(self):
        self.last = {}        # step -> (tensors, meta) of last.safetensors
        self.best = {}        # step -> best.safetensors at that step
        self.log = os.path.join(WORK, "ref%d.log" % EPOCHS)
        for e in range(1, EPOCHS + 1):
            name = "ref%d" % e
            r, self.seconds = train(name, steps=e * SPE, shim=e == EPOCHS, log=self.log if e == EPOCHS else None)
            check(r.returncode == 0, "reference run to step %d: exit %d\n%s" % (e * SPE, r.returncode, r.stderr))
            self.last[e * SPE] = load(os.path.join(out_path(name), "last.safetensors"))
            self.best[e * SPE] = load(os.path.join(out_path(name), "best.safetensors"))
        self.final = "ref%d" % EPOCHS
        self.metrics = metrics_lines(self.final)
        self.config = config_text(self.final)


def config_text(name):
    """config.ini with the run's own out_dir replaced by OUT, or None."""
    p = os.path.join(out_path(name), "config.ini")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return f.read().replace(out_path(name), "OUT")


def tmp_files(out):
    return sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs
                  if re.search(r"\.tmp(\.[0-9]+)?$", f))


def check_ckpts(name, clean, what):
    """Every checkpoint in out_dir loads and equals the clean run's at its
    step; best.safetensors is at the epoch last.safetensors calls best."""
    out = out_path(name)
    ok, ckpts = True, {}
    for f in ("last.safetensors", "best.safetensors"):
        p = os.path.join(out, f)
        if not os.path.exists(p):
            continue
        c = load(p)
        if not check(not isinstance(c, str), "%s: %s does not load: %s" % (what, f, c)):
            ok = False
            continue
        ckpts[f] = c
        step = int(c[1].get("figkd.step", "-1"))
        ref = clean.last.get(step)
        if check(ref is not None and not isinstance(ref, str), "%s: %s at step %d, not an epoch end" % (what, f, step)):
            d = same_ckpt(c, ref) if f == "last.safetensors" else same_ckpt(
                (c[0], {k: v for k, v in c[1].items() if k not in ("figkd.best_acc", "figkd.best_epoch")}),
                (ref[0], {k: v for k, v in ref[1].items() if k not in ("figkd.best_acc", "figkd.best_epoch")}))
            ok &= check(not d, "%s: %s (step %d) differs from the clean run's at that step: %s" % (what, f, step, d))
        else:
            ok = False
    if "last.safetensors" in ckpts:
        # best is where last says, or ahead of last (saved before a last that
        # failed: a --resume redoes that epoch and writes the same best)
        be = int(ckpts["last.safetensors"][1].get("figkd.best_epoch", "0"))
        le = int(ckpts["last.safetensors"][1].get("figkd.epoch", "0"))
        got = int(ckpts["best.safetensors"][1].get("figkd.epoch", "-1")) if "best.safetensors" in ckpts else None
        ok &= check(got == be or (be == 0 and got is None) or (got is not None and got > le),
                    "%s: last.safetensors (epoch %d) says the best epoch is %d, best.safetensors is %s"
                    % (what, le, be, "missing" if got is None else "of epoch %d" % got), "stale-best")
    return ok, ckpts


def check_outputs(name, clean, what, r, target, sticky=False, metrics_tag="ignored-write"):
    """The checks after a faulted run (r) whose failing call was on target."""
    out = out_path(name)
    ok = check(r.returncode >= 0, "%s: killed by signal %d\n%s" % (what, -r.returncode, r.stderr[-1500:]))
    left = tmp_files(out)
    tag = "trim-metrics" if any(f.startswith("metrics.jsonl.tmp") for f in left) else None
    ok &= check(not left, "%s: temporary files left: %s" % (what, ", ".join(left)), tag)
    good, ckpts = check_ckpts(name, clean, what)
    ok &= good
    lines = metrics_lines(name) or []
    if r.returncode == 0:
        cfg = config_text(name)
        same = ("last.safetensors" in ckpts and not same_ckpt(ckpts["last.safetensors"], clean.last[EPOCHS * SPE])
                and "best.safetensors" in ckpts
                and not same_ckpt(ckpts["best.safetensors"], clean.best[EPOCHS * SPE]))
        ok &= check(same, "%s: exit 0 but the checkpoints differ from the clean run's" % what)
        ok &= check(lines == clean.metrics, "%s: exit 0 but metrics.jsonl has %d lines (epochs %s), not the clean "
                    "run's %d" % (what, len(lines), [x.get("epoch") for x in lines], len(clean.metrics)), metrics_tag)
        ok &= check(cfg == clean.config, "%s: exit 0 but config.ini is %s" % (
            what, "missing" if cfg is None else "%d bytes, not the clean run's %d" % (len(cfg), len(clean.config))),
            "ignored-write")
    else:
        ok &= check(lines == clean.metrics[:len(lines)], "%s: metrics.jsonl is not a prefix of the clean run's:\n%s"
                    % (what, lines))
        base = os.path.basename(re.sub(r"\.tmp(\.[0-9]+)?$", "", target))
        named = (out if target == out or sticky else base) in r.stderr
        ok &= check(named and "error" in r.stderr, "%s: exit %d, stderr does not name %s:\n%s"
                    % (what, r.returncode, base, r.stderr.strip()))
    return ok, ckpts


def resume_finishes(name, clean, what):
    """A --resume without faults after a failed run ends at the clean run."""
    r, _ = train(name, resume=True)
    if not check(r.returncode == 0, "%s, then --resume: exit %d\n%s" % (what, r.returncode, r.stderr[-1500:])):
        return
    out = out_path(name)
    a = load(os.path.join(out, "last.safetensors"))
    b = load(os.path.join(out, "best.safetensors")) if os.path.exists(os.path.join(out, "best.safetensors")) else None
    d = same_ckpt(a, clean.last[EPOCHS * SPE]) if not isinstance(a, str) else a
    check(not d, "%s, then --resume: last.safetensors differs from the clean run's: %s" % (what, d))
    d = "missing" if b is None else b if isinstance(b, str) else same_ckpt(b, clean.best[EPOCHS * SPE])
    check(not d, "%s, then --resume: best.safetensors differs from the clean run's: %s" % (what, d), "stale-best")
    check(metrics_lines(name) == clean.metrics, "%s, then --resume: metrics.jsonl differs from the clean run's" % what)


def sample_points(pts, k):
    """The first point of each (call, file) kind, then evenly spaced ones up
    to k in all."""
    chosen, seen = [], set()
    for p in pts:
        if (p[1], p[2]) not in seen:
            seen.add((p[1], p[2]))
            chosen.append(p)
    rest = [p for p in pts if p not in chosen]
    extra = max(0, k - len(chosen))
    if rest and extra:
        chosen += [rest[int(i * (len(rest) - 1) / max(1, extra - 1))] for i in range(extra)]
    return sorted(set(chosen))


def fault_runs(clean):
    pts = read_log(clean.log, out_path(clean.final))
    with open(clean.log + ".count") as f:
        n = int(f.read())
    check(n == len(pts) and n > 0, "clean run: FIGKD_FAULT_COUNT %d, %d lines in the log" % (n, len(pts)))
    secs = clean.seconds
    kinds = {}
    for p in pts:
        kinds[(p[1], p[2])] = kinds.get((p[1], p[2]), 0) + 1
    print("clean run: %d failure points (%.1f s): %s" % (len(pts), secs, ", ".join(
        "%s %s x%d" % (c, f, m) for (c, f), m in kinds.items())))
    chosen = sample_points(pts, SAMPLES)
    print("trying %d of the %d failure points (the first of each kind of call on each file, then evenly spaced)"
          % (len(chosen), len(pts)))
    plan = [(p, "EIO" if i % 3 == 2 else "ENOSPC", False) for i, p in enumerate(chosen)]
    # a disk that stays full: from the first checkpoint's first write, and from the second epoch's metrics line
    first_write = next(p for p in pts if p[1] == "write" and p[2] == "last.safetensors.tmp")
    plan.append((first_write, "ENOSPC", True))
    plan.append(([p for p in pts if p[1] == "write" and p[2] == "metrics.jsonl"][1], "ENOSPC", True))
    resumed = set()   # a --resume after the first failed run of each kind of call on each file
    for i, (p, err, sticky) in enumerate(plan):
        name = "fault%02d" % i
        what = "fault at call %d (%s %s, %s%s)" % (p[0], p[1], p[2], err, ", and after" if sticky else "")
        r, secs = train(name, fault=(p[0], err, sticky))
        msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        print("%s: exit %d, %.1f s%s" % (what, r.returncode, secs, ": " + msg if msg else ""))
        target = p[3].replace(out_path(clean.final), out_path(name))
        target = re.sub(r"\.tmp\.[0-9]+$", ".tmp.0", target)
        check_outputs(name, clean, what, r, target, sticky)
        if r.returncode != 0 and (p[1], p[2]) not in resumed:
            resumed.add((p[1], p[2]))
            resume_finishes(name, clean, what)
    return pts


def kill_points(clean, pts):
    """SIGKILL at exact points of a checkpoint save (through the shim), then
    --resume: the checkpoints left load, and the run ends at the clean one."""
    def nth(call, role, k, where=0.0):
        ns = [p for p in pts if p[1] == call and p[2] == role]
        per = len(ns) // len([p for p in pts if p[1] == "open" and p[2] == role.replace(".tmp", "") + ".tmp"] or [1])
        return ns[min(len(ns) - 1, k * per + int(where * (per - 1)))]
    plan = [("in the middle of writing epoch 2's last.safetensors", nth("write", "last.safetensors.tmp", 1, 0.5)),
            ("before epoch 2's rename of last.safetensors", nth("rename", "last.safetensors", 1)),
            ("between epoch 1's last.safetensors and best.safetensors", nth("fsync", ".", 0)),
            ("before epoch 3's rename of best.safetensors", nth("rename", "best.safetensors", 1)),
            ("before epoch 2's metrics line", nth("write", "metrics.jsonl", 1))]
    for i, (where, p) in enumerate(plan):
        name = "kill%d" % i
        what = "SIGKILL at call %d (%s %s), %s" % (p[0], p[1], p[2], where)
        r, secs = train(name, fault=(p[0], "ENOSPC", False), kill=True)
        left = tmp_files(out_path(name))
        print("%s: exit %d, %.1f s%s" % (what, r.returncode, secs,
                                          "; left %s (a killed run cannot remove it)" % ", ".join(left) if left else ""))
        if check(r.returncode == -signal.SIGKILL, "%s: exit %d, not killed\n%s" % (what, r.returncode, r.stderr)):
            check_ckpts(name, clean, what)
            resume_finishes(name, clean, what)


def resume_fault_runs(clean):
    """Failure points of a resumed run that rewrites metrics.jsonl: from the
    epoch-2 checkpoint with epoch 3's line still in metrics.jsonl."""
    def setup(name):
        out = out_path(name)
        shutil.copytree(out_path("ref2"), out)
        shutil.copy(os.path.join(out_path(clean.final), "metrics.jsonl"), os.path.join(out, "metrics.jsonl"))
    setup("rcount")
    log = os.path.join(WORK, "rcount.log")
    r, _ = train("rcount", resume=True, log=log)
    check(r.returncode == 0, "counting resumed run: exit %d\n%s" % (r.returncode, r.stderr))
    pts = read_log(log, out_path("rcount"))
    trim = [p for p in pts if p[2] == "metrics.jsonl.tmp" or (p[1] == "rename" and p[2] == "metrics.jsonl")]
    print("resumed run: %d failure points, %d of them rewrite metrics.jsonl" % (len(pts), len(trim)))
    check(len(trim) >= 3, "resumed run: no rewrite of metrics.jsonl seen")
    for i, p in enumerate(trim):
        name = "rfault%d" % i
        setup(name)
        what = "resumed, fault at call %d (%s %s, ENOSPC)" % (p[0], p[1], p[2])
        r, secs = train(name, resume=True, fault=(p[0], "ENOSPC", False))
        msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        print("%s: exit %d, %.1f s%s" % (what, r.returncode, secs, ": " + msg if msg else ""))
        check_outputs(name, clean, what, r, p[3].replace(out_path("rcount"), out_path(name)),
                      metrics_tag="trim-metrics")


def kill_loop():
    """KILLS SIGKILLs at seeded random moments, each followed by --resume."""
    steps = KILL_EPOCHS * SPE
    args = [BIN, "train", "run.ini", "--set", "optim.epochs=%d" % KILL_EPOCHS, "--set", "optim.max_steps=%d" % steps]
    t0 = time.time()
    p = subprocess.Popen(args + ["--set", "run.out_dir=" + out_path("kill_ref")], cwd=WORK, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    t_first = None
    for line in p.stdout:
        if t_first is None and "step 1/" in line:
            t_first = time.time() - t0
    rc = p.wait()
    t_ref = time.time() - t0
    check(rc == 0 and t_first is not None, "kill loop: the uninterrupted run failed (exit %d)" % rc)
    t_first = t_first or t_ref / 2
    print("kill loop: uninterrupted run of %d steps %.1f s (first step after %.1f s)" % (steps, t_ref, t_first))
    t_step = (t_ref - t_first) / steps
    rng = random.Random(KILL_SEED)
    out = out_path("kill")
    killed, finished, stale_tmp, steps_seen, moments = 0, 0, set(), [], []
    for i in range(KILLS):
        # a fifth of the kills at a random moment of the start-up (loading
        # the checkpoint), the others a random fraction of a step after the
        # j-th progress line, j <= steps per epoch + 1: at most one epoch
        # saved per run, so that the kills fall all along the run
        j = 0 if rng.random() < 0.2 else rng.randint(1, SPE + 1)
        delay = rng.uniform(0, t_first) if j == 0 else rng.uniform(0, t_step)
        moments.append("%d+%.2fs" % (j, delay))
        p = subprocess.Popen(args + ["--set", "run.out_dir=" + out] + resume_args(out), cwd=WORK, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        seen = 0
        if j:
            for line in p.stdout:
                seen += "] epoch " in line and " step " in line
                if seen == j:
                    break
        if seen == j:
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                pass
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        _, err = p.communicate()
        if p.returncode != -signal.SIGKILL:
            finished += 1
            check(p.returncode == 0, "kill loop %d: exit %d before the kill\n%s" % (i, p.returncode, err))
        for f in ("last.safetensors", "best.safetensors"):
            path = os.path.join(out, f)
            if os.path.exists(path):
                c = load(path)
                if check(not isinstance(c, str), "kill loop %d: %s does not load: %s" % (i, f, c)) \
                        and f == "last.safetensors":
                    steps_seen.append(int(c[1].get("figkd.step", "0")))
        stale_tmp.update(tmp_files(out))
    r = subprocess.run(args + ["--set", "run.out_dir=" + out] + resume_args(out), cwd=WORK, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0, "kill loop: the final --resume failed (exit %d)\n%s" % (r.returncode, r.stderr))
    print("kill loop: %d killed (after progress line + delay: %s), %d ended before the kill; last.safetensors at "
          "steps %s; %d temporary files left by the kills (%s)" % (killed, " ".join(moments), finished, steps_seen,
                                                                  len(stale_tmp), ", ".join(sorted(stale_tmp)[:4])))
    check(killed == KILLS, "kill loop: only %d of %d runs were killed" % (killed, KILLS))
    for f in ("last.safetensors", "best.safetensors"):
        a, b = load(os.path.join(out_path("kill_ref"), f)), load(os.path.join(out, f))
        d = a if isinstance(a, str) else b if isinstance(b, str) else same_ckpt(a, b)
        check(not d, "kill loop: %s differs from the uninterrupted run's: %s" % (f, d),
              "stale-best" if f == "best.safetensors" else None)
        if not d:
            print("kill loop: %s bit-identical to the uninterrupted run's (%d tensors, step %s)"
                  % (f, len(a[0]), a[1].get("figkd.step")))
    check(metrics_lines("kill") == metrics_lines("kill_ref"), "kill loop: metrics.jsonl differs from the "
          "uninterrupted run's")


def main():
    e2e.need_device(BIN)
    t0 = time.time()
    e2e.fresh_dir(WORK)
    e2e.make_imagefolder(WORK, CLASSES, TRAIN_PER, TEST_PER, SIDE, step=60.0)
    e2e.write_config(WORK, CONFIG)
    clean = Clean()
    pts = fault_runs(clean)
    kill_points(clean, pts)
    resume_fault_runs(clean)
    t1 = time.time()
    kill_loop()
    t2 = time.time()
    print("%.1f s (faults %.1f s, kill loop %.1f s), load average %s" % (
        t2 - t0, t1 - t0, t2 - t1, " ".join("%.2f" % x for x in os.getloadavg())))
    if failures:
        known = {t for t, _ in failures if t}
        for t in sorted(known):
            print("known defect hit (%d checks): %s: %s" % (sum(1 for u, _ in failures if u == t), t, KNOWN[t]))
        print("%d checks failed (%d known, %d new)" % (len(failures), sum(1 for t, _ in failures if t),
                                                       sum(1 for t, _ in failures if not t)))
        sys.exit(1)
    print("faults: all checks passed")


if __name__ == "__main__":
    main()
