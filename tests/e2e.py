"""Helpers of the Python end-to-end tests: checks that are counted rather
than stopping at the first, the skip when no OpenCL device exists, and
small ImageFolder data sets in the real layout."""

import os
import subprocess
import sys

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
