#!/usr/bin/env bash
# Runs the NEON kernels for real: cross-compiles every CSources/CFP8/*.c with
# Tests/CNeon/neon_main.c for AArch64 and runs it under qemu-user on this x86-64 machine. The test
# calls each kernel with CFP8_ISA_SCALAR and CFP8_ISA_NEON and compares the outputs bit for bit
# (see the comment at the top of neon_main.c for what it covers). Two AArch64 builds:
#   gcc    aarch64-linux-gnu-gcc -O2 -fopenmp -ffp-contract=off (libgomp: threads 1 and 2 run);
#   clang  Swift's clang --target=aarch64-linux-gnu -O3, default FP contraction, as SwiftPM
#          compiles CFP8 on an ARM machine (no OpenMP: the cross packages have no arm64 libomp;
#          Tests/CNeon/omp_stubs.c stands in, the pragmas are ignored).
# Then the same test built natively (x86-64, scalar only) prints digests of the scalar outputs;
# the three builds must agree (the scalar path gives the same bits on x86-64 and AArch64). Last, the
# native build compares this CPU's AVX2 and AVX-512 paths against scalar the same way (--isa).
#
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, libgomp1-arm64-cross and qemu-user
# (installed with apt-get if missing). When they cannot be installed (no network, no apt, not
# root) the script prints "SKIPPED: ..." and exits 0; otherwise it exits with the test's status.
# Options: NEON_STRIDE (FP32 sweep stride, default 2039), NEON_BUILDS ("gcc clang" by default),
# NEON_VECTORS (the real-GPU tensor-core vectors, default ../shared/tensorcore-vectors: every row
# also runs on the NEON path against the GPUs' bits).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.build/neon-qemu}
SYSROOT=${NEON_SYSROOT:-/usr/aarch64-linux-gnu}
STRIDE=${NEON_STRIDE:-2039}
BUILDS=${NEON_BUILDS:-gcc clang}
PKGS=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross libgomp1-arm64-cross qemu-user)

skip() {
  echo "############################################################################"
  echo "# SKIPPED: NEON under qemu did not run: $*"
  echo "############################################################################"
  # CI sets NEON_QEMU_REQUIRED=1: there a missing tool is a failure, not a skip.
  [ "${NEON_QEMU_REQUIRED:-0}" = 1 ] && exit 1
  exit 0
}

have_tools() {
  command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null &&
    [ -e "$SYSROOT/lib/libc.so.6" ] && [ -e "$SYSROOT/lib/libgomp.so.1" ]
}

if ! have_tools; then
  command -v apt-get >/dev/null || skip "the cross tools are missing and there is no apt-get"
  [ "$(id -u)" = 0 ] || skip "the cross tools are missing and this is not root (apt-get install ${PKGS[*]})"
  export DEBIAN_FRONTEND=noninteractive
  echo "installing ${PKGS[*]}"
  if ! apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed (no network?)"
    apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null 2>&1 || skip "apt-get install ${PKGS[*]} failed"
  fi
  have_tools || skip "installed ${PKGS[*]} but the tools are still missing"
fi
# qemu works at all (binfmt is not needed: qemu-aarch64 is called directly)
mkdir -p "$OUT"
printf 'int main(void){return 0;}\n' >"$OUT/hello.c"
aarch64-linux-gnu-gcc "$OUT/hello.c" -o "$OUT/hello" && qemu-aarch64 -L "$SYSROOT" "$OUT/hello" ||
  skip "a hello world does not build or run under qemu-aarch64"

