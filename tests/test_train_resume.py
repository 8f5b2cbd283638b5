"""End-to-end checks of `figkd-cl train` on a tiny data set in a real format
(ImageFolder of 16x16 PNGs, 10 classes, 160 training and 40 test images;
batch 16, so 10 steps per epoch), FiGKD from a resnet8 teacher (a PyTorch
checkpoint written here) to a resnet8 student, augment standard, shuffle on:

- resume: 15 steps straight equal 7 steps + --resume to 15, and 10 steps
  (the epoch boundary) + --resume to 15, tensor by tensor, bit for bit
  (weights, BN statistics, momentum); metrics.jsonl's epoch line is the
  same; a second --resume at max_steps runs nothing;
- SIGINT and SIGTERM sent to a running train finish the step, save
  last.safetensors, exit non-zero with a message, and --resume from there
  ends at the uninterrupted run's weights;
- a NaN loss (optim.lr = 1e30) stops the run naming the step, leaves the
  previous last.safetensors as it was, and a --resume from it runs;
- a method with parameters of its own (fitnet's regressor) saves them
  with their momentum and BN statistics and resumes bit for bit; eval of
  its run loads the student alone;
- bad config values stop with FILE:LINE (or the --set) before any work;
- the student checkpoint loads into the PyTorch model (strict, after
  dropping the optimizer entries) and `figkd-cl predict` writes the logits
  that PyTorch computes from it on the test images.

usage: /usr/bin/python3 test_train_resume.py FIGKD_CL WORK_DIR
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import e2e  # noqa: E402
import fkio  # noqa: E402
from e2e import check  # noqa: E402

BIN, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
CLASSES, TRAIN_PER, TEST_PER, SIDE = 10, 16, 4, 16
STEPS = 15


def make_teacher():
    import torch
    import torch_models
    torch.manual_seed(0)
    t = torch_models.build("resnet8", CLASSES)
    fkio.save_torch(os.path.join(WORK, "teacher.safetensors"), t.state_dict(), metadata={"model": "resnet8"})


CONFIG = e2e.ini(run={"seed": 7, "log_every": 1},
                 data=dict(e2e.DATA, augment="standard", shuffle="true", workers=2), teacher=e2e.TEACHER,
                 student=e2e.STUDENT, distill={"method": "figkd"},
                 optim={"batch_size": 16, "epochs": 3, "milestones": 2})


def train(out, steps, *extra, check_rc=True):
    return e2e.train(BIN, WORK, "--set", "run.out_dir=" + out, "--set", "optim.max_steps=%d" % steps, *extra,
                     ok=check_rc)


def last(out):
    return os.path.join(WORK, out, "last.safetensors")


def same_weights(a, b, what):
    ta, ma = fkio.read_safetensors(last(a))
    tb, mb = fkio.read_safetensors(last(b))
    if not check(sorted(ta) == sorted(tb), "%s: different tensor names" % what):
        return
    diff = [k for k in ta if ta[k].dtype != tb[k].dtype or ta[k].shape != tb[k].shape
            or ta[k].tobytes() != tb[k].tobytes()]
    for k in diff[:5]:
        print("  %s: max |diff| %g" % (k, np.abs(ta[k].astype(np.float64) - tb[k]).max()))
    check(not diff, "%s: %d of %d tensors differ (%s)" % (what, len(diff), len(ta), ", ".join(diff[:5])))
    for k in ("figkd.step", "figkd.epoch", "figkd.batch", "figkd.acc"):
        check(ma.get(k) == mb.get(k), "%s: metadata %s %s vs %s" % (what, k, ma.get(k), mb.get(k)))
    n_mom = sum(k.startswith("optimizer.momentum.") for k in ta)
    print("%s: %d tensors (%d momentum) bit-identical, step %s" % (what, len(ta), n_mom, ma.get("figkd.step")))


def epoch_line(out, epoch):
    """metrics.jsonl's line of an epoch without the timing fields."""
    import json
    with open(os.path.join(WORK, out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = [r for r in rows if r["epoch"] == epoch]
    if not check(len(rows) == 1, "%s/metrics.jsonl: %d lines of epoch %d" % (out, len(rows), epoch)):
        return None
    return {k: v for k, v in rows[0].items() if k not in ("img_per_s", "seconds")}


def interrupted_run(out, sig):
    """Start a run to STEPS, send sig after its first progress line."""
    args = [BIN, "train", "run.ini", "--set", "run.out_dir=" + out, "--set", "optim.max_steps=%d" % STEPS]
    p = subprocess.Popen(args, cwd=WORK, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, sent = [], False
    for line in p.stdout:
        lines.append(line)
        if not sent and "step 1/" in line:
            p.send_signal(sig)
            sent = True
    rc = p.wait()
    text = "".join(lines)
    name = signal.Signals(sig).name
    check(sent, "%s: no progress line seen" % name)
    check(rc == 128 + sig, "%s: exit status %d, expected %d (the run ended before the signal?)\n%s"
          % (name, rc, 128 + sig, text[-1500:]))
    word = "interrupted" if sig == signal.SIGINT else "terminated"
    check(word + ": saved" in text and "--resume" in text, "%s: no '%s: saved ... --resume' message\n%s"
          % (name, word, text[-1500:]))
    _, meta = fkio.read_safetensors(last(out))
    print("%s: exit %d after step %s of %d" % (name, rc, meta.get("figkd.step"), STEPS))
    check(int(meta.get("figkd.step", "0")) < STEPS, "%s: the run was not stopped early" % name)
    r = train(out, STEPS, "--resume")
    check("resuming from" in r.stdout, "%s: --resume did not resume" % name)
    same_weights("straight", out, "%s + --resume" % name)


def bad_configs():
    """(config text change or --set, expected location in the message)."""
    cases = [
        ("lr = fast", "bad1.ini:23: optim.lr: 'fast' is not a non-negative number", []),
        ("lr = 0", "bad2.ini:23: [optim] lr: must be positive", []),
        ("learning_rate = 0.1", "bad3.ini:23: unknown key 'learning_rate' in [optim]", []),
        # CONFIG sets epochs already: a second one is an error naming both lines
        ("epochs = 0", "bad4.ini:23: [optim] epochs is given twice; first at bad4.ini:21", []),
        ("momentum = 1.5", "bad5.ini:23: [optim] momentum: must be below 1", []),
        ("", "--set optim.batch_size: must be at least 1", ["--set", "optim.batch_size=0"]),
        ("", "--set distill.method: distill.method: unknown method 'crd'", ["--set", "distill.method=crd"]),
        ("", "--set optim.epochs: must be at least 1", ["--set", "optim.epochs=0"]),
    ]
    for i, (line, want, sets) in enumerate(cases, 1):
        name = "bad%d.ini" % i
        text = CONFIG.replace("[run]\n", "[run]\nout_dir = bad%d\n") % i + (line + "\n" if line else "")
        assert not line or text.splitlines()[22] == line
        r = e2e.train(BIN, WORK, *sets, config=e2e.write_config(WORK, text, name))
        ok = check(r.returncode != 0 and want in r.stderr, "%s %s: exit %d, expected '%s' in:\n%s"
                   % (name, " ".join(sets), r.returncode, want, r.stderr))
        check(not os.path.exists(os.path.join(WORK, "bad%d" % i)) and "figkd-cl train" not in r.stdout,
              "%s: work started before the config error" % name)
        if ok:
            print("bad config: %s" % r.stderr.strip().splitlines()[-1])


def predict_matches_torch():
    import torch
    import torch_models
    out = os.path.join(WORK, "pred.npy")
    r = e2e.run(BIN, WORK, "predict", "run.ini", "--weights", last("straight"), "--out", out)
    if not check(r.returncode == 0, "predict: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr)):
        return
    got = np.load(out)
    sd, _ = fkio.load_torch(last("straight"))
    sd = {k: v for k, v in sd.items() if not k.startswith("optimizer.")}
    model = torch_models.build("resnet8", CLASSES)
    model.load_state_dict(sd, strict=True)
    model.eval()
    with torch.no_grad():
        ref = model.double()(torch.tensor(e2e.test_images(WORK, CLASSES))).numpy()
    err = np.abs(got - ref).max() if got.shape == ref.shape else float("inf")
    # float32 eval forward of resnet8 against float64: the model test's eval tolerance
    lim = 1e-4 * np.abs(ref).max() + 1e-4
    check(got.shape == ref.shape and err <= lim,
          "predict vs PyTorch: shape %s vs %s, max |diff| %.3g (limit %.3g)" % (got.shape, ref.shape, err, lim))
    print("predict: %s logits equal PyTorch's from the same checkpoint (max |diff| %.2g)" % (got.shape, err))
    # eval's top-1 is the accuracy of those logits
    labels = np.repeat(np.arange(CLASSES), TEST_PER)
    top1 = 100.0 * float((ref.argmax(1) == labels).mean())
    r = e2e.run(BIN, WORK, "eval", "run.ini", "--weights", last("straight"))
    m = re.search(r"top-1 ([0-9.]+)%", r.stdout)
    check(r.returncode == 0 and m and abs(float(m.group(1)) - top1) < 0.01,
          "eval: exit %d, printed %s, PyTorch's top-1 %.2f%%\n%s" % (r.returncode, r.stdout.strip(), top1, r.stderr))
    print("eval: %s" % r.stdout.strip())


def main():
    e2e.need_device(BIN)
    t0 = time.time()
    e2e.fresh_dir(WORK)
    e2e.make_imagefolder(WORK, CLASSES, TRAIN_PER, TEST_PER, SIDE)
    make_teacher()
    e2e.write_config(WORK, CONFIG)

    bad_configs()

    # straight, and split in the middle of epoch 1 and at its end
    train("straight", STEPS)
    train("split7", 7)
    r = train("split7", STEPS, "--resume")
    check("resuming from" in r.stdout and "epoch 1, batch 7 (step 7)" in r.stdout,
          "split7: not resumed at epoch 1, batch 7:\n" + r.stdout[-1500:])
    same_weights("straight", "split7", "7 + --resume to %d" % STEPS)
    a, b = epoch_line("straight", 1), epoch_line("split7", 1)
    check(a is not None and a == b, "metrics.jsonl epoch 1: %s vs %s" % (a, b))
    train("split10", 10)
    shutil.copytree(os.path.join(WORK, "split10"), os.path.join(WORK, "nan"))
    r = train("split10", STEPS, "--resume")
    check("epoch 2, batch 0 (step 10)" in r.stdout, "split10: not resumed at epoch 2, batch 0:\n" + r.stdout[-1500:])
    same_weights("straight", "split10", "10 + --resume to %d" % STEPS)
    before = open(last("split10"), "rb").read()
    r = train("split10", STEPS, "--resume")
    check("already reached" in r.stdout and open(last("split10"), "rb").read() == before,
          "--resume at max_steps ran more steps:\n" + r.stdout[-1500:])
    # its summary gives the last evaluation's accuracy (kept in the checkpoint), not a placeholder
    m = re.search(r"([-0-9.]+)% \(last\)", r.stdout)
    with open(os.path.join(WORK, "split10", "metrics.jsonl")) as f:
        evals = [json.loads(x)["test_acc"] for x in f if "test_acc" in x]
    check(m and evals and abs(float(m.group(1)) - 100 * evals[-1]) < 0.01,
          "summary after --resume: %s, metrics.jsonl's last test_acc %s" % (m and m.group(0), evals[-1:]))

    # a feature method (AT on the stage outputs of both models): the same
    # bits straight and resumed within epoch 1
    at = ("--set", "distill.method=at")
    train("at_straight", 12, *at)
    train("at_split", 7, *at)
    r = train("at_split", 12, "--resume", *at)
    check("epoch 1, batch 7 (step 7)" in r.stdout, "at_split: not resumed at epoch 1, batch 7:\n" + r.stdout[-1500:])
    same_weights("at_straight", "at_split", "at: 7 + --resume to 12")

    # a method with parameters of its own (FitNet's regressor): they are in
    # the checkpoint with their momentum, trained, and resumed bit for bit;
    # the student's weights alone still load (eval passes them over)
    fit = ("--set", "distill.method=fitnet")
    train("fitnet_straight", 12, *fit)
    train("fitnet_split", 7, *fit)
    t7, _ = fkio.read_safetensors(last("fitnet_split"))
    reg = sorted(k for k in t7 if k.startswith("method.conv_reg."))
    check(reg == ["method.conv_reg.bn.bias", "method.conv_reg.bn.num_batches_tracked",
                  "method.conv_reg.bn.running_mean", "method.conv_reg.bn.running_var",
                  "method.conv_reg.bn.weight", "method.conv_reg.conv.bias", "method.conv_reg.conv.weight"],
          "fitnet: the regressor's tensors in last.safetensors: %s" % reg)
    check(all("optimizer.momentum." + k in t7 for k in reg if "bn.running" not in k and "num_batches" not in k),
          "fitnet: the regressor's momentum is not in last.safetensors")
    check(int(np.asarray(t7["method.conv_reg.bn.num_batches_tracked"]).reshape(-1)[0]) == 7,
          "fitnet: the regressor's BN counted %s steps, not 7" % t7["method.conv_reg.bn.num_batches_tracked"])
    r = train("fitnet_split", 12, "--resume", *fit)
    check("epoch 1, batch 7 (step 7)" in r.stdout,
          "fitnet_split: not resumed at epoch 1, batch 7:\n" + r.stdout[-1500:])
    same_weights("fitnet_straight", "fitnet_split", "fitnet: 7 + --resume to 12")
    t12, _ = fkio.read_safetensors(last("fitnet_split"))
    check(t12["method.conv_reg.conv.weight"].tobytes() != t7["method.conv_reg.conv.weight"].tobytes(),
          "fitnet: the regressor did not change from step 7 to 12")
    r = subprocess.run([BIN, "eval", "run.ini", "--weights", last("fitnet_split"), *fit], cwd=WORK,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0, "fitnet: eval of the run: exit %d\n%s" % (r.returncode, r.stderr[-1500:]))

    interrupted_run("sigint", signal.SIGINT)
    interrupted_run("sigterm", signal.SIGTERM)

    # NaN: from the step-10 checkpoint with lr = 1e30
    good = open(last("nan"), "rb").read()
    r = train("nan", 20, "--resume", "--set", "optim.lr=1e30", check_rc=False)
    msg = r.stderr.strip()
    check(r.returncode != 0 and re.search(r"the loss is (NaN|Inf) at step 12 \(epoch 2, batch 2 of 10\)", msg)
          and "nan/last.safetensors" in msg, "lr = 1e30: exit %d, message:\n%s" % (r.returncode, msg))
    print("lr = 1e30: exit %d: %s" % (r.returncode, msg.splitlines()[-1] if msg else ""))
    check(open(last("nan"), "rb").read() == good, "lr = 1e30: last.safetensors changed")
    r = train("nan", 11, "--resume")
    check(r.returncode == 0 and "step 11" not in r.stderr, "the checkpoint kept after NaN does not resume")
    r = train("nan_fresh", 3, "--set", "optim.lr=1e30", check_rc=False)
    check(r.returncode != 0 and "no checkpoint was written yet" in r.stderr,
          "lr = 1e30 from the start: exit %d, message:\n%s" % (r.returncode, r.stderr))

    predict_matches_torch()

    print("%.1f s" % (time.time() - t0))
    e2e.finish("train_resume")


if __name__ == "__main__":
    main()
