"""References for tests/test_train_step.c: two whole training steps of a
resnet8x4 student distilled from a resnet32x4 teacher (100 classes), in
PyTorch, for the methods figkd, kd, dkd, dist, at, pkt and rkd; or of another
teacher -> student pair (or this one) for the methods named (fitnet runs
only so); with no pair named, also mlkd
(two views) on the same pair with another batch in OUT_DIR/resnet, and a
wrn_16_2 student distilled from a wrn_40_2 teacher in OUT_DIR/wrn (the same
files). Written at test time into a build folder (the weights are too large
to commit), in two passes around the C test's run:

  gen_step.py OUT_DIR [...]    the case: models, batch, configs
  test_train_step DIR run      figkd-cl's two steps, into <method>.run.safetensors
  gen_step.py DIR --refs       the references, for each method with a run file
  test_train_step DIR check

(DIR: OUT_DIR, and with no pair named also OUT_DIR/resnet and OUT_DIR/wrn).

Files in OUT_DIR:
  teacher.safetensors   resnet32x4 state_dict (PyTorch init, seeded; BN
                        weight, bias and running statistics randomised so
                        that eval mode is not the identity); metadata
                        "model" names it
  student.safetensors   resnet8x4 state_dict (the same randomisation)
  batch.safetensors     input (8, 3, 32, 32) float32, labels (8) int64,
                        input_strong (8, 3, 32, 32): the second view of
                        the two-view methods (mlkd)
  <method>.ini          the run config the C test loads (method defaults)
  <method>.run.safetensors (written by the C test): its parameters after
                        the steps and relu.<step>.<k>, the ReLU decisions
                        (output > 0, as 1 or 0) of the k-th ReLU of the
                        student's forward in step 1 and 2 (a two-view
                        method: the weak view's forward, then the strong
                        view's, k counting on)
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
  dist:  1 * CE + T^2 (2 * inter + 2 * intra), T = 4 (gen_dist.dist_ref);
  at:    1 * CE + 1000 * at_loss(feats[1:] of student and teacher, p = 2);
  pkt:   1 * CE + 30000 * pkt_loss(pooled_feat of student and teacher);
  rkd:   1 * CE + rkd_loss(pooled_feat ..., distance 25, angle 50)
         (gen_feat.at_loss, pkt_loss, rkd_loss: mdistiller's, on the features
         torch_models keeps: mdistiller's feats["feats"], ["pooled_feat"]);
  fitnet: 1 * CE + 100 * F.mse_loss(conv_reg(feats[2]), teacher feats[2]),
         conv_reg mdistiller's ConvReg (conv, BN in train mode, ReLU; its
         ReLU decisions near zero from the device too, after the student's)
         starting from the device's initial regressor (m0.method.conv_reg.*
         in the run file), a submodule of the student so that the one SGD
         updates it; its refs under figkd-cl's names
         (p.method.conv_reg.conv.weight, ...), with mom.<name> and
         f32.mom.<name>, the SGD momentum buffers after the two steps;
  mlkd:  the student forward on the weak view (input) and then the strong
         one (input_strong), BN in train mode on each; 0.1 * (CE(weak) +
         CE(strong)) + 0.9 * the authors' loss_kd + loss_cc + loss_bc
         (gen_mlkd.official_terms, T = 4), the teacher's logits of both
         views; ce is the sum of the two CEs.
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

Usage: /usr/bin/python3 gen_step.py OUT_DIR [--seed S] [TEACHER STUDENT METHOD...]
       /usr/bin/python3 gen_step.py DIR --refs
(--seed: the seed of the batch and of the BN randomisation, 77 unless given;
--refs: the models are named in the weights' metadata)
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
import gen_feat  # noqa: E402
import gen_loss  # noqa: E402
import gen_mlkd  # noqa: E402
import torch_models  # noqa: E402

CLASSES, BATCH, SIZE = 100, 8, 32
LR, MOMENTUM, WD = 0.05, 0.9, 5e-4
T = 4.0
LH, HL, HH = 2, 4, 8
TAU = 1e-4  # a ReLU decision follows the device's within TAU * max |input| of zero
HINT = 2  # fitnet's hint_layer (mdistiller's CFG.FITNET.HINT_LAYER)
METHOD_PREFIX = "method.conv_reg."  # figkd-cl's names of the regressor's tensors


class ConvReg(torch.nn.Module):
    """mdistiller's mdistiller/distillers/_common.py ConvReg (use_relu True),
    the cases figkd-cl builds: 3x3 stride 2 padding 1 for a student map twice
    the teacher's side, else a (1 + Hs - Ht) square kernel; F.relu at call
    time, so that DeviceDecisions sees it."""

    def __init__(self, s_shape, t_shape):
        super().__init__()
        s_c, s_h, t_c, t_h = s_shape[1], s_shape[2], t_shape[1], t_shape[2]
        if s_h == 2 * t_h:
            self.conv = torch.nn.Conv2d(s_c, t_c, kernel_size=3, stride=2, padding=1)
        elif s_h >= t_h:
            self.conv = torch.nn.Conv2d(s_c, t_c, kernel_size=1 + s_h - t_h)
        else:
            raise ValueError("no regressor from %s to %s" % (s_shape, t_shape))
        self.bn = torch.nn.BatchNorm2d(t_c)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def attach_conv_reg(student, teacher_out, x, run):
    """student.conv_reg for fitnet, from the device's initial regressor
    (run[m0.method.conv_reg.*]); the shapes from one eval forward."""
    was = student.training
    student.eval()
    with torch.no_grad():
        student(x)
    student.train(was)
    reg = ConvReg(student.feats[HINT].shape, teacher_out[1][0][HINT].shape).to(x.dtype)
    sd = {k[len("m0." + METHOD_PREFIX):]: torch.from_numpy(np.array(v)) for k, v in run.items()
          if k.startswith("m0." + METHOD_PREFIX)}
    sd = {k: v.long() if k.endswith("num_batches_tracked") else v.to(x.dtype) for k, v in sd.items()}
    reg.load_state_dict(sd)
    student.conv_reg = reg

def term_fn(method):
    """(ce_weight, term_weight, term(s, t, y, student, teacher_feats)) as
    figkd-cl's defaults give; student is the module (its .feats and .pooled
    of this forward), teacher_feats the teacher's (feats, pooled)."""
    if method == "at":
        return 1.0, 1000.0, lambda s, t, y, m, tf: gen_feat.at_loss(m.feats[1:], tf[0][1:], 2.0)
    if method == "pkt":
        return 1.0, 30000.0, lambda s, t, y, m, tf: gen_feat.pkt_loss(m.pooled, tf[1])
    if method == "rkd":
        return 1.0, 1.0, lambda s, t, y, m, tf: gen_feat.rkd_loss(m.pooled, tf[1], False, 1e-12, 25.0, 50.0)
    if method == "fitnet":
        return 1.0, 100.0, lambda s, t, y, m, tf: F.mse_loss(m.conv_reg(m.feats[HINT]), tf[0][HINT])
    ce_w, term_w, f = logit_term_fn(method)
    return ce_w, term_w, lambda s, t, y, m, tf: f(s, t, y)


