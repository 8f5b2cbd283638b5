"""Helpers of the Python end-to-end tests: checks that are counted rather
than stopping at the first, the skip when no OpenCL device exists, small
ImageFolder data sets in the real layout, config files and runs of
figkd-cl."""

import os
import shutil
import subprocess
import sys
import time

import numpy as np

failures = []


def check(cond, msg):
    """Record (and print) a failed check; returns cond."""
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)
    return cond


def need_device(binary):
    """Exit 77 (meson's skip) on a machine without an OpenCL device."""
    if subprocess.run([binary, "devices"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        print("no OpenCL device: skipped")
        sys.exit(77)


def finish(name):
    """Exit 1 when a check failed, else say that all passed."""
    if failures:
        print("%d checks failed" % len(failures))
        sys.exit(1)
    print("%s: all checks passed" % name)


def make_imagefolder(root, classes, train_per, test_per, side, step=25.0, noise=40.0, seed=5):
    """root/data/{train,test}/class<c>/<k>.png: class c has mean grey level
    step * c plus Gaussian noise, so that a little training learns."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    for split, per in (("train", train_per), ("test", test_per)):
        for c in range(classes):
            d = os.path.join(root, "data", split, "class%03d" % c)
            os.makedirs(d)
            for k in range(per):
                img = np.clip(step * c + rng.normal(0, noise, (side, side, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(os.path.join(d, "%03d.png" % k))


def test_images(root, classes):
    """The test split of make_imagefolder(root, classes, ...) in ImageFolder
    order as one float64 (N, 3, H, W) array, normalised with the ImageNet
    mean and std (no resize): what `figkd-cl predict` feeds the model."""
    from PIL import Image
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    xs = []
    for c in range(classes):
        d = os.path.join(root, "data", "test", "class%03d" % c)
        for name in sorted(os.listdir(d)):
            img = np.asarray(Image.open(os.path.join(d, name)).convert("RGB"), dtype=np.float64) / 255.0
            xs.append(((img - mean) / std).transpose(2, 0, 1))
    return np.stack(xs)


def fresh_dir(path):
    """An empty folder at path; whatever was there is removed."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


# The sections of a tiny run on make_imagefolder's data (16x16 images) from
# a resnet8 teacher checkpoint to a resnet8 student, for ini().
DATA = {"dataset": "imagefolder", "root": "data", "input_size": 16}
TEACHER = {"model": "resnet8", "checkpoint": "teacher.safetensors"}
STUDENT = {"model": "resnet8"}


def ini(**sections):
    """The text of a config: a [section] per keyword argument in the order
    given, each a dict of `key = value` lines in its own order."""
    return "".join("[%s]\n" % name + "".join("%s = %s\n" % kv for kv in keys.items())
                   for name, keys in sections.items())


def write_config(folder, text, name="run.ini"):
    """Write text as folder/name; returns name."""
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)
    return name


def run(binary, cwd, *args, env=None):
    """binary args... in cwd, stdout and stderr caught as text; the
    CompletedProcess also holds the wall-clock time as .seconds."""
    t0 = time.time()
    r = subprocess.run([binary] + list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    r.seconds = time.time() - t0
    return r


def train(binary, cwd, *args, config="run.ini", env=None, ok=False):
    """`figkd-cl train config args...` in cwd (see run); ok: a failed check
    unless it exits 0, naming the arguments, with stdout's end and stderr."""
    r = run(binary, cwd, "train", config, *args, env=env)
    if ok:
        check(r.returncode == 0, "%s: exit %d\n%s%s" % (" ".join(r.args[2:]), r.returncode, r.stdout[-2000:],
                                                         r.stderr))
    return r
