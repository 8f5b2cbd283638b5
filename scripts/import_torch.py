#!/usr/bin/env python3
"""Import a PyTorch checkpoint (.pth, .pt, .tar) into a figkd-cl safetensors file.

    scripts/import_torch.py IN.pth OUT.safetensors --model MODEL [--classes N]

The checkpoint is read WITHOUT running its pickle: a restricted unpickler
maps the globals a state_dict needs (OrderedDict, the tensor and parameter
rebuild functions, the storage types) to code of this script, the way
torch.load(weights_only=True) restricts them, and every other global to an
inert placeholder that runs nothing. A hostile file cannot execute code, and
torch need not be installed (numpy is enough).

Accepted layouts: a bare state_dict; {"model": state_dict, ...} (mdistiller,
RepDistiller); {"state_dict": ...}; {"model_state_dict": ...}; {"net": ...};
any other key with --key. Names prefixed by DataParallel's "module." are
stripped. Both of torch.save's formats are read: the zip format (torch >= 1.6)
and the legacy format (torch < 1.6, or _use_new_zipfile_serialization=False).

The zoo uses the originals' state_dict names (mdistiller/RepDistiller for the
CIFAR models, torchvision for ResNet18/34, the model.N.M MobileNetV1 port), so
names map one to one. Every tensor is checked against the model's own list
(`figkd-cl info MODEL --classes N --json`): each missing, extra or mis-shaped
tensor is named, and the file is not written. Tensors matched by --exclude
patterns (e.g. 'fc.*' for a 1000-class ImageNet classifier) are left out and
listed. Floats are stored as float32, num_batches_tracked as int64; the
metadata records figkd.model, figkd.classes and figkd.source.

Exit status: 0 written, 1 refused (the message says why), 2 bad command line.
"""

import argparse
import collections
import fnmatch
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zipfile

import numpy as np

# storage type name -> numpy dtype (None: not representable here)
_STORAGES = {
    "FloatStorage": np.dtype("<f4"), "DoubleStorage": np.dtype("<f8"), "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"), "IntStorage": np.dtype("<i4"), "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"), "ByteStorage": np.dtype("u1"), "BoolStorage": np.dtype("?"),
    "BFloat16Storage": None,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STATE_KEYS = ("state_dict", "model", "model_state_dict", "net")


class ImportError_(Exception):
    """A checkpoint that cannot be imported; the message says why."""


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGES[name]


class _Storage:
    """A storage's bytes, filled when read (zip: at once; legacy: after the pickle)."""

    def __init__(self, stype, key, numel):
        self.stype, self.key, self.numel = stype, key, numel
        self.data = None  # numpy 1-d array

    def array(self):
        if self.stype.dtype is None:
            raise ImportError_("tensor storage of type %s is not supported (convert it to float32 first)"
                               % self.stype.name)
        if self.data is None:
            raise ImportError_("storage %s has no data in the file" % self.key)
        return self.data


class _View:
    """Legacy storage view: a slice of a root storage."""

    def __init__(self, root, offset, size):
        self.root, self.offset, self.size = root, offset, size

    @property
    def stype(self):
        return self.root.stype

    def array(self):
        return self.root.array()[self.offset:self.offset + self.size]


