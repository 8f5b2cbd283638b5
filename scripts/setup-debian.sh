#!/bin/sh
# Set up figkd-cl on a fresh Debian 12 machine: install every package the
# build, the tests and the quickstart need, then configure and build.
# usage: scripts/setup-debian.sh [build-dir] [extra meson options...]
# As root it installs directly; as a user it calls sudo for apt-get (only when
# a package is missing).
set -eu
cd "$(dirname "$0")/.."
builddir=${1:-build}
[ $# -gt 0 ] && shift

packages="build-essential meson ninja-build pkg-config python3
  ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1 pocl-opencl-icd clinfo
  libclblast-dev libpng-dev libjpeg-dev zlib1g-dev openmpi-bin libopenmpi-dev
  python3-numpy python3-torch python3-pywt python3-pil python3-matplotlib python3-sklearn
  dataset-fashion-mnist"

missing=
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    sudo=
  elif command -v sudo >/dev/null 2>&1; then
    sudo=sudo
  else
    echo "setup-debian.sh: missing packages:$missing" >&2
    echo "setup-debian.sh: run this script as root, or install sudo, to install them" >&2
    exit 1
  fi
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

if [ -d "$builddir" ]; then
  meson setup --reconfigure "$builddir" "$@"
else
  meson setup "$builddir" "$@"
fi
ninja -C "$builddir"
