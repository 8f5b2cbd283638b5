#!/bin/sh
# Build the fuzz targets with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer, then fuzz each for SECONDS (default 60).
#
# usage: tests/fuzz/run.sh [SECONDS] [TARGET...]      (from anywhere)
# needs: clang-14 and its libFuzzer runtime (apt-get install clang-14
#        libfuzzer-14-dev), libpng, libjpeg and zlib headers.
# env:   FUZZ_BUILD (default build-fuzz/ in the source root), CC (clang-14),
#        FUZZ_JOBS (default 1: how many targets fuzz at a time, one core each).
#
# New inputs go to FUZZ_BUILD/work/<target>/ (never into the committed
# corpus); a finding is saved as FUZZ_BUILD/findings/<target>-crash-... and
# makes the script exit 1. Fix it, then copy the input to
# tests/fuzz/corpus/<target>/ so that the unit tests replay it from then on.
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_BUILD:-$root/build-fuzz}
cc=${CC:-clang-14}
targets=${*:-ini safetensors npy idx cifar tinyimagenet image pickle mat}
jobs=${FUZZ_JOBS:-1}
case $jobs in '' | *[!0-9]* | 0) echo "run.sh: FUZZ_JOBS must be a positive number, not '$jobs'" >&2; exit 2 ;; esac
mkdir -p "$out/obj" "$out/work" "$out/findings"

flags="-g -O1 -std=c11 -fno-omit-frame-pointer -fsanitize=address,undefined
  -fno-sanitize-recover=undefined -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
  -I$root/include -I$root/src -I$here $(pkg-config --cflags libpng)"
libs="$(pkg-config --libs libpng libjpeg zlib) -lm -lpthread"
lib_src="src/runtime/error.c src/io/atomic.c src/io/ini.c src/io/npy.c src/io/safetensors.c
  src/data/config.c src/data/dataset.c src/data/readers.c src/data/image.c
  src/data/imagefolder.c src/data/tinyimagenet.c src/data/pickle.c src/data/cifar_pickle.c
  src/data/fgvr.c src/data/matv5.c tests/fuzz/fuzz_common.c"
objs=
for s in $lib_src; do
    o="$out/obj/$(echo "$s" | tr / _).o"
    if [ ! -f "$o" ] || [ "$root/$s" -nt "$o" ]; then
        # shellcheck disable=SC2086
        $cc $flags -fsanitize=fuzzer-no-link -c "$root/$s" -o "$o"
    fi
    objs="$objs $o"
done

for t in $targets; do
    # shellcheck disable=SC2086
    $cc $flags -fsanitize=fuzzer "$here/fuzz_$t.c" $objs $libs -o "$out/fuzz_$t"
    mkdir -p "$out/work/$t"
done

# fuzz target $1 for $secs; its exit status in $out/fuzz_$1.status
fuzz_one() {
    # ASan's allocator limit: a decoder asked for more than 2 GB is a finding
    if ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$out/fuzz_$1" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2560 \
            -malloc_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$out/findings/$1-" "$out/work/$1" "$here/corpus/$1" \
            >"$out/fuzz_$1.log" 2>&1; then
        echo 0 >"$out/fuzz_$1.status"
    else
        echo 1 >"$out/fuzz_$1.status"
    fi
}

# FUZZ_JOBS targets at a time (each fuzzes on one core)
batch=0
for t in $targets; do
    rm -f "$out/fuzz_$t.status"
    fuzz_one "$t" &
    batch=$((batch + 1))
    if [ "$batch" -ge "$jobs" ]; then
        wait
        batch=0
    fi
done
wait

status=0
for t in $targets; do
    log="$out/fuzz_$t.log"
    echo "== $t: ${secs}s"
    if [ "$(cat "$out/fuzz_$t.status" 2>/dev/null)" != 0 ]; then
        echo "   FINDING (see $log and $out/findings/)"
        grep -E "ERROR|runtime error|SUMMARY" "$log" | head -5
        status=1
    fi
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^Done" "$log" | sed 's/^/   /'
done
exit $status
