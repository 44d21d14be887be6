"""dequantize_checkpoint against the reference arithmetic (fp8 * scale_inv in FP32, then BF16),
written with numpy + ml_dtypes and with torch, on a DeepSeek-style safetensors file."""
import json
import os
import struct

import ml_dtypes
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import fp8emu
import fp8emu.checkpoint as ckpt


def make_checkpoint(path, rng):
    tensors = {}
    for name, (r, c) in {"layers.0.w": (300, 257), "layers.1.w": (128, 128), "tiny": (1, 5)}.items():
        w = torch.from_numpy((rng.standard_normal((r, c)) * 100).astype(np.float32)).to(torch.float8_e4m3fn)
        w.view(torch.uint8)[0, 0] = 0x7F  # a NaN
        tensors[name] = w
        s = rng.random(((r + 127) // 128, (c + 127) // 128)).astype(np.float32) * 1e-2 + 1e-4
        tensors[name + "_scale_inv"] = torch.from_numpy(s)
    tensors["e5"] = torch.from_numpy(rng.standard_normal((130, 3)).astype(np.float32)).to(torch.float8_e5m2)
    tensors["e5_scale_inv"] = torch.tensor([[3.0], [0.5]])
    tensors["norm"] = torch.from_numpy(rng.standard_normal(257).astype(np.float32)).to(torch.bfloat16)
    tensors["unscaled_fp8"] = torch.zeros(4, 4, dtype=torch.float8_e4m3fn)
    save_file(tensors, path, metadata={"format": "pt"})
    return tensors


def reference_numpy(w, s, out=ml_dtypes.bfloat16):
    """The straightforward implementation: decode, broadcast the block scales, multiply, round."""
    r, c = w.shape
    full = np.repeat(np.repeat(s, 128, axis=0), 128, axis=1)[:r, :c]
    return (w.astype(np.float32) * full).astype(out)


@pytest.mark.parametrize("threads", [1, 2])
def test_bits_equal_the_reference_and_everything_else_is_kept(tmp_path, threads, monkeypatch):
    monkeypatch.setattr(ckpt, "_CHUNK_ELEMENTS", 300 * 64)  # several chunks per tensor
    src = make_checkpoint(str(tmp_path / "in.safetensors"), np.random.default_rng(threads))
    names = fp8emu.dequantize_checkpoint(tmp_path / "in.safetensors", tmp_path / "out.safetensors", threads=threads)
    assert sorted(names) == ["e5", "layers.0.w", "layers.1.w", "tiny"]
    out = load_file(str(tmp_path / "out.safetensors"))
    assert sorted(out) == ["e5", "layers.0.w", "layers.1.w", "norm", "tiny", "unscaled_fp8"]
    for name in names:
        w, s = src[name], src[name + "_scale_inv"]
        mlw = w.view(torch.uint8).numpy().view(ml_dtypes.float8_e4m3fn if w.dtype == torch.float8_e4m3fn else ml_dtypes.float8_e5m2)
        want = reference_numpy(mlw, s.numpy())
        assert out[name].dtype == torch.bfloat16
        assert np.array_equal(out[name].view(torch.int16).numpy(), want.view(np.int16)), name
        # the same through torch's own arithmetic (DeepSeek's weight_dequant on a CPU); torch's
        # BF16 NaN is 0xFFFF, ours (and ml_dtypes') the quiet NaN 0x7FC0 with the sign kept
        full = s.repeat_interleave(128, 0).repeat_interleave(128, 1)[:w.shape[0], :w.shape[1]]
        ref = (w.float() * full).to(torch.bfloat16)
        nan = ref.isnan()
        assert torch.equal(out[name].isnan(), nan)
        assert torch.equal(out[name].view(torch.int16)[~nan], ref.view(torch.int16)[~nan])
    assert torch.equal(out["norm"].view(torch.int16), src["norm"].view(torch.int16))
    assert torch.equal(out["unscaled_fp8"].view(torch.uint8), src["unscaled_fp8"].view(torch.uint8))
    raw = (tmp_path / "out.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and json.loads(raw[8:8 + n])["__metadata__"] == {"format": "pt"}


@pytest.mark.parametrize("dtype,np_out", [("f16", np.float16), ("f32", np.float32)])
def test_other_output_types(tmp_path, dtype, np_out):
    src = make_checkpoint(str(tmp_path / "in.safetensors"), np.random.default_rng(5))
    fp8emu.dequantize_checkpoint(tmp_path / "in.safetensors", tmp_path / "out.safetensors", dtype=dtype)
    out = load_file(str(tmp_path / "out.safetensors"))
    w = src["layers.0.w"].view(torch.uint8).numpy().view(ml_dtypes.float8_e4m3fn)
    want = reference_numpy(w, src["layers.0.w_scale_inv"].numpy(), np_out)
    assert np.array_equal(out["layers.0.w"].numpy(), want, equal_nan=True)


def test_a_bad_scale_leaves_no_output(tmp_path):
    save_file({"w": torch.zeros(256, 256, dtype=torch.float8_e4m3fn), "w_scale_inv": torch.ones(3, 2)},
              str(tmp_path / "in.safetensors"))
    (tmp_path / "out.safetensors").write_bytes(b"keep me")
    with pytest.raises(ValueError, match="128x128 blocks"):
        fp8emu.dequantize_checkpoint(tmp_path / "in.safetensors", tmp_path / "out.safetensors")
    assert (tmp_path / "out.safetensors").read_bytes() == b"keep me"
    assert os.listdir(tmp_path) == sorted(os.listdir(tmp_path)) and len(os.listdir(tmp_path)) == 2
    with pytest.raises(ValueError, match="differ"):
        fp8emu.dequantize_checkpoint(tmp_path / "in.safetensors", tmp_path / "in.safetensors")
