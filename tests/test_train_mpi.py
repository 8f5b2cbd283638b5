"""Data-parallel `figkd-cl train` under mpirun with 2 processes (PoCL: both
share the CPU), on an ImageFolder of 16x16 PNGs (10 classes, 160 training
and 40 test images), FiGKD from a resnet8 teacher to a resnet8x4 student
started from a PyTorch-written init (p0), augment standard, shuffle on:

- two steps at global batch 16 with sync_bn = true (8 images per process)
  equal the single-process run at batch 16: the weights, the momentum and
  the BN statistics, within train_step's tolerances (tests/test_train_step.c:
  an update p - p0 within 2e-3 of its tensor's largest plus 1e-2 of itself,
  statistics within 1e-4 of the largest plus 1e-4 of themselves; at most
  0.1% of a tensor's elements past them); the progress is printed once;
- the same for mlkd (two views a step: two backwards, batch norm synced
  on both; its class- and batch-level terms run on the 16 gathered
  logits), same tolerances;
- a 2-process checkpoint at step 1 resumes in 1 process to step 3 (across
  the end of epoch 1 of a 40-image subset: evaluation and a metrics line)
  and a 1-process one in 2 processes, both ending at the straight
  1-process run's weights (same tolerances), position and test accuracy.
  Few steps: a difference of 3e-6 in the weights at step 3 grows to 1e-3
  by step 6 in a single process too (this small run is that chaotic);
- a ReLU input within rounding of zero: summing over 2 x 8 instead of 16
  rounds differently, and where an activation sits at 1e-7 of zero the
  two runs may gate its gradient differently. Measured: multiplying the
  step-1 weights by 1 + 1e-7 * N(0, 1) in ONE process changed the step-2
  update of layer3.0.conv2 by 2.7% of its largest element in 3 of 4
  draws, all of it in output channel 13 (one element of the last ReLU
  before the pooling). Such a flip moves a tensor by 0.2-2% of its update
  (norm); a real fault moves it by far more (2 x 8 without sync_bn: 0.5,
  the median tensor). So a tensor past the element tolerances still
  passes when its difference norm is under KINK (5e-2 of its update) —
  reported as such — and the control run without sync_bn must fail;
- the teacher stage (CE, when the teacher's checkpoint is missing) in 2
  processes equals the 1-process one (same tolerances);
- bench in 2 processes runs the data-parallel step (global batch 16, 8
  each) and prints once; a batch that does not split is refused; eval in
  2 processes prints once the accuracy 1 process gives (the test split
  sharded, the counts summed; each rank on its own FIGKD_DEVICE entry); predict in 2 processes runs on rank 0
  alone (rank 1 has no device and is not asked for one) and writes what 1
  process writes;
- fitnet (a method with parameters of its own) is refused, naming them;
- killing one process (SIGKILL) ends the job within seconds; a process
  that fails (its FIGKD_DEVICE list entry matches nothing) ends the job with
  its error printed.

usage: /usr/bin/python3 test_train_mpi.py FIGKD_CL MPIRUN WORK_DIR
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
sys.path.insert(0, HERE)
import fkio  # noqa: E402
from e2e import check, finish, make_imagefolder, need_device  # noqa: E402

BIN, MPIRUN, WORK = os.path.abspath(sys.argv[1]), sys.argv[2], os.path.abspath(sys.argv[3])
CLASSES, TRAIN_PER, TEST_PER, SIDE = 10, 16, 4, 16
MPI = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "2"]

CONFIG = """[run]
seed = 7
log_every = 1
[data]
dataset = imagefolder
root = data
input_size = 16
augment = standard
shuffle = true
workers = 1
[teacher]
model = resnet8
checkpoint = teacher.safetensors
[student]
model = resnet8x4
init = student0.safetensors
[distill]
method = figkd
[optim]
batch_size = 16
epochs = 3
milestones = 2
sync_bn = true
"""


def setup():
    import torch
    import torch_models
    if os.path.exists(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    make_imagefolder(WORK, CLASSES, TRAIN_PER, TEST_PER, SIDE)
    torch.manual_seed(0)
    t = torch_models.build("resnet8", CLASSES)
    fkio.save_torch(os.path.join(WORK, "teacher.safetensors"), t.state_dict(), metadata={"model": "resnet8"})
    s = torch_models.build("resnet8x4", CLASSES)
    fkio.save_torch(os.path.join(WORK, "student0.safetensors"), s.state_dict(), metadata={"model": "resnet8x4"})
    with open(os.path.join(WORK, "run.ini"), "w") as f:
        f.write(CONFIG)


def train(out, steps, ranks, *extra, env=None, timeout=300):
    args = [BIN, "train", "run.ini", "--set", "run.out_dir=" + out, "--set", "optim.max_steps=%d" % steps]
    args = (MPI if ranks == 2 else []) + args + list(extra)
    e = dict(os.environ, **(env or {}))
    t0 = time.time()
    r = subprocess.run(args, cwd=WORK, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                       timeout=timeout)
    print("%s: %d process(es), %d steps%s: %.1f s" % (out, ranks, steps, " " + " ".join(extra) if extra else "",
                                                      time.time() - t0))
    check(r.returncode == 0, "%s: exit %d\n%s%s" % (out, r.returncode, r.stdout[-2000:], r.stderr[-3000:]))
    return r


def within(got, ref, base, scale, rtol, vrel=0.0):
    """Elements out of |got - ref| <= scale * max|base| + rtol * |base| + vrel * |ref|."""
    got, ref, base = (np.asarray(a, np.float64).ravel() for a in (got, ref, base))
    lim = scale * (np.abs(base).max() if base.size else 0) + rtol * np.abs(base) + vrel * np.abs(ref)
    bad = np.abs(got - ref) > lim
    bad |= ~np.isfinite(got)
    norm = np.linalg.norm(got - ref) / max(np.linalg.norm(base), 1e-30)
    return int(bad.sum()), norm


KINK = 5e-2


def same_run(a, b, what, file="last.safetensors", init="student0.safetensors", expect_fail=False):
    """b's weights, momentum and statistics against a's, the update from p0
    (expect_fail: only say whether some tensor is out, checking nothing)."""
    ta, ma = fkio.read_safetensors(os.path.join(WORK, a, file))
    tb, mb = fkio.read_safetensors(os.path.join(WORK, b, file))
    p0, _ = fkio.read_safetensors(os.path.join(WORK, init))
    if not check(sorted(ta) == sorted(tb), "%s: different tensor names" % what):
        return
    bad, kinked = [], []
    for k in ta:
        if k.endswith("num_batches_tracked"):
            if not np.array_equal(ta[k], tb[k]):
                bad.append(k)
            continue
        if k.endswith("running_mean") or k.endswith("running_var"):
            n, norm = within(tb[k], ta[k], ta[k], 1e-4, 1e-4)
        elif k.startswith("optimizer."):
            n, norm = within(tb[k], ta[k], ta[k], 2e-3, 1e-2)
        else:
            u = ta[k].astype(np.float64) - p0[k]
            n, norm = within(tb[k], ta[k], u, 2e-3, 1e-2, 2.0 ** -22)
        if n and (n > 1e-3 * ta[k].size or norm > 1e-2):
            (kinked if norm <= KINK else bad).append("%s (%d of %d out, norm %.2g)" % (k, n, ta[k].size, norm))
    if expect_fail:
        return bool(bad)
    if not check(not bad, "%s: %d of %d tensors out of tolerance: %s" % (what, len(bad), len(ta),
                                                                          "; ".join(bad[:5]))):
        return
    if kinked:
        print("%s: %d tensors past the element tolerances but within norm %g of their update (a ReLU input at "
              "zero): %s" % (what, len(kinked), KINK, "; ".join(kinked[:3])))
    for k in ("figkd.step", "figkd.epoch", "figkd.batch", "figkd.best_epoch"):
        check(ma.get(k) == mb.get(k), "%s: metadata %s %s vs %s" % (what, k, ma.get(k), mb.get(k)))
    print("%s: %d tensors within tolerance (%d by norm only), step %s" % (what, len(ta), len(kinked),
                                                                         mb.get("figkd.step")))


def epoch_lines(out):
    with open(os.path.join(WORK, out, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_two_steps():
    one = train("one", 2, 1)
    two = train("two", 2, 2, env={"FIGKD_DEVICE": "cpu,cpu"})
    if one.returncode or two.returncode:
        return
    same_run("one", "two", "2 processes x 8 vs 1 x 16")
    # the control: batch norm per process is a different computation, and
    # the comparison must see it
    control = train("nosync", 2, 2, "--set", "optim.sync_bn=false", env={"FIGKD_DEVICE": "cpu,cpu"})
    if not control.returncode:
        check(same_run("one", "nosync", "", expect_fail=True),
              "2 processes x 8 without sync_bn passed the comparison with 1 x 16: it cannot tell")
    check(two.stdout.count("step 2/10") == 1, "the progress line of step 2 printed %d times (rank 0 alone)"
          % two.stdout.count("step 2/10"))
    check("data parallel: 2 processes, batch 8 each (global 16)" in two.stdout, "no data-parallel line:\n"
          + two.stdout[:1000])


def test_two_views():
    mlkd = ("--set", "distill.method=mlkd")
    one = train("one_mlkd", 2, 1, *mlkd)
    two = train("two_mlkd", 2, 2, *mlkd, env={"FIGKD_DEVICE": "cpu,cpu"})
    if one.returncode or two.returncode:
        return
    same_run("one_mlkd", "two_mlkd", "mlkd: 2 processes x 8 vs 1 x 16")


def test_resume():
    sub = ("--set", "data.subset=40")  # 2 steps per epoch
    straight = train("straight", 3, 1, *sub)
    a1 = train("r21", 1, 2, *sub)
    a2 = train("r21", 3, 1, *sub, "--resume")
    b1 = train("r12", 1, 1, *sub)
    b2 = train("r12", 3, 2, *sub, "--resume")
    if any(r.returncode for r in (straight, a1, a2, b1, b2)):
        return
    for out, r in (("r21", a2), ("r12", b2)):
        check("resuming from" in r.stdout and "at epoch 1, batch 1" in r.stdout, "%s: no resume message:\n%s"
              % (out, r.stdout[:1500]))
    same_run("straight", "r21", "2 processes to step 1, 1 to 3 vs 1 straight")
    same_run("straight", "r12", "1 process to step 1, 2 to 3 vs 1 straight")
    ref = epoch_lines("straight")
    for out in ("r21", "r12"):
        got = epoch_lines(out)
        if not check(len(got) == 1 and len(ref) == 1, "%s: %d metrics lines, straight %d" % (out, len(got), len(ref))):
            continue
        for k in ("epoch", "step", "top1", "top5"):
            check(got[0].get(k) == ref[0].get(k), "%s: metrics %s %s vs %s" % (out, k, got[0].get(k), ref[0].get(k)))
        check(abs(got[0]["test_loss"] - ref[0]["test_loss"]) <= 1e-3 * abs(ref[0]["test_loss"]),
              "%s: test_loss %s vs %s" % (out, got[0]["test_loss"], ref[0]["test_loss"]))


def test_teacher_stage():
    """The teacher trained first (CE, 2 steps at 16 on the subset) in 2
    processes equals the 1-process teacher; its init p0 comes from a run
    with lr 1e-30 (a positive lr that leaves every weight as it is)."""
    def teacher(out, ranks, *extra):
        return train(out, 1, ranks, "--set", "teacher.checkpoint=%s/teacher.safetensors" % out, "--set",
                     "teacher_optim.epochs=1", "--set", "teacher_optim.max_steps=2", "--set", "data.subset=40",
                     *extra)
    runs = [teacher("t0", 1, "--set", "teacher_optim.lr=1e-30"), teacher("t1", 1), teacher("t2", 2)]
    if any(r.returncode for r in runs):
        return
    check(runs[2].stdout.count("[teacher] saved") == 1, "teacher saved %d times" % runs[2].stdout.count("[teacher] saved"))
    same_run("t1", "t2", "teacher stage: 2 processes x 8 vs 1 x 16", "teacher.safetensors", "t0/teacher.safetensors")


def run(args, ranks, env=None, timeout=300):
    r = subprocess.run((MPI if ranks == 2 else []) + [BIN] + args, cwd=WORK, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=dict(os.environ, **(env or {})), timeout=timeout)
    return r


def test_other_commands():
    b = run(["bench", "run.ini", "--steps", "1", "--batch", "16", "--classes", "10"], 2)
    if check(b.returncode == 0, "bench in 2 processes: exit %d\n%s" % (b.returncode, b.stderr[-2000:])):
        check(b.stdout.count("data parallel: 2 processes, batch 8 each (global 16)") == 1
              and b.stdout.count("img/s") == 1 and "gradient sync" in b.stdout,
              "bench in 2 processes printed:\n" + b.stdout)
    odd = run(["bench", "run.ini", "--steps", "1", "--batch", "15", "--classes", "10"], 2)
    check(odd.returncode != 0 and "does not split evenly over 2 processes" in odd.stderr,
          "bench with batch 15 in 2 processes: exit %d\n%s" % (odd.returncode, odd.stderr[-1000:]))

    weights = os.path.join("one", "last.safetensors")
    e1, e2 = (run(["eval", "run.ini", "--weights", weights], n) for n in (1, 2))
    if check(e1.returncode == 0 and e2.returncode == 0, "eval: exit %d and %d\n%s" % (
            e1.returncode, e2.returncode, e2.stderr[-2000:])):
        lines = [ln for ln in e2.stdout.splitlines() if "top-1" in ln]
        check(len(lines) == 1, "eval in 2 processes printed %d result lines" % len(lines))
        got = lines[0].split("loss")[0] if lines else ""
        check(got == e1.stdout.split("loss")[0], "eval: 2 processes %r, 1 process %r" % (got, e1.stdout))
    # each rank opens the device of its local rank (its FIGKD_DEVICE entry)
    e3 = run(["eval", "run.ini", "--weights", weights], 2, env={"FIGKD_DEVICE": "cpu,no-such-device"})
    check(e3.returncode != 0 and "FIGKD_DEVICE=no-such-device matches no OpenCL device" in e3.stderr,
          "eval with no device for rank 1: exit %d\n%s" % (e3.returncode, e3.stderr[-1000:]))

    p1 = run(["predict", "run.ini", "--weights", weights, "--out", "p1.npy"], 1)
    p2 = run(["predict", "run.ini", "--weights", weights, "--out", "p2.npy"], 2,
             env={"FIGKD_DEVICE": "cpu,no-such-device"})
    if check(p1.returncode == 0 and p2.returncode == 0, "predict: exit %d and %d\n%s" % (
            p1.returncode, p2.returncode, p2.stderr[-2000:])):
        check(p2.stdout.count("wrote") == 1, "predict in 2 processes printed:\n" + p2.stdout)
        a, b2 = (np.load(os.path.join(WORK, f)) for f in ("p1.npy", "p2.npy"))
        check(a.shape == b2.shape and np.array_equal(a, b2), "predict: 2 processes wrote other logits")


def rank_pids(mpirun_pid):
    """{rank: pid} of mpirun's figkd-cl children (from their environment)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != mpirun_pid:
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            if b"OMPI_COMM_WORLD_RANK" in env:
                out[int(env[b"OMPI_COMM_WORLD_RANK"])] = int(pid)
        except (OSError, ValueError, IndexError):
            continue
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill():
    args = MPI + [BIN, "train", "run.ini", "--set", "run.out_dir=killed", "--set", "optim.max_steps=500"]
    p = subprocess.Popen(args, cwd=WORK, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = ""
    for line in p.stdout:
        seen += line
        if "step 1/10" in line:
            break
    pids = rank_pids(p.pid)
    if not check(1 in pids, "rank 1 not found among mpirun's children (%s):\n%s" % (pids, seen[-1500:])):
        p.kill()
        p.wait()
        return
    t0 = time.time()
    os.kill(pids[1], signal.SIGKILL)
    try:
        rest, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rest, _ = p.communicate()
        check(False, "the job went on 30 s after rank 1 was killed")
        return
    dt = time.time() - t0
    print("killed rank 1: the job ended after %.1f s with exit %d" % (dt, p.returncode))
    check(p.returncode != 0, "exit 0 after rank 1 was killed")
    check(dt < 15, "the job took %.1f s to end after rank 1 was killed" % dt)
    for _ in range(50):  # the ranks' own exit may follow mpirun's by a moment
        left = [pid for pid in pids.values() if alive(pid)]
        if not left:
            break
        time.sleep(0.1)
    check(not left, "processes left running 5 s after the job ended: %s" % left)


def test_failing_rank():
    t0 = time.time()
    r = subprocess.run(MPI + [BIN, "train", "run.ini", "--set", "run.out_dir=failing"], cwd=WORK,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                       env=dict(os.environ, FIGKD_DEVICE="cpu,no-such-device"))
    dt = time.time() - t0
    print("rank 1 without a device: the job ended after %.1f s with exit %d" % (dt, r.returncode))
    check(r.returncode != 0, "exit 0 with rank 1 failing")
    check("FIGKD_DEVICE=no-such-device matches no OpenCL device" in r.stderr, "rank 1's error not printed:\n"
          + r.stderr[-2000:])
    check(dt < 60, "the job took %.1f s to end" % dt)


def test_fitnet_refused():
    """a method with parameters of its own (fitnet's regressor) has no
    gradient buckets: refused across processes, naming them"""
    r = subprocess.run(MPI + [BIN, "train", "run.ini", "--set", "run.out_dir=fitnet", "--set",
                              "distill.method=fitnet", "--set", "optim.max_steps=1"], cwd=WORK,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    check(r.returncode != 0 and "method = fitnet trains parameters of its own (method.conv_reg.conv.weight)"
          in r.stderr and "run it in one process" in r.stderr,
          "fitnet in 2 processes: exit %d\n%s" % (r.returncode, r.stderr[-2000:]))
    print("fitnet in 2 processes: refused (exit %d)" % r.returncode)


def main():
    need_device(BIN)
    setup()
    test_two_steps()
    test_two_views()
    test_resume()
    test_teacher_stage()
    test_other_commands()
    test_kill()
    test_failing_rank()
    test_fitnet_refused()
    finish("train_mpi")


if __name__ == "__main__":
    main()
