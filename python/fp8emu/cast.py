"""FP8 casts: FP32/FP16/BF16 to the five FP8 formats and back, by the C kernels."""
import functools

from . import _arrays as A
from . import _cfp8 as C

PRESETS = {
    "cuda-satfinite": C.PRESET_CUDA_SATFINITE,
    "cuda-nosat": C.PRESET_CUDA_NOSAT,
    "ml-dtypes": C.PRESET_ML_DTYPES,
    "pytorch": C.PRESET_PYTORCH,
}
ROUNDINGS = {
    "rne": C.ROUND_NEAREST_EVEN,
    "rz": C.ROUND_TOWARD_ZERO,
    "stochastic": C.ROUND_STOCHASTIC,
    "up": C.ROUND_UP,
}
ISAS = {"auto": C.ISA_AUTO, "scalar": C.ISA_SCALAR, "avx2": C.ISA_AVX2, "avx512": C.ISA_AVX512, "neon": C.ISA_NEON}


def _lookup(table, value, what):
    try:
        return table[str(value).lower()]
    except KeyError:
        raise ValueError(f"unknown {what} {value!r}: one of {', '.join(table)}") from None


@functools.lru_cache(maxsize=16)
def isa_code(isa):
    code = _lookup(ISAS, isa, "ISA")
    if code != C.ISA_AUTO and not C.isa_supported(code):
        raise ValueError(f"ISA {isa} is not supported by this CPU or build")
    return code


def cast(x, to, *, preset="cuda-satfinite", rounding="rne", seed=0, random_bits=None, source=None,
         isa="auto", threads=0):
    """Converts x to the format `to`, bit-exactly as the fp8emu CLI does.

    Encoding (x is float32, float16 or bfloat16; `to` is e4m3, e5m2, e4m3fnuz, e5m2fnuz or e8m0):
    rounded once, directly (never through another format), with `rounding` ("rne", "rz",
    "stochastic" with `seed` or one uint32 of `random_bits` per element; E8M0 takes "rne", "rz",
    "up") and the overflow/NaN convention of `preset` ("cuda-satfinite", "cuda-nosat", "ml-dtypes",
    "pytorch"; E8M0 ignores it). Decoding (x holds FP8 values; `to` is f32, f16 or bf16) is exact
    except E8M0 to f16. x of dtype uint8 holds FP8 bit patterns of format `source`.

    numpy in, numpy out (ml_dtypes dtypes: float8_e4m3fn, ...); torch in, torch out
    (torch.float8_e4m3fn, ...), same shape. Non-contiguous input is made contiguous first.
    """
    to = A.format_name(to)
    src = A.format_of(x, source)
    isa = isa_code(isa)
    x = A.contiguous(x)
    shape = tuple(x.shape)
    n = x.numel() if A.is_torch(x) else x.size
    if to in A.FP8_FORMATS:
        if src not in A.WIDE_FORMATS:
            raise ValueError(f"encoding takes f32, f16 or bf16 input, got {src}")
        out = A.empty(x, shape, to)
        words = None if random_bits is None else A.contiguous(random_bits)  # kept alive through the call
        if words is not None and (A.element_size(words) != 4 or (words.numel() if A.is_torch(words) else words.size) != n):
            raise ValueError(f"random_bits must hold {n} 32-bit words")
        C.encode(A.memory(x), A.FORMATS[src], A.memory(out), A.FORMATS[to], n, _lookup(ROUNDINGS, rounding, "rounding"),
                 _lookup(PRESETS, preset, "preset"), int(seed), None if words is None else A.memory(words), isa,
                 int(threads))
        return out
    if src not in A.FP8_FORMATS:
        raise ValueError(f"cast goes between a wide format (f32, f16, bf16) and an FP8 format, not {src} -> {to}")
    out = A.empty(x, shape, to)
    C.decode(A.memory(x), A.FORMATS[src], A.memory(out), A.FORMATS[to], n, isa, int(threads))
    return out
