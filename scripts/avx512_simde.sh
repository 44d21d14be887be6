#!/usr/bin/env bash
# Runs the AVX-512 kernels on a CPU without AVX-512: builds every CSources/CFP8/*.c with
# CFP8_AVX512_VIA_SIMDE (CSources/CFP8/simd.h), which compiles the AVX-512 intrinsics against
# SIMDe's portable implementations (Debian's libsimde-dev; the ones it lacks are in simd_simde.h)
# on top of this CPU's AVX2/FMA/F16C, and makes dispatch report AVX-512, VBMI and VNNI. Then:
#   1. Tests/CNeon/neon_main.c --isa=avx512: every AVX-512 kernel against scalar, bit for bit
#      (conversion sweeps, decode, GEMM incl. the VBMI skinny path, tensor cores, INT8 VNNI,
#      quantise, amax, dequantise, the layer kernels), and every real-GPU vector row on the AVX-512 path against the
#      GPUs' bits; again without VBMI and VNNI (CFP8_SIMDE_NO_VBMI_VNNI=1: a Skylake-X);
#   2. the scalar outputs' digests against a baseline build (no -mavx2 -mfma): the scalar
#      reference keeps its bits when the whole build may use FMA;
#   3. Tests/CSanitizer/sanitize_main.c (no sanitizers): every public kernel on every ISA, tails,
#      odd leading dimensions, unaligned pointers, against scalar; with and without VBMI/VNNI;
#   4. mutation check: each deliberately broken AVX-512 kernel below must be caught.
# SIMDe is an emulation: a pass shows that the kernels are right under Intel's definition of each
# intrinsic as SIMDe (and simd_simde.h) implement it, not that silicon agrees.
# Needs x86-64 with AVX2/FMA/F16C/BMI2 and libsimde-dev (installed with apt-get when missing and
# root); otherwise prints "SKIPPED: ..." and exits 0 (AVX512_SIMDE_REQUIRED=1: exits 1).
# Options: SIMDE_STRIDE (FP32 sweep stride, default 2039), SIMDE_VECTORS (the real-GPU vectors,
# default ../shared/tensorcore-vectors), SIMDE_MUTATIONS=N (run the first N mutations only).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.build/avx512-simde}
STRIDE=${SIMDE_STRIDE:-2039}
CC=${CC:-$(command -v /opt/swift/usr/bin/clang || command -v clang || echo cc)}

skip() {
  echo "############################################################################"
  echo "# SKIPPED: AVX-512 under SIMDe did not run: $*"
  echo "############################################################################"
  [ "${AVX512_SIMDE_REQUIRED:-0}" = 1 ] && exit 1
  exit 0
}
[ "$(uname -m)" = x86_64 ] || skip "not an x86-64 machine"
for f in avx2 fma f16c bmi2; do grep -qw $f /proc/cpuinfo || skip "this CPU has no $f"; done
if ! [ -e /usr/include/simde/x86/avx512.h ]; then
  command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] || skip "libsimde-dev is missing (apt-get install libsimde-dev)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends libsimde-dev >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends libsimde-dev >/dev/null 2>&1; } ||
    skip "apt-get install libsimde-dev failed"
fi

