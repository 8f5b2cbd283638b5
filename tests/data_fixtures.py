#!/usr/bin/python3
"""Write small data sets in each real on-disk format for tests/test_data.c.

usage: data_fixtures.py OUTDIR [STAMP]

Pixel patterns are functions of (image index, y, x, channel) that the C test
recomputes; JPEG files come with PIL's decode of them (expect/*.rgb) and the
resize references come from PIL's bilinear resize, as torchvision uses it.
"""
import gzip
import os
import shutil
import struct
import sys

import numpy as np
from PIL import Image


def cifar_pixel(i, ch, y, x):
    return (i * 31 + ch * 67 + y * 8 + x * 3) % 256


def cifar_records(n, c100, label_of):
    out = bytearray()
    for i in range(n):
        lab = label_of(i)
        if c100:
            out += bytes([lab % 20, lab])
        else:
            out += bytes([lab])
        for ch in range(3):
            for y in range(32):
                for x in range(32):
                    out.append(cifar_pixel(i, ch, y, x))
    return bytes(out)


def idx_pixel(i, y, x):
    return (i * 7 + y * 28 + x) % 256


def idx_files(n):
    img = struct.pack(">IIII", 0x803, n, 28, 28)
    img += bytes(idx_pixel(i, y, x) for i in range(n) for y in range(28) for x in range(28))
    lab = struct.pack(">II", 0x801, n) + bytes((i * 3) % 10 for i in range(n))
    return img, lab


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def rgb_raw(path, arr):
    """Expected pixels: 'h w\\n' then HWC bytes."""
    h, w = arr.shape[:2]
    write(path, b"%d %d\n" % (h, w) + arr.astype(np.uint8).tobytes())


