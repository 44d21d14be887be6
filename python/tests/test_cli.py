"""scaled_mm against the Swift command-line tool's `fp8emu gemm` (same kernels, separate
front end and build), bit for bit."""
import subprocess

import ml_dtypes
import numpy as np
import pytest

import fp8emu
from conftest import ISAS, cli_path

CLI = cli_path()
pytestmark = pytest.mark.skipif(CLI is None, reason="the fp8emu CLI is not built: run `swift build --product fp8emu` "
                                "in the repository (or set FP8EMU_CLI)")

CASES = [  # gpu, accumulation, A format, B format, with C
    ("H100", "fast", "e4m3", "e4m3", False),
    ("H100", "promoted", "e4m3", "e5m2", False),
    ("H200", "promoted=64", "e5m2", "e5m2", True),
    ("B200", "fast", "e4m3", "e4m3", True),
    ("Ada", "promoted", "e4m3", "e4m3", False),
    ("A100", "fast", "e4m3", "e4m3", False),  # FP8 as FP16 (hybrid)
    ("H100", "exact", "e4m3", "e4m3", True),
    ("H100", "ideal", "e5m2", "e4m3", False),
]
STORAGE = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}


@pytest.mark.parametrize("gpu,accumulation,fa,fb,with_c", CASES)
@pytest.mark.parametrize("isa", ISAS)
def test_bits_equal_fp8emu_gemm(tmp_path, gpu, accumulation, fa, fb, with_c, isa):
    """The CLI on one SIMD path and one thread, ours on the default path and all threads."""
    rng = np.random.default_rng(len(gpu) * 7 + len(accumulation))
    m, k, n = 19, 300, 35
    a = (rng.standard_normal((m, k)) * 8).astype(np.float32).astype(STORAGE[fa])
    b = (rng.standard_normal((k, n)) * 0.1).astype(np.float32).astype(STORAGE[fb])
    c = rng.standard_normal((m, n)).astype(np.float32) if with_c else None
    np.save(tmp_path / "a.npy", a.view(np.uint8))
    np.save(tmp_path / "b.npy", b.view(np.uint8))
    args = [CLI, "gemm", "--a", str(tmp_path / "a.npy"), "--b", str(tmp_path / "b.npy"), "--a-format", fa,
            "--b-format", fb, "--gpu", gpu, "--accumulation", accumulation, "--out", str(tmp_path / "d.npy"), "--isa", isa, "--threads", "1"]
    if with_c:
        np.save(tmp_path / "c.npy", c)
        args += ["--c", str(tmp_path / "c.npy")]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    want = np.load(tmp_path / "d.npy")
    gpu_arg = None if accumulation in ("ideal", "exact") else gpu
    got = fp8emu.scaled_mm(a, b, out_dtype=np.float32, gpu=gpu_arg, accumulation=accumulation, c=c, threads=0)
    assert want.dtype == np.float32 and want.shape == (m, n)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
