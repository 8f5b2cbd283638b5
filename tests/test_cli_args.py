"""Command lines with bad numbers and options: each exits with status 2
(a bad command line) or 1 (a bad config value) before any work, and its
message names the option or key and the bad text.

usage: /usr/bin/python3 test_cli_args.py FIGKD_CL CONFIG
"""

import subprocess
import sys

BIN, CONFIG = sys.argv[1], sys.argv[2]
failures = []

# (arguments, exit status, texts the message must hold)
CASES = [
    (["bench", CONFIG, "--steps", "2x"], 2, ["--steps", "'2x'"]),
    (["bench", CONFIG, "--steps", "0"], 2, ["--steps", "'0'"]),
    (["bench", CONFIG, "--batch", "8.5"], 2, ["--batch", "'8.5'"]),
    (["bench", CONFIG, "--classes", "-3"], 2, ["--classes", "'-3'"]),
    (["bench", CONFIG, "--steps"], 2, ["--steps"]),
    (["bench", CONFIG, "--batch", "2000000"], 2, ["--batch"]),
    (["data", CONFIG, "--batches", "5k"], 2, ["--batches", "5k"]),
    (["train"], 2, ["usage: figkd-cl train"]),
    (["train", CONFIG, "--bogus"], 2, ["--bogus"]),
    (["eval", CONFIG, "--weights"], 2, ["--weights"]),
    (["predict", CONFIG, "--weights", "w.safetensors"], 2, ["--out"]),
    (["predict", CONFIG, "--weights", "w", "--out", "o.npy", "--split", "val"], 2, ["--split", "test,train"]),
    (["predict", "/nonexistent.ini", "--weights", "w"], 2, ["--out is required"]),
    (["train", CONFIG, "--set", "optim.max_steps=3x"], 1, ["optim.max_steps", "'3x'"]),
    (["train", CONFIG, "--set", "optim.batch_size=64.0"], 1, ["optim.batch_size", "'64.0'"]),
    (["train", CONFIG, "--set", "distill.shape=2x5x"], 1, ["distill.shape", "2x5x"]),
    (["train", CONFIG, "--set", "distill.beta=1e"], 1, ["distill.beta", "'1e'"]),
    (["bench", CONFIG, "--set", "optim.lr=0.1.2"], 1, ["optim.lr", "'0.1.2'"]),
]

for args, want, texts in CASES:
    r = subprocess.run([BIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    what = " ".join(a if a != CONFIG else "CONFIG" for a in args)
    missing = [t for t in texts if t not in r.stderr]
    if r.returncode != want or missing:
        failures.append(what)
        print("FAIL: %s: exit %d (expected %d), message lacks %s:\n%s" % (what, r.returncode, want, missing,
                                                                         r.stderr.strip()))
    else:
        print("ok: %s -> %d: %s" % (what, r.returncode, r.stderr.strip().splitlines()[0]))

# --help is a usage, not an error
for cmd in ("train", "eval", "bench", "predict"):
    r = subprocess.run([BIN, cmd, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    if r.returncode != 0 or ("usage: figkd-cl " + cmd) not in r.stdout:
        failures.append(cmd + " --help")
        print("FAIL: %s --help: exit %d\n%s%s" % (cmd, r.returncode, r.stdout, r.stderr))

if failures:
    print("%d of %d command lines failed" % (len(failures), len(CASES) + 4))
    sys.exit(1)
print("cli_args: all %d command lines checked" % (len(CASES) + 4))
