#!/bin/sh
# Run a test under Oclgrind (OpenCL simulator) with data-race and API
# checks; the test fails when Oclgrind reports anything, even if the test
# itself passed. Exit 77 (skip) when Oclgrind is not installed.
# usage (meson test --setup oclgrind): oclgrind_check.sh TEST [ARGS...]
command -v oclgrind >/dev/null 2>&1 || { echo "SKIP: oclgrind is not installed"; exit 77; }
log=$(mktemp "${TMPDIR:-/tmp}/oclgrind.XXXXXX") || exit 1
oclgrind --data-races --check-api --log "$log" "$@"
rc=$?
if [ -s "$log" ]; then
    cat "$log" >&2
    echo "oclgrind_check: Oclgrind reported the errors above" >&2
    [ "$rc" -eq 0 ] && rc=1
fi
rm -f "$log"
exit "$rc"
