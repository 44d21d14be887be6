"""scaled_mm against torch 2.13's CPU _scaled_mm (where the numerics agree), against exact
references computed here, and across SIMD paths, thread counts and layouts."""
import ml_dtypes
import numpy as np
import pytest
import torch

import fp8emu
from conftest import ISAS

E4M3, E5M2 = ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2


def fp8(rng, shape, fmt=E4M3, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32).astype(fmt)


def small_integers(rng, shape):
    """E4M3 integers in [-16, 16]: every sum of up to 2^16 products of them is exact in FP32,
    so any summation order gives the same bits."""
    return rng.integers(-16, 17, shape).astype(np.float32).astype(E4M3)


def to_torch(x):
    dt = {np.dtype(E4M3): torch.float8_e4m3fn, np.dtype(E5M2): torch.float8_e5m2}[x.dtype]
    return torch.from_numpy(np.ascontiguousarray(x).view(np.uint8)).view(dt)


def bits(x):
    x = x.numpy() if isinstance(x, torch.Tensor) and x.dtype == torch.float32 else x
    if isinstance(x, torch.Tensor):
        return x.view(torch.int16 if x.element_size() == 2 else torch.uint8).numpy()
    return np.ascontiguousarray(x).view(np.uint8)


@pytest.mark.parametrize("out_dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("rowwise", [False, True])
def test_ideal_accumulation_equals_torch_cpu(out_dtype, rowwise):
    """torch's CPU _scaled_mm scales the operands, multiplies in FP32 and adds the bias; ours
    scales the FP32 accumulator. With power-of-two scales and exact sums both are exact
    before the final rounding, so the bits must agree."""
    rng = np.random.default_rng(11)
    m, k, n = 37, 200, 29
    a, b = small_integers(rng, (m, k)), small_integers(rng, (n, k)).T  # b column-major, as torch on CUDA wants
    if rowwise:
        sa = torch.from_numpy(2.0 ** rng.integers(-4, 5, (m, 1))).float()
        sb = torch.from_numpy(2.0 ** rng.integers(-4, 5, (1, n))).float()
    else:
        sa, sb = torch.tensor(0.25), torch.tensor(8.0)
    bias = torch.from_numpy(rng.standard_normal(n).astype(np.float32))
    ta, tb = to_torch(a), to_torch(b.T).t()
    want = torch._scaled_mm(ta, tb, sa, sb, bias=bias, out_dtype=out_dtype)
    got = fp8emu.scaled_mm(ta, tb, sa, sb, bias=bias, out_dtype=out_dtype, accumulation="ideal", gpu=None)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(bits(got), bits(want))


def test_fp8_output_scale_multiplies_where_torch_cpu_divides():
    """CUDA (cuBLASLt's D scale) multiplies the result by scale_result; torch 2.13's CPU
    emulation divides by it. fp8emu follows CUDA: ours(s) equals torch CPU(1/s)."""
    rng = np.random.default_rng(12)
    a, b = small_integers(rng, (16, 64)), small_integers(rng, (64, 24))
    ta, tb = to_torch(a), to_torch(b)
    one = torch.tensor(1.0)
    got = fp8emu.scaled_mm(ta, tb, one, one, scale_result=torch.tensor(0.125), out_dtype=torch.float8_e4m3fn,
                           accumulation="ideal", gpu=None)
    want = torch._scaled_mm(ta, tb, one, one, scale_result=torch.tensor(8.0), out_dtype=torch.float8_e4m3fn)
    assert np.array_equal(bits(got), bits(want))
    unscaled = fp8emu.scaled_mm(ta, tb, one, one, out_dtype=torch.float32, accumulation="ideal", gpu=None)
    assert np.array_equal(got.float().numpy(), (unscaled * 0.125).to(torch.float8_e4m3fn).float().numpy())


def test_ideal_accumulation_close_to_torch_cpu_on_general_data():
    """On general data only the order of the FP32 sums and where the scales are applied differ."""
    rng = np.random.default_rng(13)
    m, k, n = 64, 512, 48
    a, b = fp8(rng, (m, k)), fp8(rng, (k, n), E5M2)
    sa, sb = torch.tensor(0.37), torch.tensor(1.9)
    want = torch._scaled_mm(to_torch(a), to_torch(b), sa, sb, out_dtype=torch.float32).numpy()
    got = fp8emu.scaled_mm(a, b, 0.37, 1.9, out_dtype=np.float32, accumulation="ideal", gpu=None)
    bound = 2 * k * 2.0 ** -24 * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))) * 0.37 * 1.9
    assert np.all(np.abs(got.astype(np.float64) - want) <= bound + 1e-30)


