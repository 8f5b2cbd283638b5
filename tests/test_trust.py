"""Runs a user can trust:
- a typo in a model name fails in the first second, before any teacher is
  trained;
- a teacher checkpoint made for another model, class count or data set is
  refused before work, naming what differs; a matching one is announced
  with its data set and accuracy;
- --resume with nothing to resume exits non-zero;
- running a finished config again without --resume or --force exits
  non-zero and leaves every file as it was; --force moves them aside;
- --resume after a key that shapes the run changed names the key;
- more epochs continue a finished run.

usage: test_trust.py FIGKD_CL WORKDIR   (Debian's python3: numpy, PIL)
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import e2e  # noqa: E402
import fkio  # noqa: E402
from e2e import check, finish, make_imagefolder, need_device  # noqa: E402

BIN, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])

CONFIG = e2e.ini(run={"seed": 1, "out_dir": "run"}, data=e2e.DATA, teacher=e2e.TEACHER, student=e2e.STUDENT,
                 distill={"method": "kd"}, optim={"batch_size": 8, "epochs": 1}, teacher_optim={"epochs": 1})


def train(*args):
    return e2e.train(BIN, WORK, *args)


def snapshot(folder):
    out = {}
    for dp, _, fn in os.walk(os.path.join(WORK, folder)):
        for f in fn:
            p = os.path.join(dp, f)
            if f != "figkd.lock":
                out[os.path.relpath(p, WORK)] = open(p, "rb").read()
    return out


def main():
    need_device(BIN)
    e2e.fresh_dir(WORK)
    make_imagefolder(WORK, 4, 8, 4, 16, step=60.0)
    e2e.write_config(WORK, CONFIG)

    # a typo in the student's model: refused at once, no teacher trained
    r = train("--set", "student.model=resnet8y")
    secs = r.seconds
    check(r.returncode != 0 and "unknown model 'resnet8y'" in r.stderr and secs < 5
          and not os.path.exists(os.path.join(WORK, "teacher.safetensors")),
          "student typo: exit %d in %.1f s\n%s" % (r.returncode, secs, r.stderr))
    print("student model typo: exit %d in %.2f s: %s" % (r.returncode, secs, r.stderr.strip()))

    # --resume with nothing to resume
    r = train("--resume")
    check(r.returncode != 0 and "no checkpoint to resume" in r.stderr, "--resume on nothing: exit %d\n%s"
          % (r.returncode, r.stderr))

    # the first run trains the teacher, then the student
    r = train()
    if not check(r.returncode == 0, "first run: exit %d\n%s" % (r.returncode, r.stderr[-1500:])):
        finish("trust")
    meta = fkio.read_safetensors(os.path.join(WORK, "teacher.safetensors"))[1]
    check(meta.get("figkd.model") == "resnet8" and meta.get("figkd.classes") == "4" and
          meta.get("figkd.dataset") == "imagefolder" and "figkd.test_acc" in meta and "figkd.config_hash" in meta,
          "teacher checkpoint provenance: %s" % {k: v for k, v in meta.items() if k != "figkd.config"})

    # the same config again: refused, every file as it was
    before = snapshot("run")
    r = train()
    check(r.returncode != 0 and "already holds a run" in r.stderr and snapshot("run") == before,
          "second run without --resume/--force: exit %d\n%s" % (r.returncode, r.stderr))

    # --resume after the batch size changed: refused naming it
    r = train("--resume", "--set", "optim.batch_size=4")
    check(r.returncode != 0 and "optim.batch_size differs" in r.stderr and snapshot("run") == before,
          "--resume with another batch size: exit %d\n%s" % (r.returncode, r.stderr))

    # more epochs continue the finished run
    r = train("--resume", "--set", "optim.epochs=2")
    check(r.returncode == 0 and "continuing to epoch 2" in r.stdout and "from teacher.safetensors" in r.stdout,
          "--resume with more epochs: exit %d\n%s%s" % (r.returncode, r.stdout[-1500:], r.stderr[-800:]))
    epochs = [line for line in open(os.path.join(WORK, "run", "metrics.jsonl"))]
    check(len(epochs) == 2, "after 2 epochs metrics.jsonl has %d lines" % len(epochs))
    print("more epochs: %s" % [x for x in r.stdout.splitlines() if "continuing" in x or "[teacher]" in x])

    # --force: a fresh run, the old files moved aside, not deleted
    before = snapshot("run")
    r = train("--force")
    aside = [d for d in os.listdir(os.path.join(WORK, "run")) if d.startswith("previous-")]
    moved = snapshot(os.path.join("run", aside[0])) if aside else {}
    check(r.returncode == 0 and len(aside) == 1 and
          sorted(os.path.basename(k) for k in moved) == sorted(os.path.basename(k) for k in before),
          "--force: exit %d, aside %s\n%s" % (r.returncode, aside, r.stderr[-800:]))

    # teacher checkpoints made for something else: refused before work
    tensors, meta = fkio.read_safetensors(os.path.join(WORK, "teacher.safetensors"))
    for key, value, what in (("figkd.model", "resnet14", "the model resnet14"),
                             ("figkd.classes", "10", "a class count of 10"),
                             ("figkd.dataset", "cifar100", "the data set cifar100")):
        m = dict(meta)
        m[key] = value
        fkio.write_safetensors(os.path.join(WORK, "other.safetensors"), tensors, m)
        r = train("--set", "teacher.checkpoint=other.safetensors", "--set", "run.out_dir=other")
        check(r.returncode != 0 and "made for %s" % what in r.stderr and
              not os.path.exists(os.path.join(WORK, "other", "last.safetensors")),
              "teacher for %s: exit %d\n%s" % (what, r.returncode, r.stderr))
    print("mismatched teachers refused: %s" % r.stderr.strip().splitlines()[-1])
    finish("trust")


if __name__ == "__main__":
    main()
