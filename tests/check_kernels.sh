#!/bin/sh
# Offline check of every kernel file with clang's OpenCL C front end, as a
# strict vendor compiler would see it: OpenCL C 1.2 and 3.0, warnings as
# errors, each file with the -D options the host builds it with (one set
# per kind of layer; src/ops/*.c). Exit 77 (skip) without clang.
# usage: check_kernels.sh CL_DIR [CLANG]
set -u
dir=$1
clang=${2:-}
if [ -z "$clang" ] || ! command -v "$clang" >/dev/null 2>&1; then
  for c in clang-14 clang-15 clang; do
    command -v "$c" >/dev/null 2>&1 && { clang=$c; break; }
  done
fi
[ -n "$clang" ] && command -v "$clang" >/dev/null 2>&1 || { echo "SKIP: no clang"; exit 77; }

# option sets per file ("" = built without options); ';' separates sets
options() {
  case $1 in
    conv.cl) echo "-DKH=3 -DKW=3 -DSTRIDE=1 -DPAD=1 -DCIPG=16 -DCOPG=16 -DHAS_BIAS=0;-DKH=3 -DKW=3 -DSTRIDE=2 -DPAD=1 -DCIPG=1 -DCOPG=1 -DHAS_BIAS=1;-DKH=1 -DKW=1 -DSTRIDE=1 -DPAD=0 -DCIPG=4 -DCOPG=8 -DHAS_BIAS=1;" ;;
    conv_batch.cl) echo "-DKH=3 -DKW=3 -DSTRIDE=1 -DPAD=1;-DKH=1 -DKW=1 -DSTRIDE=2 -DPAD=0;" ;;
    conv_ig.cl) echo "-DKH=3 -DKW=3 -DSTRIDE=1 -DPAD=1 -DIG_IMAGES=0;-DKH=1 -DKW=1 -DSTRIDE=2 -DPAD=0 -DIG_IMAGES=0;-DKH=3 -DKW=3 -DSTRIDE=2 -DPAD=1 -DIG_IMAGES=1;" ;;
    conv_t4.cl) echo "-DKH=3 -DKW=3 -DSTRIDE=1 -DEPILOGUE=0;-DKH=3 -DKW=3 -DSTRIDE=2 -DEPILOGUE=15;-DKH=1 -DKW=1 -DSTRIDE=2 -DEPILOGUE=2;-DKH=3 -DKW=3 -DSTRIDE=1 -DPAD=0;" ;;
    pool.cl) echo "-DK=3 -DS=2 -DP=1;-DK=2 -DS=2 -DP=0;" ;;
    batchnorm.cl|batchnorm_t4.cl) echo "-DLOCAL=16;-DLOCAL=256;" ;;
    *) echo "" ;;
  esac
}

fail=0 count=0
for f in "$dir"/*.cl; do
  name=$(basename "$f")
  sets=$(options "$name")
  for std in CL1.2 CL3.0; do
    rest="$sets;"
    while [ -n "$rest" ]; do
      opts=${rest%%;*}
      rest=${rest#*;}
      count=$((count + 1))
      # shellcheck disable=SC2086
      if ! out=$("$clang" -x cl -cl-std=$std --target=spir64 -Xclang -finclude-default-header \
                 -fsyntax-only -Werror -Wall $opts "$f" 2>&1); then
        echo "FAIL: $name -cl-std=$std $opts"
        echo "$out"
        fail=$((fail + 1))
      fi
      [ -z "$sets" ] && break
    done
  done
done
echo "$($clang --version | head -1): $count compiles of $(ls "$dir"/*.cl | wc -l) files, $fail failed"
[ "$fail" -eq 0 ]
