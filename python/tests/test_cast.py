"""Casts against their oracles: ml_dtypes (preset ml-dtypes, decoding), PyTorch's own CPU casts
(preset pytorch), and the PTX satfinite rule written out here (preset cuda-satfinite)."""
import ml_dtypes
import numpy as np
import pytest
import torch

import fp8emu
from conftest import ISAS

ML = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2, "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
      "e5m2fnuz": ml_dtypes.float8_e5m2fnuz, "e8m0": ml_dtypes.float8_e8m0fnu}
TORCH = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2, "e4m3fnuz": torch.float8_e4m3fnuz,
         "e5m2fnuz": torch.float8_e5m2fnuz}
WIDE = {"f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16}


def inputs(src):
    """Every FP16 / BF16 bit pattern; for FP32 2^20 random patterns plus every value within a few
    ulps of each FP8 format's rounding boundaries, powers of two, zeros, Inf and NaN."""
    if src in ("f16", "bf16"):
        return np.arange(1 << 16, dtype=np.uint16).view(WIDE[src])
    rng = np.random.default_rng(7)
    bits = [rng.integers(0, 1 << 32, 1 << 20, dtype=np.uint64).astype(np.uint32)]
    for fmt in ML:
        v = np.arange(256, dtype=np.uint8).view(ML[fmt]).astype(np.float32)
        v = v[np.isfinite(v)]
        mids = np.concatenate([v, (v[:-1].astype(np.float64) + v[1:]) / 2, v * 1.0625]).astype(np.float32)
        b = np.unique(mids.view(np.uint32))
        bits += [(b.astype(np.int64) + d).astype(np.uint32) for d in (-2, -1, 0, 1, 2)] + [b | 0x80000000]
    e = np.arange(0, 256, dtype=np.uint32) << 23
    bits += [e, e | 0x80000000, e | 1, e | 0x7FFFFF, np.array([0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 1], np.uint32)]
    return np.concatenate(bits).astype(np.uint32).view(np.float32)


def same_bits(got, want):
    return np.nonzero(got.view(np.uint8) != want.view(np.uint8))[0]


def ml_dtypes_mismatches(src, fmt, isa):
    x = inputs(src)
    got = fp8emu.cast(x, fmt, preset="ml-dtypes", isa=isa)
    assert got.dtype == ML[fmt] and got.shape == x.shape
    return x, got.view(np.uint8) != x.astype(ML[fmt]).view(np.uint8)


def torch_mismatches(src, fmt, isa):
    x = inputs(src)
    xt = torch.from_numpy(x.view(np.int32)).view(torch.float32) if src == "f32" else \
        torch.from_numpy(x.view(np.int16)).view(torch.float16 if src == "f16" else torch.bfloat16)
    got = fp8emu.cast(xt, fmt, preset="pytorch", isa=isa)
    assert got.dtype == TORCH[fmt]
    return x, (got.view(torch.uint8) != xt.to(TORCH[fmt]).view(torch.uint8)).numpy()


def report(x, bad):
    i = np.nonzero(bad)[0]
    return f"{i.size} mismatches" + (f", first input {x[i[0]]!r}" if i.size else "")


@pytest.mark.parametrize("src", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("fmt", list(ML))
def test_ml_dtypes_preset_matches_ml_dtypes(src, fmt, isa):
    x, bad = ml_dtypes_mismatches(src, fmt, isa)
    assert not bad.any(), report(x, bad)


@pytest.mark.parametrize("src", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("fmt", list(TORCH))
def test_pytorch_preset_matches_torch(src, fmt, isa):
    x, bad = torch_mismatches(src, fmt, isa)
    assert not bad.any(), report(x, bad)


@pytest.mark.parametrize("src", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_cuda_satfinite_is_clamp_then_rne(src, fmt, isa):
    """PTX cvt.rn.satfinite: finite values beyond the largest finite value and +-Inf clamp to it
    (with their sign), NaN stays NaN; everything else rounds to nearest even as ml_dtypes does."""
    x = inputs(src)
    got = fp8emu.cast(x, fmt, preset="cuda-satfinite", isa=isa).astype(np.float64)
    top = float(np.finfo(ML[fmt]).max)
    xf = x.astype(np.float64)
    want = np.clip(xf, -top, top).astype(np.float32).astype(ML[fmt]).astype(np.float64)
    nan = np.isnan(xf)
    assert np.array_equal(np.isnan(got), nan)
    assert np.array_equal(got[~nan], want[~nan])
    assert np.array_equal(np.signbit(got[~nan]), np.signbit(want[~nan]))


@pytest.mark.parametrize("fmt", list(ML))
@pytest.mark.parametrize("to", ["f32", "f16", "bf16"])
def test_decoding_every_byte_matches_ml_dtypes(fmt, to, isa):
    q = np.arange(256, dtype=np.uint8)
    got = fp8emu.cast(q, to, source=fmt, isa=isa)
    assert got.dtype == WIDE[to]
    want = q.view(ML[fmt]).astype(np.float32).astype(WIDE[to])
    g64, w64 = got.astype(np.float64), want.astype(np.float64)
    assert np.array_equal(g64, w64, equal_nan=True)
    assert np.array_equal(np.signbit(g64[~np.isnan(w64)]), np.signbit(w64[~np.isnan(w64)]))
    # and from the ml_dtypes array itself
    assert np.array_equal(fp8emu.cast(q.view(ML[fmt]), to, isa=isa).astype(np.float64), g64, equal_nan=True)


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_rounding_toward_zero_and_stochastic_bracket_the_value(fmt, isa):
    """rz keeps the magnitude at or below |x|; stochastic with caller bits r rounds the magnitude
    up exactly when frac + r >= 2^32 (frac: the discarded part in units of 2^-32 ulp)."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(200_000) * 30).astype(np.float32)
    top = float(np.finfo(ML[fmt]).max)
    x = x[np.abs(x) < top]
    lo = fp8emu.cast(x, fmt, rounding="rz", isa=isa).astype(np.float64)
    assert np.all(np.abs(lo) <= np.abs(x)) and np.all(np.sign(lo) * np.sign(x) >= 0)
    # the next magnitude up, from ml_dtypes' own table of the format
    table = np.unique(np.abs(np.arange(256, dtype=np.uint8).view(ML[fmt]).astype(np.float64)))
    table = table[np.isfinite(table)]
    hi_mag = table[np.minimum(np.searchsorted(table, np.abs(lo), side="right"), len(table) - 1)]
    r = rng.integers(0, 1 << 32, x.size, dtype=np.uint64).astype(np.uint32)
    got = fp8emu.cast(x, fmt, rounding="stochastic", random_bits=r, isa=isa).astype(np.float64)
    frac = np.floor((np.abs(x) - np.abs(lo)) / (hi_mag - np.abs(lo)) * 2.0 ** 32)
    up = frac + r.astype(np.float64) >= 2.0 ** 32
    want = np.where(up, hi_mag, np.abs(lo)) * np.where(np.signbit(x), -1, 1)
    assert np.array_equal(got, want)


def test_stochastic_seed_is_the_documented_hash():
    """cast(seed=s) uses cfp8_stochastic_bits(s, i), written out here from the header's formula."""
    def mix32(v):
        v = v.astype(np.uint64)
        v ^= v >> 16; v = (v * 0x7FEB352D) & 0xFFFFFFFF
        v ^= v >> 15; v = (v * 0x846CA68B) & 0xFFFFFFFF
        v ^= v >> 16
        return v
    seed = 0x123456789ABCDEF
    i = np.arange(10_000, dtype=np.uint64)
    k = np.uint64(seed & 0xFFFFFFFF) ^ mix32(np.array([(seed >> 32) + 0x632BE5AB], np.uint64) & 0xFFFFFFFF)[0]
    bits = mix32(((i & 0xFFFFFFFF) * 0x9E3779B9 & 0xFFFFFFFF) ^ ((i >> 32) * 0x85EBCA6B & 0xFFFFFFFF) ^ k).astype(np.uint32)
    x = np.random.default_rng(1).standard_normal(i.size).astype(np.float32)
    a = fp8emu.cast(x, "e4m3", rounding="stochastic", seed=seed)
    b = fp8emu.cast(x, "e4m3", rounding="stochastic", random_bits=bits)
    assert np.array_equal(a.view(np.uint8), b.view(np.uint8))


def test_parallel_split_and_every_isa_agree():
    """Above the parallel threshold the work is split over threads: same bits for any count."""
    x = np.random.default_rng(5).standard_normal(3_000_001).astype(np.float32) * 500
    ref = fp8emu.cast(x, "e4m3", isa="scalar", threads=1, rounding="stochastic", seed=9)
    for isa in ISAS:
        for threads in (1, 2, 3):
            got = fp8emu.cast(x, "e4m3", isa=isa, threads=threads, rounding="stochastic", seed=9)
            assert np.array_equal(got.view(np.uint8), ref.view(np.uint8)), (isa, threads)


def test_types_and_errors():
    t = torch.tensor([[1.0, 2.5], [-3.0, 1000.0]])
    q = fp8emu.cast(t, "e4m3")
    assert q.dtype == torch.float8_e4m3fn and q.shape == (2, 2) and q.float()[1, 1] == 448
    back = fp8emu.cast(q, "bf16")
    assert back.dtype == torch.bfloat16 and back[0, 1] == 2.5
    nc = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]  # not contiguous
    assert np.array_equal(fp8emu.cast(nc, "e5m2").astype(np.float32), nc.astype(ml_dtypes.float8_e5m2).astype(np.float32))
    with pytest.raises(ValueError, match="unknown format"):
        fp8emu.cast(t, "e3m4")
    with pytest.raises(ValueError, match="unknown preset"):
        fp8emu.cast(t, "e4m3", preset="cuda")
    with pytest.raises(TypeError, match="unsupported dtype"):
        fp8emu.cast(np.zeros(3), "e4m3")  # float64: rounding it through float32 would round twice
    with pytest.raises(ValueError):
        fp8emu.cast(t, "e4m3", rounding="up")  # E8M0 only
