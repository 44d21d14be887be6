#!/usr/bin/env bash
# Runs the AVX-512 layer kernels (CSources/CFP8/nn_avx512.c) on a CPU without AVX-512: builds them
# on SIMDe's portable AVX-512 intrinsics (Debian's libsimde-dev, header only) and compares them bit
# for bit with the scalar kernels (Tests/CAVX512/compare_main.c). Where the CPU has AVX-512 the
# Swift tests run the real instructions; this covers the machines that do not. Prints
# "SKIPPED: ..." and exits 0 when the SIMDe headers are missing (AVX512_SIMDE_REQUIRED=1: exit 1).
# Argument: the FP32 pattern stride of the element-wise kernels (default 257).
set -uo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-/opt/swift/usr/bin/clang}
OUT=${OUT:-.build/avx512-simde}
INC=${SIMDE_INCLUDE:-/usr/include}
if [ ! -e "$INC/simde/x86/avx512.h" ]; then
  echo "SKIPPED: AVX-512 through SIMDe did not run: $INC/simde/x86/avx512.h is missing (apt-get install libsimde-dev)"
  [ "${AVX512_SIMDE_REQUIRED:-0}" = 1 ] && exit 1
  exit 0
fi
case "$(uname -m)" in x86_64) ;; *) echo "SKIPPED: AVX-512 through SIMDe runs on x86-64 only"; exit 0 ;; esac
set -e
mkdir -p "$OUT"
FLAGS=(-std=gnu11 -O2 -fopenmp -fno-math-errno -ICSources/CFP8/include -ICSources/CFP8)
source scripts/c_objects.sh
c_objects "$OUT" Tests/CAVX512/compare_main.c
# SIMDe without native code (so that the stand-in immintrin.h is the only one), its FMA fused
"$CC" -std=gnu11 -O2 -mavx2 -mfma -ffp-contract=on -Wno-psabi -DSIMDE_NO_NATIVE -isystem "$INC" \
  -ITests/CAVX512/include -ICSources/CFP8/include -ICSources/CFP8 -c Tests/CAVX512/nn_avx512_simde.c \
  -o "$OUT/nn_avx512_simde.o"
"$CC" -fuse-ld=lld "${OBJS[@]}" "$OUT/nn_avx512_simde.o" -o "$OUT/avx512_simde" -lomp5 -lm
"$OUT/avx512_simde" "$@"
