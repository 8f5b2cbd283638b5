#!/usr/bin/python3
"""Write small data sets in each real on-disk format for tests/test_data.c.

usage: data_fixtures.py OUTDIR [STAMP]

Pixel patterns are functions of (image index, y, x, channel) that the C test
recomputes; JPEG files come with PIL's decode of them (expect/*.rgb) and the
resize references come from PIL's bilinear resize, as torchvision uses it.
"""
import gzip
import os
import pickle
import shutil
import struct
import sys
import zlib

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


# ---- the layouts as downloaded (tests/test_data_layouts.c) ----

class Py2Pickle:
    """Opcode stream as Python 2's cPickle.dump(obj, f, 2) writes the CIFAR
    batches: str as SHORT_BINSTRING/BINSTRING, a BINPUT after each object,
    lists and dicts filled in MARK batches of at most 1000."""

    def __init__(self):
        self.b = bytearray(b"\x80\x02")
        self.memo = 1

    def put(self):
        if self.memo < 256:
            self.b += b"q" + bytes([self.memo])
        else:
            self.b += b"r" + struct.pack("<I", self.memo)
        self.memo += 1

    def str_(self, s):
        s = s if isinstance(s, bytes) else s.encode()
        self.b += (b"U" + bytes([len(s)])) if len(s) < 256 else (b"T" + struct.pack("<i", len(s)))
        self.b += s
        self.put()

    def int_(self, v):
        if 0 <= v < 256:
            self.b += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.b += b"M" + struct.pack("<H", v)
        else:
            self.b += b"J" + struct.pack("<i", v)

    def global_(self, mod, name):
        self.b += b"c" + mod.encode() + b"\n" + name.encode() + b"\n"
        self.put()

    def ndarray(self, arr):
        self.global_("numpy.core.multiarray", "_reconstruct")
        self.global_("numpy", "ndarray")
        self.b += b"K\x00\x85"
        self.put()
        self.str_(b"b")
        self.b += b"\x87R"
        self.put()
        self.b += b"(K\x01"
        for d in arr.shape:
            self.int_(d)
        self.b += b"\x86"
        self.put()
        self.global_("numpy", "dtype")
        self.str_(b"u1")
        self.b += b"K\x00K\x01\x87R"
        self.put()
        self.b += b"(K\x03"
        self.str_(b"|")
        self.b += b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
        self.str_(arr.tobytes())
        self.b += b"tb"

    def value(self, v):
        if isinstance(v, np.ndarray):
            self.ndarray(v)
        elif isinstance(v, (bytes, str)):
            self.str_(v)
        elif isinstance(v, int):
            self.int_(v)
        elif isinstance(v, list):
            self.b += b"]"
            self.put()
            for k in range(0, len(v), 1000):
                self.b += b"("
                for x in v[k:k + 1000]:
                    self.value(x)
                self.b += b"e"
        elif isinstance(v, dict):
            self.b += b"}"
            self.put()
            self.b += b"("
            for k, x in v.items():
                self.value(k)
                self.value(x)
            self.b += b"u"

    def dumps(self, obj):
        self.value(obj)
        self.b += b"."
        return bytes(self.b)


def cifar_rows(n, first):
    """Rows of R, G, B planes, pixel = cifar_pixel(first + i, ch, y, x)."""
    return np.array([[cifar_pixel(first + i, ch, y, x) for ch in range(3) for y in range(32)
                      for x in range(32)] for i in range(n)], np.uint8)


def py2_pickle(obj):
    return Py2Pickle().dumps(obj)


def py3_pickle(obj):
    return pickle.dumps(obj, protocol=2)


def mat_elem(t, data, pad=True):
    b = struct.pack("<II", t, len(data)) + data
    return b + b"\0" * (-len(b) % 8 if pad else 0)


def mat_matrix(cls, dims, name, body):
    flags = mat_elem(6, struct.pack("<II", cls, 0))
    dim = mat_elem(5, struct.pack("<%di" % len(dims), *dims))
    if 0 < len(name) <= 4:  # small data element, as MATLAB writes short names
        nm = struct.pack("<HH", 1, len(name)) + name.ljust(4, b"\0")
    else:
        nm = mat_elem(1, name)
    return mat_elem(14, flags + dim + nm + body)


def mat_cell(name, strings):
    cells = b"".join(mat_matrix(4, [1, len(t)], b"", mat_elem(4, t.encode("utf-16-le")))
                     for t in strings)
    return mat_matrix(1, [len(strings), 1], name, cells)


def mat_numbers(name, values, as_uint8):
    """A double array; MATLAB stores whole numbers in the smallest type."""
    data = mat_elem(2, bytes(values)) if as_uint8 else mat_elem(9, struct.pack(
        "<%dd" % len(values), *values))
    return mat_matrix(6, [len(values), 1], name, data)


def mat_file(variables, compress):
    head = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jun 13 12:00:00 2011"
    out = head.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    for v in variables:
        out += mat_elem(15, zlib.compress(v), pad=False) if compress else v
    return out


