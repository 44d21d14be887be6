"""Benchmarks of the Python package, all measured in one run, as medians of interleaved
repetitions (each repetition runs every contender once), ratios side by side:

  python3 python/bench/bench.py [--quick] [--reps N]

1. casts: fp8emu.cast vs ml_dtypes (FP32 -> E4M3 and back), 1 thread and all;
2. scaled_mm with H100 numerics vs torch's CPU _scaled_mm and FP32 torch.matmul;
3. per-call time for small products (scaled_mm, numpy and torch) vs the bare C call;
4. scaled_mm with H100 numerics at 2048^3 vs the C kernel alone, built as SwiftPM builds it
   (clang -O3 -fopenmp, libomp; python/bench/tc_time.c), one thread as fp8-bench tensorcore;
5. dequantize_checkpoint vs a straightforward numpy + ml_dtypes implementation, 1 and 2 threads.
"""
import argparse
import json
import mmap
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import ml_dtypes
import numpy as np
import torch

import fp8emu
from fp8emu import _cfp8 as C

HERE = os.path.dirname(os.path.abspath(__file__))
CSOURCES = os.path.join(HERE, "..", "..", "CSources", "CFP8")


def interleaved(contenders, reps, best=False):
    """Median seconds per contender (with best=True also the fastest repetition); each
    repetition runs every contender once, in turn."""
    times = {name: [] for name in contenders}
    for _ in range(reps):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    if best:
        return {name: (float(np.median(t)), float(np.min(t))) for name, t in times.items()}
    return {name: float(np.median(t)) for name, t in times.items()}


def row(table, *cells):
    table.append("| " + " | ".join(str(c) for c in cells) + " |")


def fp8_bytes(rng, shape):
    """Random finite E4M3 bit patterns (no NaN)."""
    r = rng.integers(0, 1 << 16, shape, dtype=np.uint32)
    return (((r & 0x7E) | ((r >> 8) & 0x80)).astype(np.uint8)).view(ml_dtypes.float8_e4m3fn)


def bench_casts(reps, n, table):
    x = (np.random.default_rng(0).standard_normal(n) * 100).astype(np.float32)
    q = x.astype(ml_dtypes.float8_e4m3fn)
    t = interleaved({
        "ml_dtypes encode": lambda: x.astype(ml_dtypes.float8_e4m3fn),
        "encode 1": lambda: fp8emu.cast(x, "e4m3", preset="ml-dtypes", threads=1),
        "encode all": lambda: fp8emu.cast(x, "e4m3", preset="ml-dtypes"),
        "ml_dtypes decode": lambda: q.astype(np.float32),
        "decode 1": lambda: fp8emu.cast(q, "f32", threads=1),
        "decode all": lambda: fp8emu.cast(q, "f32"),
    }, reps)
    for op, base in (("encode", "ml_dtypes encode"), ("decode", "ml_dtypes decode")):
        what = "FP32 -> E4M3 (RNE, ml-dtypes preset)" if op == "encode" else "E4M3 -> FP32"
        row(table, f"cast {what}, {n >> 20} Mi", "ml_dtypes", f"{n / t[base] / 1e6:.0f} M/s", "1.0×")
        for th in ("1", "all"):
            key = f"{op} {th}"
            row(table, "", f"fp8emu, {th} thread{'s' if th == 'all' else ''}", f"{n / t[key] / 1e6:.0f} M/s",
                f"{t[base] / t[key]:.1f}×")


