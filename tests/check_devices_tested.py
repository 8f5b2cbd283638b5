"""`figkd-cl devices` marks each device's implementation as tested or not:
every device of PoCL (CPU), rusticl (llvmpipe) and Oclgrind as tested in CI,
any other as not tested. Needs at least one OpenCL device.

usage: python3 check_devices_tested.py FIGKD_CL
"""

import subprocess
import sys

EXPECTED = {
    "Portable Computing Language": "yes: CI (PoCL)",
    "rusticl": "yes: CI (rusticl)",
    "Oclgrind": "yes: CI (Oclgrind)",
}

out = subprocess.run([sys.argv[1], "devices"], capture_output=True, text=True, check=True).stdout
lines = out.splitlines()
header = lines[0]
col = header.index("tested")
rows = [line for line in lines[1:] if line[:3].strip() in ("", "*") and len(line) > col]
bad = 0
for line in rows:
    platform, tested = line[9:37].strip(), line[col:].strip()
    want = EXPECTED.get(platform)
    if want is None:
        ok = tested.startswith("no") or "gpu-check" in tested
    else:
        ok = tested == want or (platform == "rusticl" and "llvmpipe" not in line and tested.startswith("no"))
    print(("ok   " if ok else "BAD  ") + line)
    bad += not ok
if not rows:
    print("no device rows in:\n" + out)
    sys.exit(1)
sys.exit(1 if bad else 0)
