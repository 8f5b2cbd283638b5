"""scripts/import_torch.py: PyTorch checkpoints in each layout users have
(bare state_dict, {"model"}, {"state_dict"}, DataParallel's "module."
prefix, the legacy non-zip format) import tensor for tensor, and the
imported file gives PyTorch's eval logits in `figkd-cl predict`. A
mis-shaped, missing or extra tensor is named; a pickle that would run code
runs nothing.

usage: test_import_torch.py FIGKD_CL WORKDIR   (Debian's python3 with torch)
"""

import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import e2e  # noqa: E402
import fkio  # noqa: E402
from e2e import check, finish, make_imagefolder, need_device  # noqa: E402

SCRIPT = os.path.join(HERE, "..", "scripts", "import_torch.py")
BIN, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
CLASSES, SIDE, PER = 10, 16, 2


def run_import(*args):
    r = subprocess.run([sys.executable, SCRIPT, *args, "--figkd-cl", BIN], cwd=WORK,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return r.returncode, r.stdout + r.stderr


def same_tensors(path, sd, what):
    got, meta = fkio.read_safetensors(path)
    ref = {k: v.numpy() for k, v in sd.items()}
    if not check(set(got) == set(ref), "%s: names differ: %s" % (what, sorted(set(got) ^ set(ref))[:5])):
        return
    bad = [k for k in ref if got[k].shape != ref[k].shape or not np.array_equal(got[k], ref[k].astype(got[k].dtype))]
    check(not bad, "%s: tensors differ: %s" % (what, bad[:5]))
    check(meta.get("figkd.model") == "resnet8" and meta.get("figkd.classes") == str(CLASSES),
          "%s: metadata %s" % (what, meta))


def layouts(torch, model):
    sd = model.state_dict()
    dp = {"module." + k: v for k, v in sd.items()}
    return [
        ("bare", sd, {}),
        ("model", {"model": sd, "epoch": 240, "best_acc": 71.5,
                   "optimizer": torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9).state_dict()}, {}),
        ("state_dict", {"state_dict": dp, "arch": "resnet8"}, {}),
        ("module", dp, {}),
        ("legacy", {"model": sd}, {"_use_new_zipfile_serialization": False}),
    ]


def make_data():
    make_imagefolder(WORK, CLASSES, PER, PER, SIDE, seed=3)
    e2e.write_config(WORK, e2e.ini(data=dict(e2e.DATA, input_size=SIDE), student=e2e.STUDENT,
                                   distill={"method": "ce"}))


