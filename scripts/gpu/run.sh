#!/usr/bin/env bash
# The H200 measurement: the one device script. Run from the repository root on the H200 machine:
#   bash scripts/gpu/run.sh          (with $OUT set by the device tool; nothing to carry)
# Stages (each with its own timeout, all inside a total budget; a failed stage does not stop the
# others): env, build (gcc reference + nvcc), cvt (2^32 sweep), wgmma (Triton), scaled_mm
# (cuBLASLt), manifest, summary. Writes to $OUT (7 files, limit 8): manifest.json, log.txt,
# sass.txt, cvt.bin, wgmma_e4m3.bin, wgmma_e5m2.bin, scaled_mm.bin. Exit status 0 iff every
# stage succeeded. Expected wall time about 2-3 minutes; the budget stops new work at TOTAL_BUDGET
# seconds (default 330) so that a 15-minute device lease allows a rerun.
set -euo pipefail

: "${OUT:?OUT must name the output folder (the device tool sets it)}"
if [ ! -f Package.swift ] || [ ! -d CSources/CFP8 ] || [ ! -f scripts/gpu/run.sh ]; then
  echo "run.sh: run from the repository root" >&2
  exit 2
fi
mkdir -p "$OUT"
SEED=${SEED:-8}
TOTAL_BUDGET=${TOTAL_BUDGET:-330}
RESERVE=45                       # seconds kept for the manifest and summary stages
WORK=${WORK:-/tmp/fp8emu-gpu-work}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
CUDA_BIN=$(dirname "$NVCC")
export PATH="$PATH:$CUDA_BIN:/usr/local/cuda/bin"

ts() { date -u +%H:%M:%S; }
# STAGES=cvt,wgmma,scaled_mm (default all) runs a subset, e.g. for a targeted rerun; env, manifest
# and summary always run.
STAGES=${STAGES:-all}
want() { [ "$STAGES" = all ] || [[ ",$STAGES," == *",$1,"* ]]; }
FAILED=0

# stage NAME LIMIT_SECONDS COMMAND...: runs COMMAND under timeout, bounded by the total budget.
stage() {
  local name=$1 limit=$2
  shift 2
  local left=$((TOTAL_BUDGET - SECONDS))
  case $name in manifest|summary) left=$((left + RESERVE)) ;; *) left=$((left - RESERVE)) ;; esac
  if [ "$left" -lt "$limit" ]; then limit=$left; fi
  if [ "$limit" -lt 5 ]; then
    echo "[$(ts)] stage $name: SKIPPED (budget spent: ${SECONDS}s of ${TOTAL_BUDGET}s)"
    printf '%s\t%s\t%s\n' "$name" 125 0 >>"$WORK/stages.tsv"
    FAILED=1
    return 0
  fi
  echo "[$(ts)] stage $name: start (timeout ${limit}s, ${SECONDS}s elapsed)"
  local t0=$SECONDS rc=0
  # bash -c: the stage may be one of the exported functions below or a plain command.
  timeout --kill-after=5 "$limit" bash -c 'set -euo pipefail; "$@"' "stage-$name" "$@" </dev/null || rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t0))" >>"$WORK/stages.tsv"
  if [ "$rc" -ne 0 ]; then
    FAILED=1
    echo "[$(ts)] stage $name: FAILED rc=$rc after $((SECONDS - t0))s$([ "$rc" -eq 124 ] && echo ' (timeout)')"
  else
    echo "[$(ts)] stage $name: ok in $((SECONDS - t0))s"
  fi
  return 0
}

stage_env() {
  set +e
  nvidia-smi | tee "$WORK/nvidia_smi.txt"
  nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.max.sm,clocks.max.mem \
    --format=csv >"$WORK/nvidia_smi_query.csv" ||
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$WORK/nvidia_smi_query.csv"
  cat "$WORK/nvidia_smi_query.csv"
  "$NVCC" --version | tee "$WORK/nvcc.txt"
  gcc --version | head -1
  echo "nproc $(nproc)"; free -g | head -2; uname -a
  "$PY" -c 'import sys, torch, triton, numpy; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "triton", triton.__version__, "numpy", numpy.__version__, "device", torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))'
  local rc=$?
  set -e
  [ -s "$WORK/nvcc.txt" ] && [ -s "$WORK/nvidia_smi_query.csv" ] && [ $rc -eq 0 ]
}

