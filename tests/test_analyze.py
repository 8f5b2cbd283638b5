"""`figkd-cl analyze` against pywt, `predict --labels/--features`, and
scripts/figures.py on the project's own outputs.

- analyze --json counts exactly as many correct samples as the same
  reconstructions computed by pywt (dwt2/idwt2, 'haar', mode 'zero') from
  predict's logits, arg-max ties to the lowest index as torch.argmax, for
  an even grid (100 classes: 10x10) and an odd one (10 classes: 2x5); the
  band energies match pywt's coefficients; with --teacher, the agreement of
  the two models' arg-max matches too.
- predict --labels writes the labels of the same images in the same order
  (int64); --features the classifier's input: features @ fc.weight^T + bias
  gives the logits.
- eval and analyze of a checkpoint with NaN BatchNorm statistics stop with
  an error (non-finite logits never count as correct).
- eval, predict and analyze run a student's checkpoint from a config with
  no [teacher] and no [student] model (the checkpoint names its model).
- figures.py draws curves (two real training runs' metrics.jsonl, teacher
  stage included), bands (predict's logits), tsne (two feature files) and
  sensitivity (runs that differ in distill.beta): each PNG exists, decodes
  and has the size its figure asks for; sensitivity of a run whose config
  does not set the parameter needs --default.

usage: test_analyze.py FIGKD_CL WORKDIR   (Debian's python3: numpy, torch,
pywt, PIL, matplotlib, sklearn)
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import fkio  # noqa: E402
from e2e import check, finish, make_imagefolder, need_device  # noqa: E402

BIN, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
FIGURES = os.path.join(HERE, "..", "scripts", "figures.py")
SIDE = 16


def run(args, cwd):
    r = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not check(r.returncode == 0, "%s: exit %d\n%s%s" % (" ".join(args[:3]), r.returncode, r.stdout[-1500:],
                                                           r.stderr[-1500:])):
        return None
    return r.stdout


def make_weights(root, name, model, classes, seed):
    import torch
    import torch_models
    torch.manual_seed(seed)
    m = torch_models.build(model, classes)
    fkio.save_torch(os.path.join(root, name), m.state_dict(), metadata={"model": model})
    return m


def config(root, classes, extra=""):
    with open(os.path.join(root, "run.ini"), "w") as f:
        f.write("[run]\nseed = 3\neval_every = 1\nlog_every = 1\n[data]\ndataset = imagefolder\nroot = data\n"
                "input_size = %d\nworkers = 1\n[teacher]\nmodel = resnet14\ncheckpoint = teacher.safetensors\n"
                "[student]\nmodel = resnet8\n[distill]\nmethod = figkd\n[optim]\nbatch_size = 16\nepochs = 2\n"
                "milestones = 1\n%s" % (SIDE, extra))


def pywt_top1(logits, labels):
    """Correct counts (full, low, high), band energies and arg-maxes, by pywt."""
    import pywt
    n, c = logits.shape
    h = max(d for d in range(1, int(c ** 0.5) + 1) if c % d == 0)
    w = c // h
    preds = np.zeros((n, 3), dtype=np.int64)
    energy = np.zeros(4)
    for i in range(n):
        g = logits[i].astype(np.float64).reshape(h, w)
        cA, (cH, cV, cD) = pywt.dwt2(g, "haar", mode="zero")
        for b, band in enumerate((cA, cH, cV, cD)):
            energy[b] += float((band ** 2).sum())
        low = pywt.idwt2((cA, (None, None, None)), "haar", mode="zero")[:h, :w]
        high = pywt.idwt2((None, (cH, cV, cD)), "haar", mode="zero")[:h, :w]
        preds[i] = [np.argmax(g.reshape(-1)), np.argmax(low.reshape(-1)), np.argmax(high.reshape(-1))]
    correct = [(preds[:, k] == labels).sum() for k in range(3)]
    return correct, energy / energy.sum(), preds, (h, w)


def analyze_case(classes, per):
    root = os.path.join(WORK, "c%d" % classes)
    os.makedirs(root)
    make_imagefolder(root, classes, per, per, SIDE, step=255.0 / classes, noise=30.0, seed=classes)
    student = make_weights(root, "student.safetensors", "resnet8", classes, 1)
    make_weights(root, "teacher.safetensors", "resnet14", classes, 2)
    config(root, classes)
    out = run([BIN, "predict", "run.ini", "--weights", "student.safetensors", "--out", "s.npy", "--labels",
               "y.npy", "--features", "f.npy"], root)
    run([BIN, "predict", "run.ini", "--weights", "teacher.safetensors", "--model", "resnet14", "--out", "t.npy",
         "--features", "tf.npy"], root)
    if out is None:
        return
    s, y, f = (np.load(os.path.join(root, x)) for x in ("s.npy", "y.npy", "f.npy"))
    t = np.load(os.path.join(root, "t.npy"))
    n = classes * per
    check(y.dtype == np.int64 and y.shape == (n,) and (y == np.repeat(np.arange(classes), per)).all(),
          "%d classes: labels %s %s, expected the ImageFolder order" % (classes, y.dtype, y.shape))
    sd = student.state_dict()
    fc_w, fc_b = sd["fc.weight"].numpy().astype(np.float64), sd["fc.bias"].numpy().astype(np.float64)
    again = f.astype(np.float64) @ fc_w.T + fc_b
    err = np.abs(again - s).max() if f.shape == (n, fc_w.shape[1]) else float("inf")
    check(err < 1e-4 * (1 + np.abs(s).max()),
          "%d classes: features %s do not give the logits through fc (max |diff| %.3g)" % (classes, f.shape, err))

    js = run([BIN, "analyze", "run.ini", "--weights", "student.safetensors", "--teacher", "--json"], root)
    if js is None:
        return
    r = json.loads(js)
    correct, energy, sp, grid = pywt_top1(s, y)
    tcorrect, tenergy, tp, _ = pywt_top1(t, y)
    got = [round(r["top1"][k] * r["n"]) for k in ("full", "low", "high")]
    tgot = [round(r["teacher"]["top1"][k] * r["n"]) for k in ("full", "low", "high")]
    check(r["n"] == n and got == [int(x) for x in correct] and tgot == [int(x) for x in tcorrect],
          "%d classes: analyze counts %s / teacher %s, pywt %s / %s" % (classes, got, tgot, correct, tcorrect))
    e = [r["energy"][b] for b in ("LL", "LH", "HL", "HH")]
    te = [r["teacher"]["energy"][b] for b in ("LL", "LH", "HL", "HH")]
    check(np.allclose(e, energy, atol=1e-5) and np.allclose(te, tenergy, atol=1e-5),
          "%d classes: energy %s vs pywt %s" % (classes, e, energy))
    agree = [round(r["agreement"][k] * n) for k in ("full", "low", "high")]
    check(agree == [int((sp[:, k] == tp[:, k]).sum()) for k in range(3)], "%d classes: agreement %s" % (classes, agree))
    check(r["grid"] == list(grid), "%d classes: grid %s, expected %s" % (classes, r["grid"], grid))
    print("%d classes (grid %dx%d): analyze = pywt: correct %s, teacher %s, energy %s" %
          (classes, grid[0], grid[1], got, tgot, np.round(e, 4).tolist()))
    return root


def nonfinite(root):
    """A checkpoint whose BatchNorm statistics hold NaN: eval and analyze
    stop with an error instead of reporting an accuracy."""
    tensors, meta = fkio.read_safetensors(os.path.join(root, "student.safetensors"))
    tensors["bn1.running_var"] = tensors["bn1.running_var"].copy()
    tensors["bn1.running_var"][0] = np.nan
    fkio.write_safetensors(os.path.join(root, "nan.safetensors"), tensors, meta)
    for cmd in (["eval"], ["analyze"]):
        r = subprocess.run([BIN] + cmd + ["run.ini", "--weights", "nan.safetensors"], cwd=root,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check(r.returncode != 0 and "NaN" in r.stderr and "top-1" not in r.stdout,
              "%s with NaN statistics: exit %d\n%s%s" % (cmd[0], r.returncode, r.stdout, r.stderr))
        print("%s with a NaN running_var: exit %d: %s" % (cmd[0], r.returncode, r.stderr.strip().splitlines()[-1]))


def weights_only(root, run_dir):
    """eval, predict and analyze of a trained student need its weights only:
    a config with neither [teacher] nor [student] model (the method is
    FiGKD, the default), the model named by the checkpoint."""
    with open(os.path.join(root, "bare.ini"), "w") as f:
        f.write("[data]\ndataset = imagefolder\nroot = data\ninput_size = %d\n" % SIDE)
    w = os.path.join(run_dir, "best.safetensors")
    for cmd in (["eval"], ["predict", "--out", "bare.npy", "--labels", "bare_y.npy"], ["analyze", "--json"]):
        r = subprocess.run([BIN] + cmd[:1] + ["bare.ini", "--weights", w] + cmd[1:], cwd=root,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check(r.returncode == 0, "%s with a bare config: exit %d\n%s" % (cmd[0], r.returncode, r.stderr[-800:]))
    r = subprocess.run([BIN, "eval", "bare.ini", "--weights", "teacher.safetensors"], cwd=root,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.returncode != 0 and "--model" in r.stderr,
          "weights without a model name and no model given: exit %d\n%s" % (r.returncode, r.stderr))
    r = subprocess.run([BIN, "eval", "bare.ini", "--weights", "teacher.safetensors", "--model", "resnet14"], cwd=root,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0 and "resnet14" in r.stdout, "eval --model resnet14: exit %d\n%s%s" %
          (r.returncode, r.stdout, r.stderr))
    print("eval, predict, analyze with weights only: ok")


def png_size(path):
    from PIL import Image
    with Image.open(path) as im:
        im.load()
        return im.size


def figures(root):
    """Each figure from this project's own outputs."""
    runs = []
    for beta in ("1", "2"):
        d = "run-beta" + beta
        run([BIN, "train", "run.ini", "--set", "run.out_dir=" + d, "--set", "distill.beta=" + beta,
             "--set", "teacher.checkpoint=" + d + "/teacher.safetensors", "--set", "teacher_optim.epochs=1"], root)
        runs.append(os.path.join(root, d))
    weights_only(root, runs[0])
    cases = [
        ("curves.png", ["curves"] + runs + ["--names", "beta1,beta2"], (4.2 * 3, 3.2 * 2)),
        ("bands.png", ["bands", "--logits", "s.npy", "t.npy", "--names", "student,teacher", "--samples", "0,5"],
         (3.2 * 3 + 1, 2.6 * 4)),
        ("tsne.png", ["tsne", "--features", "f.npy", "tf.npy", "--labels", "y.npy", "--names", "student,teacher"],
         (9.0, 4.5)),
        ("sensitivity.png", ["sensitivity"] + runs + ["--param", "distill.beta"], (5, 3.5)),
    ]
    for out, args, inches in cases:
        if run([sys.executable, FIGURES] + args + ["--out", out, "--dpi", "50"], root) is None:
            continue
        size = png_size(os.path.join(root, out))
        want = (round(inches[0] * 50), round(inches[1] * 50))
        check(abs(size[0] - want[0]) <= 1 and abs(size[1] - want[1]) <= 1,
              "%s: %s pixels, expected %s" % (out, size, want))
        print("figures.py %s: %dx%d PNG" % (args[0], size[0], size[1]))
    default_value(root, runs)
    curve_colours(runs)


