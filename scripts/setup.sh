#!/usr/bin/env bash
# Installs the one system package that building fp8emu needs, LLVM's OpenMP runtime (Debian's
# libomp-dev), when it is missing. Does nothing when it is there. Safe to run again.
set -euo pipefail
for dir in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
  [ -e "$dir/libomp5.so" ] && exit 0
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: LLVM's OpenMP runtime (libomp5.so) is missing; install it with your package manager (Debian: libomp-dev)" >&2
  exit 69
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "setup: installing libomp-dev (LLVM's OpenMP runtime) with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq libomp-dev >/dev/null
