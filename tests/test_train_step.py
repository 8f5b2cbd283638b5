"""Run tests/ref/gen_step.py into a build folder (the references depend on
PyTorch, the weights are too large to commit), then the C test.

usage: /usr/bin/python3 test_train_step.py TEST_BINARY CASE_DIR [method ...]

Without methods: the default list on the resnet pair (CASE_DIR), then mlkd
on the resnet pair with its own batch (CASE_DIR/resnet) and on the wrn pair
(CASE_DIR/wrn).
"""

import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
binary, case_dir = sys.argv[1], sys.argv[2]
subprocess.run([sys.executable, os.path.join(here, "ref", "gen_step.py"), case_dir], check=True)
rc = subprocess.run([binary, case_dir] + sys.argv[3:]).returncode
if len(sys.argv) == 3:
    for pair in ("resnet", "wrn"):
        rc = subprocess.run([binary, os.path.join(case_dir, pair), "mlkd"]).returncode or rc
sys.exit(rc)
