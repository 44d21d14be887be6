"""scaled_mm: torch._scaled_mm's signature and conventions, computed with a chosen GPU's
tensor-core numerics by cfp8_tc_gemm."""
import functools

import numpy as np

from . import _arrays as A
from . import _cfp8 as C
from .cast import isa_code
from .gpus import gpu_named, parse_accumulation

_TC_INPUT = {"e4m3": "e4m3", "e5m2": "e5m2", "f16": "fp16", "bf16": "bf16", "f32": "tf32"}
_OUT_FORMATS = ("f32", "f16", "bf16", "e4m3", "e5m2")
# Below this many multiply-adds one thread is faster than waking the OpenMP team.
_SMALL = 1 << 16


@functools.lru_cache(maxsize=256)
def _numerics(gpu, accumulation, use_fast_accum, fa, fb, accumulator):
    """(accumulation code, interval, C model or None, widen FP8 to FP16) for one configuration."""
    acc_code, interval = parse_accumulation(accumulation or ("fast" if use_fast_accum else "promoted"))
    if acc_code not in (C.TC_ACCUM_FAST, C.TC_ACCUM_PROMOTED):
        return acc_code, interval, None, False
    if gpu is None:
        raise ValueError("fast and promoted accumulation need a gpu")
    g = gpu_named(gpu)
    fp8 = fa in ("e4m3", "e5m2")
    widen = fp8 and not g.has_native_fp8
    tc_input = "fp16" if widen else _TC_INPUT[fa]
    mdl = g.model(tc_input, accumulator)
    if mdl is None:
        raise ValueError(f"{g.name} tensor cores do not take {tc_input} with an {accumulator} accumulator")
    return acc_code, interval, mdl.as_c(), widen


def _operand(x, given):
    """(memory, format, transposed, ld, keep-alive) of a 2-D operand, without a copy when one of
    its strides is 1; any other layout is copied to row-major first."""
    fmt = A.format_of(x, given)
    if fmt not in _TC_INPUT:
        raise ValueError(f"tensor cores take e4m3, e5m2, f16, bf16 or f32 (as TF32) operands, got {fmt}")
    if A.is_torch(x):
        if not x.is_cpu:
            raise ValueError(f"fp8emu runs on CPU tensors, got one on {x.device}")
        s0, s1 = x.stride()
        mem = x.data_ptr()
    else:
        s0, s1 = x.strides
        s0 //= x.itemsize
        s1 //= x.itemsize
        mem = x
    rows, cols = x.shape
    if (s1 == 1 or cols <= 1) and (rows <= 1 or s0 >= max(cols, 1)):
        return mem, fmt, 0, (s0 if rows > 1 else max(cols, 1)), x
    if (s0 == 1 or rows <= 1) and (cols <= 1 or s1 >= max(rows, 1)):
        return mem, fmt, 1, (s1 if cols > 1 else max(rows, 1)), x
    x = A.contiguous(x)
    return A.memory(x), fmt, 0, max(cols, 1), x


def _widen_to_fp16(x, fmt):
    """FP8 data widened exactly to FP16: what pre-sm_89 GPUs compute FP8 products with."""
    x = A.contiguous(x)
    out = A.empty(x, tuple(x.shape), "f16")
    C.decode(A.memory(x), A.FORMATS[fmt], A.memory(out), C.FORMAT_F16, int(np.prod(x.shape)), C.ISA_AUTO, 0)
    return out


def _scale_format(s):
    if A.is_torch(s) or isinstance(s, np.ndarray):
        try:
            return A.format_of(s)
        except TypeError:
            return None
    return None


