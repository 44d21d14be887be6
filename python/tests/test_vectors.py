"""scaled_mm against the tensor-core vectors measured on real GPUs (one d = a.b + c per row)."""
import os

import ml_dtypes
import numpy as np
import pytest

import fp8emu
from conftest import ISAS, vectors_dir

VECTORS = vectors_dir()
pytestmark = pytest.mark.skipif(VECTORS is None, reason="real-GPU vectors absent: set FP8EMU_VECTORS or place "
                                "them at ../shared/tensorcore-vectors beside the repository")

_STORAGE = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2, "fp16": np.float16,
            "bf16": ml_dtypes.bfloat16, "tf32": np.float32}


def _folders():
    if VECTORS is None:
        return []
    out = []
    for gpu in sorted(os.listdir(VECTORS)):
        if not os.path.isdir(os.path.join(VECTORS, gpu)):
            continue
        for fmt in sorted(os.listdir(os.path.join(VECTORS, gpu))):
            out.append((gpu, fmt))
    return out


def _load(gpu, fmt):
    d = os.path.join(VECTORS, gpu, fmt)
    hexrows = lambda name: np.array([[int(w, 16) for w in line.split()] for line in open(os.path.join(d, name))],
                                    dtype=np.uint32).view(np.float32)
    binrows = lambda name: np.array([int(line.strip(), 2) for line in open(os.path.join(d, name)) if line.strip()],
                                    dtype=np.uint32)
    a, b = hexrows(f"a_{gpu}_{fmt}.txt"), hexrows(f"b_{gpu}_{fmt}.txt")
    c = binrows(f"c_{gpu}_fp32.txt").view(np.float32)
    d = {acc: binrows(f"d_{gpu}_{acc}.txt") for acc in ("fp32", "fp16") if os.path.exists(os.path.join(d, f"d_{gpu}_{acc}.txt"))}
    return a, b, c, d


def _run_rows(gpu, fmt, accumulator, isa, use_fast_accum):
    a, b, c, d = _load(gpu, fmt)
    key = fmt.lower()
    storage = _STORAGE[key]
    qa, qb = a.astype(storage), b.astype(storage)
    # the vectors hold values exact in the format: the storage cast must not have moved any
    assert np.array_equal(qa.astype(np.float32), a, equal_nan=True) and np.array_equal(qb.astype(np.float32), b, equal_nan=True)
    fp8 = key in ("e4m3", "e5m2")
    # the H100 FP8 FP32-output rows were measured with wgmma D = A.B + D from D = 0 (README of the
    # vectors); its FP16-output rows take c from the file
    ignore_c = gpu == "H100" and fp8 and accumulator == "fp32"
    got = np.empty(len(c), dtype=np.uint32)
    for r in range(len(c)):
        cr = np.zeros((1, 1), np.float32) if ignore_c else c[r:r + 1].reshape(1, 1)
        out = fp8emu.scaled_mm(qa[r:r + 1], qb[r:r + 1].T, out_dtype=np.float32, use_fast_accum=use_fast_accum,
                               gpu=gpu, c=cr, accumulator=accumulator, isa=isa)
        got[r] = out.view(np.uint32)[0, 0]
    want = d[accumulator]
    bad = np.nonzero(got != want)[0]
    assert bad.size == 0, (f"{gpu} {fmt} {accumulator}: {bad.size} of {len(want)} rows differ, first row {bad[0]}: "
                           f"got {got[bad[0]]:#010x}, GPU {want[bad[0]]:#010x}")


CASES = []
for gpu, fmt in _folders():
    fp8 = fmt.lower() in ("e4m3", "e5m2")
    CASES.append((gpu, fmt, "fp32", True))
    if gpu == "H100" and fp8:
        CASES.append((gpu, fmt, "fp32", False))  # promoted: K = 32 < 128, from D = 0: the same rows
    if os.path.exists(os.path.join(VECTORS, gpu, fmt, f"d_{gpu}_fp16.txt")):
        CASES.append((gpu, fmt, "fp16", True))


@pytest.mark.parametrize("gpu,fmt,accumulator,fast", CASES, ids=[f"{g}-{f}-{a}-{'fast' if x else 'promoted'}" for g, f, a, x in CASES])
@pytest.mark.parametrize("isa", ISAS)
def test_every_row(gpu, fmt, accumulator, fast, isa):
    _run_rows(gpu, fmt, accumulator, isa, fast)