SRCS=(CSources/CFP8/*.c)
INC=(-ICSources/CFP8/include -ICSources/CFP8)
COMMON="-std=gnu11 -O3 -fno-math-errno -fopenmp -Wall -Wno-unused-parameter -Wno-unknown-pragmas"
NOOMP="${COMMON/-fopenmp/}"
SIMDE="$COMMON -DCFP8_AVX512_VIA_SIMDE -mavx2 -mfma -mf16c -mbmi2 -Wno-psabi"

# compile DIR "FLAGS" SRC...: objects in DIR, two at a time, each skipped when newer than its
# source and every header and built with the same compiler and flags. Prints the object paths.
compile() {
  local dir=$1 flags=$2 src obj
  shift 2
  mkdir -p "$dir"
  if [ "$(cat "$dir/flags" 2>/dev/null)" != "$CC $flags" ]; then rm -f "$dir"/*.o; echo "$CC $flags" >"$dir/flags"; fi
  for src in "$@"; do
    obj="$dir/$(basename "${src%.c}").o"
    if [ "$obj" -nt "$src" ] && [ -z "$(find CSources/CFP8 -name '*.h' -newer "$obj")" ]; then continue; fi
    # shellcheck disable=SC2086
    $CC $flags "${INC[@]}" -c "$src" -o "$obj" >&2 &
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || return 1; done
  done
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || return 1; done
}
objs() { local dir=$1 s; shift; for s in "$@"; do echo "$dir/$(basename "${s%.c}").o"; done; }
link() { local out=$1; shift; $CC -fuse-ld=lld "$@" -o "$out" -lomp5 -lm; }

VECDIR=${SIMDE_VECTORS:-../shared/tensorcore-vectors}
VEC=()
if [ -d "$VECDIR" ]; then VEC=(--vectors="$VECDIR"); else echo "note: no $VECDIR, the real-GPU rows are not run"; fi
TESTS=(Tests/CNeon/neon_main.c Tests/CNeon/tc_vectors.c)
status=0
t_start=$SECONDS

compile "$OUT/simde" "$SIMDE" "${SRCS[@]}" Tests/CSanitizer/sanitize_main.c || { echo "FAIL: SIMDe build"; exit 1; }
# The test programs' own objects, shared by both builds (same inputs); neon_main.c without OpenMP
# (Swift's clang emits an entry point for its dynamic loop that Debian's libomp5 lacks).
compile "$OUT/tests" "$NOOMP" "${TESTS[@]}" || { echo "FAIL: test build"; exit 1; }
mapfile -t CORE < <(objs "$OUT/simde" "${SRCS[@]}")
mapfile -t TOBJ < <(objs "$OUT/tests" "${TESTS[@]}")
link "$OUT/simde/cfp8_test" "${CORE[@]}" "${TOBJ[@]}" || { echo "FAIL: link"; exit 1; }
link "$OUT/simde/cfp8_harness" "${CORE[@]}" "$OUT/simde/sanitize_main.o" || { echo "FAIL: link"; exit 1; }
echo "(SIMDe build: $((SECONDS - t_start)) s)"

# digests NAME LOG: "section digest" lines of a neon_main log
digests() { grep ' digest ' "$1" | sed -E 's/ +cases.* digest ([0-9a-f]+).*/ \1/'; }

# run NAME ARGS...: the test on the AVX-512 path; prints its summary lines
run_test() {
  local name=$1 t0=$SECONDS rc
  shift
  OMP_NUM_THREADS=2 "$OUT/simde/cfp8_test" --isa=avx512 "$@" >"$OUT/$name.log" 2>"$OUT/$name.err"
  rc=$?
  grep -E "mismatches|vectors on|^OK|^FAIL" "$OUT/$name.log"
  head -5 "$OUT/$name.err"
  echo "($name: exit $rc, $((SECONDS - t0)) s)"
  [ $rc = 0 ] || status=1
  grep -q "CFP8 avx512 vs scalar (bit for bit): present" "$OUT/$name.log" || { echo "FAIL: AVX-512 not reported as present"; status=1; }
}
echo "== AVX-512 (F, BW, VL, DQ, VBMI, VNNI) vs scalar =="
run_test avx512 --stride="$STRIDE" "${VEC[@]}"
# Without VBMI and VNNI (a Skylake-X): the gather decode, the blocked GEMM instead of the skinny
# one, INT8 on AVX2's kernel, dequantisation without byte tables. Encoding and the tensor-core
# tasks do not depend on them (a sparser FP32 sweep, no real-GPU rows).
echo "== AVX-512 without VBMI and VNNI vs scalar =="
CFP8_SIMDE_NO_VBMI_VNNI=1 run_test avx512-novbmi --stride=65521

# The scalar reference must not change with -mavx2 -mfma (FP contraction may fuse a*b+c there).
echo "== scalar digests: SIMDe build vs baseline build =="
compile "$OUT/base" "$COMMON" "${SRCS[@]}" || { echo "FAIL: baseline build"; exit 1; }
link "$OUT/base/cfp8_test" $(objs "$OUT/base" "${SRCS[@]}") "${TOBJ[@]}" || { echo "FAIL: link"; exit 1; }
OMP_NUM_THREADS=2 "$OUT/base/cfp8_test" --stride="$STRIDE" >"$OUT/base.log" 2>&1 # NEON absent: scalar only
if [ -n "$(digests "$OUT/base.log")" ] && [ "$(digests "$OUT/avx512.log")" = "$(digests "$OUT/base.log")" ]; then
  echo "scalar digests equal ($(digests "$OUT/base.log" | wc -l) sections)"
else
  echo "FAIL: the scalar outputs differ between the SIMDe build and the baseline build:"
  diff <(digests "$OUT/base.log") <(digests "$OUT/avx512.log")
  status=1
fi

echo "== sanitizer harness, every ISA (SIMDe build, no sanitizers) =="
t0=$SECONDS
for cfg in full novbmi; do
  if [ $cfg = full ]; then "$OUT/simde/cfp8_harness" >"$OUT/harness.log" 2>&1
  else CFP8_SIMDE_NO_VBMI_VNNI=1 "$OUT/simde/cfp8_harness" >"$OUT/harness.log" 2>&1; fi
  rc=$?
  grep -E "failures|passed" "$OUT/harness.log"; grep -m5 -i "fail" "$OUT/harness.log" | grep -v "^[0-9]* failures"
  echo "(harness, $cfg: exit $rc, $((SECONDS - t0)) s)"
  [ $rc = 0 ] || status=1
  grep -q "ISAs scalar avx2 avx512" "$OUT/harness.log" || { echo "FAIL: the harness did not run AVX-512"; status=1; }
done

# Mutation check: FILE|SECTION|sed expression|what. Each is applied to a copy of FILE, which
# replaces FILE's object; the test restricted to SECTION must then report mismatches.
# SIMDE_MUTATIONS=N runs the first N (default: all; CI runs the first three).
MUTATIONS=(
  "gemm_kernel_avx512.c|gemm|s/c\[r\]\[q\] = _mm512_fmadd_ps(ar, f\[q\], c\[r\]\[q\])/c[r][q] = _mm512_add_ps(_mm512_mul_ps(ar, f[q]), c[r][q])/|gemm: the VBMI skinny chain multiplies and adds unfused"
  "tensorcore_avx512.c|tc_gemm|s/_mm512_cvt_roundpd_ps(exact, RZ)/_mm512_cvtpd_ps(exact)/|tc: the FP64 lanes' result rounded to nearest instead of truncated"
  "nn_avx512.c|nn|s/  return _mm512_fmadd_ps(q, r, SET1(1.0f));/  return _mm512_add_ps(_mm512_mul_ps(q, r), SET1(1.0f));/|nn: exp's last polynomial step multiplies and adds unfused"
  "convert_avx512.c|convert f16/bf16|/the kept lsb: ties to even/{n;s/.*/    ;/}|convert: round to nearest without the kept bit (ties away from even)"
  "convert_avx512.c|convert f16/bf16|s/x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));/x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 14));/|convert: stochastic bits from a wrong hash"
  "convert_avx512.c|decode|s/return _mm512_mask_mov_epi8(lo, hi, up);/return lo;/|decode: the VBMI lookup ignores the upper 128 codes"
  "gemm_kernel_avx512.c|gemm|s/_mm512_storeu_ps(w + r \* ldw + 16, _mm512_fmadd_ps(s, c\[r\]\[1\], o1));/_mm512_storeu_ps(w + r * ldw + 16, _mm512_add_ps(c[r][1], o1));/|gemm: block scales skipped in the second half of the 14x32 tile"
  "int8_gemm_avx512.c|int8_gemm|s/CFP8_ROW(a7, c70, c71)//|int8: the VNNI tile's last row never accumulates"
  "quantize.c|quantize|s/m = _mm512_max_ps(m, a);/m = a;/|amax: AVX-512 keeps the last vector only"
  "quantize.c|quantize|s/_mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))/_mm512_set1_epi32(0x7FFF)/|dequantize: BF16 output rounds ties down"
  "quantize.c|quantize|s/_mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(L0, x, L1)/_mm512_mask_blend_epi8(0, _mm512_permutex2var_epi8(L0, x, L1)/|dequantize: the VBMI byte tables' low plane ignores codes 128..255"
)
NMUT=${SIMDE_MUTATIONS:-${#MUTATIONS[@]}}
if [ "$NMUT" -gt 0 ]; then
  echo "== mutation check: $NMUT of ${#MUTATIONS[@]} deliberately broken AVX-512 kernels, each must be caught =="
  mkdir -p "$OUT/mut"
  for m in "${MUTATIONS[@]:0:$NMUT}"; do
    IFS='|' read -r file section expr what <<<"$m"
    sed -e "$expr" "CSources/CFP8/$file" >"$OUT/mut/$file"
    if cmp -s "CSources/CFP8/$file" "$OUT/mut/$file"; then
      echo "FAIL: mutation no longer applies to $file ($what): update the script"; status=1; continue
    fi
    # shellcheck disable=SC2086
    $CC $SIMDE -w "${INC[@]}" -c "$OUT/mut/$file" -o "$OUT/mut/${file%.c}.o" || { echo "FAIL: mutant $file does not compile"; status=1; continue; }
    mapfile -t MCORE < <(for o in "${CORE[@]}"; do [ "$(basename "$o")" = "${file%.c}.o" ] && echo "$OUT/mut/${file%.c}.o" || echo "$o"; done)
    link "$OUT/mut/cfp8_test" "${MCORE[@]}" "${TOBJ[@]}" || { echo "FAIL: link"; status=1; continue; }
    OMP_NUM_THREADS=2 "$OUT/mut/cfp8_test" --stride=65521 --isa=avx512 --only="$section" >"$OUT/mut.log" 2>/dev/null
    bad=$(grep -E "mismatches [1-9]|errors [1-9]" "$OUT/mut.log" | sed -E 's/.*mismatches ([0-9]+).*/\1/' | head -1)
    if [ -n "$bad" ]; then echo "caught ($bad mismatches): $what"
    else echo "FAIL: NOT caught: $what"; status=1; fi
  done
fi
echo "avx512_simde: $([ $status = 0 ] && echo OK || echo FAILED) in $((SECONDS - t_start)) s (FP32 stride $STRIDE)"
exit $status
