#!/usr/bin/env bash
# CPU self-test of the H200 device scripts (no GPU needed). From the repository root:
#   bash scripts/gpu/selftest.sh
# 1. builds the scalar reference with gcc and the CPU stand-in of cvt_sweep (cvt_selftest.cc: the
#    same comparison/output code as the GPU program, fake "hardware" = reference with planted
#    differences), runs it on FP32 inputs [0xFF000000, 2^32);
# 2. py_compile of every script; fp8np's encoder/decoder against ml_dtypes (if installed);
# 3. wgmma_triton.py and scaled_mm.py in --data-only mode (operands, NaN results);
# 4. make_manifest.py, then read_results.py --check-selftest (planted differences found, layouts,
#    shapes, sha256) and --export-npy;
# 5. run.sh end to end without a GPU (every GPU stage must fail cleanly, manifest still written);
# 6. optional: NVCC=/path/to/nvcc compiles cvt_sweep.cu for sm_90 and checks the SASS for F2FP;
#    if Triton imports, triton_compile_check.py compiles the wgmma kernel for sm_90 and checks QGMMA.
set -euo pipefail
[ -f scripts/gpu/selftest.sh ] || { echo "run from the repository root" >&2; exit 2; }
T=$(mktemp -d /tmp/fp8gpu-selftest.XXXXXX)
O=$T/out W=$T/work
mkdir -p "$O" "$W"
step() { echo "--- $*"; }

step "build reference + cvt_selftest"
bash scripts/gpu/build_ref.sh "$W/ref"
g++ -O2 -std=c++17 -Wall -Wextra -Werror -I CSources/CFP8/include scripts/gpu/cvt_selftest.cc \
  "$W/ref/libcfp8ref.a" -lpthread -o "$W/cvt_selftest"
"$W/cvt_selftest" "$O/cvt.bin" "$W/cvt.bin.index.json"

