"""fp8emu.nn.Linear: its quantisation against an oracle written here, and its three products
against exact references."""
import ml_dtypes
import numpy as np
import pytest
import torch

import fp8emu
from fp8emu.nn import RECIPES, Linear

FMT = {"e4m3": (ml_dtypes.float8_e4m3fn, 448.0), "e5m2": (ml_dtypes.float8_e5m2, 57344.0)}


def quantize_per_tensor(x, fmt):
    """s = amax / max_finite, q = satfinite(rne(x / s)) with the division in FP32."""
    dt, top = FMT[fmt]
    x = x.astype(np.float32)
    s = np.float32(np.abs(x).max() / np.float32(top))
    q = np.clip(x / s, -top, top).astype(dt)
    return q.astype(np.float64), np.float64(s)


def test_current_scaling_with_exact_accumulation_matches_the_oracle():
    torch.manual_seed(0)
    layer = Linear(96, 40, recipe="current", accumulation="exact")
    x = torch.randn(12, 96, requires_grad=True)
    y = layer(x)
    dy = torch.randn(12, 40)
    y.backward(dy)
    xn, wn, bn, dyn = x.detach().numpy(), layer.weight.detach().numpy(), layer.bias.detach().numpy(), dy.numpy()
    qx, sx = quantize_per_tensor(xn, "e4m3")
    qw, sw = quantize_per_tensor(wn, "e4m3")
    # exact: FP64 sum of exact products rounded once to FP32, times the FP32 scale product, plus bias
    want = ((qx @ qw.T).astype(np.float32) * np.float32(sx * sw).astype(np.float32) + bn).astype(np.float32)
    assert np.array_equal(y.detach().numpy().view(np.uint32), want.view(np.uint32))
    qg, sg = quantize_per_tensor(dyn, "e5m2")
    qwt, swt = quantize_per_tensor(wn, "e4m3")
    dx = (qg @ qwt).astype(np.float32) * np.float32(sg * swt).astype(np.float32)
    assert np.array_equal(x.grad.numpy().view(np.uint32), dx.astype(np.float32).view(np.uint32))
    dw = (qg.T @ qx).astype(np.float32) * np.float32(sg * sx).astype(np.float32)
    assert np.array_equal(layer.weight.grad.numpy().view(np.uint32), dw.astype(np.float32).view(np.uint32))
    assert torch.equal(layer.bias.grad, dy.sum(0))


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_trains_close_to_fp32(recipe):
    torch.manual_seed(1)
    ref = torch.nn.Linear(256, 64)
    layer = Linear.from_linear(ref, recipe=recipe, gpu="h100")
    x = torch.randn(16, 256)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    for _ in range(2):  # delayed scaling: the second step uses the amax history
        layer.zero_grad(); ref.zero_grad()
        layer(x1).square().sum().backward()
        ref(x2).square().sum().backward()
    rel = lambda a, b: (a - b).norm().item() / b.norm().item()
    bound = 0.15 if recipe == "mxfp8" else 0.1
    assert rel(layer(x1), ref(x2)) < bound
    assert rel(layer.weight.grad, ref.weight.grad) < bound
    assert rel(x1.grad, x2.grad) < bound


def test_blockwise_quantises_activations_in_1x128_tiles():
    """A 1x128 tile with a large value must not change the scale of its neighbours: with
    blockwise scaling, rows other than the outlier's are as accurate as without the outlier."""
    torch.manual_seed(2)
    layer = Linear(256, 32, bias=False, recipe="blockwise", accumulation="exact")
    clean = torch.randn(4, 256)
    spiked = clean.clone()
    spiked[0, 3] = 1e4
    assert torch.equal(layer(spiked).detach()[1:], layer(clean).detach()[1:])
    # per-tensor scaling, by contrast, coarsens every row
    current = Linear.from_linear(layer, recipe="current", accumulation="exact")
    assert not torch.equal(current(spiked).detach()[1:], current(clean).detach()[1:])


def test_bad_recipe():
    with pytest.raises(ValueError, match="unknown recipe"):
        Linear(4, 4, recipe="fp4")
