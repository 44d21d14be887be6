#!/usr/bin/env python3
"""Checks `fp8emu gemm` against NumPy: .npy operands (exact and FP8 bit patterns) and the
checkpoint-layer path (a DeepSeek-style block-scaled FP8 weight with dynamic 1x128 activation
tiles), under exact numerics, where the answer is known independently of our kernels.

usage: check_gemm_cli.py PATH/TO/fp8emu
Prints one line per check and a closing "N passed, M failed"; exits 1 on any failure."""
import os, subprocess, sys, tempfile
import numpy as np
import ml_dtypes
import safetensors.numpy as st

E4M3 = ml_dtypes.float8_e4m3fn
fp8emu = sys.argv[1]
tmp = tempfile.mkdtemp()
rng = np.random.default_rng(7)
results = []

def run(*args):
    p = subprocess.run([fp8emu, "gemm", *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr

def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name} {detail}")

def path(n): return os.path.join(tmp, n)

# 1. Exact operands, exact numerics: equals the FP64 product rounded once to FP32.
A = rng.standard_normal((5, 77)).astype(E4M3).astype(np.float32)
B = rng.standard_normal((77, 9)).astype(E4M3).astype(np.float32)
np.save(path("A.npy"), A); np.save(path("B.npy"), B)
rc, out = run("--a", path("A.npy"), "--b", path("B.npy"), "--accumulation", "exact", "--out", path("D.npy"))
ref = (A.astype(np.float64) @ B.astype(np.float64)).astype(np.float32)
check("exact float32 operands", rc == 0 and np.array_equal(np.load(path("D.npy")), ref), out if rc else "")

# 2. The same operands as uint8 bit patterns give the same bits.
np.save(path("Au8.npy"), A.astype(E4M3).view(np.uint8)); np.save(path("Bu8.npy"), B.astype(E4M3).view(np.uint8))
rc, out = run("--a", path("Au8.npy"), "--b", path("Bu8.npy"), "--accumulation", "exact", "--out", path("D2.npy"))
check("uint8 bit-pattern operands", rc == 0 and np.array_equal(np.load(path("D2.npy")), ref), out if rc else "")

# 3. Values the format cannot hold are refused without --quantize, accepted with it.
np.save(path("Araw.npy"), rng.standard_normal((5, 77)).astype(np.float32))
rc, out = run("--a", path("Araw.npy"), "--b", path("B.npy"))
check("unrepresentable values refused", rc != 0 and "not exactly representable" in out)
rc, out = run("--a", path("Araw.npy"), "--b", path("B.npy"), "--quantize", "cuda-satfinite", "--out", path("D3.npy"))
check("--quantize accepted", rc == 0 and np.load(path("D3.npy")).shape == (5, 9), out if rc else "")

# 4. Shape mismatch is a clear error and writes nothing.
rc, out = run("--a", path("A.npy"), "--b", path("A.npy"), "--out", path("bad.npy"))
check("shape mismatch refused", rc != 0 and not os.path.exists(path("bad.npy")), out.strip().splitlines()[-1:] if out else "")

# 5. Checkpoint layer: W (200 x 300, F8_E4M3) with 128x128 weight_scale_inv, X (4 x 300) quantised
#    in 1x128 tiles with s = amax/448, q = satfinite(x / s); exact numerics.
n, k, m = 200, 300, 4
W = rng.standard_normal((n, k)).astype(np.float32)
nb, kb = -(-n // 128), -(-k // 128)
sw = np.zeros((nb, kb), np.float32); qw = np.zeros((n, k), np.float32)
for i in range(nb):
    for j in range(kb):
        blk = W[i*128:(i+1)*128, j*128:(j+1)*128]
        s = np.float32(np.abs(blk).max()) / np.float32(448)
        sw[i, j] = s
        qw[i*128:(i+1)*128, j*128:(j+1)*128] = np.clip(blk / s, -448, 448).astype(E4M3).astype(np.float32)
st.save_file({"l.weight": qw.astype(E4M3), "l.weight_scale_inv": sw},
             path("w.safetensors"))
X = rng.standard_normal((m, k)).astype(np.float32)
np.save(path("X.npy"), X)
qx = np.zeros_like(X); sx = np.zeros((m, kb), np.float32)
for r in range(m):
    for j in range(kb):
        t = X[r, j*128:(j+1)*128]
        s = np.float32(np.abs(t).max()) / np.float32(448)
        sx[r, j] = s
        qx[r, j*128:(j+1)*128] = np.clip(t / s, -448, 448).astype(E4M3).astype(np.float32)
ref = np.zeros((m, n), np.float64); mag = np.zeros((m, n), np.float64)
for j in range(kb):
    for i in range(nb):
        part = qx[:, j*128:(j+1)*128].astype(np.float64) @ qw[i*128:(i+1)*128, j*128:(j+1)*128].astype(np.float64).T
        scale = sx[:, j:j+1].astype(np.float64) * np.float64(sw[i, j])
        ref[:, i*128:(i+1)*128] += part * scale
        mag[:, i*128:(i+1)*128] += np.abs(part * scale)
rc, out = run("--a", path("X.npy"), "--weights", path("w.safetensors"), "--tensor", "l.weight",
              "--accumulation", "exact", "--out", path("Y.npy"))
if rc == 0:
    Y = np.load(path("Y.npy")).astype(np.float64)
    # Per 128-long K block: the exact partial rounded to FP32, sa*sb rounded, one FP32 fma into
    # the accumulator: at most 3 roundings of u = 2^-24 per block, relative to sum |partial*scale|.
    u = 2.0 ** -24
    ratio = np.max(np.abs(Y - ref) / np.maximum((3 * kb + 1) * u * mag, 1e-300))
    check("checkpoint layer, block scales", Y.shape == (m, n) and ratio <= 1.0, f"error / bound = {ratio:.3f}")
else:
    check("checkpoint layer, block scales", False, out)

# 6. Unknown tensor name is a clear error.
rc, out = run("--a", path("X.npy"), "--weights", path("w.safetensors"), "--tensor", "nope")
check("unknown tensor refused", rc == 65 and 'no tensor "nope"' in out)

failed = results.count(False)
print(f"{results.count(True)} passed, {failed} failed")
sys.exit(1 if failed else 0)
