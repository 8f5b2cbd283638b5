"""Run tests/ref/gen_step.py into a build folder (the references depend on
PyTorch, the weights are too large to commit) around the C test's two
passes: the case, the device's two steps (run), the references that take
the device's ReLU decisions at rounding distance from zero, the comparison
(check).

usage: /usr/bin/python3 test_train_step.py TEST_BINARY CASE_DIR [--seed S] [--pair TEACHER STUDENT] [method ...]
(--seed: gen_step.py's batch seed; --pair: that teacher -> student pair
instead of resnet32x4 -> resnet8x4, for the methods named)

Without a pair and methods: the default list on the resnet pair (CASE_DIR),
then mlkd on the resnet pair with its own batch (CASE_DIR/resnet) and on the
wrn pair (CASE_DIR/wrn).
"""

import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
binary, case_dir, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
step_py = os.path.join(here, "ref", "gen_step.py")
gen = [sys.executable, step_py, case_dir]
if rest[:1] == ["--seed"]:
    gen += rest[:2]
    rest = rest[2:]
pair = rest[:1] == ["--pair"]
if pair:
    gen += rest[1:]
    rest = rest[3:]
cases = [(case_dir, rest)]
if not pair and not rest:
    cases += [(os.path.join(case_dir, sub), ["mlkd"]) for sub in ("resnet", "wrn")]
for d, _ in cases:
    for old in os.listdir(d) if os.path.isdir(d) else []:
        if old.endswith(".run.safetensors") or old.endswith(".ref.safetensors"):
            os.remove(os.path.join(d, old))
subprocess.run(gen, check=True)
rc = 0
for d, methods in cases:
    r = subprocess.run([binary, d, "run"] + methods).returncode
    if r == 0:
        r = subprocess.run([sys.executable, step_py, d, "--refs"]).returncode
    if r == 0:
        r = subprocess.run([binary, d, "check"] + methods).returncode
    rc = rc or r
sys.exit(rc)