step "py_compile"
for f in scripts/gpu/*.py; do python3 -m py_compile "$f"; done
rm -rf scripts/gpu/__pycache__

step "fp8np vs ml_dtypes"
python3 - <<'PY'
import sys
sys.path.insert(0, "scripts/gpu")
import numpy as np
import fp8np
try:
    import ml_dtypes
except ImportError:
    print("ml_dtypes not installed: skipped")
    raise SystemExit(0)
rng = np.random.default_rng(1)
for fmt, dt in (("e4m3", ml_dtypes.float8_e4m3fn), ("e5m2", ml_dtypes.float8_e5m2)):
    t = fp8np.decode_table(fmt)
    ref = np.arange(256, dtype=np.uint8).view(dt).astype(np.float32)
    assert np.array_equal(np.isnan(t), np.isnan(ref)) and np.array_equal(t[~np.isnan(t)], ref[~np.isnan(ref)])
    fin = np.abs(ref[np.isfinite(ref)]).astype(np.float64)
    v = np.unique(fin)
    x = np.concatenate([rng.standard_normal(100000) * s for s in (1, 1e-3, 1e-5, 100)] + [v, (v[1:] + v[:-1]) / 2])
    x = np.concatenate([x, -x])
    x = x[np.abs(x) <= fp8np.MAX_FINITE[fmt]]
    a, b = fp8np.encode(x, fmt), x.astype(dt).view(np.uint8)
    assert np.array_equal(a, b), (fmt, x[a != b][:5])
    print(f"{fmt}: decode table and {len(x)} encodes equal ml_dtypes")
PY

step "data-only stages"
python3 scripts/gpu/wgmma_triton.py --out "$O" --work "$W" --seed 8 --data-only
python3 scripts/gpu/scaled_mm.py --out "$O" --work "$W" --seed 8 --data-only | tail -2
echo "fake log" >"$O/log.txt"
echo "fake sass" >"$O/sass.txt"
printf 'selftest\t0\t1\n' >"$W/stages.tsv"

step "manifest + reader"
python3 scripts/gpu/make_manifest.py --out "$O" --work "$W" --seed 8
python3 scripts/gpu/read_results.py "$O" --check-selftest --export-npy "$W/npy" >"$W/summary.txt"
grep -E "selftest checks|exported" "$W/summary.txt"
head -30 "$W/summary.txt"
n=$(ls "$O" | wc -l)
[ "$n" -le 8 ] || { echo "too many files in OUT: $n"; exit 1; }
du -b "$O"/* | awk '$1 > 16 * 1024 * 1024 { print "file over 16 MiB:", $2; bad = 1 } END { exit bad }'

step "reader on simulated results (d = FP32(exact))"
S=$T/sim
mkdir -p "$S/out" "$S/work"
cp "$O/cvt.bin" "$O/log.txt" "$O/sass.txt" "$S/out/"
cp "$W/cvt.bin.index.json" "$W/stages.tsv" "$S/work/"
python3 scripts/gpu/wgmma_triton.py --out "$S/out" --work "$S/work" --data-only --simulate >/dev/null
# scaled_mm.py's GPU code path against a numpy stand-in of torch (scripts/gpu/selftest_stub)
PYTHONPATH=scripts/gpu/selftest_stub python3 scripts/gpu/scaled_mm.py --out "$S/out" --work "$S/work" | tail -4
python3 scripts/gpu/make_manifest.py --out "$S/out" --work "$S/work" --seed 8 >/dev/null
python3 scripts/gpu/read_results.py "$S/out" >"$S/summary.txt"
grep -A14 "== wgmma_e4m3" "$S/summary.txt"
grep -A6 "scale mode 'one'" "$S/summary.txt" | cut -c1-200
python3 - "$S/out/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
meta = [e for e in m["files"] if e["file"] == "scaled_mm.bin"][0]["meta"]
runs = meta["runs"]
ok = [r for r in runs if r["status"] == "ok"]
bad = [r for r in runs if r["status"] != "ok"]
sets = {s["id"]: s for s in meta["sets"]}
assert len(ok) == len(runs) - 6 and all(sets[r["set"]]["fmt_a"] == sets[r["set"]]["fmt_b"] == "e5m2" for r in bad), bad[:2]
assert all(r["repeat_bit_identical"] and r["api"] == "torch._scaled_mm" for r in ok)
assert all("Float8_e5m2" in r["error"] for r in bad), bad[0]["error"]
print(f"stub-torch scaled_mm: {len(ok)} ok runs, {len(bad)} E5M2xE5M2 errors recorded as expected")
PY

step "run.sh without a GPU (stages must fail cleanly; manifest still written)"
bash -n scripts/gpu/run.sh
rc=0
OUT="$T/dry" WORK="$T/drywork" TOTAL_BUDGET=200 PATH="$PATH" bash scripts/gpu/run.sh >"$T/dry.log" 2>&1 || rc=$?
grep -E "stage .*: (ok|FAILED|SKIPPED)|manifest:" "$T/dry.log" || true
[ -f "$T/dry/manifest.json" ] && [ -f "$T/dry/log.txt" ] || { echo "dry run wrote no manifest/log"; exit 1; }
if command -v nvidia-smi >/dev/null 2>&1; then echo "(a GPU driver is present: dry-run rc $rc)"
else [ "$rc" -ne 0 ] || { echo "dry run without GPU should fail"; exit 1; }; fi

if [ -n "${NVCC:-}" ]; then
  step "nvcc build of cvt_sweep.cu for sm_90 + SASS check ($NVCC)"
  "$NVCC" -O2 -std=c++17 -gencode arch=compute_90,code=sm_90 -I CSources/CFP8/include \
    scripts/gpu/cvt_sweep.cu "$W/ref/libcfp8ref.a" -lpthread ${NVCC_LDFLAGS:-} -o "$W/cvt_sweep"
  PATH="$(dirname "$NVCC"):$PATH" cuobjdump -sass "$W/cvt_sweep" >"$W/cvt_sass.txt"
  grep -E "Function :|F2FP" "$W/cvt_sass.txt"
  grep -q "F2FP.SATFINITE.E4M3.F32" "$W/cvt_sass.txt" && grep -q "F2FP.SATFINITE.E5M2.F32" "$W/cvt_sass.txt"
else
  echo "--- (NVCC not set: cvt_sweep.cu not compiled)"
fi
if python3 -c "import triton" >/dev/null 2>&1; then
  step "Triton compile check (sm_90, no GPU)"
  python3 scripts/gpu/triton_compile_check.py --n 16
else
  echo "--- (Triton not importable: wgmma SASS not checked)"
fi
rm -rf scripts/gpu/__pycache__
echo "selftest: ALL OK ($T)"
