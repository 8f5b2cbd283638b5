"""Python <-> C interop of safetensors and npy files.

usage: /usr/bin/python3 test_safetensors_interop.py ST_COPY TMPDIR

Python writes with tests/ref/fkio.py (plain arrays and a real torch
state_dict with BatchNorm's int64 num_batches_tracked), the C tool st_copy
reads and writes the file back out, Python reads the copy and compares
exactly, and loads it into the torch module with strict=True. For npy, C
writes and numpy.load reads, numpy.save writes and C reads.
"""

import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref"))
import fkio  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    if not cond:
        print("FAIL:", what)
        failures += 1


def st_copy(*args):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True)
    if r.returncode != 0:
        print("st_copy", *args, "failed:", r.returncode, r.stderr)
    return r


def same_arrays(a, b, what):
    check(set(a) == set(b), "%s: names %s vs %s" % (what, sorted(a), sorted(b)))
    for k in a:
        if k in b:
            x, y = a[k], b[k]
            check(x.dtype == y.dtype and x.shape == y.shape
                  and x.tobytes() == y.tobytes(), "%s: tensor %s differs" % (what, k))


def test_arrays():
    rng = np.random.default_rng(0)
    tensors = {
        "layer1.0.conv1.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "fc.bias": np.array([np.inf, -np.inf, np.nan, -0.0, 1e-45], dtype=np.float32),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "steps": np.array(123456789012, dtype=np.int64),
        "ids": np.array([[-2**63, 2**63 - 1], [0, -1]], dtype=np.int64),
        "transposed": np.arange(12, dtype=np.float32).reshape(3, 4).T,  # non-contiguous
        "unicode \u00e9\u20ac\U0001F600 \"q\" \\": np.ones(2, dtype=np.float32),
    }
    meta = {
        "config": "[run]\nname = \"a\\b\"\ttab\r\n\x01ctrl \u00e9 \U0001F600\n",
        "epoch": "3",
        "": "",
    }
    src = os.path.join(TMP, "py.safetensors")
    out = os.path.join(TMP, "c.safetensors")
    fkio.write_safetensors(src, tensors, meta)
    # Python round trip first, so a failure points at the right side.
    back, bmeta = fkio.read_safetensors(src)
    same_arrays({k: np.array(v, order="C") for k, v in tensors.items()}, back, "python round trip")
    check(back["scalar"].shape == () and back["steps"].shape == (), "scalars stay 0-d")
    check(bmeta == meta, "python metadata round trip")
    # Header: 8-aligned and space-padded; data offsets aligned to the element size.
    with open(src, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    check(n % 8 == 0 and blob[8:8 + n].rstrip(b" ").endswith(b"}"), "header padding")
    import json
    hdr = json.loads(blob[8:8 + n])
    for k, v in hdr.items():
        if k != "__metadata__":
            check(v["data_offsets"][0] % (8 if v["dtype"] == "I64" else 4) == 0,
                  "alignment of %s" % k)

    if st_copy("copy", src, out).returncode == 0:
        got, gmeta = fkio.read_safetensors(out)
        same_arrays(back, got, "C copy")
        check(gmeta == meta, "C copy metadata: %r" % gmeta)
        # The C writer uses the same layout rules, so the bytes are identical
        # up to key order inside the JSON header: compare the data sections.
        with open(out, "rb") as f:
            cblob = f.read()
        cn = int.from_bytes(cblob[:8], "little")
        check(cn % 8 == 0, "C header padding")
        check(cblob[8 + cn:] == blob[8 + n:], "C data section equals Python's")
    else:
        check(False, "st_copy copy")

    # The C reader rejects dtypes it cannot use, naming the tensor.
    bad = os.path.join(TMP, "f64.safetensors")
    fkio.write_safetensors(bad, {"w64": np.zeros(2)}, allow_other_dtypes=True)
    r = subprocess.run([TOOL, "copy", bad, out + ".x"], capture_output=True, text=True)
    check(r.returncode == 1 and "'w64'" in r.stderr and "F64" in r.stderr,
          "C rejects F64 clearly: %r" % r.stderr)
    try:
        fkio.write_safetensors(bad, {"w64": np.zeros(2)})
        check(False, "fkio refuses float64 by default")
    except TypeError as e:
        check("w64" in str(e), "fkio float64 message names the tensor")
    # A truncated file is an error on both sides.
    trunc = os.path.join(TMP, "trunc.safetensors")
    with open(trunc, "wb") as f:
        f.write(blob[:-3])
    r = subprocess.run([TOOL, "copy", trunc, out + ".y"], capture_output=True, text=True)
    check(r.returncode == 1 and trunc in r.stderr, "C rejects a truncated file")
    try:
        fkio.read_safetensors(trunc)
        check(False, "fkio rejects a truncated file")
    except ValueError:
        pass


def test_torch():
    import torch
    import torch.nn as nn
    torch.manual_seed(0)

    def make():
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.Flatten(), nn.Linear(4 * 5 * 5, 10))

    model = make()
    model.train()
    x = torch.randn(2, 3, 5, 5)
    model(x)  # updates running stats and num_batches_tracked
    model(x)
    model.eval()
    sd = model.state_dict()
    check(sd["1.num_batches_tracked"].dtype == torch.int64
          and int(sd["1.num_batches_tracked"]) == 2, "num_batches_tracked is int64 == 2")
    src = os.path.join(TMP, "torch.safetensors")
    out = os.path.join(TMP, "torch-c.safetensors")
    fkio.save_torch(src, sd, metadata={"arch": "Sequential(Conv2d, BatchNorm2d, Linear)"})
    if st_copy("copy", src, out).returncode != 0:
        check(False, "st_copy copy (torch)")
        return
    loaded, meta = fkio.load_torch(out)
    check(meta == {"arch": "Sequential(Conv2d, BatchNorm2d, Linear)"}, "torch metadata")
    check(list(loaded) == sorted(sd, key=lambda k: (-sd[k].element_size(), k)),
          "file order: I64 first, then by name")
    for k, v in sd.items():
        check(k in loaded and loaded[k].dtype == v.dtype and torch.equal(loaded[k], v),
              "torch tensor %s" % k)
    other = make()
    other.load_state_dict(loaded, strict=True)
    other.eval()
    with torch.no_grad():
        check(torch.equal(other(x), model(x)), "reloaded model gives identical outputs")
    check(int(other[1].num_batches_tracked) == 2, "num_batches_tracked survives")


