"""End-to-end check of a two-view method: `figkd-cl train` with
distill.method = mlkd on a tiny ImageFolder (10 classes, 16 training and 4
test PNGs of 16x16 each; batch 16, 10 steps per epoch) from a resnet8
teacher (PyTorch init, written here) to a resnet8 student, augment
standard, shuffle on, two loader workers:

- the run finishes; metrics.jsonl has finite `ce` and `mlkd` columns and
  a test accuracy for every epoch (ce: the sum over the two views);
- 15 steps straight equal 7 steps + --resume to 15 bit for bit (weights,
  BN statistics, momentum): the strong views come from the seed, the
  epoch and the sample alone;
- a different seed gives different weights.

usage: /usr/bin/python3 test_train_views.py FIGKD_CL WORK_DIR
"""

import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
sys.path.insert(0, HERE)
import e2e  # noqa: E402
import fkio  # noqa: E402

BIN, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
CLASSES = 10

CONFIG = e2e.ini(run={"seed": 7, "log_every": 2},
                 data=dict(e2e.DATA, augment="standard", shuffle="true", workers=2), teacher=e2e.TEACHER,
                 student=e2e.STUDENT, distill={"method": "mlkd"},
                 optim={"lr": 0.025, "batch_size": 16, "epochs": 2, "milestones": 1})


def train(out, *extra):
    return e2e.train(BIN, WORK, "--set", "run.out_dir=" + out, *extra, ok=True)


def weights(out):
    return fkio.read_safetensors(os.path.join(WORK, out, "last.safetensors"))[0]


def main():
    e2e.need_device(BIN)
    e2e.fresh_dir(WORK)
    e2e.make_imagefolder(WORK, CLASSES, 16, 4, 16)
    import torch
    import torch_models
    torch.manual_seed(0)
    t = torch_models.build("resnet8", CLASSES)
    fkio.save_torch(os.path.join(WORK, "teacher.safetensors"), t.state_dict(), metadata={"model": "resnet8"})
    e2e.write_config(WORK, CONFIG)

    train("full")
    with open(os.path.join(WORK, "full", "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    e2e.check(len(rows) == 2, "metrics.jsonl: %d lines, 2 epochs expected" % len(rows))
    for r in rows:
        e2e.check(all(isinstance(r.get(k), (int, float)) and math.isfinite(r[k]) for k in ("ce", "mlkd", "test_acc")),
                  "epoch %s: ce, mlkd and test_acc finite: %s" % (r.get("epoch"), r))
    print("metrics:", [{k: r.get(k) for k in ("epoch", "ce", "mlkd", "top1")} for r in rows])

    train("straight", "--set", "optim.max_steps=15")
    train("resumed", "--set", "optim.max_steps=7")
    train("resumed", "--set", "optim.max_steps=15", "--resume")
    a, b = weights("straight"), weights("resumed")
    diff = [k for k in a if k not in b or a[k].tobytes() != b[k].tobytes()]
    e2e.check(sorted(a) == sorted(b) and not diff, "resumed run differs from the straight one: %s" % diff[:5])
    print("15 steps straight and 7 + 15 resumed: %d tensors, %d differ" % (len(a), len(diff)))

    train("seed8", "--set", "optim.max_steps=15", "--set", "run.seed=8")
    c = weights("seed8")
    e2e.check(any(a[k].tobytes() != c[k].tobytes() for k in a if k.endswith("weight")), "seed 8 = seed 7")
    e2e.finish("train_views")


if __name__ == "__main__":
    main()