CLANG=${CLANG:-$(command -v /opt/swift/usr/bin/clang || command -v clang || true)}
HOSTCC=${HOSTCC:-${CLANG:-cc}}
SRCS=(CSources/CFP8/*.c)
INC=(-ICSources/CFP8/include -ICSources/CFP8)

# build NAME CC "FLAGS" LINKER "LINKFLAGS" EXTRA_SRC...: objects in $OUT/NAME (two compiles at a time,
# each skipped when the object is newer than its source and every header, and was built with the
# same compiler and flags).
build() {
  local name=$1 cc=$2 flags=$3 ld=$4 ldflags=$5
  shift 5
  local dir="$OUT/$name" objs=() src obj
  mkdir -p "$dir"
  # other compiler or flags than the cached objects': rebuild all
  if [ "$(cat "$dir/flags" 2>/dev/null)" != "$cc $flags" ]; then rm -f "$dir"/*.o; echo "$cc $flags" >"$dir/flags"; fi
  for src in "${SRCS[@]}" Tests/CNeon/neon_main.c Tests/CNeon/tc_vectors.c "$@"; do
    obj="$dir/$(basename "${src%.c}").o"
    objs+=("$obj")
    if [ "$obj" -nt "$src" ] && [ -z "$(find CSources/CFP8 -name '*.h' -newer "$obj")" ]; then continue; fi
    # shellcheck disable=SC2086
    $cc $flags "${INC[@]}" -c "$src" -o "$obj" &
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || return 1; done
  done
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || return 1; done
  # shellcheck disable=SC2086
  $ld "${objs[@]}" -o "$dir/neon_test" $ldflags -lm
}

COMMON="-std=gnu11 -O2 -fno-math-errno -Wall -Wno-unused-parameter -Wno-unused-variable -Wno-unknown-pragmas -Wno-parentheses"
status=0
# the real-GPU tensor-core vectors, when present, also run on NEON against the GPUs' bits
VECDIR=${NEON_VECTORS:-../shared/tensorcore-vectors}
VEC=()
if [ -d "$VECDIR" ]; then VEC=(--vectors="$VECDIR"); else echo "note: no $VECDIR, the real-GPU rows are not run"; fi
declare -A DIGESTS
t_start=$SECONDS
for b in $BUILDS; do
  case $b in
  gcc)
    build gcc aarch64-linux-gnu-gcc "$COMMON -fopenmp -ffp-contract=off" aarch64-linux-gnu-gcc "-fopenmp" || { echo "FAIL: gcc build"; exit 1; } ;;
  clang)
    [ -n "$CLANG" ] || { echo "note: no clang, skipping the clang build"; continue; }
    build clang "$CLANG" "--target=aarch64-linux-gnu --sysroot=$SYSROOT $COMMON -O3" aarch64-linux-gnu-gcc "" Tests/CNeon/omp_stubs.c ||
      { echo "FAIL: clang build"; exit 1; } ;;
  *) echo "unknown build $b"; exit 2 ;;
  esac
  echo "== $b build (AArch64 under qemu-aarch64) =="
  t0=$SECONDS
  OMP_NUM_THREADS=2 qemu-aarch64 -L "$SYSROOT" "$OUT/$b/neon_test" --stride="$STRIDE" "${VEC[@]}" | tee "$OUT/$b.log"
  rc=${PIPESTATUS[0]}
  echo "($b: exit $rc, $((SECONDS - t0)) s)"
  [ "$rc" = 0 ] || status=1
  DIGESTS[$b]=$(grep ' digest ' "$OUT/$b.log" | sed -E 's/ +cases.* digest ([0-9a-f]+).*/ \1/')
done

# The scalar path's bits on x86-64: the same test, natively, without NEON.
echo "== x86-64 scalar digests =="
build host "$HOSTCC" "$COMMON" "$HOSTCC" "" Tests/CNeon/omp_stubs.c || { echo "FAIL: host build"; exit 1; }
"$OUT/host/neon_test" --stride="$STRIDE" >"$OUT/host.log" || status=1
host_digests=$(grep ' digest ' "$OUT/host.log" | sed -E 's/ +cases.* digest ([0-9a-f]+).*/ \1/')
for b in "${!DIGESTS[@]}"; do
  if [ "${DIGESTS[$b]}" = "$host_digests" ]; then
    echo "scalar digests: AArch64 $b build == x86-64"
  else
    echo "FAIL: scalar outputs differ between AArch64 ($b build) and x86-64:"
    diff <(echo "$host_digests") <(echo "${DIGESTS[$b]}")
    status=1
  fi
done
# The same comparisons for the x86-64 SIMD paths this CPU has (the test's --isa), natively: every
# kernel against scalar, and the real-GPU rows on that path.
if [ "$(uname -m)" = x86_64 ]; then
  for isa in avx2 avx512; do
    flag=$isa; [ $isa = avx512 ] && flag=avx512f
    if grep -qw "$flag" /proc/cpuinfo; then
      echo "== x86-64 $isa vs scalar =="
      "$OUT/host/neon_test" --stride="$STRIDE" --isa=$isa "${VEC[@]}" >"$OUT/host-$isa.log" || { status=1; echo "FAIL: $isa (see $OUT/host-$isa.log)"; }
      grep -E "mismatches|vectors on" "$OUT/host-$isa.log"
    else
      echo "note: this CPU has no $isa; its comparison did not run"
    fi
  done
fi
echo "neon_qemu: $([ $status = 0 ] && echo OK || echo FAILED) in $((SECONDS - t_start)) s (builds: $BUILDS; FP32 stride $STRIDE)"
exit $status
