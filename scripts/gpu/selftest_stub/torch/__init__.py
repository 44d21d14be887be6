"""A tiny numpy stand-in for the parts of torch that scaled_mm.py and make_manifest.py use, so
that selftest.sh can run their GPU code path on a CPU. It only mimics the API shape (and the
documented constraints of _scaled_mm: FP8 operands, B column-major, K and N multiples of 16,
scales 0-d/1-element or (M,1)/(1,N), no E5M2 x E5M2); its arithmetic is float64 rounded once.
NOT torch: never on the path of a real run."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import fp8np  # noqa: E402

__version__ = "0.0+selftest-stub"


class dtype:
    def __init__(self, name, np_dtype, fp8=None):
        self.name, self.np_dtype, self.fp8 = name, np_dtype, fp8

    def __repr__(self):
        return "torch." + self.name


float32 = dtype("float32", np.float32)
bfloat16 = dtype("bfloat16", None)
uint8 = dtype("uint8", np.uint8)
float8_e4m3fn = dtype("float8_e4m3fn", np.uint8, "e4m3")
float8_e5m2 = dtype("float8_e5m2", np.uint8, "e5m2")


class Tensor:
    def __init__(self, a, dt, colmajor=False):
        self.a, self.dtype, self.colmajor = a, dt, colmajor

    @property
    def shape(self):
        return self.a.shape

    def view(self, dt):
        assert self.a.dtype == np.uint8 and dt.fp8, "stub: only uint8 -> float8 views"
        return Tensor(self.a, dt)

    def cuda(self):
        return self

    def to(self, *args, **kwargs):
        return self

    def cpu(self):
        return self

    def t(self):
        return Tensor(self.a.T, self.dtype, not self.colmajor)

    def float(self):
        if self.dtype.fp8:
            return Tensor(fp8np.decode(self.a, self.dtype.fp8), float32)
        return Tensor(self.a.astype(np.float32), float32)

    def numpy(self):
        return self.a

    def numel(self):
        return self.a.size

    def dim(self):
        return self.a.ndim


def from_numpy(a):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(a).__name__})")
    return Tensor(a, {np.dtype(np.float32): float32, np.dtype(np.uint8): uint8}[a.dtype])


def zeros(*shape, device=None, dtype=None):
    return Tensor(np.zeros(shape, np.float32), float32)


def _scaled_mm(a, b, scale_a, scale_b, bias=None, scale_result=None, out_dtype=None, use_fast_accum=False):
    if not (a.dtype.fp8 and b.dtype.fp8):
        raise RuntimeError("Expected both inputs to be fp8 types")
    if a.dtype.fp8 == "e5m2" and b.dtype.fp8 == "e5m2":
        raise RuntimeError("Multiplication of two Float8_e5m2 matrices is not supported")
    if a.colmajor or not b.colmajor:
        raise RuntimeError("mat1 must be row-major and mat2 column-major")
    m, k = a.shape
    k2, n = b.shape
    if k != k2 or k % 16 or n % 16:
        raise RuntimeError(f"bad shapes {a.shape} x {b.shape}")
    for s, want in ((scale_a, (m, 1)), (scale_b, (1, n))):
        if s.dtype is not float32 or not (s.numel() == 1 or tuple(s.shape) == want):
            raise RuntimeError(f"bad scale {s.shape}")
    if out_dtype is not float32:
        raise RuntimeError("stub: FP32 output only")
    av = fp8np.decode(a.a, a.dtype.fp8).astype(np.float64)
    bv = fp8np.decode(b.a, b.dtype.fp8).astype(np.float64)
    out = scale_a.a.astype(np.float64) * scale_b.a.astype(np.float64) * (av @ bv)
    return Tensor(out.astype(np.float32), float32)


class _Version:
    cuda = "13.0-stub"


version = _Version()


class cuda:  # noqa: N801
    @staticmethod
    def is_available():
        return True

    @staticmethod
    def synchronize():
        pass

    @staticmethod
    def get_device_capability(i=0):
        return (9, 0)

    @staticmethod
    def get_device_name(i=0):
        return "selftest stub"

    @staticmethod
    def get_device_properties(i=0):
        class P:
            multi_processor_count = 0
            total_memory = 0
        return P()


from . import profiler  # noqa: E402,F401