def predict_matches_torch(torch, model, weights):
    out = os.path.join(WORK, "pred.npy")
    r = e2e.run(BIN, WORK, "predict", "run.ini", "--weights", weights, "--out", out)
    if not check(r.returncode == 0, "predict: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr)):
        return
    model.eval()
    with torch.no_grad():
        ref = model.double()(torch.tensor(e2e.test_images(WORK, CLASSES))).numpy()
    got = np.load(out)
    err = np.abs(got - ref).max() if got.shape == ref.shape else float("inf")
    lim = 1e-4 * np.abs(ref).max() + 1e-4  # float32 eval forward against float64, as in the model tests
    check(err <= lim, "predict of the imported file vs PyTorch: max |diff| %.3g (limit %.3g)" % (err, lim))
    print("predict: imported weights give PyTorch's logits (max |diff| %.2g)" % err)


def init_from_bigger(big):
    """[student] init from a 1000-class file: refused as it is (the
    classifier's shape), taken with init_exclude = fc.*, which keeps the
    student's own classifier and reports it by name."""
    e2e.write_config(WORK, open(os.path.join(WORK, "run.ini")).read().replace(
        "model = resnet8\n", "model = resnet8\ninit = init1000.safetensors\n") +
        "[optim]\nlr = 1e-12\nbatch_size = 4\nmax_steps = 1\n[run]\nout_dir = init-run\n", "init.ini")
    r = e2e.train(BIN, WORK, config="init.ini")
    check(r.returncode != 0 and "fc.weight" in r.stderr, "init without init_exclude: exit %d\n%s" %
          (r.returncode, r.stderr[-500:]))
    r = e2e.train(BIN, WORK, "--set", "student.init_exclude=fc.*", "--set", "run.out_dir=init-run2", config="init.ini")
    ok = check(r.returncode == 0 and "fc.weight" in r.stdout and "fc.bias" in r.stdout,
               "init_exclude = fc.*: exit %d\n%s%s" % (r.returncode, r.stdout[-800:], r.stderr[-800:]))
    if ok:
        got = fkio.read_safetensors(os.path.join(WORK, "init-run2", "last.safetensors"))[0]
        w0 = big["conv1.weight"].numpy()
        err = np.abs(got["conv1.weight"] - w0).max()
        check(err < 1e-6 and got["fc.weight"].shape == (CLASSES, 64),
              "init_exclude: conv1 off the file by %.3g, fc %s" % (err, got["fc.weight"].shape))
        print("init_exclude = fc.*: conv1 from the 1000-class file (max |diff| %.2g after one step at lr 1e-12), "
              "fc the student's own %s" % (err, got["fc.weight"].shape))


class Hostile:
    def __reduce__(self):
        return (os.system, ("touch %s" % os.path.join(WORK, "pwned"),))


def main():
    import torch
    import torch_models
    e2e.fresh_dir(WORK)
    torch.manual_seed(0)
    model = torch_models.build("resnet8", CLASSES)
    with torch.no_grad():  # non-trivial BN statistics, so that a dropped buffer shows
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(17)
    sd = model.state_dict()

    for name, obj, kw in layouts(torch, model):
        src, dst = os.path.join(WORK, name + ".pth"), os.path.join(WORK, name + ".safetensors")
        torch.save(obj, src, **kw)
        rc, out = run_import(src, dst, "--model", "resnet8")
        if check(rc == 0, "%s: exit %d\n%s" % (name, rc, out)):
            same_tensors(dst, sd, name)
            print("%s: %s" % (name, out.strip().splitlines()[0]))

    make_data()
    predict_matches_torch(torch, model, os.path.join(WORK, "bare.safetensors"))

    # one tensor of the wrong shape, one missing, one extra: each named, nothing written
    bad = dict(sd)
    bad["layer2.0.conv1.weight"] = torch.zeros(32, 16, 5, 5)
    del bad["bn1.running_var"]
    bad["head.weight"] = torch.zeros(3)
    torch.save(bad, os.path.join(WORK, "bad.pth"))
    rc, out = run_import("bad.pth", "bad.safetensors", "--model", "resnet8", "--classes", str(CLASSES))
    check(rc == 1 and "layer2.0.conv1.weight has shape [32, 16, 5, 5], the model needs [32, 16, 3, 3]" in out
          and "missing tensor bn1.running_var" in out and "extra tensor head.weight" in out
          and not os.path.exists(os.path.join(WORK, "bad.safetensors")),
          "bad tensors: exit %d\n%s" % (rc, out))
    print("bad tensors: exit %d: %s" % (rc, " | ".join(out.strip().splitlines()[1:])))

    # a 1000-class classifier left out for a 10-class student
    big = torch_models.build("resnet8", 1000).state_dict()
    torch.save({"model": big}, os.path.join(WORK, "imagenet.pth"))
    rc, out = run_import("imagenet.pth", "init.safetensors", "--model", "resnet8", "--classes", str(CLASSES))
    check(rc == 1 and "fc.weight has shape [1000, 64], the model needs [10, 64]" in out,
          "1000-class fc without --exclude: exit %d\n%s" % (rc, out))
    rc, out = run_import("imagenet.pth", "init.safetensors", "--model", "resnet8", "--classes", str(CLASSES),
                         "--exclude", "fc.*")
    got = fkio.read_safetensors(os.path.join(WORK, "init.safetensors"))[0] if rc == 0 else {}
    check(rc == 0 and "excluded: fc.weight" in out and "fc.weight" not in got and len(got) == len(big) - 2,
          "--exclude fc.*: exit %d\n%s" % (rc, out))

    # a student started from those 1000-class weights: [student] init_exclude = fc.*
    rc, out = run_import("imagenet.pth", "init1000.safetensors", "--model", "resnet8", "--classes", "1000")
    check(rc == 0, "1000 classes: exit %d\n%s" % (rc, out))
    init_from_bigger(big)

    # a pickle that would run a command: nothing runs, the import is refused
    with zipfile.ZipFile(os.path.join(WORK, "hostile.pth"), "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"model": Hostile()}, protocol=2))
    rc, out = run_import("hostile.pth", "hostile.safetensors", "--model", "resnet8")
    check(rc == 1 and not os.path.exists(os.path.join(WORK, "pwned")),
          "hostile pickle: exit %d, ran: %s\n%s" % (rc, os.path.exists(os.path.join(WORK, "pwned")), out))
    legacy_hostile = os.path.join(WORK, "hostile_legacy.pth")
    with open(legacy_hostile, "wb") as f:
        f.write(pickle.dumps(Hostile(), protocol=2))
    rc, out = run_import(legacy_hostile, "hostile.safetensors", "--model", "resnet8")
    check(rc == 1 and not os.path.exists(os.path.join(WORK, "pwned")),
          "hostile legacy pickle: exit %d\n%s" % (rc, out))
    print("hostile pickles: refused, nothing ran")

    rc, out = run_import("nothing.pth", "x.safetensors", "--model", "resnet8")
    check(rc == 1 and "nothing.pth" in out, "missing file: exit %d\n%s" % (rc, out))

    finish("import_torch")


if __name__ == "__main__":
    need_device(BIN)
    main()