def test_exact_accumulation_is_the_float64_product_rounded_once():
    """E4M3 products are multiples of 2^-18 below 2^18: numpy's float64 matmul sums them
    exactly for K <= 2^16, in any order; rounding that to FP32 is the exact result."""
    rng = np.random.default_rng(14)
    for m, k, n in [(1, 1, 1), (7, 1000, 5), (33, 129, 17)]:
        a, b = fp8(rng, (m, k), scale=50), fp8(rng, (k, n), scale=0.01)
        want = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
        got = fp8emu.scaled_mm(a, b, out_dtype=np.float32, accumulation="exact", gpu=None)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def _plain(a32, b32):
    acc = np.zeros((a32.shape[0], b32.shape[1]), np.float32)
    for kk in range(a32.shape[1]):
        acc = acc + a32[:, kk:kk + 1] * b32[kk:kk + 1, :]
    return acc


def test_ideal_accumulation_is_the_fp32_chain_in_k_order():
    rng = np.random.default_rng(15)
    a, b = fp8(rng, (9, 300), scale=20), fp8(rng, (300, 11), scale=3)
    got = fp8emu.scaled_mm(a, b, out_dtype=np.float32, accumulation="ideal", gpu=None)
    assert np.array_equal(got.view(np.uint32), _plain(a.astype(np.float32), b.astype(np.float32)).view(np.uint32))


def test_deepseek_block_scales_with_ideal_accumulation():
    """1x128 / 128x128 power-of-two block scales: acc = fma(sa*sb, partial, acc) per block."""
    rng = np.random.default_rng(16)
    m, k, n = 5, 300, 140
    kb, nb = 3, 2
    a, b = fp8(rng, (m, k), scale=10), fp8(rng, (k, n))
    sa = (2.0 ** rng.integers(-3, 4, (m, kb))).astype(np.float32)
    sb = (2.0 ** rng.integers(-3, 4, (kb, nb))).astype(np.float32)
    got = fp8emu.scaled_mm(a, b, sa, sb, out_dtype=np.float32, accumulation="ideal", gpu=None)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    acc = np.zeros((m, n), np.float32)
    cols = np.arange(n) // 128
    for blk in range(kb):
        part = _plain(a32[:, blk * 128:(blk + 1) * 128], b32[blk * 128:(blk + 1) * 128])
        acc = acc + part * (sa[:, blk:blk + 1] * sb[blk, cols][None, :])
    assert np.array_equal(got.view(np.uint32), acc.view(np.uint32))


def test_block_and_mx_scales_that_are_one_power_of_two_equal_per_tensor_scaling():
    rng = np.random.default_rng(17)
    m, k, n = 40, 256, 70
    a, b = fp8(rng, (m, k)), fp8(rng, (k, n))
    for acc in ("promoted", "promoted=32", "ideal", "exact"):
        want = fp8emu.scaled_mm(a, b, 4.0, 0.5, out_dtype=np.float32, accumulation=acc)
        blocks = fp8emu.scaled_mm(a, b, np.full((m, 2), 4.0, np.float32), np.full((2, 1), 0.5, np.float32),
                                  out_dtype=np.float32, accumulation=acc)
        assert np.array_equal(blocks.view(np.uint32), want.view(np.uint32)), acc
    e8m0 = ml_dtypes.float8_e8m0fnu
    for acc in ("fast", "promoted", "ideal", "exact"):
        want = fp8emu.scaled_mm(a, b, 4.0, 0.5, out_dtype=np.float32, accumulation=acc)
        mx = fp8emu.scaled_mm(a, b, np.full((m, 8), 4.0, np.float32).astype(e8m0), np.full((8, n), 0.5, np.float32).astype(e8m0),
                              out_dtype=np.float32, accumulation=acc)
        assert np.array_equal(mx.view(np.uint32), want.view(np.uint32)), acc


SCALINGS = ["none", "tensor", "rowwise", "block", "mx"]