class Tensor:
    """A tensor rebuilt from (storage, offset, size, stride): materialised on demand."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    @property
    def shape(self):
        return self.size

    def numpy(self):
        base = self.storage.array()
        n = 1
        for s in self.size:
            n *= s
        if n == 0:
            return np.zeros(self.size, base.dtype)
        last = self.offset + sum((s - 1) * st for s, st in zip(self.size, self.stride))
        if self.offset < 0 or last >= base.size or min(self.stride, default=0) < 0:
            raise ImportError_("tensor of shape %s reaches outside its storage" % (list(self.size),))
        item = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(base[self.offset:], shape=self.size,
                                               strides=[st * item for st in self.stride], writeable=False)
        return np.array(view, order="C")  # a copy; stays 0-d for scalars


class Opaque:
    """Stand-in for any global a state_dict does not need (an optimizer's
    class, argparse.Namespace, ...): constructing or filling it runs nothing."""

    def __init__(self, *args, **kwargs):
        self._args = args

    def __setstate__(self, state):
        self._state = state

    def __call__(self, *args, **kwargs):
        return Opaque()


def _opaque_class(module, name):
    return type("Opaque[%s.%s]" % (module, name), (Opaque,), {"origin": "%s.%s" % (module, name)})


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    return Tensor(storage, offset, size, stride)


def _rebuild_tensor(storage, offset, size, stride):
    return Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, hooks=None, state=None):
    return data


class _Unpickler(pickle.Unpickler):
    """Only the globals a state_dict needs resolve to real code (ours)."""

    ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    }

    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages  # key -> _Storage; filled by persistent_load

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        return _opaque_class(module, name)

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage" or len(pid) < 5:
            raise ImportError_("unexpected persistent id %r" % (pid[:1] if isinstance(pid, tuple) else pid,))
        stype, key, numel = pid[1], str(pid[2]), pid[4]  # pid[3]: the device it was saved from
        if not isinstance(stype, _StorageType):
            raise ImportError_("storage of unknown type %r" % (stype,))
        st = self.storages.setdefault(key, _Storage(stype, key, numel))
        view = pid[5] if len(pid) > 5 else None
        if view:  # legacy: (view_key, offset, size)
            return _View(st, view[1], view[2])
        return st


def _read_zip(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise ImportError_("a zip file without one data.pkl: not a torch.save file")
        prefix = pkl[0][:-len("data.pkl")]
        order = prefix + "byteorder"
        if order in names and z.read(order).strip() != b"little":
            raise ImportError_("big-endian checkpoints are not supported")
        storages = {}
        obj = _Unpickler(io.BytesIO(z.read(pkl[0])), storages).load()
        for key, st in storages.items():
            if st.stype.dtype is None:
                continue
            member = prefix + "data/" + key
            if member not in names:
                raise ImportError_("storage %s is missing from the archive" % (member))
            raw = z.read(member)
            need = st.numel * st.stype.dtype.itemsize
            if len(raw) < need:
                raise ImportError_("storage %s is truncated (%d of %d bytes)" % (key, len(raw), need))
            st.data = np.frombuffer(raw[:need], st.stype.dtype)
    return obj


def _read_legacy(path):
    with open(path, "rb") as f:
        def plain():
            return _Unpickler(f, {}).load()
        try:
            magic = plain()
        except Exception:
            raise ImportError_("neither a zip nor a legacy torch.save file") from None
        if magic != _LEGACY_MAGIC:
            raise ImportError_("not a torch.save file (bad magic number)")
        version = plain()
        if version != 1001:
            raise ImportError_("legacy format version %r is not supported" % (version))
        sys_info = plain()
        if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
            raise ImportError_("big-endian checkpoints are not supported")
        storages = {}
        obj = _Unpickler(f, storages).load()
        keys = plain()
        for key in keys:
            st = storages.get(str(key))
            if st is None:
                raise ImportError_("storage %s is listed but never used" % (key))
            head = f.read(8)
            if len(head) != 8:
                raise ImportError_("truncated at storage %s" % (key))
            (numel,) = struct.unpack("<q", head)
            item = st.stype.dtype.itemsize if st.stype.dtype is not None else 2
            raw = f.read(numel * item)
            if len(raw) != numel * item:
                raise ImportError_("truncated at storage %s" % (key))
            if st.stype.dtype is not None:
                st.data = np.frombuffer(raw, st.stype.dtype)
    return obj


def read_checkpoint(path):
    """The unpickled object of a torch.save file, tensors as Tensor."""
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    return _read_legacy(path)


def find_state_dict(obj, key=None):
    """(state_dict, where) from a checkpoint object in any of the layouts."""
    def is_state(d):
        return isinstance(d, dict) and d and all(isinstance(k, str) for k in d) and \
            any(isinstance(v, Tensor) for v in d.values())
    if key:
        if not isinstance(obj, dict) or key not in obj:
            raise ImportError_("--key %s: the checkpoint has no such entry (entries: %s)"
                               % (key, ", ".join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__))
        if not is_state(obj[key]):
            raise ImportError_("--key %s: that entry is not a state_dict" % key)
        return obj[key], "[%r]" % key
    if is_state(obj) and all(isinstance(v, Tensor) for v in obj.values()):
        return obj, "the top level"
    if isinstance(obj, dict):
        for k in _STATE_KEYS:
            if k in obj and is_state(obj[k]):
                return obj[k], "[%r]" % k
        for k, v in obj.items():
            if is_state(v) and all(isinstance(t, Tensor) for t in v.values()):
                return v, "[%r]" % k
    raise ImportError_("no state_dict found (looked at the top level and at %s); name it with --key"
                       % ", ".join("'%s'" % k for k in _STATE_KEYS))


def strip_module(sd):
    """Drop DataParallel's 'module.' prefix when every name has it."""
    if sd and all(k.startswith("module.") for k in sd):
        return collections.OrderedDict((k[len("module."):], v) for k, v in sd.items())
    return sd


def model_tensors(binary, model, classes, input_size=None):
    """[(name, dtype, shape)] of a zoo model, from `figkd-cl info --json`."""
    args = [binary, "info", model, "--classes", str(classes), "--json"]
    if input_size:
        args += ["--input", str(input_size)]
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise ImportError_("figkd-cl info %s: %s" % (model, r.stderr.strip() or "exit %d" % r.returncode))
    return [(t["name"], t["dtype"], tuple(t["shape"])) for t in json.loads(r.stdout)["tensors"]]


