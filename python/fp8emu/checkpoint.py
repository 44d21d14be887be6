"""Dequantisation of DeepSeek-style FP8 checkpoints (safetensors, 128x128 block scales), streaming
and multithreaded, bit-identical to the reference arithmetic: fp8 * scale in FP32, then rounded
to nearest even to BF16 (or F16), or kept in F32."""
import json
import mmap
import os
import struct
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _cfp8 as C
from .cast import isa_code

_FP8 = {"F8_E4M3": C.FORMAT_E4M3, "F8_E5M2": C.FORMAT_E5M2}
_OUT = {"bf16": ("BF16", C.FORMAT_BF16, 2), "f16": ("F16", C.FORMAT_F16, 2), "f32": ("F32", C.FORMAT_F32, 4)}
_SCALE_DTYPES = {"F32": np.dtype("<f4")}
# Rows per call: a multiple of 128 (whole scale blocks) and about 4 Mi elements.
_CHUNK_ELEMENTS = 1 << 22


class _Safetensors:
    """A memory-mapped .safetensors file: its header and each tensor's bytes, never copied."""

    def __init__(self, path):
        self.path = path
        self._file = open(path, "rb")
        size = os.fstat(self._file.fileno()).st_size
        if size < 8:
            raise ValueError(f"{path}: not a safetensors file (too short)")
        self.map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        (n,) = struct.unpack("<Q", self.map[:8])
        if n > size - 8:
            raise ValueError(f"{path}: header length {n} exceeds the file")
        try:
            header = json.loads(bytes(self.map[8:8 + n]))
        except ValueError as e:
            raise ValueError(f"{path}: bad safetensors header ({e})") from None
        self.metadata = header.pop("__metadata__", None)
        self.data_start = 8 + n
        self.tensors = header
        for name, t in header.items():
            b, e = t["data_offsets"]
            if not 0 <= b <= e <= size - self.data_start:
                raise ValueError(f"{path}: tensor {name} lies outside the file")

    def bytes_of(self, name):
        b, e = self.tensors[name]["data_offsets"]
        return memoryview(self.map)[self.data_start + b:self.data_start + e]

    def close(self):
        self.map.close()
        self._file.close()


def _plan(src, out_dtype):
    """Output header entries and the work per tensor: ('copy', name) or ('dequant', name, scale)."""
    entries, work, used_scales = {}, [], set()
    for name, t in src.tensors.items():
        scale = name + "_scale_inv"
        if t["dtype"] in _FP8 and scale in src.tensors:
            shape = t["shape"]
            s = src.tensors[scale]
            if len(shape) != 2:
                raise ValueError(f"{name}: block scales need a 2-D weight, got shape {shape}")
            want = [(shape[0] + 127) // 128, (shape[1] + 127) // 128]
            if s["dtype"] not in _SCALE_DTYPES or s["shape"] != want:
                raise ValueError(f"{scale}: expected F32 {want} (128x128 blocks of {name}), got {s['dtype']} {s['shape']}")
            entries[name] = (_OUT[out_dtype][0], shape, shape[0] * shape[1] * _OUT[out_dtype][2])
            work.append(("dequant", name, scale))
            used_scales.add(scale)
    for name, t in src.tensors.items():
        if name not in entries and name not in used_scales:
            b, e = t["data_offsets"]
            entries[name] = (t["dtype"], t["shape"], e - b)
            work.append(("copy", name))
    order = sorted(work, key=lambda w: src.tensors[w[1]]["data_offsets"][0])
    return entries, order


def _header(entries, order, metadata):
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for w in order:
        dtype, shape, nbytes = entries[w[1]]
        header[w[1]] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # keep the data 8-byte aligned, as the safetensors writer does
    return struct.pack("<Q", len(raw)) + raw


def _dequantize_into(out, src, name, scale, out_format, isa, threads, writer):
    """Dequantises one tensor chunk by chunk; each chunk is written by `writer` (one background
    thread) while the next one is computed, in two alternating buffers."""
    t = src.tensors[name]
    rows, cols = t["shape"]
    q = np.frombuffer(src.bytes_of(name), dtype=np.uint8)
    s = np.frombuffer(src.bytes_of(scale), dtype="<f4").reshape((rows + 127) // 128, (cols + 127) // 128)
    _, code, size = _OUT[out_format]
    step = max(128, (_CHUNK_ELEMENTS // max(cols, 1)) // 128 * 128)
    buffers = [np.empty(min(rows, step) * cols * size, dtype=np.uint8) for _ in range(2)]
    pending = [None, None]
    for i, r0 in enumerate(range(0, rows, step)):
        r = min(step, rows - r0)
        if pending[i % 2] is not None:
            pending[i % 2].result()  # this buffer's previous chunk is on disk
        chunk = buffers[i % 2][:r * cols * size]
        C.dequantize(q[r0 * cols:(r0 + r) * cols], _FP8[t["dtype"]], r, cols, C.GRANULARITY_BLOCK128,
                     np.ascontiguousarray(s[r0 // 128:(r0 + r + 127) // 128]), None, chunk, code, isa, threads)
        pending[i % 2] = writer.submit(out.write, chunk)
    for p in pending:
        if p is not None:
            p.result()


def dequantize_checkpoint(in_path, out_path, dtype="bf16", *, isa="auto", threads=0):
    """Writes a copy of the safetensors file `in_path` to `out_path` in which every FP8 tensor W
    (F8_E4M3 or F8_E5M2, 2-D) that has a companion `W_scale_inv` (F32, ceil(rows/128) x
    ceil(cols/128): DeepSeek-V3's multipliers, despite the name) is replaced by
    W[i, j] * scale_inv[i // 128, j // 128] computed in FP32 and stored as `dtype` ("bf16" or "f16"
    rounded to nearest even, or "f32"). The scale tensors are dropped; every other tensor, the
    names and the metadata are copied. Reads through a memory map and writes tensor by tensor in
    chunks of about 4 Mi elements (two in memory: one is written while the next is computed), on
    `threads` OpenMP threads (0: all).
    The output is written to a temporary file beside `out_path` and renamed, so it is whole or
    absent. Returns the names of the dequantised tensors."""
    if dtype not in _OUT:
        raise ValueError(f"dtype must be one of {', '.join(_OUT)}, got {dtype!r}")
    isa = isa_code(isa)
    if os.path.exists(out_path) and os.path.samefile(in_path, out_path):
        raise ValueError("out_path must differ from in_path")
    src = _Safetensors(os.fspath(in_path))
    tmp = os.fspath(out_path) + ".partial"
    try:
        entries, order = _plan(src, dtype)
        with open(tmp, "wb") as out, ThreadPoolExecutor(1) as writer:
            out.write(_header(entries, order, src.metadata))
            for w in order:
                if w[0] == "copy":
                    out.write(src.bytes_of(w[1]))
                else:
                    _dequantize_into(out, src, w[1], w[2], dtype, isa, int(threads), writer)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        src.close()
    return [w[1] for w in order if w[0] == "dequant"]
