"""The progress line of a real run:
- on a terminal (a pty) it is rewritten in place ("\\r") at least once a
  second, whatever log_every, every refresh within 80 columns; the last
  refresh of an epoch shows the epoch's running means (metrics.jsonl's ce);
  the teacher stage's ETA counts the student stage still to come;
- piped (the student stage again, --force), it is a plain line every
  log_every steps (and at the epoch's end), no "\\r", and the first line arrives while the run is still going.

usage: test_progress_tty.py FIGKD_CL WORKDIR   (Debian's python3: numpy, PIL)
"""

import json
import os
import pty
import re
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e  # noqa: E402
from e2e import check, finish, make_imagefolder, need_device  # noqa: E402

BIN, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])

CONFIG = e2e.ini(run={"seed": 1, "out_dir": "run", "log_every": 1000}, data=dict(e2e.DATA, input_size=32),
                 teacher=e2e.TEACHER, student=e2e.STUDENT, distill={"method": "kd"},
                 optim={"batch_size": 4, "epochs": 1}, teacher_optim={"epochs": 1})
LINE = re.compile(r"\[(teacher|student)\] epoch (\d+)/\d+ +step (\d+)/(\d+) .*ETA (\S+)")


def seconds(eta):
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", eta)
    return sum(int(v or 0) * k for v, k in zip(m.groups(), (3600, 60, 1))) if m and eta else -1


def run_tty(args):
    """Run under a pty; returns [(time, text)] for each piece of output
    ended by \\r or \\n, and the exit status."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, cwd=WORK, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    pieces, buf, t0 = [], b"", time.time()
    while True:
        r, _, _ = select.select([master], [], [], 0.05)
        if not r:
            if p.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        buf += data
        while True:
            m = re.search(rb"[\r\n]", buf)
            if not m:
                break
            pieces.append((time.time() - t0, buf[:m.start()].decode(errors="replace")))
            buf = buf[m.end():]
    os.close(master)
    return pieces, p.wait()


def main():
    need_device(BIN)
    e2e.fresh_dir(WORK)
    make_imagefolder(WORK, 4, 150, 4, 32, step=60.0)
    e2e.write_config(WORK, CONFIG)

    t0 = time.time()
    pieces, rc = run_tty([BIN, "train", "run.ini"])
    print("terminal run: %.1f s" % (time.time() - t0))
    check(rc == 0, "terminal run: exit %d\n%s" % (rc, "\n".join(t for _, t in pieces[-20:])))
    shown = [(t, s.replace("\033[K", "")) for t, s in pieces]
    progress = [(t, s, LINE.search(s)) for t, s in shown if LINE.search(s)]
    check(len(progress) > 4, "terminal run: %d progress refreshes" % len(progress))
    wide = [s for _, s, _ in progress if len(s) > 80]
    check(not wide, "terminal run: %d pieces over 80 columns: %s" % (len(wide), wide[:3]))
    # refreshes at least once a second within each epoch (log_every = 1000 never comes)
    gaps = []
    for (t0, _, m0), (t1, _, m1) in zip(progress, progress[1:]):
        if m0.group(1, 2) == m1.group(1, 2):
            gaps.append(t1 - t0)
    # the line is redrawn every 0.5 s between steps: the typical gap is under
    # a second; a loaded machine may stretch one step, never most of them
    gaps_sorted = sorted(gaps)
    median = gaps_sorted[len(gaps) // 2] if gaps else 0.0
    check(len(gaps) >= 4 and median <= 1.0 and max(gaps) <= 3.0,
          "terminal run: gaps between refreshes: median %.2f s, longest %.2f s" % (median, max(gaps or [0])))
    steps = [int(m.group(3)) for _, _, m in progress]
    print("terminal: %d refreshes, longest gap %.2f s, longest line %d columns, steps %s ..."
          % (len(progress), max(gaps or [0]), max(len(s) for _, s, _ in progress), steps[:8]))
    # the last refresh of each student epoch shows the epoch's mean CE (metrics.jsonl)
    rows = [json.loads(x) for x in open(os.path.join(WORK, "run", "metrics.jsonl"))]
    for row in rows:
        last = [s for _, s, m in progress if m.group(1) == "student" and int(m.group(2)) == row["epoch"]
                and m.group(3) == m.group(4)]
        ce = re.search(r" ce (\S+)", last[-1]).group(1) if last else "none"
        check(last and abs(float(ce) - row["ce"]) <= 0.0006 + 0.001 * row["ce"],
              "student epoch %d: the last refresh shows ce %s, the epoch's mean is %.4f"
              % (row["epoch"], ce, row["ce"]))
    # the teacher's last refresh still counts the student stage in its ETA
    teacher = [m for _, _, m in progress if m.group(1) == "teacher"]
    student = [m for _, _, m in progress if m.group(1) == "student"]
    if check(teacher and student, "terminal run: teacher and student stages shown"):
        t_eta, s_eta = seconds(teacher[-1].group(5)), seconds(student[0].group(5))
        print("ETA at the teacher's last step %s, at the student's first %s" % (teacher[-1].group(5),
                                                                             student[0].group(5)))
        check(t_eta >= 1 and t_eta >= 0.3 * s_eta, "the teacher's last ETA %s leaves out the student stage (%s)"
              % (teacher[-1].group(5), student[0].group(5)))

    # piped: a plain line every log_every steps and at the epoch's end
    t0 = time.time()
    p = subprocess.Popen([BIN, "train", "run.ini", "--force", "--set", "run.log_every=7"], cwd=WORK,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines, first = [], None
    for raw in p.stdout:
        lines.append(raw.decode())
        if first is None and LINE.search(lines[-1]):
            first = time.time() - t0
    rc, total = p.wait(), time.time() - t0
    text = "".join(lines)
    check(rc == 0 and "\r" not in text, "piped run: exit %d, carriage returns: %s" % (rc, "\r" in text))
    got = [LINE.search(x) for x in lines if LINE.search(x)]
    spe = int(got[0].group(4)) if got else 0
    want = [k for k in range(7, spe + 1, 7)] + ([spe] if spe % 7 else [])
    seen = [int(m.group(3)) for m in got if m.group(1) == "student"]
    check(seen == want, "piped: lines at steps %s, expected %s" % (seen, want))
    check(all(len(m.group(0)) <= 80 for m in got), "piped: a line over 80 columns")
    check(first is not None and first < total - 0.3, "piped: the first progress line came at %.2f s of %.2f s"
          % (first or -1, total))
    print("piped: %d progress lines (steps %s), first after %.2f s of %.2f s" % (len(got), want, first or -1, total))
    print(next((x for x in lines if LINE.search(x)), "").rstrip())
    finish("progress_tty")


if __name__ == "__main__":
    main()
