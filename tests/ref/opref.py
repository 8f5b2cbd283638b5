"""Shared bits of the op fixture generators (gen_*.py): deterministic
inputs and a writer that stores float64 references as float32.

A fixture holds cases c0, c1, ...: tensors "<case>.<name>" (F32) and
"<case>.cfg" (I64, the op's integer parameters, documented per script).
Use with /usr/bin/python3 (Debian's, with numpy and torch)."""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkio  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def rand(gen, *shape, lo=-1.0, hi=1.0):
    """float32 uniform values in [lo, hi), returned as float64 tensors that
    hold exactly the stored float32 numbers (so the reference sees the same
    inputs as the C test)."""
    t = torch.rand(*shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo
    return t.float().double()


def randn(gen, *shape, mean=0.0, std=1.0):
    t = torch.randn(*shape, generator=gen, dtype=torch.float64) * std + mean
    return t.float().double()


class Fixture:
    def __init__(self, name, generator):
        self.name = name
        self.generator = generator
        self.tensors = {}
        self.ncases = 0

    def case(self, cfg, **tensors):
        """Add one case: cfg a list of ints, tensors float64 torch tensors
        (or numpy arrays), stored as float32."""
        key = "c%d" % self.ncases
        self.ncases += 1
        self.tensors[key + ".cfg"] = np.asarray(cfg, dtype=np.int64)
        for name, t in tensors.items():
            if isinstance(t, torch.Tensor):
                t = t.detach().cpu().numpy()
            self.tensors["%s.%s" % (key, name)] = np.asarray(t, dtype=np.float64).astype(np.float32)

    def write(self):
        os.makedirs(FIXTURES, exist_ok=True)
        path = os.path.join(FIXTURES, self.name + ".safetensors")
        fkio.write_safetensors(path, self.tensors, metadata={
            "generator": "tests/ref/" + self.generator, "torch": torch.__version__,
            "cases": str(self.ncases)})
        print("%s: %d cases, %d bytes" % (path, self.ncases, os.path.getsize(path)))
