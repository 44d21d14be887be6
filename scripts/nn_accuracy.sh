#!/usr/bin/env bash
# Accuracy of the layer kernels' transcendentals over every FP32 input: builds every
# CSources/CFP8/*.c with Tests/CNNAccuracy/accuracy_main.c (-O2, OpenMP) and runs it. For exp, GELU
# (tanh form) and GELU', every one of the 2^32 inputs goes through each ISA this CPU has (the bits
# must agree) and the scalar result is scored in ulps against FP64; log is scored on every positive
# input; the FP16/BF16 rounding of the precision schedule must be exact on every input.
# The table in docs/nn-kernels.md comes from this script. Arguments go to the program:
#   --stride=N   every N-th input only (a quick look; the default 1 is all of them)
#   --only=NAME  exp, gelu, gelu', log, f16 or bf16
# Exit status 1 on a mismatch between ISAs or a wrong special value.
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-/opt/swift/usr/bin/clang}
OUT=${OUT:-.build/nn-accuracy}
mkdir -p "$OUT"
FLAGS=(-std=gnu11 -O2 -fopenmp -fno-math-errno -ICSources/CFP8/include -ICSources/CFP8)
objs=()
for src in CSources/CFP8/*.c Tests/CNNAccuracy/accuracy_main.c; do
  obj="$OUT/$(basename "${src%.c}").o"
  objs+=("$obj")
  if [ "$obj" -nt "$src" ] && [ -z "$(find CSources/CFP8 -name '*.h' -newer "$obj")" ]; then continue; fi
  "$CC" "${FLAGS[@]}" -c "$src" -o "$obj" &
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
done
wait
# linked without -fopenmp: Swift's clang would ask for -lomp; Debian's runtime is libomp5
"$CC" -fuse-ld=lld "${objs[@]}" -o "$OUT/nn_accuracy" -lomp5 -lm
"$OUT/nn_accuracy" "$@"