def logit_term_fn(method):
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
    if method == "mlkd":  # (weak, strong) pairs of logits
        return 0.1, 0.9, lambda s, t, y: gen_mlkd.official_terms(s[0], s[1], t[0], t[1], T)
    raise ValueError(method)


class DeviceDecisions:
    """F.relu replaced, inside the block, by one that takes the device's
    decision (run[relu.<step>.<k>]) for the k-th call of the step's student
    forwards (a two-view method: the weak view's, then the strong view's, k
    counting on) wherever |input| <= TAU * max |input|; counts the
    decisions taken and those that differ from the input's own sign."""

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


def two_steps(method, student, teacher_out, x, y, decisions):
    """Two SGD steps in place, the ReLU decisions near zero from the device
    (decisions: a DeviceDecisions); returns the losses [[ce, term], [ce, term]].
    For a two-view method x and the teacher's logits are (weak, strong) pairs."""
    ce_w, term_w, term = term_fn(method)
    t_logits, t_feats = teacher_out
    # fitnet: student.conv_reg is a submodule, so its parameters go to the
    # same SGD (mdistiller's get_learnable_parameters)
    opt = torch.optim.SGD(student.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    student.train()
    views = isinstance(x, tuple)
    losses = []
    for step in range(2):
        opt.zero_grad()
        with decisions.forward(step):
            z = tuple(student(v) for v in x) if views else student(x)
            if method == "fitnet":  # the regressor's ReLU follows the student's
                tv = term(z, t_logits, y, student, t_feats)
        ce = sum(F.cross_entropy(v, y) for v in z) if views else F.cross_entropy(z, y)
        if method != "fitnet":
            tv = term(z, t_logits, y, student, t_feats)
        (ce_w * ce + term_w * tv).backward()
        opt.step()
        losses.append([ce.item(), tv.item()])
    return np.array(losses), opt


def teacher_logits(teacher, x):
    """logits and (feats, pooled) of the teacher in eval mode"""
    teacher.eval()
    with torch.no_grad():
        z = teacher(x)
        return z, (getattr(teacher, "feats", None), getattr(teacher, "pooled", None))


def write_case(out, t_name, s_name, methods, seed, batch_seed):
    """The case of one teacher/student pair in out: weights, batch, and
    per method its config."""
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(batch_seed)
    teacher = torch_models.build(t_name, CLASSES)
    student = torch_models.build(s_name, CLASSES)
    torch_models.randomise_bn(teacher, g)
    torch_models.randomise_bn(student, g)
    fkio.save_torch(os.path.join(out, "teacher.safetensors"), teacher.state_dict(), metadata={"model": t_name})
    fkio.save_torch(os.path.join(out, "student.safetensors"), student.state_dict(), metadata={"model": s_name})
    x = torch.randn(BATCH, 3, SIZE, SIZE, generator=g)
    y = torch.randint(0, CLASSES, (BATCH,), generator=g)
    x_strong = torch.randn(BATCH, 3, SIZE, SIZE, generator=g)  # after the rest: they stay as they were
    fkio.write_safetensors(os.path.join(out, "batch.safetensors"),
                           {"input": x.numpy(), "labels": y.numpy().astype(np.int64),
                            "input_strong": x_strong.numpy()},
                           {"classes": str(CLASSES)})
    for m in methods:
        with open(os.path.join(out, m + ".ini"), "w") as f:
            f.write("[data]\ndataset = cifar100\n[teacher]\nmodel = %s\ncheckpoint = teacher.safetensors\n"
                    "[student]\nmodel = %s\n[distill]\nmethod = %s\n"
                    "[optim]\nlr = %g\nmomentum = %g\nweight_decay = %g\nbatch_size = %d\n"
                    % (t_name, s_name, m, LR, MOMENTUM, WD, BATCH))


def load_model(path):
    """(model, state_dict, name) of a weights file, the model named in its metadata"""
    sd, meta = fkio.load_torch(path)
    model = torch_models.build(meta["model"], CLASSES)
    model.load_state_dict(sd)
    return model, sd, meta["model"]


def write_refs(out):
    """<method>.ref.safetensors for each <method>.run.safetensors in out."""
    teacher, _, t_name = load_model(os.path.join(out, "teacher.safetensors"))
    student, s_sd, s_name = load_model(os.path.join(out, "student.safetensors"))
    batch, _ = fkio.read_safetensors(os.path.join(out, "batch.safetensors"))
    x = torch.from_numpy(np.array(batch["input"]))
    y = torch.from_numpy(np.array(batch["labels"]))
    x_strong = torch.from_numpy(np.array(batch["input_strong"]))
    t64 = copy.deepcopy(teacher).double()
    tl64 = teacher_logits(t64, x.double())
    tl32 = teacher_logits(teacher, x)
    views64 = (x.double(), x_strong.double()), ((tl64[0], teacher_logits(t64, x_strong.double())[0]), None)
    views32 = (x, x_strong), ((tl32[0], teacher_logits(teacher, x_strong)[0]), None)
    methods = sorted(f[:-len(".run.safetensors")] for f in os.listdir(out) if f.endswith(".run.safetensors"))
    if not methods:
        sys.exit("gen_step.py: no <method>.run.safetensors in %s (run test_train_step %s run first)" % (out, out))
    for m in methods:
        run, _ = fkio.read_safetensors(os.path.join(out, m + ".run.safetensors"))
        d64, d32 = DeviceDecisions(run), DeviceDecisions(run)
        s64 = copy.deepcopy(student).double()
        s32 = copy.deepcopy(student)
        if m == "fitnet":
            attach_conv_reg(s64, tl64, x.double(), run)
            attach_conv_reg(s32, tl32, x, run)
        if m == "mlkd":
            l64, opt64 = two_steps(m, s64, views64[1], views64[0], y, d64)
            l32, opt32 = two_steps(m, s32, views32[1], views32[0], y, d32)
        else:
            l64, opt64 = two_steps(m, s64, tl64, x.double(), y, d64)
            l32, opt32 = two_steps(m, s32, tl32, x, y, d32)
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
        if m == "fitnet":  # the regressor: values, updates, statistics and momentum
            reg_refs(ref, s64.conv_reg, s32.conv_reg, opt64, opt32, run)
        fkio.write_safetensors(os.path.join(out, m + ".ref.safetensors"),
                               {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in ref.items()},
                               {"method": m})
        print("%s -> %s, %s: losses step 1 %s, step 2 %s; ReLU decisions from the device: %d, of them %d not "
              "float64's (largest |input| %.2g of its tensor's), %d not PyTorch float32's"
              % (t_name, s_name, m, l64[0], l64[1], d64.taken, d64.flipped,
                 d64.worst, d32.flipped))


def reg_refs(ref, r64, r32, opt64, opt32, run):
    """The regressor's entries of ref under figkd-cl's names: p., u., f32.u.
    and mom., f32.mom. (the SGD momentum buffers) of its parameters, p. and
    f32.p. of its BN statistics."""
    params = dict(r64.named_parameters())
    p32 = dict(r32.named_parameters())
    sd64, sd32 = r64.state_dict(), r32.state_dict()
    for k in sd64:
        if k.endswith("num_batches_tracked"):
            continue
        name = METHOD_PREFIX + k
        ref["p." + name] = sd64[k].float().numpy()
        if k in params:
            p0 = torch.from_numpy(np.array(run["m0." + name])).double()
            ref["u." + name] = (sd64[k] - p0).float().numpy()
            ref["f32.u." + name] = (sd32[k].double() - p0).float().numpy()
            ref["mom." + name] = opt64.state[params[k]]["momentum_buffer"].float().numpy()
            ref["f32.mom." + name] = opt32.state[p32[k]]["momentum_buffer"].float().numpy()
        else:
            ref["f32.p." + name] = sd32[k].numpy()


def main():
    out, args, seed = sys.argv[1] if len(sys.argv) > 1 else None, sys.argv[2:], 77
    if out is None:
        sys.exit(__doc__)
    if args == ["--refs"]:
        write_refs(out)
        return
    if args[:1] == ["--seed"]:
        seed, args = int(args[1]), args[2:]
    if len(args) > 1:
        write_case(out, args[0], args[1], args[2:], 4321, seed)
        return
    if args:
        sys.exit(__doc__)
    write_case(out, "resnet32x4", "resnet8x4", ["figkd", "kd", "dkd", "dist", "at", "pkt", "rkd"], 4321, seed)
    # mlkd on two families, each its own batch: on the batch above, a ReLU
    # decision at rounding distance lands in small tensors (test_train_step.c)
    write_case(os.path.join(out, "resnet"), "resnet32x4", "resnet8x4", ["mlkd"], 4321, 80)
    write_case(os.path.join(out, "wrn"), "wrn_40_2", "wrn_16_2", ["mlkd"], 4322, 78)


if __name__ == "__main__":
    main()
