#!/usr/bin/env bash
# Builds and runs the libFuzzer targets (Fuzz/): C kernels (convert, quantize, gemm) and the Swift
# parsers (safetensors, npy, vectors, raw). Usage: scripts/fuzz.sh [seconds per target] [target...]
# Default 30 s per target, all targets. New inputs go to .build/fuzz/corpus/<target> (seeded from
# Fuzz/corpus/<target> and, for the file formats, Tests/FP8IOTests/Corpus); a crash leaves
# .build/fuzz/crash-* and exits non-zero. Swift's clang and swiftc ship the fuzzer runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-30}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(convert quantize gemm safetensors npy vectors raw)
BIN=/opt/swift/usr/bin
OUT=.build/fuzz
mkdir -p "$OUT/obj" "$OUT/mm"
FLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -fopenmp -fno-math-errno -fsanitize=fuzzer-no-link,address,undefined
        -fno-sanitize-recover=all -ICSources/CFP8/include -ICSources/CFP8)
CC="$BIN/clang"
source scripts/c_objects.sh
c_objects "$OUT/obj"
# the registry of temporary output files (FP8IO's writers register theirs)
tempfiles_obj="$OUT/obj/tempfiles.o"
if [ ! "$tempfiles_obj" -nt CSources/CTempFiles/tempfiles.c ]; then
  "$BIN/clang" -std=gnu11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
    -ICSources/CTempFiles/include -c CSources/CTempFiles/tempfiles.c -o "$tempfiles_obj"
fi
newer() { [ ! -e "$1" ] || [ -n "$(find "${@:2}" -newer "$1" -type f 2>/dev/null | head -1)" ]; }
for t in convert quantize gemm; do
  if newer "$OUT/fuzz_$t" "Fuzz/c" CSources/CFP8; then
    "$BIN/clang" "${FLAGS[@]/fuzzer-no-link/fuzzer}" -c "Fuzz/c/fuzz_$t.c" -o "$OUT/obj/fuzz_$t.main.o"
    # link without -fopenmp (Swift's clang would ask for -lomp; the runtime here is libomp5)
    "$BIN/clang" -fsanitize=fuzzer,address,undefined -fuse-ld=lld "$OUT/obj/fuzz_$t.main.o" "${OBJS[@]}" -o "$OUT/fuzz_$t" -lomp5 -lm
  fi
done
# The Swift parsers: Sources/FP8 as module FP8, then the FP8IO reader files and the fuzz entry
# point as one module that imports it, both instrumented (a module map names the C headers;
# -package-name opens the `package` API).
if newer "$OUT/fuzz_swift" Fuzz/swift Sources/FP8 Sources/FP8IO CSources/CFP8 CSources/CTempFiles; then
  printf 'module CFP8 {\n  header "%s/CSources/CFP8/include/cfp8.h"\n  export *\n}\nmodule CTempFiles {\n  header "%s/CSources/CTempFiles/include/tempfiles.h"\n  export *\n}\n' "$PWD" "$PWD" > "$OUT/mm/module.modulemap"
  # swiftc leaves module files (FuzzParsers-1.swiftmodule, ...) in its working directory: run it in
  # the scratch folder, never in the repository root.
  root=$PWD
  objs_abs=("${OBJS[@]/#/$root/}")
  SWIFTC=("$BIN/swiftc" -sanitize=fuzzer,address -parse-as-library -O -wmo -g -package-name fp8emu -I "$root/$OUT/mm")
  mkdir -p "$OUT/swiftmods"
  (cd "$OUT" && "${SWIFTC[@]}" -module-name FP8 -emit-module -emit-module-path "$root/$OUT/swiftmods/FP8.swiftmodule" \
    -c -o "$root/$OUT/obj/FP8.swift.o" "$root"/Sources/FP8/*.swift "$root"/Sources/FP8/CKernels/*.swift)
  (cd "$OUT" && "${SWIFTC[@]}" -module-name FuzzParsers -I "$root/$OUT/swiftmods" -Xlinker -fuse-ld=lld \
    "$root"/Sources/FP8IO/{Safetensors,SafetensorsDType,SafetensorsError,StrictJSON,InputFile,OutputFile,FileError,ByteBuffers,Npy,TensorCoreVectors}.swift \
    "$root/Fuzz/swift/FuzzParsers.swift" "$root/$OUT/obj/FP8.swift.o" "${objs_abs[@]}" "$root/$tempfiles_obj" -lomp5 -lm -o "$root/$OUT/fuzz_swift")
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${TARGETS[@]}"; do
  corpus="$OUT/corpus/$t"
  mkdir -p "$corpus"
  seeds=()
  [ -d "Fuzz/corpus/$t" ] && seeds+=("Fuzz/corpus/$t")
  case $t in safetensors | npy) seeds+=(Tests/FP8IOTests/Corpus) ;; esac
  case $t in
    convert | quantize | gemm) exe=("$OUT/fuzz_$t") ;;
    *) exe=(env FP8_FUZZ_TARGET="$t" "$OUT/fuzz_swift") ;;
  esac
  echo "== fuzz $t: ${SECONDS_PER_TARGET}s"
  if ! "${exe[@]}" -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=4096 -max_len=8192 \
       -print_final_stats=1 -artifact_prefix="$OUT/crash-$t-" "$corpus" "${seeds[@]}" 2>"$OUT/$t.log"; then
    echo "fuzz target $t FAILED (log: $OUT/$t.log)"; tail -40 "$OUT/$t.log"; status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$OUT/$t.log" | tr '\n' ' '; echo
  fi
done
exit $status
