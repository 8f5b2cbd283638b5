"""figkd-cl tune on a tiny config writes the device's tune cache under
$XDG_CACHE_HOME/figkd-cl; bench then says it used it ("tuned: N conv
shapes from FILE"), FIGKD_TUNE=0 turns it off, FIGKD_TUNE=FILE reads
another file, a file of another driver is ignored with a message, and a
malformed one is an error naming FILE:LINE (exit 1, no crash).

usage: test_tune_cli.py FIGKD_CL WORKDIR   (Debian's python3)
"""

import glob
import os
import re
import shutil
import subprocess
import sys

from e2e import check, finish, need_device

BIN, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def run(args, **env):
    e = dict(os.environ)
    e.pop("FIGKD_TUNE", None)  # the tests' environment turns the cache off
    e["XDG_CACHE_HOME"] = os.path.join(WORK, "xdg")
    e.update(env)
    p = subprocess.run([BIN] + args, cwd=WORK, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


def main():
    need_device(BIN)
    if os.path.exists(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    with open(os.path.join(WORK, "tiny.ini"), "w") as f:
        f.write("[data]\ndataset = cifar100\n[student]\nmodel = resnet8\n[distill]\nmethod = ce\n")
    bench = ["bench", "tiny.ini", "--steps", "1", "--batch", "2"]

    rc, out, err = run(bench)
    check(rc == 0 and "tuned: none (no entries in " in out, "bench before tune: exit %d\n%s%s" % (rc, out, err))

    rc, out, err = run(["tune", "tiny.ini", "--steps", "1", "--batch", "2"])
    files = glob.glob(os.path.join(WORK, "xdg", "figkd-cl", "tune-*.ini"))
    check(rc == 0 and len(files) == 1 and ("wrote %s: " % (files[0] if files else "?")) in out,
          "tune: exit %d, files %s\n%s%s" % (rc, files, out, err))
    if not files:
        return
    cache = files[0]
    with open(cache) as f:
        text = f.read()
    entries = len(re.findall(r"^\[train ", text, re.M))
    check(entries == 8 and "[device]" in text, "resnet8 has 8 distinct conv shapes: %d\n%s" % (entries, text))

    rc, out, err = run(bench)
    want = "tuned: %d conv shapes from %s (%d entries)" % (entries, cache, entries)
    check(rc == 0 and want in out, "bench after tune: exit %d, want %r\n%s%s" % (rc, want, out, err))
    print([l for l in out.splitlines() if l.startswith("tuned:")])

    rc, out, err = run(bench, FIGKD_TUNE="0")
    check(rc == 0 and "tuned: off" in out, "FIGKD_TUNE=0: exit %d\n%s%s" % (rc, out, err))

    # --out and FIGKD_TUNE=FILE
    other = os.path.join(WORK, "other.ini")
    rc, out, err = run(["tune", "tiny.ini", "--steps", "1", "--batch", "4", "--out", other])
    check(rc == 0 and os.path.exists(other), "tune --out: exit %d\n%s%s" % (rc, out, err))
    rc, out, err = run(bench + ["--batch", "4"], FIGKD_TUNE=other)
    check(rc == 0 and ("tuned: 8 conv shapes from %s" % other) in out, "FIGKD_TUNE=FILE: exit %d\n%s%s" % (rc, out, err))
    rc, out, err = run(bench, FIGKD_TUNE=other)
    check(rc == 0 and ("tuned: 0 conv shapes from %s (8 entries)" % other) in out,
          "another batch looks up no entry: exit %d\n%s%s" % (rc, out, err))

    # another driver: ignored, said once
    with open(cache, "w") as f:
        f.write(re.sub(r"^driver = .*$", "driver = some other driver", text, flags=re.M))
    rc, out, err = run(bench)
    check(rc == 0 and err.count("tuned for another device, driver or kernel sources: ignored") == 1
          and "tuned: none" in out, "stale cache: exit %d\n%s%s" % (rc, out, err))

    # malformed: an error naming the file and the line, no crash
    lines = text.splitlines()
    bad_line = next(i for i, l in enumerate(lines) if l.startswith("gemm = ")) + 1
    lines[bad_line - 1] = "gemm = fastest"
    with open(cache, "w") as f:
        f.write("\n".join(lines) + "\n")
    rc, out, err = run(bench)
    where = "%s:%d: gemm = fastest" % (cache, bad_line)
    check(rc == 1 and where in err, "bench with a malformed cache: exit %d, want %r\n%s%s" % (rc, where, out, err[-2000:]))


if __name__ == "__main__":
    main()
    finish("tune_cli")