stage_build() {
  bash scripts/gpu/build_ref.sh "$WORK/ref"
  "$NVCC" -O2 -std=c++17 -gencode arch=compute_90,code=sm_90 -I CSources/CFP8/include \
    scripts/gpu/cvt_sweep.cu "$WORK/ref/libcfp8ref.a" -lpthread -o "$WORK/cvt_sweep"
  local objdump=cuobjdump
  [ -x "$CUDA_BIN/cuobjdump" ] && objdump="$CUDA_BIN/cuobjdump"
  "$objdump" -sass "$WORK/cvt_sweep" >"$WORK/cvt_sass.txt"
  echo "SASS of cvt_sweep: $(grep -c F2FP "$WORK/cvt_sass.txt" || true) F2FP instructions:"
  grep -E "Function :|F2FP" "$WORK/cvt_sass.txt" | head -30
  grep -q "F2FP.SATFINITE.E4M3.F32" "$WORK/cvt_sass.txt" && grep -q "F2FP.SATFINITE.E5M2.F32" "$WORK/cvt_sass.txt"
}

stage_cvt() {
  [ -x "$WORK/cvt_sweep" ] || { echo "cvt: no binary (build failed)"; return 1; }
  "$WORK/cvt_sweep" "$OUT/cvt.bin" "$WORK/cvt.bin.index.json" --threads "$(nproc)"
}

stage_scaled_mm() {
  export CUBLASLT_LOG_LEVEL=2 CUBLASLT_LOG_FILE="$WORK/cublaslt.log"
  local rc=0
  "$PY" scripts/gpu/scaled_mm.py --out "$OUT" --work "$WORK" --seed "$SEED" || rc=$?
  if [ -f "$WORK/cublaslt.log" ]; then
    echo "cuBLASLt log (CUBLASLT_LOG_LEVEL=2): $(wc -l <"$WORK/cublaslt.log") lines; first matmul lines:"
    grep -m 40 -i "matmul" "$WORK/cublaslt.log" | cut -c1-1500 || true
    echo "distinct algo descriptions (first 40):"
    grep -o "algo=[^]]*\]" "$WORK/cublaslt.log" | sort | uniq -c | sort -rn | head -40 || true
  fi
  return $rc
}

stage_sass() {
  {
    echo "=== cvt_sweep (cuobjdump -sass), built with -gencode arch=compute_90,code=sm_90"
    head -c 400000 "$WORK/cvt_sass.txt" 2>/dev/null || echo "(missing)"
    for f in "$WORK"/sass_wgmma_*.txt; do
      [ -f "$f" ] || continue
      echo "=== $(basename "$f")"
      head -c 400000 "$f"
    done
  } >"$OUT/sass.txt"
}

export OUT WORK PY NVCC CUDA_BIN SEED
export -f ts stage_env stage_build stage_cvt stage_scaled_mm

main() {
  echo "[$(ts)] H200 device run: stages $STAGES, seed $SEED, budget ${TOTAL_BUDGET}s, OUT=$OUT, WORK=$WORK, nvcc $NVCC"
  rm -rf "$WORK"
  mkdir -p "$WORK"
  : >"$WORK/stages.tsv"
  stage env 40 stage_env
  if want cvt; then
    stage build 120 stage_build
    stage cvt 120 stage_cvt
  fi
  if want wgmma; then
    stage wgmma 150 "$PY" scripts/gpu/wgmma_triton.py --out "$OUT" --work "$WORK" --seed "$SEED"
  fi
  if want scaled_mm; then stage scaled_mm 150 stage_scaled_mm; fi
  stage_sass
  stage manifest 30 "$PY" scripts/gpu/make_manifest.py --out "$OUT" --work "$WORK" --seed "$SEED"
  stage summary 40 "$PY" scripts/gpu/read_results.py "$OUT"
  echo "[$(ts)] done in ${SECONDS}s; files in OUT:"
  ls -la "$OUT"
  if [ "$FAILED" -ne 0 ]; then
    echo "[$(ts)] SOME STAGES FAILED: see $WORK/stages.tsv above and manifest.json 'stages'"
    cat "$WORK/stages.tsv"
    return 1
  fi
}

set -o pipefail
main 2>&1 | tee "$OUT/log.txt"
