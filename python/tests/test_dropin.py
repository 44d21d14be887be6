"""The torch._scaled_mm drop-in: a test written for an H100 runs unchanged on CPU tensors."""
import pytest
import torch

import fp8emu


def relative_error(fast):
    """A sample FP8 kernel test as written for a GPU: long all-positive dot products, where
    Hopper's fast accumulation (13-bit truncated blocks chained along K) loses precision that
    promotion to FP32 keeps. Only torch APIs appear here."""
    g = torch.Generator().manual_seed(0)
    a = (1 + torch.rand(32, 4096, generator=g)).to(torch.float8_e4m3fn)
    b = (1 + torch.rand(32, 4096, generator=g)).to(torch.float8_e4m3fn).t()
    one = torch.tensor(1.0)
    d = torch._scaled_mm(a, b, one, one, out_dtype=torch.float32, use_fast_accum=fast)
    exact = (a.double() @ b.double())
    return ((d.double() - exact).abs() / exact).max().item()


def test_fast_accumulation_loses_precision_on_hopper(fp8emu_scaled_mm):
    fast, promoted = relative_error(True), relative_error(False)
    assert fast > 1e-2  # H100: the running sum keeps 13 bits per block of 32
    assert promoted < 1e-4  # FP32 promotion every 128


@pytest.mark.parametrize("fp8emu_scaled_mm", ["b200"], indirect=True)
def test_blackwell_fast_accumulation_keeps_fp32_precision(fp8emu_scaled_mm):
    assert fp8emu_scaled_mm["gpu"] == "b200"
    assert relative_error(True) < 1e-4  # B200 FP8 blocks keep 24 bits and add c with an FP32 add


def test_without_the_fixture_torch_cpu_ignores_use_fast_accum():
    """What the fixture fixes: torch's CPU _scaled_mm has no GPU numerics at all."""
    assert relative_error(True) == relative_error(False) < 1e-4


def test_context_manager_routes_every_entry_point_and_restores():
    a = torch.ones(16, 32).to(torch.float8_e4m3fn)
    b = torch.ones(16, 32).to(torch.float8_e4m3fn).t()
    one = torch.tensor(1.0)
    with fp8emu.emulate_scaled_mm(gpu="h100", accumulation="exact") as settings:
        assert settings["accumulation"] == "exact"
        for op in (torch._scaled_mm, torch.ops.aten._scaled_mm):
            d = op(a, b, one, one, scale_result=torch.tensor(0.5), out_dtype=torch.float8_e4m3fn)
            assert d.float().unique().tolist() == [16.0]  # 32 * 0.5: CUDA multiplies by scale_result
    d = torch._scaled_mm(a, b, one, one, scale_result=torch.tensor(0.5), out_dtype=torch.float8_e4m3fn)
    assert d.float().unique().tolist() == [64.0]  # torch's own CPU kernel again (it divides)
