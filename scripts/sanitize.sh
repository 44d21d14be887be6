#!/usr/bin/env bash
# Builds every CSources/CFP8/*.c with AddressSanitizer + UndefinedBehaviorSanitizer (no recovery:
# the first error aborts) together with Tests/CSanitizer/sanitize_main.c, and runs it: every public
# kernel on every ISA this CPU supports, tail shapes, odd leading dimensions, unaligned pointers,
# bad arguments. Uses Swift's clang (it ships the asan/ubsan runtimes).
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-/opt/swift/usr/bin/clang}
OUT=${OUT:-.build/sanitize}
mkdir -p "$OUT"
FLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -fopenmp -fno-math-errno
       -fsanitize=address,undefined -fno-sanitize-recover=all -ICSources/CFP8/include -ICSources/CFP8)
# Compile each file (two at a time; skipped when the object is newer than its sources), then
# link without -fopenmp (Swift's clang would ask for -lomp; Debian's runtime is libomp5).
source scripts/c_objects.sh
c_objects "$OUT" Tests/CSanitizer/sanitize_main.c
"$CC" -fuse-ld=lld -fsanitize=address,undefined "${OBJS[@]}" -o "$OUT/cfp8_sanitize" -lomp5 -lm
# libomp's own allocations are not instrumented; leaks in its thread pool are not ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=Tests/CSanitizer/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$OUT/cfp8_sanitize"
