"""What the oracle scripts (oracle_mldtypes.py, oracle_torch.py) share: CSources/CFP8 built into a
shared library, its encoder called through ctypes, and the exhaustive sweep of every FP32, FP16 and
BF16 bit pattern against a library's own cast.

A script supplies `cast(name, source, bits, out)`: the library's encoding of the bit patterns
`bits` (uint32 for "f32", uint16 for "f16"/"bf16", fed as bit patterns, never converted first)
to format `name`, written as bytes into `out`. It must be a module-level function of the script,
so that the worker processes (spawned, not forked: the libraries keep thread pools) can import it.
Both CFP8 paths are compared with it: the scalar reference (CFP8_ISA_SCALAR) and the best SIMD path
of this CPU (CFP8_ISA_AUTO; E8M0, which has no SIMD kernel, once). Most of a sweep's time is CFP8's
scalar path (~0.16 G patterns/s on this machine); the SIMD path and torch's casts cost far less.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORMAT_CODES = {"e4m3": 0, "e5m2": 1, "e4m3fnuz": 2, "e5m2fnuz": 3, "e8m0": 4}
SOURCE_CODES = {"f16": 16, "bf16": 17, "f32": 18}
PRESET_CODES = {"cuda-satfinite": 0, "cuda-nosat": 1, "ml-dtypes": 2, "pytorch": 3}
ISA_SCALAR, ISA_AUTO = 0, -1
CHUNK = 1 << 25  # FP32 patterns per worker task (128 tasks cover 2^32)


class Options(ctypes.Structure):
    _fields_ = [("rounding", ctypes.c_int32), ("preset", ctypes.c_int32), ("seed", ctypes.c_uint64),
                ("random_bits", ctypes.c_void_p), ("isa", ctypes.c_int32), ("threads", ctypes.c_int32)]


def build_library(outdir):
    """Compiles CSources/CFP8 into outdir/libcfp8.so, with the flags Package.swift gives it (so the
    code compared is the code that ships), and returns its path."""
    cc = shutil.which("clang") or "/opt/swift/usr/bin/clang"
    src = os.path.join(ROOT, "CSources", "CFP8")
    objs = []
    for c in sorted(glob.glob(os.path.join(src, "*.c"))):
        o = os.path.join(outdir, os.path.basename(c) + ".o")
        subprocess.check_call([cc, "-O3", "-fno-math-errno", "-fopenmp", "-fPIC", "-I", os.path.join(src, "include"), "-c", c, "-o", o])
        objs.append(o)
    lib = os.path.join(outdir, "libcfp8.so")
    # libomp5.so is Debian's libomp-dev; -fopenmp at link time would ask for an unversioned -lomp.
    subprocess.check_call([cc, "-shared", "-o", lib] + objs + ["-l:libomp5.so", "-lm"])
    return lib


_lib = None


def load(path):
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL(path)
        _lib.cfp8_encode.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32, ctypes.c_size_t,
                                     ctypes.POINTER(Options)]
        _lib.cfp8_encode.restype = ctypes.c_int32
    return _lib


def ours(lib, bits, source, name, preset, isa, out):
    """CFP8's encoding (round to nearest even, one thread) of the bit patterns `bits` into `out`."""
    opts = Options(0, PRESET_CODES[preset], 0, None, isa, 1)
    st = lib.cfp8_encode(bits.ctypes.data, SOURCE_CODES[source], out.ctypes.data, FORMAT_CODES[name], bits.size,
                         ctypes.byref(opts))
    if st != 0:
        raise RuntimeError(f"cfp8_encode status {st}")
    return out


def compare(ref, got, base):
    """(mismatch count, first mismatching pattern or None)."""
    if np.array_equal(ref, got):
        return 0, None
    bad = np.nonzero(ref != got)[0]
    return int(bad.size), int(base + bad[0])


def check(lib, cast, name, source, bits, preset, base, ref, got):
    """Mismatches of both CFP8 paths against the library on `bits` (ref/got: scratch buffers)."""
    cast(name, source, bits, ref)
    total, first = 0, None
    # E8M0 has no SIMD kernel: every ISA runs the scalar routine, so one call covers them all.
    for isa in (ISA_SCALAR,) if name == "e8m0" else (ISA_SCALAR, ISA_AUTO):
        m, f = compare(ref, ours(lib, bits, source, name, preset, isa, got), base)
        total += m
        first = f if first is None or (f is not None and f < first) else first
    return total, first


_bufs = {}


def _f32_chunk(args):
    libpath, cast, name, preset, start = args
    lib = load(libpath)
    if not _bufs:  # reused from task to task: fresh 2^25-element arrays cost page faults
        _bufs.update(iota=np.arange(CHUNK, dtype=np.uint32), bits=np.empty(CHUNK, np.uint32),
                     ref=np.empty(CHUNK, np.uint8), got=np.empty(CHUNK, np.uint8))
    bits = np.add(_bufs["iota"], np.uint32(start), out=_bufs["bits"])
    return check(lib, cast, name, "f32", bits, preset, start, _bufs["ref"], _bufs["got"])


