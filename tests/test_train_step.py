"""Run tests/ref/gen_step.py into a build folder (the references depend on
PyTorch, the weights are too large to commit), then the C test.

usage: /usr/bin/python3 test_train_step.py TEST_BINARY CASE_DIR [method ...]
"""

import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
binary, case_dir = sys.argv[1], sys.argv[2]
subprocess.run([sys.executable, os.path.join(here, "ref", "gen_step.py"), case_dir], check=True)
sys.exit(subprocess.run([binary, case_dir] + sys.argv[3:]).returncode)
