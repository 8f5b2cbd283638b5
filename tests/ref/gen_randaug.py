"""References for tests/test_randaug.c: the strong augmentation of MLKD's
loader (src/data/augment.c, fk_randaug_op and fk_cutout) against Pillow.

usage: /usr/bin/python3 tests/ref/gen_randaug.py OUT_FILE   (run by tests/test_randaug.py at
test time: 8 MB of images, not committed)

Reference: the RandAugment ops of Jin-Ying/Multi-Level-Logit-Distillation
mdistiller/dataset/cifar100.py (augment_list and Cutout), the same Pillow
calls on "RGB" and "L" images: AutoContrast, Brightness, Color, Contrast,
Equalize, Identity, Posterize, Rotate, Sharpness, ShearX, ShearY, Solarize,
TranslateX, TranslateY, each at values across its range, and CutoutAbs with
given corners (RGB only: that code fills (125, 123, 114), which Pillow
refuses on an "L" image).

Tensors per case `c<k>/`: input and output (H, W, C) as float32 of the
8-bit values, params [op, value] (op: the index in augment_list) or
[-1, frac, cx, cy] for a cutout. Pillow's version is in the metadata.
"""

import os
import sys

import numpy as np
import PIL
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fkio  # noqa: E402



def shear_x(img, v):
    return img.transform(img.size, Image.AFFINE, (1, v, 0, 0, 1, 0))


def shear_y(img, v):
    return img.transform(img.size, Image.AFFINE, (1, 0, 0, v, 1, 0))


def translate_x(img, v):
    return img.transform(img.size, Image.AFFINE, (1, 0, v * img.size[0], 0, 1, 0))


def translate_y(img, v):
    return img.transform(img.size, Image.AFFINE, (1, 0, 0, 0, 1, v * img.size[1]))


OPS = [  # (function, low, high) in augment_list's order
    (lambda img, _: ImageOps.autocontrast(img), 0, 1),
    (lambda img, v: ImageEnhance.Brightness(img).enhance(v), 0.05, 0.95),
    (lambda img, v: ImageEnhance.Color(img).enhance(v), 0.05, 0.95),
    (lambda img, v: ImageEnhance.Contrast(img).enhance(v), 0.05, 0.95),
    (lambda img, _: ImageOps.equalize(img), 0, 1),
    (lambda img, v: img, 0, 1),
    (lambda img, v: ImageOps.posterize(img, max(1, int(v))), 4, 8),
    (lambda img, v: img.rotate(v), -30, 30),
    (lambda img, v: ImageEnhance.Sharpness(img).enhance(v), 0.05, 0.95),
    (shear_x, -0.3, 0.3),
    (shear_y, -0.3, 0.3),
    (lambda img, v: ImageOps.solarize(img, v), 0, 256),
    (translate_x, -0.3, 0.3),
    (translate_y, -0.3, 0.3),
]


def cutout_abs(img, v, x0, y0):
    """CutoutAbs with the corners drawn by the caller."""
    w, h = img.size
    x0 = int(max(0, x0 - v / 2.0))
    y0 = int(max(0, y0 - v / 2.0))
    x1 = min(w, x0 + v)
    y1 = min(h, y0 + v)
    img = img.copy()
    ImageDraw.Draw(img).rectangle((x0, y0, x1, y1), (125, 123, 114))
    return img


def images(rng):
    """RGB and L test images: noise, a narrow range, a smooth gradient."""
    out = []
    out.append(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    out.append(rng.integers(60, 140, (32, 32, 3), dtype=np.uint8))
    yy, xx = np.mgrid[0:32, 0:32]
    grad = np.stack([xx * 7 % 256, yy * 5 + 20, (xx + yy) * 3], -1).astype(np.uint8)
    out.append(grad)
    out.append(rng.integers(0, 256, (28, 28, 1), dtype=np.uint8))
    out.append(rng.integers(30, 90, (24, 20, 3), dtype=np.uint8))
    return out


def pil(a):
    return Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a, "L" if a.shape[2] == 1 else "RGB")


def arr(img, c):
    a = np.asarray(img, np.uint8)
    return a.reshape(a.shape[0], a.shape[1], c)


def main():
    rng = np.random.default_rng(20261203)
    out, k = {}, 0
    for a in images(rng):
        for op, (fn, lo, hi) in enumerate(OPS):
            vals = [lo, hi - 1e-9, lo + (hi - lo) * 0.5] + list(lo + (hi - lo) * rng.random(3))
            if op == 7:
                vals += [0.0, -0.0001, 29.99]
            for v in vals:
                # the value as float32 is what the test reads back
                v32 = float(np.float32(v))
                out["c%d/input" % k] = a.astype(np.float32)
                out["c%d/params" % k] = np.array([op, v32], np.float32)
                out["c%d/output" % k] = arr(fn(pil(a), v32), a.shape[2]).astype(np.float32)
                k += 1
        if a.shape[2] == 3:
            for frac, cx, cy in ((0.3, 5.5, 31.2), (0.49, 32.0, 1.0), (0.1, 17.3, 9.9), (0.0, 3.0, 3.0)):
                v = frac * a.shape[1]
                res = cutout_abs(pil(a), v, cx, cy) if frac > 0 else pil(a)
                out["c%d/input" % k] = a.astype(np.float32)
                out["c%d/output" % k] = arr(res, 3).astype(np.float32)
                out["c%d/params" % k] = np.array([-1, frac, cx, cy], np.float32)
                k += 1
    path = sys.argv[1]
    fkio.write_safetensors(path, out, metadata={"generator": "tests/ref/gen_randaug.py", "pillow": PIL.__version__})
    print(path, os.path.getsize(path), "bytes,", k, "cases")


if __name__ == "__main__":
    main()
