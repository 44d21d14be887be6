"""fp8emu: bit-exact FP8 casts, NVIDIA tensor-core matrix products and FP8 checkpoint
dequantisation on a CPU, from numpy and PyTorch (see docs/python.md)."""
from . import _cfp8
from .cast import cast
from .checkpoint import dequantize_checkpoint
from .gpus import GPU_NAMES, BlockFMAModel, gpu_named
from .matmul import scaled_mm
from .testing import emulate_scaled_mm

__all__ = ["cast", "scaled_mm", "emulate_scaled_mm", "dequantize_checkpoint", "gpu_named", "GPU_NAMES",
           "BlockFMAModel", "isa"]
__version__ = "0.1.0"


def isa():
    """The SIMD path the kernels run by default ("scalar", "avx2", "avx512", "neon")."""
    return {0: "scalar", 1: "avx2", 2: "avx512", 3: "neon"}[_cfp8.isa_default()]
