"""safetensors files from Python with numpy alone (Debian 12 has no
`safetensors` package), for the fixture scripts in tests/ref/.

Format (https://github.com/huggingface/safetensors): an 8-byte little-endian
header length N, N bytes of UTF-8 JSON padded with spaces to a multiple of 8,
then the tensor data. The header maps each tensor name to
{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]} (offsets
relative to the start of the data) and may hold "__metadata__": {str: str}.
Files written here load with the reference `safetensors` package and with
figkd-cl's C reader (src/io/safetensors.c), and the other way round.

figkd-cl reads only F32 and I64 (PyTorch float32 and int64, e.g. BatchNorm's
num_batches_tracked). write_safetensors therefore refuses other dtypes
unless allow_other_dtypes=True, so that a fixture written as float64 by
mistake fails here, where the cause is plain, instead of in a C test.

Typical fixture script:

    import fkio
    model = nn.Sequential(...)
    fkio.save_torch("fixture.safetensors", model.state_dict(),
                    metadata={"note": "conv forward, seed 0"})
    tensors, meta = fkio.read_safetensors("fixture.safetensors")
    model.load_state_dict(fkio.load_torch("fixture.safetensors")[0])

Use with /usr/bin/python3 (Debian's, with numpy and torch).
"""

import json
import os

import numpy as np

__all__ = [
    "write_safetensors", "read_safetensors",
    "to_torch_state_dict", "from_torch_state_dict",
    "save_torch", "load_torch",
]

# safetensors dtype name <-> numpy dtype (little-endian).
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_C_DTYPES = ("F32", "I64")       # what figkd-cl's C reader accepts
_MAX_HEADER = 100 * 1000 * 1000  # same limit as the C reader


def _dtype_name(dt):
    """safetensors name of a numpy dtype, whatever its byte order."""
    dt = np.dtype(dt)
    for name, ref in _DTYPES.items():
        if dt.kind == ref.kind and dt.itemsize == ref.itemsize:
            return name
    raise TypeError("dtype %s has no safetensors name" % dt)