def bench_matmul(reps, size, table):
    rng = np.random.default_rng(1)
    m = n = k = size
    a = torch.from_numpy(fp8_bytes(rng, (m, k)).view(np.uint8)).view(torch.float8_e4m3fn)
    b = torch.from_numpy(fp8_bytes(rng, (n, k)).view(np.uint8)).view(torch.float8_e4m3fn).t()
    af, bf = a.float(), b.float()
    one = torch.tensor(1.0)
    t = interleaved({
        "matmul": lambda: torch.matmul(af, bf),
        "torch": lambda: torch._scaled_mm(a, b, one, one, out_dtype=torch.float32),
        "fast": lambda: fp8emu.scaled_mm(a, b, one, one, out_dtype=torch.float32, use_fast_accum=True),
        "promoted": lambda: fp8emu.scaled_mm(a, b, one, one, out_dtype=torch.float32, use_fast_accum=False),
    }, reps)
    flop = 2.0 * m * n * k
    for name, label in (("matmul", "FP32 torch.matmul (no FP8 numerics)"), ("torch", "torch._scaled_mm on CPU (no GPU numerics)"),
                        ("fast", "scaled_mm, H100, use_fast_accum=True"), ("promoted", "scaled_mm, H100, use_fast_accum=False")):
        row(table, f"E4M3 {size}³" if name == "matmul" else "", label, f"{flop / t[name] / 1e9:.1f} GFLOP/s",
            f"{t['torch'] / t[name]:.2f}× torch._scaled_mm, {t['matmul'] / t[name]:.2f}× matmul")


def bench_overhead(reps, table):
    for (m, n, k) in ((16, 16, 32), (64, 64, 64)):
        rng = np.random.default_rng(2)
        an, bn = fp8_bytes(rng, (m, k)), fp8_bytes(rng, (k, n))
        ta, tb = torch.from_numpy(an.view(np.uint8)).view(torch.float8_e4m3fn), torch.from_numpy(bn.view(np.uint8)).view(torch.float8_e4m3fn)
        one, out = torch.tensor(1.0), np.empty((m, n), np.float32)
        model = fp8emu.gpu_named("h100").model("e4m3").as_c()
        calls = 100

        def many(f):
            return lambda: [f() for _ in range(calls)]
        t = interleaved({
            "C": many(lambda: C.tc_gemm(m, n, k, an, C.FORMAT_E4M3, 0, k, bn, C.FORMAT_E4M3, 0, n, None, C.SCALING_TENSOR,
                                        np.ones(1, np.float32), np.ones(1, np.float32), None, None, model, C.TC_ACCUM_FAST,
                                        128, None, out, C.FORMAT_F32, n, 1.0, C.ISA_AUTO, 1)),
            "numpy": many(lambda: fp8emu.scaled_mm(an, bn, 1.0, 1.0, out_dtype=np.float32, use_fast_accum=True)),
            "torch": many(lambda: fp8emu.scaled_mm(ta, tb, one, one, out_dtype=torch.float32, use_fast_accum=True)),
            "torch cpu": many(lambda: torch._scaled_mm(ta, tb, one, one, out_dtype=torch.float32)),
        }, 3 * reps, best=True)
        us = {key: (v[0] / calls * 1e6, v[1] / calls * 1e6) for key, v in t.items()}
        cell = lambda key: f"{us[key][0]:.1f} µs (best {us[key][1]:.1f})"
        over = lambda key: f"{us[key][0] - us['C'][0]:+.1f} µs over C (best {us[key][1] - us['C'][1]:+.1f})"
        row(table, f"one call, {m}×{n}×{k}", "the C call alone (_cfp8.tc_gemm, 1 thread)", cell("C"), "")
        row(table, "", "scaled_mm, numpy operands", cell("numpy"), over("numpy"))
        row(table, "", "scaled_mm, torch tensors", cell("torch"), over("torch"))
        row(table, "", "torch._scaled_mm on CPU", cell("torch cpu"), "")


def build_c_harness(tmp):
    """Compiles with -fopenmp, links libomp as SwiftPM does (libomp5.so on Debian, else libomp.so)."""
    cc = shutil.which("clang")
    if cc is None:
        return None, "clang not found"
    kernels = sorted(os.path.join(CSOURCES, f) for f in os.listdir(CSOURCES) if f.endswith(".c"))
    r = subprocess.run([cc, "-O3", "-fopenmp", "-fno-math-errno", "-c", "-I", os.path.join(CSOURCES, "include"),
                        os.path.join(HERE, "tc_time.c")] + kernels, cwd=tmp, capture_output=True, text=True)
    if r.returncode:
        return None, (r.stderr.strip().splitlines() or ["compile failed"])[-1]
    exe = os.path.join(tmp, "tc_time")
    objects = sorted(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".o"))
    for runtime in ("-lomp5", "-lomp"):
        if subprocess.run([cc] + objects + ["-o", exe, runtime, "-lm"], capture_output=True).returncode == 0:
            return exe, None
    return None, "no libomp to link"