def main():
    out = sys.argv[1]
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    rng = np.random.RandomState(0)

    # CIFAR-100: 40 train records (fine label = i % 4, so 4 classes in use), 10 test
    write(f"{out}/cifar100/train.bin", cifar_records(40, True, lambda i: (i % 4) * 25))
    write(f"{out}/cifar100/test.bin", cifar_records(10, True, lambda i: 99 - i))
    # truncated: 3 whole records and a partial one
    write(f"{out}/cifar100_trunc/train.bin", cifar_records(4, True, lambda i: 1)[:3 * 3074 + 100])
    bad = bytearray(cifar_records(5, True, lambda i: 1))
    bad[3 * 3074 + 1] = 150  # record 3: fine label out of range
    write(f"{out}/cifar100_badlabel/test.bin", bytes(bad))
    # CIFAR-10: five training batches of 4 records (each class twice), a test batch of 3
    for k in range(1, 6):
        write(f"{out}/cifar10/data_batch_{k}.bin",
              cifar_records(4, False, lambda i, k=k: (4 * (k - 1) + i) % 10))
    write(f"{out}/cifar10/test_batch.bin", cifar_records(3, False, lambda i: 9))

    # IDX, gzip'd and plain
    img, lab = idx_files(50)
    for name, data in (("train-images-idx3-ubyte", img), ("train-labels-idx1-ubyte", lab),
                       ("t10k-images-idx3-ubyte", img[:16 + 20 * 784]),
                       ("t10k-labels-idx1-ubyte", lab[:8] + lab[8:28])):
        if name.startswith("t10k"):
            data = data[:4] + struct.pack(">I", 20) + data[8:]
        write(f"{out}/idx_plain/{name}", data)
        write(f"{out}/idx_gz/{name}.gz", gzip.compress(data))
    # truncated image file (gzip'd): header says 50, data holds 12.5 images
    write(f"{out}/idx_trunc/train-images-idx3-ubyte.gz", gzip.compress(img[:16 + 12 * 784 + 400]))
    write(f"{out}/idx_trunc/train-labels-idx1-ubyte.gz", gzip.compress(lab))
    # corrupt gzip stream
    z = bytearray(gzip.compress(img))
    z[len(z) // 2:len(z) // 2 + 64] = b"\xff" * 64
    write(f"{out}/idx_corrupt/train-images-idx3-ubyte.gz", bytes(z))
    write(f"{out}/idx_corrupt/train-labels-idx1-ubyte.gz", gzip.compress(lab))

    # ImageFolder: classes created in unsorted order; PNG and JPEG, varied sizes
    sizes = [(30, 40), (48, 36), (33, 33), (20, 64)]
    for split, per in (("train", 3), ("test", 2)):
        for cls in ("zebra", "apple", "mango"):
            for k in range(per):
                h, w = sizes[(k + len(cls)) % 4]
                arr = rng.randint(0, 256, size=(h, w, 3)).astype(np.uint8)
                # smooth JPEGs decode close to the source; the exact check is vs PIL
                arr = (arr // 64 * 64 + 32).astype(np.uint8) if k % 2 else arr
                name = f"{k:02d}_{cls}"
                d = f"{out}/folder/{split}/{cls}"
                os.makedirs(d, exist_ok=True)
                if k % 2 == 0:
                    Image.fromarray(arr).save(f"{d}/{name}.png")
                    rgb_raw(f"{out}/expect/{split}_{cls}_{name}.rgb", arr)
                else:
                    Image.fromarray(arr).save(f"{d}/{name}.jpg", quality=90)
                    dec = np.asarray(Image.open(f"{d}/{name}.jpg").convert("RGB"))
                    rgb_raw(f"{out}/expect/{split}_{cls}_{name}.rgb", dec)
    os.makedirs(f"{out}/folder/train/apple/notes", exist_ok=True)  # ignored: a folder
    write(f"{out}/folder/train/apple/readme.txt", b"ignored: not an image\n")
    # bad trees: a truncated JPEG, a file that is not an image
    for name, data in (("folder_trunc", None), ("folder_garbage", b"not an image at all")):
        d = f"{out}/{name}/train/cls"
        os.makedirs(d, exist_ok=True)
        Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(f"{d}/a.png")
        if data is None:
            full = f"{d}/b.jpg"
            Image.fromarray(rng.randint(0, 256, (60, 60, 3)).astype(np.uint8)).save(full)
            with open(full, "rb") as f:
                raw = f.read()
            write(full, raw[:len(raw) // 2])
        else:
            write(f"{d}/b.jpg", data)

    # TinyImageNet: wnids.txt unsorted; class index = sorted position
    wnids = ["n03000000", "n01000000", "n02000000"]
    root = f"{out}/tiny-imagenet-200"
    write(f"{root}/wnids.txt", ("\n".join(wnids) + "\n").encode())
    for wn in wnids:
        for k in range(4):
            v = int(wn[1:3]) * 40 + k * 10  # uniform colour: JPEG-exact enough
            arr = np.full((64, 64, 3), v, np.uint8)
            d = f"{root}/train/{wn}/images"
            os.makedirs(d, exist_ok=True)
            Image.fromarray(arr).save(f"{d}/{wn}_{k}.JPEG", quality=95)
        write(f"{root}/train/{wn}/{wn}_boxes.txt", b"")
    ann = []
    os.makedirs(f"{root}/val/images", exist_ok=True)
    for k in range(6):
        wn = wnids[k % 3]
        Image.fromarray(np.full((64, 64, 3), 100 + k, np.uint8)).save(
            f"{root}/val/images/val_{k}.JPEG", quality=95)
        ann.append(f"val_{k}.JPEG\t{wn}\t0\t0\t63\t63")
    write(f"{root}/val/val_annotations.txt", ("\n".join(ann) + "\n").encode())

    # resize references (PIL bilinear, as torchvision on PIL images)
    src = rng.randint(0, 256, size=(30, 40, 3)).astype(np.uint8)
    rgb_raw(f"{out}/expect/resize_src.rgb", src)
    im = Image.fromarray(src)
    # RandomResizedCrop-like: crop box (top 3, left 5, h 20, w 24) -> 16x16
    rgb_raw(f"{out}/expect/resize_crop.rgb",
            np.asarray(im.crop((5, 3, 29, 23)).resize((16, 16), Image.BILINEAR)))
    # upscaling crop (top 2, left 1, h 9, w 7) -> 16x16
    rgb_raw(f"{out}/expect/resize_up.rgb",
            np.asarray(im.crop((1, 2, 8, 11)).resize((16, 16), Image.BILINEAR)))
    # eval: Resize(18) on 30x40 -> 18x24, CenterCrop(16): top round(1.0)=1, left round(4.0)=4
    r = im.resize((24, 18), Image.BILINEAR)
    rgb_raw(f"{out}/expect/resize_eval.rgb", np.asarray(r.crop((4, 1, 20, 17))))
    # configs for `figkd-cl data`
    write(f"{out}/cmd.ini", (f"[run]\nseed = 1\n\n[data]\ndataset = mnist\nroot = {out}/idx_gz\n"
                             "channels = 3\nworkers = 2\n\n[optim]\nbatch_size = 8\n").encode())
    write(f"{out}/cmd_bad.ini", b"[data]\ndataset = mnist\n; comment\n\nsubset = -3\n")
    with open(sys.argv[2] if len(sys.argv) > 2 else f"{out}/stamp", "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    main()
