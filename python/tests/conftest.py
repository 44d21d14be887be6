import os

import pytest

from fp8emu import _cfp8 as C
# The package's pytest plugin (an entry point when installed); imported here as well so that the
# tests also run with plugin autoloading off.
from fp8emu.pytest_plugin import fp8emu_scaled_mm  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

# Every SIMD path this CPU and build run (the others are named in the skip reasons).
ISAS = [name for name, code in (("scalar", C.ISA_SCALAR), ("avx2", C.ISA_AVX2), ("avx512", C.ISA_AVX512),
                                ("neon", C.ISA_NEON)) if C.isa_supported(code)]


def vectors_dir():
    """The real-GPU vectors: $FP8EMU_VECTORS, else ../shared/tensorcore-vectors beside the repository."""
    path = os.environ.get("FP8EMU_VECTORS") or os.path.join(REPO, "..", "shared", "tensorcore-vectors")
    return path if os.path.isdir(path) else None


def cli_path():
    """The Swift CLI: $FP8EMU_CLI, else a build in the repository's .build (debug or release)."""
    candidates = [os.environ.get("FP8EMU_CLI")] + [os.path.join(REPO, ".build", c, "fp8emu") for c in ("release", "debug")]
    return next((p for p in candidates if p and os.access(p, os.X_OK)), None)


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param