def problem(rng, scaling, m=45, k=300, n=37):
    a, b = fp8(rng, (m, k), scale=30), fp8(rng, (k, n), E5M2, scale=0.02)
    if scaling == "none":
        return a, b, None, None
    if scaling == "tensor":
        return a, b, np.float32(0.3), np.float32(1.7)
    if scaling == "rowwise":
        return a, b, rng.random((m, 1)).astype(np.float32) + 0.5, rng.random((1, n)).astype(np.float32) + 0.5
    if scaling == "block":
        return a, b, rng.random((m, 3)).astype(np.float32) + 0.5, rng.random((3, 1)).astype(np.float32) + 0.5
    e = ml_dtypes.float8_e8m0fnu
    return a, b, (2.0 ** rng.integers(-5, 6, (m, 10))).astype(np.float32).astype(e), \
        (2.0 ** rng.integers(-5, 6, (10, n))).astype(np.float32).astype(e)


NUMERICS = [("h100", "fast"), ("h100", "promoted"), ("b200", "promoted=64"), ("ada", "fast"), ("a100", "promoted"),
            (None, "ideal"), (None, "exact")]
# block scales need a partial per block (not fast accumulation); MX scales need FP8 tensor cores
CONFIGS = [(s, g, acc) for s in SCALINGS for g, acc in NUMERICS
           if not (s == "block" and acc == "fast") and not (s == "mx" and g == "a100")]


@pytest.mark.parametrize("scaling,gpu,accumulation", CONFIGS)
def test_every_isa_thread_count_and_layout_gives_the_same_bits(scaling, gpu, accumulation):
    rng = np.random.default_rng(hash((scaling, gpu, accumulation)) % 2**32)
    a, b, sa, sb = problem(rng, scaling)
    ref = fp8emu.scaled_mm(a, b, sa, sb, out_dtype=np.float32, gpu=gpu, accumulation=accumulation, isa="scalar",
                           threads=1)
    assert np.all(np.isfinite(ref))
    for isa in ISAS:
        for threads in (1, 2, 3):
            got = fp8emu.scaled_mm(a, b, sa, sb, out_dtype=np.float32, gpu=gpu, accumulation=accumulation, isa=isa,
                                   threads=threads)
            assert np.array_equal(got.view(np.uint32), ref.view(np.uint32)), (isa, threads)
    # the same operands in the other layouts, and as torch tensors
    at, bt = np.asfortranarray(a), np.asfortranarray(b)
    assert at.strides[0] == 1
    got = fp8emu.scaled_mm(at, bt, sa, sb, out_dtype=np.float32, gpu=gpu, accumulation=accumulation)
    assert np.array_equal(got.view(np.uint32), ref.view(np.uint32))
    tsa = tsb = None
    if scaling == "mx":
        tsa = torch.from_numpy(sa.view(np.uint8)).view(torch.float8_e8m0fnu)
        tsb = torch.from_numpy(sb.view(np.uint8)).view(torch.float8_e8m0fnu)
    elif sa is not None:
        tsa, tsb = torch.from_numpy(np.asarray(sa, np.float32)), torch.from_numpy(np.asarray(sb, np.float32))
    got = fp8emu.scaled_mm(to_torch(a), to_torch(b), tsa, tsb, out_dtype=torch.float32, gpu=gpu,
                           accumulation=accumulation)
    assert np.array_equal(got.numpy().view(np.uint32), ref.view(np.uint32))


def test_fast_accumulation_on_h100_keeps_13_fraction_bits():
    """Hopper FP8 blocks truncate to 13 bits below the alignment point: with K <= 32 (one block)
    the FP32 result has its low 10 mantissa bits zero; torch's CPU product does not."""
    rng = np.random.default_rng(18)
    a, b = fp8(rng, (64, 32)), fp8(rng, (32, 64))
    d = fp8emu.scaled_mm(a, b, out_dtype=np.float32, use_fast_accum=True)
    assert np.all(d.view(np.uint32) & 0x3FF == 0)
    ideal = fp8emu.scaled_mm(a, b, out_dtype=np.float32, accumulation="ideal", gpu=None)
    assert np.any(ideal.view(np.uint32) & 0x3FF)