def _swizzled_size(rows, cols):
    return -(-rows // 128) * 128 * (-(-cols // 4) * 4)


def _unswizzle(flat, rows, cols):
    """(rows, cols) scales from cuBLAS's block-scaling layout (what torch._scaled_mm takes on
    CUDA, torchao's to_blocked): 128x4 tiles, rows-of-tiles major, each tile stored with
    element (r, c) at (r % 32) * 16 + (r // 32) * 4 + c."""
    flat = flat.numpy() if A.is_torch(flat) else flat
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    tile = (r // 128) * (-(-cols // 4)) + c // 4
    return flat[tile * 512 + (r % 32) * 16 + (r % 128) // 32 * 4 + c % 4]


def _bytes(s):
    """E8M0 scales as contiguous bytes (PyTorch copies no float8_e8m0fnu tensor)."""
    if A.is_torch(s):
        return s.view(A.torch.uint8).contiguous()
    return np.ascontiguousarray(s).view(np.uint8)


def _float_scales(s, like, shape):
    """Contiguous float32 scales of like's kind; float32 tensors and arrays are used in place."""
    if A.is_torch(s) and s.dtype == A.torch.float32 and s.is_contiguous():
        return s
    if isinstance(s, np.ndarray) and s.dtype == np.float32 and s.flags.c_contiguous:
        return s
    return A.as_float32(s, like).reshape(shape)


def _shape_size(s):
    if A.is_torch(s):
        return tuple(s.shape), s.numel()
    if isinstance(s, np.ndarray):
        return s.shape, s.size
    return (), 1


def _scaling(scale_a, scale_b, m, n, k, like):
    """Scaling mode and contiguous scale arrays from the shapes of the scales (torch's rules:
    one value each: per tensor; (M, 1) and (1, N): row-wise; (M, ceil(K/128)) and
    (ceil(K/128), ceil(N/128)): DeepSeek 1x128 / 128x128 blocks; E8M0 dtype, (M, ceil(K/32)) and
    (ceil(K/32), N): MXFP8). Each scale is indexed like its operand (scale_b like b, K x N)."""
    if scale_a is None and scale_b is None:
        return C.SCALING_NONE, None, None
    if scale_a is None or scale_b is None:
        raise ValueError("give both scale_a and scale_b, or neither")
    fa, fb = _scale_format(scale_a), _scale_format(scale_b)
    kb32 = (k + 31) // 32
    if fa == "e8m0" or fb == "e8m0":
        if fa != "e8m0" or fb != "e8m0":
            raise ValueError("MX scaling needs E8M0 scales for both operands")
        sa_shape, sb_shape = tuple(scale_a.shape), tuple(scale_b.shape)
        if sa_shape == (m, kb32) and sb_shape == (kb32, n):
            return C.SCALING_MX, _bytes(scale_a), _bytes(scale_b)
        if sa_shape == (_swizzled_size(m, kb32),) and sb_shape == (_swizzled_size(n, kb32),):
            sa = _unswizzle(_bytes(scale_a), m, kb32)
            sb = np.ascontiguousarray(_unswizzle(_bytes(scale_b), n, kb32).T)
            return C.SCALING_MX, sa, sb
        raise ValueError(f"MX scales must be ({m}, {kb32}) and ({kb32}, {n}) (32 elements of K each), or 1-D in "
                         f"cuBLAS's swizzled layout ({_swizzled_size(m, kb32)} and {_swizzled_size(n, kb32)}), got "
                         f"{sa_shape} and {sb_shape}")
    sa_shape, na = _shape_size(scale_a)
    sb_shape, nb = _shape_size(scale_b)
    kb, nbk = (k + 127) // 128, (n + 127) // 128
    if na == 1 and nb == 1:
        return C.SCALING_TENSOR, _float_scales(scale_a, like, (1,)), _float_scales(scale_b, like, (1,))
    if (na == 1 or sa_shape == (m, 1)) and (nb == 1 or sb_shape == (1, n)):
        sa = _float_scales(scale_a, like, (na,))
        sb = _float_scales(scale_b, like, (nb,))
        # a per-tensor scale beside a row-wise one is the same value in every row
        sa = sa.reshape(1).expand(m).contiguous() if na == 1 and A.is_torch(sa) else (np.repeat(sa.reshape(1), m) if na == 1 else sa)
        sb = sb.reshape(1).expand(n).contiguous() if nb == 1 and A.is_torch(sb) else (np.repeat(sb.reshape(1), n) if nb == 1 else sb)
        return C.SCALING_ROWWISE, sa, sb
    if sa_shape == (m, kb) and sb_shape == (kb, nbk):
        return C.SCALING_BLOCK, _float_scales(scale_a, like, sa_shape), _float_scales(scale_b, like, sb_shape)
    raise ValueError(
        f"cannot tell the scaling from scale shapes {sa_shape} and {sb_shape} for a {m}x{k} by {k}x{n} product: "
        f"per tensor (1 value each), row-wise (({m}, 1) and (1, {n})), blocks (({m}, {kb}) and ({kb}, {nbk})), "
        f"or MX (E8M0 ({m}, {kb32}) and ({kb32}, {n}))")


def scaled_mm(a, b, scale_a=None, scale_b=None, bias=None, scale_result=None, out_dtype=None, use_fast_accum=False,
              *, gpu="h100", accumulation=None, c=None, accumulator="fp32", a_format=None, b_format=None,
              isa="auto", threads=None):
    """D = scale_result * ((scale_a * scale_b) * (a @ b) + bias), with `gpu`'s tensor-core numerics.

    The signature and conventions of torch._scaled_mm (a is M x K, b is K x N, any layout with one
    unit stride is read in place; out_dtype defaults to a's dtype; scale_result multiplies, as on
    CUDA, and applies to FP8 outputs only), for numpy arrays (ml_dtypes dtypes) and torch CPU
    tensors. Beyond torch:

    - gpu: "h100" (default), "h200", "b200", "ada", "l40s", "a100", "a30", "a2", "v100" or "sm_NN";
      None with accumulation "ideal" or "exact" only. FP8 on GPUs before sm_89 runs as FP16
      ("hybrid FP16"), as FP8 training stacks do there.
    - accumulation: "fast" | "promoted" | "promoted=N" | "ideal" | "exact"; by default "fast" when
      use_fast_accum else "promoted" (every 128 elements of K, as CUTLASS and DeepGEMM).
    - scales: per tensor, row-wise ((M, 1), (1, N)), DeepSeek blocks ((M, ceil(K/128)) float32
      1x128 tiles and (ceil(K/128), ceil(N/128)) 128x128 blocks; accumulation must be promoted
      with an interval dividing 128, ideal or exact) or MXFP8 (E8M0 (M, ceil(K/32)), (ceil(K/32), N)).
    - c: float32 M x N starting accumulator (wgmma's D = A @ B + C), before the scales.
    - accumulator: "fp32" or "fp16" (the tensor core's accumulator format).
    - a_format / b_format: the FP8 format of uint8 operands that hold bit patterns.
    - operands may also be float16, bfloat16 or float32 (read as TF32) tensors, both alike.
    - isa: "auto", "scalar", "avx2", "avx512", "neon"; threads: None (all, or 1 for small
      products) or a count. Neither changes a bit of the result.
    """
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise ValueError(f"a and b must be matrices, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    m, k = a.shape
    k2, n = b.shape
    if k != k2:
        raise ValueError(f"a and b shapes cannot be multiplied ({m}x{k} and {k2}x{n})")
    pa, fa, ta, lda, keep_a = _operand(a, a_format)
    pb, fb, tb, ldb, keep_b = _operand(b, b_format)
    fp8 = fa in ("e4m3", "e5m2")
    if fp8 != (fb in ("e4m3", "e5m2")) or (not fp8 and fa != fb):
        raise ValueError(f"operands {fa} and {fb} cannot meet in one tensor-core product")

    acc_code, interval, model, widen = _numerics(gpu, accumulation, bool(use_fast_accum), fa, fb, accumulator)
    if widen:
        keep_a, keep_b = _widen_to_fp16(keep_a, fa), _widen_to_fp16(keep_b, fb)
        pa, fa, ta, lda = A.memory(keep_a), "f16", 0, max(k, 1)
        pb, fb, tb, ldb = A.memory(keep_b), "f16", 0, max(n, 1)

    mode, sa, sb = _scaling(scale_a, scale_b, m, n, k, a)
    if mode == C.SCALING_BLOCK and (acc_code == C.TC_ACCUM_FAST or (acc_code == C.TC_ACCUM_PROMOTED and 128 % interval)):
        raise ValueError("block scales need accumulation promoted (every N dividing 128), ideal or exact: the "
                         "scales apply to each 128-long partial")
    psa = psb = pma = pmb = None
    if mode == C.SCALING_MX:
        pma, pmb = A.memory(sa), A.memory(sb)
    elif mode != C.SCALING_NONE:
        psa, psb = A.memory(sa), A.memory(sb)

    out_fmt = A.format_of(a, a_format) if out_dtype is None else A.dtype_format(out_dtype)
    if out_fmt not in _OUT_FORMATS:
        raise ValueError(f"out_dtype must be float32, float16, bfloat16, float8_e4m3fn or float8_e5m2, got {out_fmt}")
    d_scale = 1.0
    if scale_result is not None and out_fmt in ("e4m3", "e5m2"):
        d_scale = float(scale_result.reshape(-1)[0]) if hasattr(scale_result, "reshape") else float(scale_result)
    bias_f = None if bias is None else A.as_float32(bias, a).reshape(-1)
    if bias_f is not None and bias_f.shape[0] != n:
        raise ValueError(f"bias must have {n} values, got {bias_f.shape[0]}")
    c_f = None
    if c is not None:
        c_f = A.as_float32(c, a)
        if tuple(c_f.shape) != (m, n):
            raise ValueError(f"c must be {m}x{n}, got {tuple(c_f.shape)}")
    out = A.empty(a, (m, n), out_fmt)
    if threads is None:
        threads = 1 if m * n * k <= _SMALL else 0
    C.tc_gemm(m, n, k, pa, A.FORMATS[fa], ta, lda, pb, A.FORMATS[fb], tb, ldb,
              None if c_f is None else A.memory(c_f), mode, psa, psb, pma, pmb, model, acc_code, interval,
              None if bias_f is None else A.memory(bias_f), A.memory(out), A.FORMATS[out_fmt], max(n, 1), d_scale,
              isa_code(isa), threads)
    return out
