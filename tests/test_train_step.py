"""Run tests/ref/gen_step.py into a build folder (the references depend on
PyTorch, the weights are too large to commit), then the C test.

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
gen = [sys.executable, os.path.join(here, "ref", "gen_step.py"), case_dir]
if rest[:1] == ["--seed"]:
    gen += rest[:2]
    rest = rest[2:]
pair = rest[:1] == ["--pair"]
if pair:
    gen += rest[1:]
    rest = rest[3:]
subprocess.run(gen, check=True)
rc = subprocess.run([binary, case_dir] + rest).returncode
if not pair and not rest:
    for sub in ("resnet", "wrn"):
        rc = subprocess.run([binary, os.path.join(case_dir, sub), "mlkd"]).returncode or rc
sys.exit(rc)
