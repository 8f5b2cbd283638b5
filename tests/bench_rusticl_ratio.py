"""The quickstart `bench --steps 2` on Mesa's rusticl (llvmpipe) within
RATIO times PoCL's wall time on the same CPU: ROUNDS interleaved rounds,
the median of the per-round ratios (the machine's load drifts between
runs; a round's two runs see about the same). Exit 77 (skip) where either
implementation is missing; exit 1 over the limit.

usage: python3 bench_rusticl_ratio.py FIGKD_CL CONFIG [ROUNDS] [RATIO]
"""

import os
import statistics
import subprocess
import sys
import time

exe, config = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
limit = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0


def wall(device):
    env = dict(os.environ, FIGKD_DEVICE=device, RUSTICL_ENABLE="llvmpipe")
    t0 = time.monotonic()
    r = subprocess.run([exe, "bench", config, "--steps", "2"], env=env, capture_output=True, text=True)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        text = r.stdout + r.stderr
        if "matches no OpenCL device" in text or "no OpenCL device" in text:
            print(f"SKIP: no {device} device: {text.strip()[:300]}")
            sys.exit(77)
        print(f"bench on {device} failed ({r.returncode}):\n{text}")
        sys.exit(1)
    return dt


for device in ("cpu", "rusticl"):  # program builds and caches first, untimed
    wall(device)
ratios = []
for i in range(rounds):
    p, r = wall("cpu"), wall("rusticl")
    ratios.append(r / p)
    print(f"round {i + 1}: PoCL {p:.2f} s, rusticl {r:.2f} s, {r / p:.2f}x")
median = statistics.median(ratios)
print(f"median {median:.2f}x (limit {limit:.2f}x)")
sys.exit(0 if median <= limit else 1)
