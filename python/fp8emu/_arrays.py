"""Element formats and zero-copy access to numpy arrays and torch tensors.

The C kernels see memory as (address, element format); this module maps numpy / ml_dtypes /
torch dtypes to the header's format codes and hands the binding either the array itself (numpy:
buffer protocol) or its address (torch: data_ptr()), never a copy."""
import ml_dtypes
import numpy as np

from . import _cfp8 as C

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None

# Project names of the element formats (fp8emu CLI, docs) -> header codes.
FORMATS = {
    "e4m3": C.FORMAT_E4M3,
    "e5m2": C.FORMAT_E5M2,
    "e4m3fnuz": C.FORMAT_E4M3FNUZ,
    "e5m2fnuz": C.FORMAT_E5M2FNUZ,
    "e8m0": C.FORMAT_E8M0,
    "f16": C.FORMAT_F16,
    "bf16": C.FORMAT_BF16,
    "f32": C.FORMAT_F32,
}
_ALIASES = {"e4m3fn": "e4m3", "e8m0fnu": "e8m0", "fp16": "f16", "float16": "f16", "half": "f16",
            "bfloat16": "bf16", "fp32": "f32", "float32": "f32", "float": "f32"}
FP8_FORMATS = ("e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "e8m0")
WIDE_FORMATS = ("f32", "f16", "bf16")

NUMPY_DTYPES = {
    "e4m3": np.dtype(ml_dtypes.float8_e4m3fn),
    "e5m2": np.dtype(ml_dtypes.float8_e5m2),
    "e4m3fnuz": np.dtype(ml_dtypes.float8_e4m3fnuz),
    "e5m2fnuz": np.dtype(ml_dtypes.float8_e5m2fnuz),
    "e8m0": np.dtype(ml_dtypes.float8_e8m0fnu),
    "f16": np.dtype(np.float16),
    "bf16": np.dtype(ml_dtypes.bfloat16),
    "f32": np.dtype(np.float32),
}
_NUMPY_FORMAT = {dt: name for name, dt in NUMPY_DTYPES.items()}

if torch is not None:
    TORCH_DTYPES = {
        "e4m3": torch.float8_e4m3fn,
        "e5m2": torch.float8_e5m2,
        "e4m3fnuz": torch.float8_e4m3fnuz,
        "e5m2fnuz": torch.float8_e5m2fnuz,
        "f16": torch.float16,
        "bf16": torch.bfloat16,
        "f32": torch.float32,
    }
    if hasattr(torch, "float8_e8m0fnu"):
        TORCH_DTYPES["e8m0"] = torch.float8_e8m0fnu
    _TORCH_FORMAT = {dt: name for name, dt in TORCH_DTYPES.items()}
else:
    TORCH_DTYPES, _TORCH_FORMAT = {}, {}


def format_name(name):
    """The canonical project name of a format ("E4M3", "e4m3fn" -> "e4m3"), or ValueError."""
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(f"unknown format {name!r}: one of {', '.join(FORMATS)}")
    return key


_DTYPE_FORMAT = dict(_NUMPY_FORMAT)
_DTYPE_FORMAT.update(_TORCH_FORMAT)


def dtype_format(dtype):
    """The format of a torch dtype, a numpy dtype (or type) or a format name."""
    if isinstance(dtype, str):
        return format_name(dtype)
    fmt = _DTYPE_FORMAT.get(dtype)
    if fmt is None:
        try:
            fmt = _DTYPE_FORMAT.get(np.dtype(dtype))
        except TypeError:
            fmt = None
    if fmt is None:
        raise ValueError(f"unsupported dtype {dtype}")
    return fmt


_TENSOR = torch.Tensor if torch is not None else ()


def is_torch(x):
    return isinstance(x, _TENSOR)


def format_of(x, given=None):
    """The format of an array's elements: from its dtype, or `given` for raw uint8/uint16 bits."""
    if given is not None:
        fmt = format_name(given)
        size = 1 if fmt in FP8_FORMATS else (4 if fmt == "f32" else 2)
        if element_size(x) != size:
            raise ValueError(f"format {fmt} takes {size}-byte elements, got {dtype_of(x)}")
        return fmt
    dt = x.dtype
    fmt = _DTYPE_FORMAT.get(dt)
    if fmt is None:
        raise TypeError(f"unsupported dtype {dt}: expected float32, float16, bfloat16 or an FP8 dtype "
                        "(uint8 / uint16 bit patterns need an explicit format)")
    return fmt


def dtype_of(x):
    return x.dtype


def element_size(x):
    return x.element_size() if is_torch(x) else x.dtype.itemsize


def memory(x):
    """What the binding reads or writes for x: the numpy array (buffer protocol) or the address."""
    return x.data_ptr() if is_torch(x) else x


def strides(x):
    """Strides in elements."""
    if is_torch(x):
        return x.stride()
    s = x.dtype.itemsize
    return tuple(v // s for v in x.strides)


def contiguous(x):
    if is_torch(x):
        if x.device.type != "cpu":
            raise ValueError(f"fp8emu runs on CPU tensors, got one on {x.device}")
        return x.contiguous()
    return np.ascontiguousarray(x)


def empty(like, shape, fmt):
    """An uninitialised array of `fmt` of the same kind (numpy / torch) as `like`."""
    if isinstance(like, _TENSOR):
        dt = TORCH_DTYPES.get(fmt)
        if dt is None:
            raise ValueError(f"this PyTorch has no dtype for {fmt}")
        return torch.empty(shape, dtype=dt)
    return np.empty(shape, dtype=NUMPY_DTYPES[fmt])


def as_float32(x, like):
    """x as a contiguous float32 array of like's kind (a copy only when x is not one already)."""
    if is_torch(like):
        t = x if is_torch(x) else torch.as_tensor(np.asarray(x, dtype=np.float32))
        if t.device.type != "cpu":
            raise ValueError(f"fp8emu runs on CPU tensors, got one on {t.device}")
        return t.to(torch.float32).contiguous()
    if is_torch(x):
        x = x.detach().to("cpu", torch.float32).numpy()
    return np.ascontiguousarray(x, dtype=np.float32)