def bench_versus_c(reps, size, table):
    with tempfile.TemporaryDirectory() as tmp:
        exe, why = build_c_harness(tmp)
        if exe is None:
            row(table, f"{size}³ vs C", f"skipped: {why}", "", "")
            return
        proc = subprocess.Popen([exe, str(size), str(size), str(size), "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        rng = np.random.default_rng(3)
        a, b = fp8_bytes(rng, (size, size)), fp8_bytes(rng, (size, size))

        def c_call(acc):
            proc.stdin.write(acc + "\n")
            proc.stdin.flush()
            return float(proc.stdout.readline())
        c_times = {"fast": [], "promoted": []}

        def run_c(acc):
            return lambda: c_times[acc].append(c_call(acc))
        model = fp8emu.gpu_named("h100").model("e4m3").as_c()
        out = np.empty((size, size), np.float32)
        for acc in ("fast", "promoted"):
            code = C.TC_ACCUM_FAST if acc == "fast" else C.TC_ACCUM_PROMOTED

            def own():
                C.tc_gemm(size, size, size, a, C.FORMAT_E4M3, 0, size, b, C.FORMAT_E4M3, 0, size, None, C.SCALING_NONE,
                          None, None, None, None, model, code, 128, None, out, C.FORMAT_F32, size, 1.0, C.ISA_AUTO, 1)
            run_c(acc)()  # warm-up: first touch of the pages, OpenMP threads
            fp8emu.scaled_mm(a, b, out_dtype=np.float32, accumulation=acc, threads=1)
            c_times[acc].clear()
            t = interleaved({"C": run_c(acc), "own": own,
                             "py": lambda: fp8emu.scaled_mm(a, b, out_dtype=np.float32, accumulation=acc, threads=1)}, reps)
            tc = float(np.median(c_times[acc]))
            row(table, f"E4M3 {size}³, H100 {acc}, 1 thread", "C kernel alone, the CLI's build (clang -O3, libomp)",
                f"{2 * size ** 3 / tc / 1e9:.1f} GFLOP/s", "1.00×")
            row(table, "", "C kernel alone, this module's build (_cfp8.tc_gemm)", f"{2 * size ** 3 / t['own'] / 1e9:.1f} GFLOP/s",
                f"{t['own'] / tc:.2f}× the CLI build's time")
            row(table, "", "fp8emu.scaled_mm", f"{2 * size ** 3 / t['py'] / 1e9:.1f} GFLOP/s",
                f"{t['py'] / tc:.2f}× the CLI build's time")
        proc.stdin.close()
        proc.wait()


def write_safetensors(path, tensors):
    """tensors: (name, safetensors dtype, array) in file order."""
    header, offset = {}, 0
    for name, dtype, arr in tensors:
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for _, _, arr in tensors:
            f.write(arr.tobytes())


def write_checkpoint(path, shapes, rng):
    tensors = []
    for i, (r, c) in enumerate(shapes):
        s = (rng.random(((r + 127) // 128, (c + 127) // 128)) * 1e-3).astype("<f4")
        tensors += [(f"layers.{i}.weight", "F8_E4M3", fp8_bytes(rng, (r, c)).view(np.uint8)),
                    (f"layers.{i}.weight_scale_inv", "F32", s)]
    write_safetensors(path, tensors)


def numpy_dequantize(src, dst, workers):
    """The straightforward implementation: fp8 -> float32 with ml_dtypes, times the block scales
    broadcast with np.repeat, to bfloat16 with ml_dtypes; tensors on `workers` threads."""
    with open(src, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        (n,) = struct.unpack("<Q", mm[:8])
        header = json.loads(mm[8:8 + n])
        base = 8 + n

        def tensor(name, dtype):
            b, e = header[name]["data_offsets"]
            return np.frombuffer(mm, dtype=dtype, count=(e - b) // np.dtype(dtype).itemsize, offset=base + b).reshape(header[name]["shape"])

        names = [k for k in header if k + "_scale_inv" in header]

        def one(name):
            w, s = tensor(name, ml_dtypes.float8_e4m3fn), tensor(name + "_scale_inv", "<f4")
            full = np.repeat(np.repeat(s, 128, axis=0), 128, axis=1)[:w.shape[0], :w.shape[1]]
            return (w.astype(np.float32) * full).astype(ml_dtypes.bfloat16)
        with ThreadPoolExecutor(workers) as pool:
            outs = list(pool.map(one, names))
        write_safetensors(dst, [(name, "BF16", o) for name, o in zip(names, outs)])
        del outs
        mm.close()


def bench_dequant(reps, shapes, table):
    # in RAM where there is one (/dev/shm): the disk's speed would otherwise decide both times
    ram = "/dev/shm" if os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free > 1 << 30 else None
    with tempfile.TemporaryDirectory(dir=ram) as tmp:
        src = os.path.join(tmp, "in.safetensors")
        write_checkpoint(src, shapes, np.random.default_rng(4))
        elements = sum(r * c for r, c in shapes)
        t = interleaved({
            "numpy 1": lambda: numpy_dequantize(src, os.path.join(tmp, "np1.safetensors"), 1),
            "fp8emu 1": lambda: fp8emu.dequantize_checkpoint(src, os.path.join(tmp, "f1.safetensors"), threads=1),
            "numpy 2": lambda: numpy_dequantize(src, os.path.join(tmp, "np2.safetensors"), 2),
            "fp8emu 2": lambda: fp8emu.dequantize_checkpoint(src, os.path.join(tmp, "f2.safetensors"), threads=2),
        }, reps)
        same = open(os.path.join(tmp, "np1.safetensors"), "rb").read()[-1 << 20:] == open(os.path.join(tmp, "f1.safetensors"), "rb").read()[-1 << 20:]
        for th in ("1", "2"):
            row(table, f"dequantise {elements / 1e6:.0f} M E4M3 -> BF16, file to file{' in RAM' if ram else ''}" if th == "1" else "",
                f"numpy + ml_dtypes, {th} thread{'s' if th == '2' else ''}", f"{elements / t['numpy ' + th] / 1e6:.0f} M/s", "1.0×")
            row(table, "", f"fp8emu.dequantize_checkpoint, {th} thread{'s' if th == '2' else ''}",
                f"{elements / t['fp8emu ' + th] / 1e6:.0f} M/s", f"{t['numpy ' + th] / t['fp8emu ' + th]:.1f}×"
                + ("" if same else " (OUTPUTS DIFFER)"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not for figures)")
    args = p.parse_args()
    q = args.quick
    table = ["| benchmark | contender | rate | ratio |", "|---|---|---|---|"]
    bench_casts(args.reps, 1 << (20 if q else 24), table)
    bench_matmul(args.reps, 256 if q else 1024, table)
    bench_overhead(args.reps, table)
    bench_versus_c(args.reps if not q else 2, 256 if q else 2048, table)
    bench_dequant(args.reps, [(512, 1024)] * 2 if q else [(7168, 2048), (2048, 7168), (4096, 4096)], table)
    print(f"fp8emu {fp8emu.__version__}, ISA {fp8emu.isa()}, {C.max_threads()} OpenMP threads, {platform.processor() or platform.machine()}, "
          f"numpy {np.__version__}, ml_dtypes {ml_dtypes.__version__}, torch {torch.__version__}; medians of {args.reps} interleaved reps")
    print("\n".join(table))


if __name__ == "__main__":
    sys.exit(main())
