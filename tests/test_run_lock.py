"""A batch too large for the device's memory is an error naming the sizes
and a batch size that fits, before any allocation (not an abort inside
the OpenCL implementation).

One run per out_dir: while `figkd-cl train` runs, a second train into
the same out_dir stops at once with "already in use by pid N" and writes
nothing; once the first has ended (here by SIGTERM, which saves), the lock
is free and --resume continues.

usage: test_run_lock.py FIGKD_CL WORKDIR   (Debian's python3 with numpy, PIL)
"""

import os
import shutil
import signal
import subprocess
import sys
import time

from e2e import check, finish, make_imagefolder, need_device

BIN, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def main():
    need_device(BIN)
    if os.path.exists(WORK):
        shutil.rmtree(WORK)
    make_imagefolder(WORK, 4, 8, 8, 16)
    with open(os.path.join(WORK, "run.ini"), "w") as f:
        f.write("[run]\nout_dir = out\nlog_every = 1\n[data]\ndataset = imagefolder\nroot = data\ninput_size = 16\n"
                "[student]\nmodel = resnet8\n[distill]\nmethod = ce\n[optim]\nbatch_size = 8\nepochs = 1000\n")
    t0 = time.time()
    big = subprocess.run([BIN, "train", "run.ini", "--set", "run.out_dir=big", "--set", "optim.batch_size=2000000"],
                         cwd=WORK, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(big.returncode == 1 and "GiB of device memory" in big.stderr and "batch_size = " in big.stderr
          and time.time() - t0 < 60, "batch 2000000: exit %d\n%s" % (big.returncode, big.stderr[-1500:]))
    print("batch 2000000: exit %d: %s" % (big.returncode, big.stderr.strip().splitlines()[-1]))
    first = subprocess.Popen([BIN, "train", "run.ini"], cwd=WORK, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    cfg = os.path.join(WORK, "out", "config.ini")
    t0 = time.time()
    while not os.path.exists(cfg) and first.poll() is None and time.time() - t0 < 120:
        time.sleep(0.05)
    if not check(first.poll() is None and os.path.exists(cfg), "the first run did not start"):
        first.kill()
        finish("run_lock")
    before = {n: os.stat(os.path.join(WORK, "out", n)).st_mtime_ns for n in os.listdir(os.path.join(WORK, "out"))}
    t1 = time.time()
    second = subprocess.run([BIN, "train", "run.ini"], cwd=WORK, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    took = time.time() - t1
    msg = "already in use by pid %d" % first.pid
    check(second.returncode != 0 and msg in second.stderr,
          "second run: exit %d, expected '%s':\n%s" % (second.returncode, msg, second.stderr))
    check(took < 30, "second run took %.1f s to refuse" % took)
    after = {n: os.stat(os.path.join(WORK, "out", n)).st_mtime_ns for n in before}
    check(before == after, "the second run touched the first run's files")
    print("second run: exit %d in %.2f s: %s" % (second.returncode, took, second.stderr.strip().splitlines()[-1]))
    first.send_signal(signal.SIGTERM)
    out, err = first.communicate(timeout=300)
    check(first.returncode != 0 and os.path.exists(os.path.join(WORK, "out", "last.safetensors")),
          "first run after SIGTERM: exit %d\n%s" % (first.returncode, err[-1000:]))
    third = subprocess.run([BIN, "train", "run.ini", "--resume", "--set", "optim.max_steps=1"], cwd=WORK,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(third.returncode == 0, "after the first run ended, --resume: exit %d\n%s" % (third.returncode, third.stderr))
    # SIGINT as timeout(1) sends it: to the process and to its process group
    # at once; one request: the run saves and exits 130
    p = subprocess.Popen([BIN, "train", "run.ini", "--set", "run.out_dir=timeout"], cwd=WORK, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    for line in p.stdout:
        if " step " in line:
            break
    os.kill(p.pid, signal.SIGINT)
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=300)
    last = os.path.join(WORK, "timeout", "last.safetensors")
    check(p.returncode == 130 and "second signal" not in err and os.path.exists(last),
          "SIGINT to the process and its group: exit %d, last.safetensors %s\n%s" % (p.returncode,
                                                                                    os.path.exists(last), err))
    print("SIGINT twice as timeout sends it: exit %d, %s" % (p.returncode, err.strip().splitlines()[-1:]))
    finish("run_lock")


if __name__ == "__main__":
    main()
