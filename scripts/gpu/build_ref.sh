#!/usr/bin/env bash
# Builds the project's scalar FP8 reference (CSources/CFP8: convert_scalar.c, formats.c,
# dispatch.c) with gcc into DIR/libcfp8ref.a, for cvt_sweep (nvcc) and cvt_selftest (g++).
# Usage: bash scripts/gpu/build_ref.sh DIR   (from the repository root)
set -euo pipefail
dir=${1:?usage: build_ref.sh DIR}
mkdir -p "$dir"
src=CSources/CFP8
CC=${CC:-gcc}
for f in convert_scalar formats dispatch; do
  "$CC" -O2 -std=gnu11 -fPIC -I "$src/include" -I "$src" -c "$src/$f.c" -o "$dir/$f.o"
done
"$CC" -O2 -std=gnu11 -fPIC -c scripts/gpu/omp_stub.c -o "$dir/omp_stub.o"
rm -f "$dir/libcfp8ref.a"
ar rcs "$dir/libcfp8ref.a" "$dir"/convert_scalar.o "$dir"/formats.o "$dir"/dispatch.o "$dir"/omp_stub.o
echo "build_ref: $dir/libcfp8ref.a"