def sweep(cast, names, preset, library, stride=1, workers=None):
    """Every FP16 and BF16 pattern and every `stride`-th FP32 chunk of the 2^32 patterns, for each
    format in `names`, against `cast`. Prints a table naming `library`; returns the mismatch count."""
    workers = workers or os.cpu_count() or 2
    tmp = tempfile.mkdtemp(prefix="cfp8-oracle-")
    try:
        libpath = build_library(tmp)
        lib = load(libpath)
        rows = []
        p16 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
        ref16, got16 = np.empty(1 << 16, np.uint8), np.empty(1 << 16, np.uint8)
        for name in names:
            for source in ("f16", "bf16"):
                t = time.time()
                m, f = check(lib, cast, name, source, p16, preset, 0, ref16, got16)
                rows.append((source, name, p16.size, m, f, time.time() - t))
        starts = list(range(0, 1 << 32, CHUNK))[::stride]
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers) as pool:
            for name in names:
                t = time.time()
                mm, first = 0, None
                for m, f in pool.imap_unordered(_f32_chunk, [(libpath, cast, name, preset, s) for s in starts]):
                    mm += m
                    first = f if first is None or (f is not None and f < first) else first
                rows.append(("f32", name, len(starts) * CHUNK, mm, first, time.time() - t))
                print(f"  f32 -> {name}: {mm} mismatches ({time.time() - t:.1f} s)", file=sys.stderr, flush=True)
        print(f"{'source':7}{'format':10}{'inputs':>12}{'mismatches':>12}{'first':>12}{'seconds':>9}"
              f"   vs {library}, preset {preset}, RNE, scalar + best SIMD path")
        for s, n, k, mm, first, secs in rows:
            print(f"{s:7}{n:10}{k:>12}{mm:>12}{(hex(first) if first is not None else '-'):>12}{secs:>9.1f}")
        bad = sum(r[3] for r in rows)
        print("oracle: " + ("all equal" if bad == 0 else f"{bad} mismatches"))
        return bad
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# The preset table's cells, measured on the library: FP32 inputs per (format, class).
_PROBES = {
    "e4m3": {"overflow": [464.0001, 480.0, 1e6, 3.4028235e38]},
    "e5m2": {"overflow": [61440.0, 65536.0, 1e9, 3.4028235e38]},
    "e4m3fnuz": {"overflow": [248.0, 1e6, 3.4028235e38]},
    "e5m2fnuz": {"overflow": [61440.0, 1e9, 3.4028235e38]},
}
_CLASS_TITLES = {"overflow": "finite overflow", "inf": "±Inf", "nan": "NaN", "zero": "−0"}


def _cell(pos, neg):
    if len(set(pos)) != 1 or len(set(neg)) != 1:
        return "varies: " + " ".join(f"0x{v:02X}" for v in sorted(set(pos) | set(neg)))
    p, n = pos[0], neg[0]
    if n == p | 0x80 and p < 0x80:
        return f"0x{p:02X}\\|s"
    return f"0x{p:02X}" if n == p else f"0x{p:02X} / −: 0x{n:02X}"


def markdown_cells(cast, names, column):
    """Prints the overflow / Inf / NaN / −0 results of `cast` as markdown rows (one column)."""
    print(f"| input | {column} |\n|---|---|")
    nans = np.array([0x7FC00000, 0x7F800001, 0x7FFFFFFF], np.uint32)
    for name in names:
        if name not in _PROBES:
            continue
        classes = {"overflow": np.array(_PROBES[name]["overflow"], np.float32).view(np.uint32),
                   "inf": np.array([0x7F800000], np.uint32), "nan": nans}
        for cls, pos in classes.items():
            neg = pos | np.uint32(0x80000000)
            out_p, out_n = np.empty(pos.size, np.uint8), np.empty(neg.size, np.uint8)
            cast(name, "f32", pos, out_p)
            cast(name, "f32", neg, out_n)
            print(f"| {name.upper()}, {_CLASS_TITLES[cls]} | {_cell(list(out_p), list(out_n))} |")
        z = np.empty(1, np.uint8)
        cast(name, "f32", np.array([0x80000000], np.uint32), z)
        print(f"| {name.upper()}, −0 | 0x{z[0]:02X} |")


def main(cast, formats, preset, library, doc):
    """The command line both oracle scripts share (see their docstrings); returns the exit status."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--formats", default=",".join(formats))
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    names = a.formats.split(",")
    if a.markdown:
        markdown_cells(cast, names, library)
        return 0
    return 1 if sweep(cast, names, preset, library, a.stride, a.workers) else 0