def write_safetensors(path, tensors, metadata=None, allow_other_dtypes=False):
    """Write tensors (dict name -> numpy array) and optional metadata
    (dict str -> str) to path, atomically: a temporary file next to it is
    written, fsynced and renamed over path, so a reader never sees half a
    file and a failure leaves the old file as it was.

    Layout follows the reference writer: tensors sorted by decreasing element
    size, then name, so each tensor is aligned in the file; header padded
    with spaces to a multiple of 8. Arrays are stored C-contiguous and
    little-endian whatever their layout in memory; 0-d arrays are scalars
    (shape []) and stay 0-d when read back.
    """
    if not isinstance(tensors, dict):
        raise TypeError("tensors must be a dict of name -> numpy array")
    header = {}
    if metadata:
        meta = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("metadata keys and values must be str (got %r: %r)" % (k, type(v)))
            meta[k] = v
        header["__metadata__"] = meta
    arrays = {}
    for name, a in tensors.items():
        if not isinstance(name, str) or not name:
            raise ValueError("tensor names must be non-empty str (got %r)" % (name,))
        if name == "__metadata__":
            raise ValueError("a tensor cannot be called __metadata__")
        a = np.asarray(a)
        dname = _dtype_name(a.dtype)
        if dname not in _C_DTYPES and not allow_other_dtypes:
            raise TypeError("tensor %r has dtype %s (%s); figkd-cl reads F32 and I64: convert "
                            "with .astype(np.float32) or np.int64, or pass "
                            "allow_other_dtypes=True" % (name, dname, a.dtype))
        # np.array, not np.ascontiguousarray: the latter turns 0-d arrays into 1-d.
        arrays[name] = np.array(a, dtype=_DTYPES[dname], order="C", copy=True)
    order = sorted(arrays, key=lambda n: (-arrays[n].dtype.itemsize, n))
    offset = 0
    for name in order:
        a = arrays[name]
        header[name] = {"dtype": _dtype_name(a.dtype), "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(len(text).to_bytes(8, "little"))
            f.write(text)
            for name in order:
                f.write(arrays[name].tobytes(order="C"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def read_safetensors(path):
    """Read path; return (tensors, metadata): tensors a dict name -> numpy
    array (native byte order, writable, in file order), metadata a dict
    str -> str (empty when the file has none). Checks the file the way the C
    reader does and raises ValueError naming the file and tensor on any
    inconsistency (truncation, bad offsets, overlap, gaps, duplicates)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("%s: %d bytes, shorter than the 8-byte header length" % (path, len(blob)))
    n = int.from_bytes(blob[:8], "little")
    if n > _MAX_HEADER or n > len(blob) - 8:
        raise ValueError("%s: header length %d beyond the file size %d or absurd"
                         % (path, n, len(blob)))

    def no_dups(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise ValueError("%s: key %r appears twice in the header" % (path, k))
            d[k] = v
        return d

    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=no_dups)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError("%s: invalid safetensors header: %s" % (path, e)) from None
    if not isinstance(header, dict):
        raise ValueError("%s: header is not a JSON object" % path)
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ValueError("%s: __metadata__ must map strings to strings" % path)
    spans = []
    tensors = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError("%s: tensor %r: entry must have exactly dtype, shape, data_offsets"
                             % (path, name))
        if info["dtype"] not in _DTYPES:
            raise ValueError("%s: tensor %r has unknown dtype %r" % (path, name, info["dtype"]))
        dt = _DTYPES[info["dtype"]]
        shape = info["shape"]
        offs = info["data_offsets"]
        if (not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape)
                or not isinstance(offs, list) or len(offs) != 2
                or not all(type(o) is int and o >= 0 for o in offs)):
            raise ValueError("%s: tensor %r has a bad shape or data_offsets" % (path, name))
        b, e = offs
        need = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if e < b or e - b != need:
            raise ValueError("%s: tensor %r: shape %s of %s needs %d bytes, data_offsets %s hold %d"
                             % (path, name, shape, info["dtype"], need, offs, e - b))
        if e > len(data):
            raise ValueError("%s: tensor %r: data_offsets %s outside the %d-byte data section"
                             % (path, name, offs, len(data)))
        spans.append((b, e, name))
        tensors[name] = np.frombuffer(data[b:e], dtype=dt).reshape(shape).astype(
            dt.newbyteorder("="), copy=True)
    at = 0
    for b, e, name in sorted(spans):
        if b != at:
            raise ValueError("%s: tensor %r at %d: %s (expected offset %d)"
                             % (path, name, b, "overlap" if b < at else "gap", at))
        at = e
    if at != len(data):
        raise ValueError("%s: %d data bytes belong to no tensor" % (path, len(data) - at))
    return tensors, dict(meta)


def from_torch_state_dict(state_dict):
    """dict of numpy arrays from a torch state_dict (or any mapping of
    name -> torch.Tensor): float32 -> F32, int64 -> I64; other dtypes raise
    (convert them first)."""
    import torch
    out = {}
    for name, t in state_dict.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError("%r is not a torch.Tensor" % (name,))
        if t.dtype not in (torch.float32, torch.int64):
            raise TypeError("%r has dtype %s; figkd-cl stores float32 and int64" % (name, t.dtype))
        out[name] = t.detach().cpu().contiguous().numpy().copy()
    return out


def to_torch_state_dict(arrays):
    """OrderedDict name -> torch.Tensor from a dict of numpy arrays, ready for
    module.load_state_dict(..., strict=True)."""
    import collections
    import torch
    return collections.OrderedDict(
        (name, torch.from_numpy(np.array(a, order="C", copy=True))) for name, a in arrays.items())


def save_torch(path, state_dict, metadata=None):
    """write_safetensors(path, from_torch_state_dict(state_dict), metadata)."""
    write_safetensors(path, from_torch_state_dict(state_dict), metadata)


def load_torch(path):
    """(state_dict of torch tensors, metadata) from a safetensors file."""
    tensors, meta = read_safetensors(path)
    return to_torch_state_dict(tensors), meta
