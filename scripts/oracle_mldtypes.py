#!/usr/bin/env python3
"""Compare the scalar reference encoder of CFP8 with ml_dtypes on every input pattern.

Builds CSources/CFP8 into a shared library (clang -O2 -fopenmp, linked with libomp5), then for
E4M3 (float8_e4m3fn), E5M2, E4M3FNUZ, E5M2FNUZ (ml-dtypes preset, round to nearest even) and
E8M0 (float8_e8m0fnu, CFP8_ROUND_NEAREST_EVEN, which is ml_dtypes' rule) compares
  * all 2^32 FP32 bit patterns (chunked, over worker processes),
  * all 2^16 FP16 and all 2^16 BF16 bit patterns,
byte for byte. Prints a table; exits 1 on any mismatch. If PyTorch is importable, the pytorch
preset is also compared with torch's CPU casts for E4M3/E5M2 (sampled FP32 and all FP16/BF16).

The scalar path (CFP8_ISA_SCALAR: the reference) is compared, and so is the best SIMD path of
this CPU (CFP8_ISA_AUTO), which costs little next to ml_dtypes' own conversion (the floor of this
script's time): with `fp8emu verify` (SIMD paths = the sweep's reference build) this ties every
build of the reference to ml_dtypes.

Usage: python3 scripts/oracle_mldtypes.py [--stride N] [--workers N] [--formats e4m3,e5m2,...]
  --stride N checks every N-th FP32 chunk only (quick runs); the default 1 checks all 2^32.
"""
import argparse
import ctypes
import glob
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import ml_dtypes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORMATS = {  # name: (CFP8 format code, ml_dtypes type)
    "e4m3": (0, ml_dtypes.float8_e4m3fn),
    "e5m2": (1, ml_dtypes.float8_e5m2),
    "e4m3fnuz": (2, ml_dtypes.float8_e4m3fnuz),
    "e5m2fnuz": (3, ml_dtypes.float8_e5m2fnuz),
    "e8m0": (4, ml_dtypes.float8_e8m0fnu),
}
F16, BF16, F32 = 16, 17, 18
PRESET_ML_DTYPES, PRESET_PYTORCH = 2, 3
CHUNK = 1 << 25
_lib = None
_libpath = None


class Options(ctypes.Structure):
    _fields_ = [("rounding", ctypes.c_int32), ("preset", ctypes.c_int32), ("seed", ctypes.c_uint64),
                ("random_bits", ctypes.c_void_p), ("isa", ctypes.c_int32), ("threads", ctypes.c_int32)]


def build_library(outdir):
    cc = shutil.which("clang") or "/opt/swift/usr/bin/clang"
    src = os.path.join(ROOT, "CSources", "CFP8")
    objs = []
    for c in sorted(glob.glob(os.path.join(src, "*.c"))):
        o = os.path.join(outdir, os.path.basename(c) + ".o")
        subprocess.check_call([cc, "-O2", "-fopenmp", "-fPIC", "-I", os.path.join(src, "include"), "-c", c, "-o", o])
        objs.append(o)
    lib = os.path.join(outdir, "libcfp8.so")
    # libomp5.so is Debian's libomp-dev; -fopenmp at link time would ask for an unversioned -lomp.
    subprocess.check_call([cc, "-shared", "-o", lib] + objs + ["-l:libomp5.so", "-lm"])
    return lib


def load(path):
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL(path)
        _lib.cfp8_encode.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32, ctypes.c_size_t,
                                     ctypes.POINTER(Options)]
        _lib.cfp8_encode.restype = ctypes.c_int32
    return _lib


ISA_SCALAR, ISA_AUTO = 0, -1


def ours(lib, src, src_format, fmt, preset, isa=ISA_SCALAR, out=None):
    if out is None:
        out = np.empty(src.size, dtype=np.uint8)
    opts = Options(0, preset, 0, None, isa, 1)  # RNE, one thread
    st = lib.cfp8_encode(src.ctypes.data, src_format, out.ctypes.data, fmt, src.size, ctypes.byref(opts))
    if st != 0:
        raise RuntimeError(f"cfp8_encode status {st}")
    return out


def compare(ref, got, base):
    if np.array_equal(ref, got):
        return 0, None
    bad = np.nonzero(ref != got)[0]
    return int(bad.size), (int(base + bad[0]) if bad.size else None)


_bufs = {}


