"""Write tests/ref/fixtures/model_names.txt: for every model of the zoo at
200 classes, the PyTorch state_dict names, dtypes and shapes in state_dict
order, and the trainable parameter count. No weights.

Format (one model after another):
    model <name> params <count> tensors <n>
    <state_dict name> <F32|I64> <d0>x<d1>...   (a scalar: "-")

Usage: /usr/bin/python3 tests/ref/gen_models.py [out_path]
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402

CLASSES = 200


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "fixtures", "model_names.txt")
    lines = []
    for name in torch_models.ZOO:
        m = torch_models.build(name, CLASSES)
        sd = m.state_dict()
        params = sum(p.numel() for p in m.parameters())
        lines.append("model %s params %d tensors %d" % (name, params, len(sd)))
        for k, v in sd.items():
            dt = {torch.float32: "F32", torch.int64: "I64"}[v.dtype]
            shape = "x".join(str(d) for d in v.shape) if v.dim() else "-"
            lines.append("%s %s %s" % (k, dt, shape))
        print("%-12s %10d params (%.2fM) %4d tensors" % (name, params, params / 1e6, len(sd)))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
