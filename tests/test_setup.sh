#!/bin/sh
# scripts/setup-debian.sh as root, as a user with sudo, and as a user without
# sudo, with every system command replaced by a recorder in a fake PATH
# (nothing is installed or built).
# usage: test_setup.sh SOURCE_ROOT WORKDIR
set -u
src=$1 work=$2
rm -rf "$work" && mkdir -p "$work/bin" || exit 1
fails=0
log="$work/calls"

fake() { # fake NAME BODY
  printf '#!/bin/sh\n%s\n' "$2" > "$work/bin/$1" && chmod +x "$work/bin/$1"
}
fake dpkg-query 'exit 1'                       # every package is missing
fake apt-get 'echo "apt-get $*" >> '"$log"
fake meson 'echo "meson $*" >> '"$log"
fake ninja 'echo "ninja $*" >> '"$log"

case_run() { # case_run UID WITH_SUDO -> exit status; calls in $log
  fake id "echo $1"
  rm -f "$work/bin/sudo" "$log"
  [ "$2" = yes ] && fake sudo 'echo "sudo $*" >> '"$log"'; exec "$@"'
  PATH="$work/bin:/usr/bin:/bin" sh "$src/scripts/setup-debian.sh" "$work/build" > "$work/out" 2>&1
}

check() { # check WHAT CONDITION...
  what=$1; shift
  if ! "$@"; then
    echo "FAIL: $what"; sed 's/^/  | /' "$work/out" "$log" 2>/dev/null; fails=$((fails + 1))
  fi
}

case_run 0 no; rc=$?
check "root: exit 0" [ $rc -eq 0 ]
check "root: apt-get called directly" grep -q "^apt-get install" "$log"
check "root: sudo not called" sh -c "! grep -q '^sudo' '$log'"

case_run 1000 yes; rc=$?
check "user with sudo: exit 0" [ $rc -eq 0 ]
check "user with sudo: apt-get through sudo" grep -q "^sudo apt-get update" "$log"
check "user with sudo: install through sudo" grep -q "^sudo env DEBIAN_FRONTEND=noninteractive apt-get install" "$log"

case_run 1000 no; rc=$?
check "user without sudo: exit 1" [ $rc -eq 1 ]
check "user without sudo: says what to do" grep -q "run this script as root, or install sudo" "$work/out"
check "user without sudo: nothing installed" sh -c "! grep -q '^apt-get' '$log' 2>/dev/null"

if [ $fails -ne 0 ]; then echo "$fails checks failed"; exit 1; fi
echo "setup-debian.sh: root, user with sudo, user without sudo: all checks passed"