def f32_chunk(args):
    libpath, name, start = args
    lib = load(libpath)
    code, dtype = FORMATS[name]
    # Buffers reused from chunk to chunk (fresh 2^25-element arrays cost page faults: system time).
    if "iota" not in _bufs:
        _bufs.update(iota=np.arange(CHUNK, dtype=np.uint32), pats=np.empty(CHUNK, np.uint32),
                     ref=np.empty(CHUNK, np.uint8), got=np.empty(CHUNK, np.uint8))
    pats = np.add(_bufs["iota"], np.uint32(start), out=_bufs["pats"])
    x = pats.view(np.float32)
    ref8 = _bufs["ref"].view(dtype)
    with np.errstate(all="ignore"):
        np.copyto(ref8, x, casting="unsafe")  # ml_dtypes' cast, as x.astype(dtype)
    ref = _bufs["ref"]
    m0, f0 = compare(ref, ours(lib, x, F32, code, PRESET_ML_DTYPES, out=_bufs["got"]), start)
    m1, f1 = compare(ref, ours(lib, x, F32, code, PRESET_ML_DTYPES, ISA_AUTO, out=_bufs["got"]), start)
    firsts = [f for f in (f0, f1) if f is not None]
    return name, (m0 + m1, min(firsts) if firsts else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--formats", default=",".join(FORMATS))
    a = ap.parse_args()
    names = a.formats.split(",")
    tmp = tempfile.mkdtemp(prefix="cfp8-oracle-")
    try:
        libpath = build_library(tmp)
        lib = load(libpath)
        rows = []
        # FP16 and BF16: every pattern.
        p16 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
        for name in names:
            code, dtype = FORMATS[name]
            for sname, sfmt, xs in (("f16", F16, p16.view(np.float16)), ("bf16", BF16, p16.view(ml_dtypes.bfloat16))):
                t = time.time()
                with np.errstate(all="ignore"):
                    ref = xs.astype(dtype).view(np.uint8)
                mm, first = compare(ref, ours(lib, p16, sfmt, code, PRESET_ML_DTYPES), 0)
                m1, f1 = compare(ref, ours(lib, p16, sfmt, code, PRESET_ML_DTYPES, ISA_AUTO), 0)
                rows.append((sname, name, 1 << 16, mm + m1, first if first is not None else f1, time.time() - t))
        # FP32: 2^32 patterns in chunks.
        starts = list(range(0, 1 << 32, CHUNK))[:: a.stride]
        for name in names:
            t = time.time()
            mm, first = 0, None
            with mp.Pool(a.workers) as pool:
                for _, (m, f) in pool.imap_unordered(f32_chunk, [(libpath, name, s) for s in starts]):
                    mm += m
                    if f is not None and (first is None or f < first):
                        first = f
            rows.append(("f32", name, len(starts) * CHUNK, mm, first, time.time() - t))
            print(f"  f32 -> {name}: {mm} mismatches ({time.time() - t:.1f} s)", file=sys.stderr, flush=True)
        torch_rows = pytorch_rows(lib)
        print(f"{'source':7}{'format':10}{'inputs':>12}{'mismatches':>12}{'first':>12}{'seconds':>9}   vs ml_dtypes {ml_dtypes.__version__}, preset ml-dtypes, RNE, scalar + best SIMD path")
        for s, n, k, mm, first, secs in rows + torch_rows:
            print(f"{s:7}{n:10}{k:>12}{mm:>12}{(hex(first) if first is not None else '-'):>12}{secs:>9.1f}")
        bad = sum(r[3] for r in rows + torch_rows)
        print("oracle: " + ("all equal" if bad == 0 else f"{bad} mismatches"))
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pytorch_rows(lib):
    try:
        import torch
    except ImportError:
        print("pytorch: not importable; pytorch preset not compared", file=sys.stderr)
        return []
    rows = []
    p16 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    rng = np.random.default_rng(0)
    p32 = np.concatenate([rng.integers(0, 1 << 32, 1 << 24, dtype=np.uint64).astype(np.uint32),
                          np.arange(0x43000000, 0x44000000, 16, dtype=np.uint32),
                          np.arange(0x47000000, 0x48000000, 16, dtype=np.uint32),
                          np.arange(0x7F000000, 0x80000000, 64, dtype=np.uint32)])
    p32 = np.concatenate([p32, p32 | np.uint32(0x80000000)])
    for name, tdt in (("e4m3", torch.float8_e4m3fn), ("e5m2", torch.float8_e5m2)):
        code = FORMATS[name][0]
        for sname, sfmt, tens in (("f16", F16, torch.from_numpy(p16.view(np.int16)).view(torch.float16)),
                                  ("bf16", BF16, torch.from_numpy(p16.view(np.int16)).view(torch.bfloat16)),
                                  ("f32", F32, torch.from_numpy(p32.view(np.int32)).view(torch.float32))):
            t = time.time()
            ref = tens.to(tdt).view(torch.uint8).numpy()
            src = p16 if sfmt != F32 else p32
            mm, first = compare(ref, ours(lib, src, sfmt, code, PRESET_PYTORCH), 0)
            rows.append((sname, name + "/torch", src.size, mm, first, time.time() - t))
    return rows


if __name__ == "__main__":
    sys.exit(main())
