"""Write the Pillow references of the strong augmentation
(tests/ref/gen_randaug.py) into a build folder, then run the C test on them.

usage: /usr/bin/python3 test_randaug.py TEST_BINARY OUT_FILE
"""

import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
binary, out = sys.argv[1], sys.argv[2]
subprocess.run([sys.executable, os.path.join(here, "ref", "gen_randaug.py"), out], check=True)
sys.exit(subprocess.run([binary, out]).returncode)