def jpeg(path, h, w, v):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((h, w, 3), v, np.uint8)).save(path, quality=95)


def layouts(out):
    # CIFAR-100, Python version as the original Python 2 files: in a holder folder
    d = f"{out}/c100py_holder/cifar-100-python"
    for name, n, first in (("train", 8, 0), ("test", 4, 100)):
        fine = [(first + 13 * i) % 100 for i in range(n)]
        write(f"{d}/{name}", py2_pickle({
            b"filenames": [b"img_%d.png" % (first + i) for i in range(n)],
            b"batch_label": b"training batch 1 of 1" if name == "train" else b"testing batch 1 of 1",
            b"fine_labels": fine,
            b"coarse_labels": [y // 5 for y in fine],
            b"data": cifar_rows(n, first)}))
    write(f"{d}/meta", py2_pickle({b"fine_label_names": [b"class%02d" % k for k in range(100)],
                                   b"coarse_label_names": [b"super%02d" % k for k in range(20)]}))
    # CIFAR-10, Python version: batches 1, 3, 5 as Python 2 wrote them, 2, 4, the
    # test batch and the meta file as Python 3's pickle.dump(..., protocol=2) does
    # (also with numpy integers for labels, as a re-saved batch may have)
    d = f"{out}/c10py/cifar-10-batches-py"
    for k in range(1, 6):
        obj = {b"batch_label": b"training batch %d of 5" % k,
               b"labels": [(3 * (k - 1) + i) % 10 for i in range(3)],
               b"data": cifar_rows(3, 3 * (k - 1)),
               b"filenames": [b"f%d_%d.png" % (k, i) for i in range(3)]}
        if k == 4:  # labels as numpy integer scalars, as list(np.array(...)) gives
            obj[b"labels"] = list(np.array(obj[b"labels"], np.int64))
        write(f"{d}/data_batch_{k}", (py2_pickle if k % 2 else py3_pickle)(obj))
    # the test batch's labels as a numpy array
    write(f"{d}/test_batch", py3_pickle({b"labels": np.array([9, 8], np.int64),
                                         b"data": cifar_rows(2, 50)}))
    write(f"{d}/batches.meta", py3_pickle({b"label_names": [b"airplane", b"automobile", b"bird",
                                           b"cat", b"deer", b"dog", b"frog", b"horse", b"ship",
                                           b"truck"], b"num_vis": 3072, b"num_cases_per_batch": 3}))
    # CIFAR-100 binary version in its archive's folder
    write(f"{out}/c100bin_holder/cifar-100-binary/train.bin",
          cifar_records(6, True, lambda i: 7 * i))
    write(f"{out}/c100bin_holder/cifar-100-binary/test.bin", cifar_records(2, True, lambda i: 1))
    # broken pickles
    good = py2_pickle({b"fine_labels": [1, 2], b"data": cifar_rows(2, 0)})
    write(f"{out}/c100py_trunc/train", good[:len(good) - 3000])
    bad = bytearray(good)
    at = bad.index(b"\x89")  # the NEWFALSE before the raw data
    bad[at] = 0xff
    write(f"{out}/c100py_opcode/train", bytes(bad))
    write(f"{out}/c100py_badopcode_at.txt", b"%d" % at)
    write(f"{out}/c100py_label/train", py2_pickle({b"fine_labels": [1, 100],
                                                  b"data": cifar_rows(2, 0)}))
    write(f"{out}/c100py_shape/train", py2_pickle({b"fine_labels": [1, 2],
                                                  b"data": cifar_rows(2, 0)[:, :3071]}))
    write(f"{out}/c100py_global/train", b"\x80\x02cos\nsystem\nq\x01U\x02lsq\x02\x85R.")

    # CUB-200-2011: 3 classes, ids in images.txt order, 1 = training image
    root = f"{out}/CUB_200_2011"
    classes = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"]
    imgs, labs, split = [], [], []
    for c, cls in enumerate(classes):
        for k in range(3):
            rel = f"{cls}/{cls[4:]}_{k:04d}_{c}.jpg"
            jpeg(f"{root}/images/{rel}", 20 + k, 30 + c, 40 * c + 10 * k)
            imgs.append(rel)
            labs.append(c + 1)
            split.append(0 if k == 1 else 1)
    lines = lambda rows: ("".join(f"{i + 1} {v}\n" for i, v in enumerate(rows))).encode()
    write(f"{root}/classes.txt", lines(classes))
    write(f"{root}/images.txt", lines(imgs))
    write(f"{root}/image_class_labels.txt", lines(labs))
    write(f"{root}/train_test_split.txt", lines(split))
    shutil.copytree(root, f"{out}/CUB_bad")
    write(f"{out}/CUB_bad/image_class_labels.txt", lines(labs[:3] + ["x"] + labs[4:]))

    # Stanford Dogs: Images/<wnid>-<breed>/, lists/*.mat (MATLAB v5; train compressed)
    root = f"{out}/StanfordDogs"
    breeds = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel", "n02085936-Maltese_dog"]
    lists = {"train": [], "test": []}
    for c, br in enumerate(breeds):
        for k in range(3):
            rel = f"{br}/{br.split('-')[0]}_{100 + k}.jpg"
            jpeg(f"{root}/Images/{rel}", 24, 24 + k, 60 * c + 5 * k)
            lists["test" if k == 2 else "train"].append((rel, c + 1))
    for name, compress in (("train", True), ("test", False)):
        files = [r for r, _ in lists[name]]
        labels = [y for _, y in lists[name]]
        write(f"{root}/lists/{name}_list.mat", mat_file([
            mat_cell(b"file_list", files),
            mat_cell(b"annotation_list", [f[:-4] for f in files]),
            mat_numbers(b"labels", labels, as_uint8=not compress)], compress))
        # the same lists as text, without labels (classes by folder)
        write(f"{out}/DogsText/lists/{name}_list.txt", ("\n".join(files) + "\n").encode())
    shutil.copytree(f"{root}/Images", f"{out}/DogsText/Images")
    # lists.tar extracts its .mat files beside Images/ (no lists/ folder)
    shutil.copytree(f"{root}/Images", f"{out}/DogsFlat/Images")
    for name in ("train", "test"):
        shutil.copy(f"{root}/lists/{name}_list.mat", f"{out}/DogsFlat/{name}_list.mat")
    shutil.copytree(root, f"{out}/Dogs_bad")
    with open(f"{root}/lists/train_list.mat", "rb") as f:
        mat = f.read()
    write(f"{out}/Dogs_bad/lists/train_list.mat", mat[:len(mat) - 40])

    # MIT Indoor-67: Images/<category>/, TrainImages.txt / TestImages.txt (CRLF, as shipped)
    root = f"{out}/MIT67"
    cats = ["kitchen", "bathroom", "airport_inside"]
    tr, te = [], []
    for c, cat in enumerate(cats):
        for k in range(3):
            rel = f"{cat}/{cat[:3]} {k}.jpg" if k == 2 else f"{cat}/{cat[:3]}{k}.jpg"
            jpeg(f"{root}/Images/{rel}", 16 + c, 16 + k, 80 * c)
            (te if k == 0 else tr).append(rel)
    write(f"{root}/TrainImages.txt", "\r\n".join(tr).encode())
    write(f"{root}/TestImages.txt", ("\r\n".join(te) + "\r\n").encode())
    shutil.copytree(root, f"{out}/MIT67_bad")
    write(f"{out}/MIT67_bad/TestImages.txt", ("\r\n".join([te[0], "kitchen/missing.jpg"] + te[1:])
                                               + "\r\n").encode())

    # Stanford 40 Actions: JPEGImages/<action>_NNN.jpg, ImageSplits/<action>_{train,test}.txt
    root = f"{out}/Stanford40"
    actions = ["writing_on_a_book", "applauding", "climbing"]
    all_tr, all_te = [], []
    for c, act in enumerate(actions):
        names = [f"{act}_{k + 1:03d}.jpg" for k in range(3)]
        for k, n in enumerate(names):
            jpeg(f"{root}/JPEGImages/{n}", 20, 20, 30 * c + 7 * k)
        write(f"{root}/ImageSplits/{act}_train.txt", ("\n".join(names[:2]) + "\n").encode())
        write(f"{root}/ImageSplits/{act}_test.txt", (names[2] + "\n").encode())
        all_tr += names[:2]
        all_te += names[2:]
    write(f"{root}/ImageSplits/train.txt", ("\n".join(all_tr) + "\n").encode())
    write(f"{root}/ImageSplits/test.txt", ("\n".join(all_te) + "\n").encode())
    write(f"{root}/ImageSplits/actions.txt", ("action_name\tnumber_of_images\n" + "".join(
        f"{a}\t3\n" for a in sorted(actions))).encode())
    shutil.copytree(root, f"{out}/Stanford40_bad")
    write(f"{out}/Stanford40_bad/ImageSplits/climbing_test.txt",
          b"climbing_003.jpg\nclimbing_999.jpg\n")
    # configs for `figkd-cl data` on a pickled CIFAR and a CUB tree
    write(f"{out}/cmd_c100py.ini", (f"[data]\ndataset = cifar100\nroot = {out}/c100py_holder\n"
                                    "workers = 1\n\n[optim]\nbatch_size = 2\n").encode())
    write(f"{out}/cmd_cub.ini", (f"[data]\ndataset = imagefolder\nroot = {out}/CUB_200_2011\n"
                                 "input_size = 16\nworkers = 1\n\n[optim]\nbatch_size = 2\n").encode())


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
    layouts(out)
    # configs for `figkd-cl data`
    write(f"{out}/cmd.ini", (f"[run]\nseed = 1\n\n[data]\ndataset = mnist\nroot = {out}/idx_gz\n"
                             "channels = 3\nworkers = 2\n\n[optim]\nbatch_size = 8\n").encode())
    write(f"{out}/cmd_bad.ini", b"[data]\ndataset = mnist\n; comment\n\nsubset = -3\n")
    with open(sys.argv[2] if len(sys.argv) > 2 else f"{out}/stamp", "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    main()
