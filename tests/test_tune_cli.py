"""figkd-cl tune on a tiny config writes the device's tune cache under
$XDG_CACHE_HOME/figkd-cl; bench then says it used it ("tuned: N conv
shapes from FILE"), FIGKD_TUNE=0 turns it off, FIGKD_TUNE=FILE reads
another file, a file of another driver is ignored with a message, and a
malformed one is an error naming FILE:LINE (exit 1, no crash). With
--clblast, CLBlast's own tuner runs first and its values are written
only where kept; bench puts a cache's CLBlast values in force.

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
    check("CLBlast's tuner" not in out, "CLBlast's tuner runs on CPUs only when asked:\n%s" % out)
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

    # CLBlast's tuner on a few of its configurations: a line per kernel, a
    # section exactly where kept
    blas = os.path.join(WORK, "blas.ini")
    rc, out, err = run(["tune", "tiny.ini", "--steps", "1", "--batch", "2", "--clblast", "0.0002", "--out", blas])
    check(rc == 0 and "CLBlast's tuner, 0.0002 of its configurations" in out,
          "tune --clblast: exit %d\n%s%s" % (rc, out, err))
    with open(blas) if os.path.exists(blas) else open(os.devnull) as f:
        written = f.read()
    for kernel in ("Xgemm", "XgemmDirect"):
        line = next((l for l in out.splitlines() if l.startswith("  clblast %-11s" % kernel)), None)
        kept = line is not None and "not kept" not in line and "not tuned" not in line and "failed" not in line
        check(line is not None and kept == ("[clblast %s]" % kernel in written),
              "%s: line %r, section written %s" % (kernel, line, "[clblast %s]" % kernel in written))
    rc, out, err = run(["tune", "tiny.ini", "--clblast", "2"])
    check(rc == 2 and "--clblast 2: expected the fraction" in err, "--clblast 2: exit %d\n%s%s" % (rc, out, err))

    # a cache's CLBlast values (a valid set) are put in force by bench
    values = dict(GEMMK=0, KREG=1, KWG=16, KWI=2, MDIMA=8, MDIMC=8, MWG=32, NDIMB=8, NDIMC=8, NWG=32,
                  SA=0, SB=0, STRM=0, STRN=0, VWM=1, VWN=1)
    with open(other, "a") as f:
        f.write("\n[clblast Xgemm]\n" + "".join("%s = %d\n" % kv for kv in values.items()))
    rc, out, err = run(bench + ["--batch", "4"], FIGKD_TUNE=other)
    check(rc == 0 and ("tuned: CLBlast's Xgemm values from %s" % other) in out,
          "bench with CLBlast values: exit %d\n%s%s" % (rc, out, err))
    with open(other, "a") as f:
        f.write("\n[clblast XgemmDirect]\nWGD = 8\n")
    rc, out, err = run(bench + ["--batch", "4"], FIGKD_TUNE=other)
    check(rc == 1 and "CLBlast refused the parameters of [clblast XgemmDirect]" in err,
          "an incomplete section: exit %d\n%s%s" % (rc, out, err[-2000:]))

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
