#!/usr/bin/python3
"""Write the seed corpus of the fuzz targets: a few small valid files each.

usage: make_corpus.py [CORPUS_DIR]   (default: corpus/ beside this script)

The files are committed; run this again only to change the seeds. Inputs
that a fuzzer found are committed beside them as crash-*/regress-* files.
"""
import gzip
import io
import json
import os
import struct
import sys

import numpy as np
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- ini (first byte: flags, 1 = FK_INI_SECTION_CALLS) ----
ini = {}
ini["run.ini"] = (b"; a run\n[run]\nname = quick\nseed = 0\n\n[data]\ndataset = mnist\n"
    b"subset = 100 ; inline\n\n[optim]\nlr: 0.1\nmilestones = 10, 20\n")
ini["bom_crlf.ini"] = (b"\xef\xbb\xbf# crlf\r\n[student]\r\nmodel = resnet8\r\n")
ini["dup.ini"] = (b"[optim]\nlr = 1\n[data]\nx = 2\n[optim]\nlr = 3\n")
ini["bad.ini"] = (b"[run\nname\n  indented = 1\n= v\n")
for name, text in ini.items():
    put("ini", name, b"\x00" + text)
    put("ini", "s_" + name, b"\x01" + text)


# ---- safetensors ----
def safetensors(tensors, meta=None):
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name, arr in tensors:
        b = arr.tobytes()
        header[name] = {"dtype": {"float32": "F32", "int64": "I64"}[str(arr.dtype)],
                        "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


put("safetensors", "two.safetensors", safetensors(
    [("bn.num_batches_tracked", np.array(7, dtype=np.int64)),
     ("conv.weight", np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2))],
    {"epoch": "3", "config": "[run]\\nname = a"}))
put("safetensors", "empty.safetensors", safetensors([("e", np.zeros((0, 3), np.float32))]))
put("safetensors", "scalar.safetensors", safetensors([("s", np.array(1.5, np.float32))]))


# ---- npy ----
def npy(arr, version=1):
    bio = io.BytesIO()
    np.lib.format.write_array(bio, arr, version=(version, 0))
    return bio.getvalue()


put("npy", "v1.npy", npy(np.arange(6, dtype="<f4").reshape(2, 3)))
put("npy", "v2.npy", npy(np.arange(4, dtype="<f4"), 2))
put("npy", "scalar.npy", npy(np.array(2.5, dtype="<f4")))
put("npy", "empty.npy", npy(np.zeros((0, 5), dtype="<f4")))

# ---- idx (first byte: 0 = the input is the image file, 1 = the label file) ----
images = struct.pack(">IIII", 0x803, 2, 2, 2) + bytes(range(1, 9))
put("idx", "images_plain", b"\x00" + images)
put("idx", "images_gz", b"\x00" + gzip.compress(images, mtime=0))
put("idx", "labels_plain", b"\x01" + struct.pack(">II", 0x801, 2) + bytes([3, 9]))
put("idx", "labels_gz", b"\x01" + gzip.compress(struct.pack(">II", 0x801, 2) + bytes([3, 9]), mtime=0))
# two gzip members
put("idx", "images_gz2", b"\x00" + gzip.compress(images[:10], mtime=0) + gzip.compress(images[10:], mtime=0))

# ---- cifar (first byte: 0 = CIFAR-10 test_batch.bin, 1 = CIFAR-100 test.bin) ----
rng = np.random.default_rng(0)
rec10 = b"".join(bytes([k]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for k in (3, 7))
rec100 = b"".join(bytes([k % 20, k]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for k in (5, 99))
put("cifar", "cifar10_2", b"\x00" + rec10)
put("cifar", "cifar100_2", b"\x01" + rec100)

# ---- tinyimagenet (wnids.txt, "\n--\n", val_annotations.txt) ----
put("tinyimagenet", "two", b"n02\nn01\n\n--\nval_0.JPEG\tn01\t0\t0\t63\t63\n"
    b"val_1.JPEG\tn02\t1\t2\t3\t4\r\n")
put("tinyimagenet", "bad_id", b"n01\n--\nval_0.JPEG\tn99\t0\t0\t1\t1\n")


# ---- images ----
def img_bytes(mode, size, fmt, **kw):
    a = (np.arange(size[0] * size[1] * (3 if mode == "RGB" else 1)) * 7 % 256).astype(np.uint8)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    im = Image.fromarray(a.reshape(shape), mode)
    bio = io.BytesIO()
    im.save(bio, fmt, **kw)
    return bio.getvalue()


put("image", "rgb.png", img_bytes("RGB", (5, 3), "PNG"))
put("image", "grey.png", img_bytes("L", (4, 4), "PNG"))
put("image", "rgb.jpg", img_bytes("RGB", (8, 8), "JPEG", quality=90))
put("image", "grey.jpg", img_bytes("L", (9, 7), "JPEG"))
put("image", "progressive.jpg", img_bytes("RGB", (16, 16), "JPEG", progressive=True))