def test_npy():
    for shape in [(2, 3, 4), (5,), (), (0, 7)]:
        p = os.path.join(TMP, "c-%d.npy" % len(shape))
        if st_copy("npy-write", p, *map(str, shape)).returncode != 0:
            check(False, "npy-write %s" % (shape,))
            continue
        a = np.load(p)
        want = (np.arange(int(np.prod(shape)), dtype=np.float32) * 0.25 - 1.5).reshape(shape)
        check(a.dtype == np.float32 and a.shape == shape and np.array_equal(a, want),
              "numpy.load of C npy %s" % (shape,))
        # The bytes are exactly what numpy.save writes.
        q = os.path.join(TMP, "np-%d.npy" % len(shape))
        np.save(q, want)
        with open(p, "rb") as f1, open(q, "rb") as f2:
            check(f1.read() == f2.read(), "C npy bytes equal numpy.save's for %s" % (shape,))
        # numpy.save -> C read -> C write -> numpy.load
        r = os.path.join(TMP, "rt-%d.npy" % len(shape))
        src = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        np.save(q, src)
        if st_copy("npy-copy", q, r).returncode == 0:
            check(np.array_equal(np.load(r), src), "npy copy %s" % (shape,))
        else:
            check(False, "npy-copy %s" % (shape,))
    # float64 and Fortran order are refused by the C reader.
    q = os.path.join(TMP, "f8.npy")
    np.save(q, np.zeros(3))
    res = subprocess.run([TOOL, "npy-copy", q, q + ".o"], capture_output=True, text=True)
    check(res.returncode == 1 and "'<f8'" in res.stderr, "C refuses <f8 npy")
    np.save(q, np.asfortranarray(np.zeros((2, 3), dtype=np.float32)))
    res = subprocess.run([TOOL, "npy-copy", q, q + ".o"], capture_output=True, text=True)
    check(res.returncode == 1 and "Fortran" in res.stderr, "C refuses Fortran order")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    TOOL, TMP = sys.argv[1], sys.argv[2]
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    test_arrays()
    test_torch()
    test_npy()
    if failures:
        print("%d check(s) failed" % failures)
        sys.exit(1)
    shutil.rmtree(TMP, ignore_errors=True)
    print("interop: all checks passed")
