"""References for tests/test_train_step.c: two whole training steps of a
resnet8x4 student distilled from a resnet32x4 teacher (100 classes), in
PyTorch, for the methods figkd, kd, dkd and dist. Written at test time into a
build folder (the weights are too large to commit), in two passes around
the C test's run:

  gen_step.py OUT_DIR          the case: models, batch, configs
  test_train_step OUT_DIR run  figkd-cl's two steps, into <method>.run.safetensors
  gen_step.py OUT_DIR --refs   the references, for each method with a run file
  test_train_step OUT_DIR check

Files in OUT_DIR:
  teacher.safetensors   resnet32x4 state_dict (PyTorch init, seeded; BN
                        weight, bias and running statistics randomised so
                        that eval mode is not the identity)
  student.safetensors   resnet8x4 state_dict (the same randomisation)
  batch.safetensors     input (8, 3, 32, 32) float32, labels (8) int64
  <method>.ini          the run config the C test loads (method defaults)
  <method>.run.safetensors (written by the C test): its parameters after
                        the steps and relu.<step>.<k>, the ReLU decisions
                        (output > 0, as 1 or 0) of the k-th ReLU of the
                        student's forward in step 1 and 2
  <method>.ref.safetensors, after two steps on the same batch:
    p.<name>      every parameter and buffer (float64 run, stored float32)
    u.<name>      the update p2 - p0 of every parameter, computed in float64
    f32.u.<name>  the same update from PyTorch in float32
    f32.p.<name>  BN running statistics from PyTorch in float32
    loss          (2, 2): [CE, term] of steps 1 and 2 (float64 run)
    f32.loss      the same from PyTorch in float32

Each step: teacher.eval() under no_grad, student.train(),
loss = ce_weight * CE + term_weight * term, as src/train/trainer.c combines
them (fk_loss_spec_from_config, fk_step_run):
  figkd: 1 * CE + 8 * mean over the LH, HL, HH bands (10x10 grid) of the
         squared Haar-band difference;
  kd:    0.1 * CE + 0.9 * T^2 KL (T = 4);
  dkd:   1 * CE + min((epoch + 1) / 20, 1) * (1 * TCKD + 8 * NCKD), T = 4,
         epoch 0: factor 0.05;
  dist:  1 * CE + T^2 (2 * inter + 2 * intra), T = 4 (gen_dist.dist_ref).
term is reported unweighted (DKD: alpha * TCKD + beta * NCKD, before the
warm-up factor), as fk_step.values holds it. torch.optim.SGD(lr=0.05,
momentum=0.9, weight_decay=5e-4), zero_grad before each step.

The float64 run starts from the float32 weights and input. ReLU decisions
at rounding distance from zero: with 8 inputs of 32x32 (about 2 million
ReLU inputs per forward) some ReLU input lies within 1e-6 of zero whatever
inputs are drawn (the median draw: 3e-7), and which side a float32 sum
lands on depends on its order: PyTorch, PoCL and Mesa's llvmpipe disagree
on such elements. One flipped decision moves its element's gradient by a
few percent of the tensor's largest; BatchNorm spreads that over the
channel and the convolutions over every weight gradient of the layers
before it, past the test's tolerance, and step 2 starts from other
weights. So both PyTorch runs take the device's decision wherever the
float64 ReLU input lies within TAU (1e-4) of the largest |input| of its
tensor (about 1200 of 2 million elements per forward), and their own
everywhere else: the reference is the exact result for the decisions
float32 cannot settle, and every other decision is still checked. The
generator prints how many decisions it took, how many of them differ from
float64's own and the largest such |input| (PoCL and llvmpipe: 4e-8 of
the tensor's largest for figkd, kd and dkd; dist, whose first step is
large, up to 6e-5 in its second forward).

Usage: /usr/bin/python3 gen_step.py OUT_DIR [--refs]
"""

import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fkio  # noqa: E402
import gen_dist  # noqa: E402
import gen_loss  # noqa: E402
import torch_models  # noqa: E402