def infer_classes(binary, model, sd):
    """The class count: the classifier's rows, found as the tensors whose
    shape changes with the class count."""
    a = model_tensors(binary, model, 100)
    b = model_tensors(binary, model, 101)
    for (name, _, s100), (_, _, s101) in zip(a, b):
        if s100 != s101 and name in sd:
            i = next(d for d in range(len(s100)) if s100[d] != s101[d])
            if len(sd[name].shape) > i:
                return sd[name].shape[i]
    raise ImportError_("cannot tell the class count from the checkpoint; give --classes")


def convert(sd, expected, exclude):
    """Check names and shapes; return (tensors to write, excluded names) or raise
    with every problem listed."""
    excluded = [k for k in sd if any(fnmatch.fnmatchcase(k, p) for p in exclude)]
    problems, out = [], collections.OrderedDict()
    names = set()
    for name, dtype, shape in expected:
        names.add(name)
        if name in excluded:
            continue
        if name not in sd:
            if any(fnmatch.fnmatchcase(name, p) for p in exclude):
                continue
            problems.append("missing tensor %s %s" % (name, list(shape)))
            continue
        t = sd[name]
        if tuple(t.shape) != shape:
            problems.append("tensor %s has shape %s, the model needs %s" % (name, list(t.shape), list(shape)))
            continue
        a = t.numpy()
        if dtype == "I64":
            if a.dtype.kind not in "iu":
                problems.append("tensor %s is %s, the model needs int64" % (name, a.dtype))
                continue
            a = a.astype("<i8")
        else:
            if a.dtype.kind != "f":
                problems.append("tensor %s is %s, the model needs floats" % (name, a.dtype))
                continue
            a = a.astype("<f4")
        out[name] = a
    for k in sd:
        if k not in names and k not in excluded:
            problems.append("extra tensor %s %s (not in the model)" % (k, list(sd[k].shape)))
    if problems:
        raise ImportError_("%d problem%s:\n  %s" % (len(problems), "s" if len(problems) > 1 else "",
                                                    "\n  ".join(problems)))
    return out, excluded


def write_safetensors(path, tensors, metadata):
    """safetensors: 8-byte header length, JSON header (padded to 8), data.
    Written to a temporary file, fsynced, then renamed over path."""
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, a in tensors.items():
        b = a.tobytes()
        header[name] = {"dtype": "I64" if a.dtype.kind == "i" else "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def default_binary():
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "..", "build", "figkd-cl"), shutil.which("figkd-cl")):
        if cand and os.path.exists(cand):
            return cand
    return "figkd-cl"


def main(argv=None):
    ap = argparse.ArgumentParser(description="Import a PyTorch checkpoint into figkd-cl's safetensors format.")
    ap.add_argument("input", help="torch.save file (.pth, .pt, .tar)")
    ap.add_argument("output", help="safetensors file to write")
    ap.add_argument("--model", required=True, help="zoo model name (figkd-cl models)")
    ap.add_argument("--classes", type=int, help="class count (default: read from the classifier)")
    ap.add_argument("--input-size", type=int, help="input side, for models whose tensors depend on it")
    ap.add_argument("--key", help="entry of the checkpoint dict that holds the state_dict")
    ap.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                    help="glob of tensor names not to import (repeatable), e.g. 'fc.*'")
    ap.add_argument("--figkd-cl", dest="binary", default=default_binary(), help="the figkd-cl binary")
    args = ap.parse_args(argv)
    if args.classes is not None and args.classes <= 0:
        ap.error("--classes must be positive")
    try:
        obj = read_checkpoint(args.input)
        sd, where = find_state_dict(obj, args.key)
        sd = strip_module(sd)
        bad = [k for k, v in sd.items() if not isinstance(v, Tensor)]
        if bad:
            raise ImportError_("the state_dict holds entries that are not tensors: %s" % ", ".join(bad[:5]))
        classes = args.classes or infer_classes(args.binary, args.model, sd)
        expected = model_tensors(args.binary, args.model, classes, args.input_size)
        tensors, excluded = convert(sd, expected, args.exclude)
        meta = {"figkd.model": args.model, "figkd.classes": str(classes),
                "figkd.source": os.path.basename(args.input)}
        write_safetensors(args.output, tensors, meta)
    except ImportError_ as e:
        print("import_torch: %s: %s" % (args.input, e), file=sys.stderr)
        return 1
    except (OSError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as e:
        print("import_torch: %s: cannot read: %s" % (args.input, e), file=sys.stderr)
        return 1
    print("%s: %d tensors of %s (%d classes) from %s of %s" % (args.output, len(tensors), args.model, classes,
                                                                where, args.input))
    for k in excluded:
        print("  excluded: %s" % k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
