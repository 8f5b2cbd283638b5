"""One check before any work, for train, eval, predict, bench and data:
every mistake it can find is reported in one run, each with its file:line
or [section] key, then "N errors in CONFIG"; the exit status is 1, it takes
well under a second and nothing is written (no out_dir, no file touched).

usage: test_check_first.py FIGKD_CL WORKDIR   (Debian's python3: numpy, PIL)
"""

import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import e2e  # noqa: E402
import fkio  # noqa: E402
from e2e import check, finish, make_imagefolder  # noqa: E402

BIN, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])

GOOD = e2e.ini(run={"out_dir": "run"}, data=e2e.DATA, teacher=e2e.TEACHER, student=e2e.STUDENT,
               distill={"method": "kd"}, optim={"batch_size": 8, "epochs": 1})


def snapshot():
    out = {}
    for dp, dirs, files in os.walk(WORK):
        for name in dirs + files:
            p = os.path.join(dp, name)
            st = os.lstat(p)
            out[os.path.relpath(p, WORK)] = (st.st_size, st.st_mtime_ns)
    return out


def config(name, text):
    return e2e.write_config(WORK, text, name)


def run(what, args, expect, count):
    """Run a command that must stop before work: exit 1, every expected
    message, "count errors in CONFIG", fast, and nothing written."""
    before = snapshot()
    r = e2e.run(BIN, WORK, *args)
    secs = r.seconds
    after = snapshot()
    err = r.stderr
    check(r.returncode == 1, "%s: exit %d, expected 1\n%s" % (what, r.returncode, err))
    for e in expect:
        check(e in err, "%s: no '%s' in\n%s" % (what, e, err))
    summary = "%d error%s in %s" % (count, "" if count == 1 else "s", args[1])
    check(err.rstrip().endswith(summary), "%s: the last line is not '%s':\n%s" % (what, summary, err))
    check(err.count("figkd-cl: error:") == count, "%s: %d errors printed, expected %d\n%s"
          % (what, err.count("figkd-cl: error:"), count, err))
    check(secs < 1.0, "%s: %.2f s" % (what, secs))
    changed = sorted(set(before.items()) ^ set(after.items()))
    check(not changed, "%s: files written or changed: %s" % (what, changed))
    check(not r.stdout.strip(), "%s: printed before stopping: %s" % (what, r.stdout))
    print("%s: exit %d in %.3f s, %s" % (what, r.returncode, secs, err.rstrip().splitlines()[-1]))


def main():
    e2e.fresh_dir(WORK)
    make_imagefolder(WORK, 4, 8, 4, 16)
    config("good.ini", GOOD)
    # a teacher checkpoint made for another model
    fkio.write_safetensors(os.path.join(WORK, "resnet14.safetensors"), {"fc.bias": np.zeros(4, np.float32)},
                           {"figkd.model": "resnet14", "figkd.classes": "4", "figkd.input": "16",
                            "figkd.dataset": "imagefolder"})
    open(os.path.join(WORK, "a-file"), "w").write("not a folder\n")

    # train: a student model typo, a teacher made for another model, an
    # out_dir that cannot be created; the typo alone used to wait for the
    # teacher's training, the others were found one run at a time
    bad = GOOD.replace("model = resnet8\n[distill]", "model = resnet8y\n[distill]")
    bad = bad.replace("out_dir = run", "out_dir = a-file/run").replace("teacher.safetensors", "resnet14.safetensors")
    run("train, three mistakes", ["train", config("three.ini", bad)],
        ["three.ini:11: student.model: unknown model 'resnet8y'",
         "three.ini: [teacher] checkpoint resnet14.safetensors: this teacher checkpoint was made for the model "
         "resnet14", "[run] out_dir a-file/run: a-file is not a folder"], 3)

    # train: the data missing, an unknown key, a key given twice
    bad = GOOD.replace("root = data", "root = nodata").replace("epochs = 1", "epochs = 1\nepoch = 2\nbatch_size = 4")
    run("train, data and keys", ["train", config("keys.ini", bad)],
        ["keys.ini: imagefolder: [data] root = nodata", "keys.ini:17: unknown key 'epoch' in [optim]",
         "keys.ini:18: [optim] batch_size is given twice; first at keys.ini:15"], 3)

    # train: a method key of another method, a bad value, --resume with nothing to resume
    bad = GOOD.replace("method = kd", "method = kd\nbands = LL\ntemperature = hot")
    run("train, method keys", ["train", config("method.ini", bad), "--resume"],
        ["method.ini:14: distill.bands does not apply to method = kd", "method.ini:15: distill.temperature:",
         "--resume: run holds no checkpoint to resume"], 3)

    # train: a teacher checkpoint that is not a safetensors file, a missing [student] init
    bad = GOOD.replace("teacher.safetensors", "a-file").replace("model = resnet8\n[distill]",
                                                                 "model = resnet8\ninit = nowhere.safetensors\n[distill]")
    run("train, unusable files", ["train", config("files.ini", bad)],
        ["files.ini: [teacher] checkpoint a-file cannot be used", "files.ini: [student] init nowhere.safetensors "
         "cannot be used"], 2)

    # train: the training and test splits with different classes
    shutil.copytree(os.path.join(WORK, "data"), os.path.join(WORK, "data5"))
    shutil.copytree(os.path.join(WORK, "data5", "train", "class000"), os.path.join(WORK, "data5", "train", "class009"))
    run("train, class counts", ["train", config("classes.ini", GOOD.replace("root = data", "root = data5"))],
        ["the class folders of data5/train and data5/test differ"], 1)

    # eval: an unknown key, the data missing, no weights
    bad = GOOD.replace("root = data", "root = nodata").replace("[run]", "[run]\nlog_evry = 5")
    run("eval", ["eval", config("eval.ini", bad)],
        ["eval.ini:2: unknown key 'log_evry' in [run]", "eval.ini: imagefolder: [data] root = nodata",
         "the weights run/last.safetensors cannot be used"], 3)

    # predict: weights made for another class count, outputs that cannot be written
    fkio.write_safetensors(os.path.join(WORK, "w10.safetensors"), {"fc.bias": np.zeros(10, np.float32)},
                           {"figkd.model": "resnet8", "figkd.classes": "10"})
    run("predict", ["predict", "good.ini", "--weights", "w10.safetensors", "--out", "a-file/x.npy",
                    "--labels", "data"],
        ["w10.safetensors: these weights were made for 10 classes, the data of good.ini has 4",
         "--out a-file/x.npy: a-file is not a folder", "--labels data: is a folder"], 3)

    # bench: two bad values
    run("bench", ["bench", "good.ini", "--set", "optim.lr=fast", "--set", "teacher.model=resnet9"],
        ["--set optim.lr: optim.lr: 'fast'", "--set teacher.model: unknown model 'resnet9'"], 2)

    # data: a bad value, the data missing, a grid that cannot be written
    run("data", ["data", "good.ini", "--set", "data.augment=lots", "--set", "data.shuffle=yes",
                 "--grid", "a-file/grid.png"],
        ["--set data.augment", "--grid a-file/grid.png: a-file is not a folder"], 2)
    run("data, root", ["data", "good.ini", "--set", "data.root=nodata", "--grid", "a-file/grid.png"],
        ["good.ini: imagefolder: [data] root = nodata", "--grid a-file/grid.png: a-file is not a folder"], 2)
    finish("check_first")


if __name__ == "__main__":
    main()