CLASSES, BATCH, SIZE = 100, 8, 32
LR, MOMENTUM, WD = 0.05, 0.9, 5e-4
T = 4.0
LH, HL, HH = 2, 4, 8
TAU = 1e-4  # a ReLU decision follows the device's within TAU * max |input| of zero
METHODS = ["figkd", "kd", "dkd", "dist"]

def term_fn(method):
    """(ce_weight, term_weight, term(s, t, y)) as figkd-cl's defaults give."""
    if method == "figkd":
        f = gen_loss.figkd_ref("mse", LH | HL | HH)
        return 1.0, 1.0, lambda s, t, y: f(s, t, y, {"h": 10, "w": 10})
    if method == "kd":
        return 0.1, 0.9, lambda s, t, y: gen_loss.kd_ref(s, t, y, {"T": T})
    if method == "dkd":
        warm = min((0 + 1) / 20.0, 1.0)
        return 1.0, warm, lambda s, t, y: gen_loss.dkd_direct(s, t, y, {"T": T, "alpha": 1.0, "beta": 8.0})
    if method == "dist":
        return 1.0, 1.0, lambda s, t, y: gen_dist.dist_ref(s, t, T, 2.0, 2.0)
    raise ValueError(method)


class DeviceDecisions:
    """F.relu replaced, inside the block, by one that takes the device's
    decision (run[relu.<step>.<k>]) for the k-th call of the step's forward
    wherever |input| <= TAU * max |input|; counts the decisions taken and
    those that differ from the input's own sign."""

    def __init__(self, run):
        self.run, self.step, self.k = run, 0, 0
        self.taken = self.flipped = 0
        self.worst = 0.0  # largest |input| / max |input| where a decision was flipped

    def forward(self, step):
        self.step, self.k = step, 0
        return self

    def __enter__(self):
        F.relu = self._relu
        return self

    def __exit__(self, *exc):
        F.relu = torch_models._relu
        if exc[0] is None and "relu.%d.%d" % (self.step, self.k) in self.run:
            raise ValueError("the device's step %d has more ReLUs than PyTorch's %d" % (self.step + 1, self.k))

    def _relu(self, x, inplace=False):
        key = "relu.%d.%d" % (self.step, self.k)
        self.k += 1
        dev = self.run.get(key)
        if dev is None or tuple(dev.shape) != tuple(x.shape):
            raise ValueError("%s: device shape %s, PyTorch's %s" % (key, None if dev is None else dev.shape,
                                                                    tuple(x.shape)))
        a = x.detach().abs()
        near = a <= TAU * a.max()
        mask = torch.from_numpy(np.asarray(dev) > 0)
        own = x.detach() > 0
        flip = near & (mask != own)
        self.taken += int(near.sum())
        self.flipped += int(flip.sum())
        if flip.any():
            self.worst = max(self.worst, (a[flip].max() / a.max()).item())
        return torch.where(near, x * mask.to(x.dtype), torch_models._relu(x))


