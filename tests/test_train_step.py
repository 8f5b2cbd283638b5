"""Run tests/ref/gen_step.py into a build folder (the references depend on
PyTorch, the weights are too large to commit) around the C test's two
passes: the case, the device's two steps (run), the references that take
the device's ReLU decisions at rounding distance from zero, the comparison
(check).

usage: /usr/bin/python3 test_train_step.py TEST_BINARY CASE_DIR [method ...]
"""

import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
binary, case_dir, methods = sys.argv[1], sys.argv[2], sys.argv[3:]
gen = [sys.executable, os.path.join(here, "ref", "gen_step.py"), case_dir]
for old in os.listdir(case_dir) if os.path.isdir(case_dir) else []:
    if old.endswith(".run.safetensors") or old.endswith(".ref.safetensors"):
        os.remove(os.path.join(case_dir, old))
subprocess.run(gen, check=True)
r = subprocess.run([binary, case_dir, "run"] + methods).returncode
if r:
    sys.exit(r)
subprocess.run(gen + ["--refs"], check=True)
sys.exit(subprocess.run([binary, case_dir, "check"] + methods).returncode)
