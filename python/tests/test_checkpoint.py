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


@pytest.mark.parametrize("threads", [1, 2])
def test_an_error_while_writing_leaves_no_output(tmp_path, threads, monkeypatch):
    """A non-finite scale in the last block fails that piece after others are written: the
    kernel's error reaches the caller, the existing file is kept and the partial one removed."""
    monkeypatch.setattr(ckpt, "_CHUNK_ELEMENTS", 256 * 128)
    s = torch.ones(4, 2)
    s[3, 1] = float("nan")
    save_file({"norm": torch.ones(3000, dtype=torch.bfloat16), "w": torch.zeros(512, 256, dtype=torch.float8_e4m3fn),
               "w_scale_inv": s}, str(tmp_path / "in.safetensors"))
    (tmp_path / "out.safetensors").write_bytes(b"keep me")
    with pytest.raises(ValueError, match="not finite"):
        fp8emu.dequantize_checkpoint(tmp_path / "in.safetensors", tmp_path / "out.safetensors", threads=threads)
    assert (tmp_path / "out.safetensors").read_bytes() == b"keep me"
    assert sorted(os.listdir(tmp_path)) == ["in.safetensors", "out.safetensors"]


@pytest.mark.parametrize("granularity", ["tensor", "row", "block128", "mx32"])
@pytest.mark.parametrize("out", ["f32", "bf16", "f16"])
def test_dequantize_kernel_every_granularity(granularity, out, isa):
    """cfp8_dequantize (the kernel under dequantize_checkpoint and the CLI's dequant): decode(q) * s
    in FP32, rounded to nearest even, against numpy + ml_dtypes, on ragged shapes."""
    from fp8emu import _cfp8 as C
    rng = np.random.default_rng(9)
    rows, cols = 131, 300
    q = rng.integers(0, 256, (rows, cols), dtype=np.uint8)
    q[q == 0x7F] = 0x7E  # no NaN: NaN payloads are checked in the file tests
    q[q == 0xFF] = 0xFE
    code = {"tensor": C.GRANULARITY_TENSOR, "row": C.GRANULARITY_ROW, "block128": C.GRANULARITY_BLOCK128,
            "mx32": C.GRANULARITY_MX32}[granularity]
    shape = {"tensor": (1, 1), "row": (rows, 1), "block128": (2, 3), "mx32": (rows, 10)}[granularity]
    reps = {"tensor": (rows, cols), "row": (1, cols), "block128": (128, 128), "mx32": (1, 32)}[granularity]
    if granularity == "mx32":
        mx = rng.integers(110, 140, shape, dtype=np.uint8)
        s, svals = None, mx.view(ml_dtypes.float8_e8m0fnu).astype(np.float32)
    else:
        mx, s = None, (rng.random(shape) * 3 + 0.01).astype(np.float32)
        svals = s
    full = np.repeat(np.repeat(svals, reps[0], 0), reps[1], 1)[:rows, :cols]
    dt = {"f32": np.float32, "bf16": ml_dtypes.bfloat16, "f16": np.float16}[out]
    want = (q.view(ml_dtypes.float8_e4m3fn).astype(np.float32) * full).astype(dt)
    got = np.empty((rows, cols), dt)
    isa_code = {"scalar": C.ISA_SCALAR, "avx2": C.ISA_AVX2, "avx512": C.ISA_AVX512, "neon": C.ISA_NEON}[isa]
    C.dequantize(q, C.FORMAT_E4M3, rows, cols, code, s, mx, got, {"f32": C.FORMAT_F32, "bf16": C.FORMAT_BF16,
                 "f16": C.FORMAT_F16}[out], isa_code, 2)
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))