def curve_colours(runs):
    """A series keeps its legend's colour in every panel, also in those
    where another series has no such column (the teacher stage has no
    figkd term); no panel for ce's always-zero "none" column."""
    import argparse
    sys.path.insert(0, os.path.dirname(FIGURES))
    import figures as fig_mod
    out = os.path.join(WORK, "colours.png")
    fig = fig_mod.curves(argparse.Namespace(runs=runs, names="beta1,beta2", out=out, dpi=30))
    colour, titles = {}, []
    for ax in fig.axes:
        titles.append(ax.get_title())
        for line in ax.get_lines():
            c = colour.setdefault(line.get_label(), line.get_color())
            check(c == line.get_color(), "curves: %s is %s in '%s', %s elsewhere" %
                  (line.get_label(), line.get_color(), ax.get_title(), c))
    check(len(colour) == 4 and "loss: figkd" in titles and "loss: none" not in titles,
          "curves: series %s, panels %s" % (sorted(colour), titles))
    print("figures.py curves: one colour per series: ok")


def default_value(root, runs):
    """sensitivity of a run whose config does not set the parameter (a run
    at the program's default): an error naming --default, drawn with it."""
    bare = os.path.join(root, "run-default")
    shutil.copytree(runs[0], bare)
    path = os.path.join(bare, "config.ini")
    lines = open(path).read().splitlines(True)
    with open(path, "w") as f:
        f.writelines(l for l in lines if "distill.beta" not in l)
    args = [sys.executable, FIGURES, "sensitivity", bare, runs[1], "--param", "distill.beta", "--dpi", "50"]
    r = subprocess.run(args + ["--out", "nodefault.png"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    check(r.returncode != 0 and "--default" in r.stderr and not os.path.exists(os.path.join(root, "nodefault.png")),
          "sensitivity of a run without distill.beta, no --default: exit %d\n%s" % (r.returncode, r.stderr))
    if run(args + ["--default", "1", "--out", "default.png"], root) is not None:
        check(png_size(os.path.join(root, "default.png")) == (250, 175), "sensitivity --default: wrong PNG size")
        print("figures.py sensitivity --default: ok")


def main():
    need_device(BIN)
    if os.path.exists(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    analyze_case(100, 2)
    root = analyze_case(10, 6)
    if root:
        nonfinite(root)
        figures(root)
    finish("analyze")


if __name__ == "__main__":
    main()
