"""Run tests/ref/gen_step.py into a build folder (the references depend on
PyTorch, the weights are too large to commit), then the C test.

usage: /usr/bin/python3 test_train_step.py TEST_BINARY CASE_DIR [--seed S] [--pair TEACHER STUDENT] [method ...]
(--seed: gen_step.py's batch seed; --pair: that teacher -> student pair
instead of resnet32x4 -> resnet8x4, for the methods named)
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
if rest[:1] == ["--pair"]:
    gen += rest[1:]
    rest = rest[3:]
subprocess.run(gen, check=True)
sys.exit(subprocess.run([binary, case_dir] + rest).returncode)
