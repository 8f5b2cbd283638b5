#!/bin/sh
# figkd-cl bench and the PyTorch peer (scripts/torch_peer.py) one after the
# other on the same machine, then the ratios. Shared machines drift: compare
# the ratios of one run, not absolute times across runs.
# usage: scripts/speed.sh [BUILD_DIR] [BATCH] [STEPS] [SIZE]
#   BUILD_DIR  holds figkd-cl (default: build)
#   BATCH      default 64;  STEPS default 5;  SIZE input side, default 32
#              (64: TinyImageNet's 64x64 with 200 classes)
# Environment: PYTHON (a Python with PyTorch, default /usr/bin/python3 when
# present), THREADS (the peer's threads, default the CPU count: PoCL's CPU
# device uses every core), FIGKD_DEVICE (default cpu), PAIRS (default
# "figkd student": the FiGKD step resnet32x4 -> resnet8x4 and the
# resnet8x4 step alone).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build} batch=${2:-64} steps=${3:-5} size=${4:-32}
py=${PYTHON:-python3}
[ -x /usr/bin/python3 ] && [ -z "${PYTHON:-}" ] && py=/usr/bin/python3
threads=${THREADS:-$(nproc)}
export FIGKD_DEVICE="${FIGKD_DEVICE:-cpu}"
classes=100 dataset=cifar100
[ "$size" = 64 ] && classes=200 dataset=tinyimagenet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[data]\ndataset = %s\ninput_size = %s\n[teacher]\nmodel = resnet32x4\ncheckpoint = teacher.safetensors\n[student]\nmodel = resnet8x4\n[distill]\nmethod = figkd\n' \
  "$dataset" "$size" > "$tmp/figkd.ini"
printf '[data]\ndataset = %s\ninput_size = %s\n[student]\nmodel = resnet8x4\n[distill]\nmethod = ce\n' \
  "$dataset" "$size" > "$tmp/student.ini"
# value after "KEY: " on the line starting with KEY, first number only
field() { sed -n "s/^$2: \\([0-9.]*\\) *\\([a-zA-Z/]*\\).*/\\1 \\2/p" "$1" | head -n 1; }
imgs() { sed -n 's/^step: .* \([0-9.]*\) img\/s.*/\1/p' "$1" | head -n 1; }
rss() { sed -n 's/^peak resident memory: \([0-9.]*\) MiB.*/\1/p' "$1" | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }
for pair in ${PAIRS:-figkd student}; do
  if [ "$pair" = figkd ]; then teacher=resnet32x4 what="FiGKD step, resnet32x4 -> resnet8x4"
  else teacher=none what="resnet8x4 step alone"; fi
  "$build/figkd-cl" bench "$tmp/$pair.ini" --steps "$steps" --batch "$batch" > "$tmp/$pair.fk" 2>&1 ||
    { cat "$tmp/$pair.fk"; exit 1; }
  "$py" "$root/scripts/torch_peer.py" --teacher "$teacher" --student resnet8x4 --batch "$batch" \
    --steps "$steps" --threads "$threads" --size "$size" --classes "$classes" > "$tmp/$pair.pt" 2>&1 ||
    { cat "$tmp/$pair.pt"; exit 1; }
  sed 's/^/  figkd-cl | /' "$tmp/$pair.fk"
  sed 's/^/  pytorch  | /' "$tmp/$pair.pt"
  a=$(imgs "$tmp/$pair.fk") b=$(imgs "$tmp/$pair.pt") ra=$(rss "$tmp/$pair.fk") rb=$(rss "$tmp/$pair.pt")
  printf '%s, batch %s, %sx%s: figkd-cl %s img/s, PyTorch %s img/s, ratio %s; peak RSS %s MiB vs %s MiB, ratio %s\n' \
    "$what" "$batch" "$size" "$size" "$a" "$b" "$(ratio "$a" "$b")" "$ra" "$rb" "$(ratio "$ra" "$rb")" >> "$tmp/summary"
done
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), peer threads $threads"
cat "$tmp/summary"