def test_defaults_and_output_types():
    rng = np.random.default_rng(19)
    a, b = fp8(rng, (8, 64)), fp8(rng, (64, 16))
    assert fp8emu.scaled_mm(a, b).dtype == np.dtype(E4M3)  # out_dtype defaults to a's dtype, as torch
    d32 = fp8emu.scaled_mm(a, b, out_dtype=np.float32)
    assert np.array_equal(fp8emu.scaled_mm(a, b, use_fast_accum=False, out_dtype=np.float32).view(np.uint32),
                          fp8emu.scaled_mm(a, b, accumulation="promoted", out_dtype=np.float32).view(np.uint32))
    assert np.array_equal(fp8emu.scaled_mm(a, b, out_dtype=ml_dtypes.bfloat16).view(np.uint16),
                          d32.astype(ml_dtypes.bfloat16).view(np.uint16))
    assert np.array_equal(fp8emu.scaled_mm(a, b, out_dtype=np.float16), d32.astype(np.float16))
    assert np.array_equal(fp8emu.scaled_mm(a, b, out_dtype=E5M2).view(np.uint8),
                          np.clip(d32, -57344, 57344).astype(E5M2).view(np.uint8))
    raw = fp8emu.scaled_mm(a.view(np.uint8), b.view(np.uint8), a_format="e4m3", b_format="e4m3", out_dtype=np.float32)
    assert np.array_equal(raw, d32)
    c = rng.standard_normal((8, 16)).astype(np.float32)
    with_c = fp8emu.scaled_mm(a, b, out_dtype=np.float32, accumulation="exact", gpu=None, c=c)
    assert np.array_equal(with_c, ((a.astype(np.float64) @ b.astype(np.float64)) + c).astype(np.float32))


def test_bad_arguments_raise_one_clear_error():
    a, b = np.zeros((4, 8), E4M3), np.zeros((8, 3), E4M3)
    with pytest.raises(ValueError, match="cannot be multiplied"):
        fp8emu.scaled_mm(a, np.zeros((7, 3), E4M3))
    with pytest.raises(ValueError, match="unknown GPU"):
        fp8emu.scaled_mm(a, b, gpu="h300")
    with pytest.raises(ValueError, match="unknown accumulation"):
        fp8emu.scaled_mm(a, b, accumulation="promoted=0")
    with pytest.raises(ValueError, match="cannot tell the scaling"):
        fp8emu.scaled_mm(a, b, np.ones((4, 2), np.float32), np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="need a gpu"):
        fp8emu.scaled_mm(a, b, gpu=None)
    with pytest.raises(ValueError, match="scale"):
        fp8emu.scaled_mm(a, b, np.float32(np.inf), 1.0)
    with pytest.raises(ValueError, match="block scales need"):
        fp8emu.scaled_mm(np.zeros((4, 256), E4M3), np.zeros((256, 3), E4M3), np.ones((4, 2), np.float32),
                         np.ones((2, 1), np.float32), accumulation="fast")
    with pytest.raises(ValueError, match="CPU tensors"):
        fp8emu.scaled_mm(torch.zeros(4, 8, dtype=torch.float8_e4m3fn, device="meta"), torch.zeros(8, 3, dtype=torch.float8_e4m3fn))


def test_mx_scales_in_cublas_swizzled_layout():
    """1-D E8M0 scales in the layout torch._scaled_mm takes on CUDA (torchao's to_blocked, the
    oracle here) give the same bits as the plain (M, K/32) and (K/32, N) arrays."""
    to_blocked = pytest.importorskip("torchao.prototype.mx_formats.utils").to_blocked
    rng = np.random.default_rng(20)
    a, b, sa, sb = problem(rng, "mx", m=150, k=300, n=37)
    plain = fp8emu.scaled_mm(a, b, sa, sb, out_dtype=np.float32, use_fast_accum=True)
    ta = torch.from_numpy(sa.view(np.uint8))
    tb = torch.from_numpy(np.ascontiguousarray(sb.T).view(np.uint8))  # b.t()'s scales, (N, K/32)
    swa = to_blocked(ta).view(torch.float8_e8m0fnu)
    swb = to_blocked(tb).view(torch.float8_e8m0fnu)
    assert swa.dim() == 1 and swa.numel() == 256 * 12
    got = fp8emu.scaled_mm(to_torch(a), to_torch(b), swa, swb, out_dtype=torch.float32, use_fast_accum=True)
    assert np.array_equal(got.numpy().view(np.uint32), plain.view(np.uint32))