def two_steps(method, student, t_logits, x, y, decisions):
    """Two SGD steps in place, the ReLU decisions near zero from the device
    (decisions: a DeviceDecisions); returns the losses [[ce, term], [ce, term]]."""
    ce_w, term_w, term = term_fn(method)
    opt = torch.optim.SGD(student.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    student.train()
    losses = []
    for step in range(2):
        opt.zero_grad()
        with decisions.forward(step):
            z = student(x)
        ce = F.cross_entropy(z, y)
        tv = term(z, t_logits, y)
        (ce_w * ce + term_w * tv).backward()
        opt.step()
        losses.append([ce.item(), tv.item()])
    return np.array(losses)


def teacher_logits(teacher, x):
    teacher.eval()
    with torch.no_grad():
        return teacher(x)


def write_case(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(4321)
    g = torch.Generator().manual_seed(77)
    teacher = torch_models.build("resnet32x4", CLASSES)
    student = torch_models.build("resnet8x4", CLASSES)
    torch_models.randomise_bn(teacher, g)
    torch_models.randomise_bn(student, g)
    fkio.save_torch(os.path.join(out, "teacher.safetensors"), teacher.state_dict(), metadata={"model": "resnet32x4"})
    fkio.save_torch(os.path.join(out, "student.safetensors"), student.state_dict(), metadata={"model": "resnet8x4"})
    x = torch.randn(BATCH, 3, SIZE, SIZE, generator=g)
    y = torch.randint(0, CLASSES, (BATCH,), generator=g)
    fkio.write_safetensors(os.path.join(out, "batch.safetensors"),
                           {"input": x.numpy(), "labels": y.numpy().astype(np.int64)},
                           {"classes": str(CLASSES)})
    for m in METHODS:
        with open(os.path.join(out, m + ".ini"), "w") as f:
            f.write("[data]\ndataset = cifar100\n[teacher]\nmodel = resnet32x4\ncheckpoint = teacher.safetensors\n"
                    "[student]\nmodel = resnet8x4\n[distill]\nmethod = %s\n"
                    "[optim]\nlr = %g\nmomentum = %g\nweight_decay = %g\nbatch_size = %d\n"
                    % (m, LR, MOMENTUM, WD, BATCH))


def load_model(path, name):
    sd, _ = fkio.load_torch(path)
    model = torch_models.build(name, CLASSES)
    model.load_state_dict(sd)
    return model, sd


def write_refs(out):
    teacher, _ = load_model(os.path.join(out, "teacher.safetensors"), "resnet32x4")
    student, s_sd = load_model(os.path.join(out, "student.safetensors"), "resnet8x4")
    batch, _ = fkio.read_safetensors(os.path.join(out, "batch.safetensors"))
    x = torch.from_numpy(np.array(batch["input"]))
    y = torch.from_numpy(np.array(batch["labels"]))
    t64 = copy.deepcopy(teacher).double()
    tl64 = teacher_logits(t64, x.double())
    tl32 = teacher_logits(teacher, x)
    done = 0
    for m in METHODS:
        run_path = os.path.join(out, m + ".run.safetensors")
        if not os.path.exists(run_path):
            continue
        run, _ = fkio.read_safetensors(run_path)
        d64, d32 = DeviceDecisions(run), DeviceDecisions(run)
        s64 = copy.deepcopy(student).double()
        s32 = copy.deepcopy(student)
        l64 = two_steps(m, s64, tl64, x.double(), y, d64)
        l32 = two_steps(m, s32, tl32, x, y, d32)
        ref = {"loss": l64.astype(np.float32), "f32.loss": l32.astype(np.float32)}
        p0 = {k: v.double() for k, v in s_sd.items()}
        sd64, sd32 = s64.state_dict(), s32.state_dict()
        params = dict(student.named_parameters())
        for k in s_sd:
            if k.endswith("num_batches_tracked"):
                continue
            ref["p." + k] = sd64[k].float().numpy()
            if k in params:
                ref["u." + k] = (sd64[k] - p0[k]).float().numpy()
                ref["f32.u." + k] = (sd32[k].double() - p0[k]).float().numpy()
            else:
                ref["f32.p." + k] = sd32[k].numpy()
        fkio.write_safetensors(os.path.join(out, m + ".ref.safetensors"),
                               {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in ref.items()},
                               {"method": m})
        print("%s: losses step 1 %s, step 2 %s; ReLU decisions from the device: %d, of them %d not float64's "
              "(largest |input| %.2g of its tensor's), %d not PyTorch float32's"
              % (m, l64[0], l64[1], d64.taken, d64.flipped, d64.worst, d32.flipped))
        done += 1
    if not done:
        sys.exit("gen_step.py: no <method>.run.safetensors in %s (run test_train_step %s run first)" % (out, out))


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "--refs":
        write_refs(sys.argv[1])
    elif len(sys.argv) == 2:
        write_case(sys.argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
