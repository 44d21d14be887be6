"""Writes $OUT/manifest.json for the H200 device run: environment (GPU, driver, CUDA, torch,
Triton, sm), date, seed, stage results, the SASS checks, and per result file its description,
size, sha256 and array layout (name, dtype, shape, offset, nbytes) from the stage's index JSON.

python3 scripts/gpu/make_manifest.py --out OUT --work WORK --seed S
Works without a GPU or torch (the selftest runs it); missing pieces are recorded as null/errors.
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import re
import subprocess

DESCRIPTIONS = {
    "log.txt": "full console log of run.sh (nvidia-smi, build, every stage, cuBLASLt log excerpt, summary)",
    "sass.txt": "SASS of the conversion kernels and of the Triton wgmma kernels (cuobjdump / Triton)",
    "manifest.json": "this file",
}


def sh(cmd, timeout=30):
    try:
        r = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=timeout)
        return r.stdout.strip() if r.returncode == 0 else None
    except Exception:  # noqa: BLE001
        return None


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def python_env():
    env = {}
    try:
        import torch
        env["torch"] = torch.__version__
        env["torch_cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            env["device_name"] = torch.cuda.get_device_name(0)
            cap = torch.cuda.get_device_capability(0)
            env["sm"] = f"sm_{cap[0]}{cap[1]}"
            p = torch.cuda.get_device_properties(0)
            env["multiprocessors"] = p.multi_processor_count
            env["total_memory_bytes"] = p.total_memory
    except Exception as e:  # noqa: BLE001
        env["torch_error"] = repr(e)[:300]
    try:
        import triton
        env["triton"] = triton.__version__
    except Exception as e:  # noqa: BLE001
        env["triton_error"] = repr(e)[:300]
    try:
        import numpy
        env["numpy"] = numpy.__version__
    except Exception:  # noqa: BLE001
        pass
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--seed", type=int, required=True)
    args = ap.parse_args()

    m = {"measurement": "h200-ground-truth", "project": "fp8emu",
         "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "seed": args.seed, "git_commit": sh("git rev-parse HEAD"),
         "git_dirty": bool(sh("git status --porcelain --untracked-files=no")) if sh("git rev-parse HEAD") else None}
    # The sources that produced the results (the device's copy may have no .git).
    srcs = sorted(glob.glob("scripts/gpu/*.*")) + ["CSources/CFP8/convert_scalar.c", "CSources/CFP8/formats.c",
                                                   "CSources/CFP8/dispatch.c", "CSources/CFP8/include/cfp8_convert.h",
                                                   "CSources/CFP8/include/cfp8_base.h"]
    m["source_sha256"] = {p: sha256(p) for p in srcs if os.path.isfile(p) and not p.endswith(".pyc")}
    q = read(os.path.join(args.work, "nvidia_smi_query.csv"))
    gpu = {}
    if q:
        lines = [ln for ln in q.splitlines() if ln.strip()]
        if len(lines) >= 2:
            keys = [k.strip() for k in lines[0].split(",")]
            vals = [v.strip() for v in lines[1].split(",")]
            gpu = dict(zip(keys, vals))
    m["gpu"] = gpu
    m["nvidia_smi"] = read(os.path.join(args.work, "nvidia_smi.txt"))
    cv = re.search(r"CUDA Version:\s*([0-9.]+)", m["nvidia_smi"] or "")
    m["cuda_driver_version"] = cv.group(1) if cv else None
    nv = read(os.path.join(args.work, "nvcc.txt")) or ""
    mm = re.search(r"release ([0-9.]+), V([0-9.]+)", nv)
    m["nvcc"] = mm.group(2) if mm else None
    m["host"] = {"nproc": sh("nproc"), "gcc": (sh("gcc --version") or "").split("\n")[0] or None,
                 "kernel": sh("uname -r")}
    m["python"] = python_env()

    stages = []
    for ln in (read(os.path.join(args.work, "stages.tsv")) or "").splitlines():
        p = ln.split("\t")
        if len(p) == 3:
            stages.append({"stage": p[0], "rc": int(p[1]), "seconds": int(p[2])})
    m["stages"] = stages

    # SASS check of the conversion kernels (F2FP = the hardware FP8 cvt).
    cs = read(os.path.join(args.work, "cvt_sass.txt")) or ""
    f2fp = [ln.strip() for ln in cs.splitlines() if "F2FP" in ln or "Function :" in ln]
    m["sass_check"] = {"cvt_f2fp_found": any("F2FP" in ln for ln in f2fp), "cvt_lines": f2fp[:40]}

    files = []
    indexes = {}
    for p in glob.glob(os.path.join(args.work, "*.index.json")):
        with open(p) as f:
            ix = json.load(f)
        indexes[ix["file"]] = ix
    for name in sorted(os.listdir(args.out)):
        path = os.path.join(args.out, name)
        if not os.path.isfile(path) or name == "manifest.json":
            continue
        e = {"file": name, "bytes": os.path.getsize(path)}
        if name in indexes:
            ix = indexes[name]
            e["sha256"] = sha256(path)
            e["description"] = ix.get("description")
            e["layout"] = ("concatenated little-endian C-order arrays, each at a 16-byte aligned offset; "
                           "read with scripts/gpu/read_results.py or fp8np.load_bin")
            e["arrays"] = ix["arrays"]
            e["meta"] = {k: v for k, v in ix.items() if k not in ("file", "description", "nbytes", "arrays")}
            if ix.get("nbytes") != e["bytes"]:
                e["error"] = f"index says {ix.get('nbytes')} bytes"
        else:
            e["description"] = DESCRIPTIONS.get(name, "")
        files.append(e)
    m["files"] = files
    # Triton wgmma SASS check summary, lifted out of the stage metadata.
    wg = {}
    for e in files:
        ci = e.get("meta", {}).get("compile_info")
        if ci:
            wg[e["file"]] = {v: {"qgmma_found": i.get("qgmma_found"), "sass_source": i.get("sass_source"),
                                 "gmma": i.get("sass_gmma_lines", [])[:4], "ptx_wgmma": i.get("ptx_wgmma_lines", [])[:4]}
                             for v, i in ci.items()}
    m["sass_check"]["wgmma"] = wg
    for e in files:
        env = e.get("meta", {}).get("env")
        if e["file"] == "scaled_mm.bin" and env:
            m["cublasLt"] = {"cublasLtGetVersion": env.get("cublasLtGetVersion"),
                             "nvidia_cublas_package": env.get("nvidia_cublas_package")}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(m, f, indent=1)
    print(f"manifest: {len(files)} files, stages {[(s['stage'], s['rc']) for s in stages]}, "
          f"cvt F2FP {m['sass_check']['cvt_f2fp_found']}, "
          f"wgmma QGMMA {[(k, {v: x['qgmma_found'] for v, x in d.items()}) for k, d in wg.items()]}")


if __name__ == "__main__":
    main()
