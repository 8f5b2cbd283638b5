#!/bin/sh
# Run the device tests and the training benchmark on the device FIGKD_DEVICE
# selects (default: the first GPU), from an existing build, without meson.
# usage: scripts/gpu-check.sh BUILD_DIR OUT_DIR [PYTHON]
#   BUILD_DIR  holds figkd-cl and tests/test_* (a meson build folder, or a
#              flat copy with the test binaries beside figkd-cl)
#   OUT_DIR    one log per test, bench.txt and peer.txt
#   PYTHON     a Python with PyTorch for the reference cases and the PyTorch
#              peer (default python3); with CUDA the peer runs on the GPU too
set -u
build=$1 out=$2 py=${3:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
export FIGKD_SOURCE_ROOT="$root" FIGKD_DEVICE="${FIGKD_DEVICE:-gpu}"
bin() { if [ -x "$build/tests/$1" ]; then echo "$build/tests/$1"; else echo "$build/$1"; fi; }
mkdir -p "$out"
"$build/figkd-cl" devices | tee "$out/devices.txt"
pass=0 fail=0
for t in gemm cache memory sgd checkpoint conv batchnorm pool linear tensor_ops dwt loss; do
  if timeout 300 "$(bin test_$t)" > "$out/$t.log" 2>&1; then pass=$((pass + 1)); r=ok; else fail=$((fail + 1)); r=FAIL; fi
  echo "test $t: $r"
done
for t in model_device train_step; do
  if timeout 400 "$py" "$root/tests/test_$t.py" "$(bin test_$t)" "$out/$t-case" > "$out/$t.log" 2>&1; then
    pass=$((pass + 1)); r=ok; else fail=$((fail + 1)); r=FAIL; fi
  echo "test $t: $r"
done
echo "$pass passed, $fail failed"
cfg="$root/configs/cifar100/figkd_resnet32x4_resnet8x4.ini"
"$build/figkd-cl" bench "$cfg" --steps 50 | tee "$out/bench.txt"
# the student alone (cross-entropy), as PyTorch's resnet8x4 step
printf '[data]\ndataset = cifar100\n[student]\nmodel = resnet8x4\n[distill]\nmethod = ce\n' > "$out/ce.ini"
"$build/figkd-cl" bench "$out/ce.ini" --steps 50 | tee -a "$out/bench.txt"
