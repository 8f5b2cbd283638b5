"""Reference cases for tests/test_model_device.c, written at test time into a
build folder (whole-model weights are too large to commit).

For each case: <case>.weights.safetensors (the PyTorch state_dict, float32,
num_batches_tracked int64) and <case>.ref.safetensors with
  input        (N, 3, S, S)
  logits_eval  eval-mode logits
and for train cases also
  dlogits      the gradient of the loss sum(logits * dlogits)
  logits_train train-mode logits (batch statistics)
  grad.<name>  gradient of every parameter
  after.<name> BN running_mean / running_var after the train forward
  f32.<key>    the same train logits and gradients from PyTorch in float32,
               so that the test can scale its tolerance by how far float32
               itself is from float64 (BatchNorm on batch statistics of a
               few samples is ill-conditioned for some models)
References are computed in float64 from the float32 weights and input.
Train cases draw inputs until no ReLU input of the float64 train pass lies
within MARGIN of zero: float32 (ours or PyTorch's) is off by about 1e-6
there, and a ReLU decision flipped by rounding changes gradients far
upstream (a flip at wrn_16_2's final ReLU moved 2 % of all gradient
elements by several %). Train cases use 16x16 inputs where the model
allows it without BatchNorm over 1x1 maps (fewer activations); MobileNetV2
stays at 32x32; it and ShuffleV1 (16x16) take the best of MAX_TRIES inputs.
Weights: PyTorch default init, then BN weight, bias, running mean and
variance randomised so that eval mode is not the identity.

Usage: /usr/bin/python3 gen_model_cases.py OUT_DIR
"""

import os
import sys

import copy

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkio  # noqa: E402
import torch_models  # noqa: E402

# name, classes, input size, batch, train
CASES = [
    ("resnet8", 5, 32, 2, False),
    ("resnet8x4", 5, 16, 3, True),
    ("wrn_16_2", 5, 16, 3, True),
    ("vgg8", 5, 16, 3, True),
    ("MobileNetV2", 5, 32, 3, True),
    ("ShuffleV1", 5, 16, 3, True),
    ("ShuffleV2", 5, 16, 3, True),
    ("ResNet50", 5, 32, 1, False),
    ("ResNet18", 5, 32, 1, False),
    ("MobileNetV1", 5, 32, 1, False),
]


MARGIN = 2e-5
MAX_TRIES = 40  # then the input with the largest margin (MobileNetV2, ShuffleV1)


def relu_margin(model, x):
    """Smallest |ReLU input| of a train-mode forward (model unchanged)."""
    state = copy.deepcopy(model.state_dict())
    try:
        with torch_models.recording_relu():
            model.train()
            with torch.no_grad():
                model(x)
    finally:
        model.load_state_dict(state)
    return torch_models.relu_min[0]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1234)
    g = torch.Generator().manual_seed(99)
    for name, classes, size, batch, train in CASES:
        model = torch_models.build(name, classes)
        torch_models.randomise_bn(model, g)
        sd = {k: v.clone() for k, v in model.state_dict().items()}
        m32 = torch_models.build(name, classes)
        m32.load_state_dict(sd)
        fkio.save_torch(os.path.join(out, name + ".weights.safetensors"), sd,
                        metadata={"model": name})
        x = torch.randn(batch, 3, size, size, generator=g)
        tries, margin = 1, relu_margin(copy.deepcopy(model).double(), x.double()) if train else 1.0
        while margin < MARGIN and tries < MAX_TRIES:
            x2 = torch.randn(batch, 3, size, size, generator=g)
            m2 = relu_margin(copy.deepcopy(model).double(), x2.double())
            if m2 > margin:
                x, margin = x2, m2
            tries += 1
        ref = {"input": x.numpy()}
        m64 = model.double()
        m64.eval()
        with torch.no_grad():
            ref["logits_eval"] = m64(x.double()).float().numpy()
        meta = {"model": name, "classes": str(classes), "input": str(size), "batch": str(batch),
                "train": "1" if train else "0"}
        if train:
            m64.train()
            dl = torch.randn(batch, classes, generator=g)
            logits = m64(x.double())
            (logits * dl.double()).sum().backward()
            ref["dlogits"] = dl.numpy()
            ref["logits_train"] = logits.detach().float().numpy()
            for k, p in m64.named_parameters():
                ref["grad." + k] = p.grad.float().numpy()
            m32.train()
            logits32 = m32(x)
            (logits32 * dl).sum().backward()
            ref["f32.logits_train"] = logits32.detach().numpy()
            for k, p in m32.named_parameters():
                ref["f32.grad." + k] = p.grad.numpy()
            for k, b in m64.named_buffers():
                if k.endswith("running_mean") or k.endswith("running_var"):
                    ref["after." + k] = b.float().numpy()
        fkio.write_safetensors(os.path.join(out, name + ".ref.safetensors"),
                               {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in ref.items()},
                               meta)
        print("%s: batch %d, %s; ReLU margin %.3g (%d inputs drawn)" %
              (name, batch, "eval + train" if train else "eval", margin, tries))


if __name__ == "__main__":
    main()
