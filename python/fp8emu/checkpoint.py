"""Dequantisation of DeepSeek-style FP8 checkpoints (safetensors, 128x128 block scales), streaming
and multithreaded, bit-identical to the reference arithmetic: fp8 * scale in FP32, then rounded
to nearest even to BF16 (or F16), or kept in F32."""
import collections
import json
import mmap
import os
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _cfp8 as C
from .cast import isa_code

_FP8 = {"F8_E4M3": C.FORMAT_E4M3, "F8_E5M2": C.FORMAT_E5M2}
_OUT = {"bf16": ("BF16", C.FORMAT_BF16, 2), "f16": ("F16", C.FORMAT_F16, 2), "f32": ("F32", C.FORMAT_F32, 4)}
_SCALE_DTYPES = {"F32": np.dtype("<f4")}
# Rows per piece: a multiple of 128 (whole scale blocks) and about 1 Mi elements, so that a piece's
# output (2 MiB in BF16) is still in the last-level cache when pwrite copies it into the file.
_CHUNK_ELEMENTS = 1 << 20


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
        try:
            self.map.close()
        except BufferError:
            pass  # an error's traceback still holds views of tensors: the map goes with them
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


def _jobs(src, entries, order, data_start, out_dtype):
    """The output's data as independent pieces, each with its byte offset in the file:
    (offset, "copy", bytes, None) or (offset, "dequant", (q, format, rows, cols, scales), nbytes)."""
    size = _OUT[out_dtype][2]
    offset = data_start
    for w in order:
        if w[0] == "copy":
            data = src.bytes_of(w[1])
            step = 4 * _CHUNK_ELEMENTS  # bytes: no more than a dequantised piece
            for b in range(0, len(data), step):
                yield offset + b, "copy", data[b:b + step], None
        else:
            t = src.tensors[w[1]]
            rows, cols = t["shape"]
            q = np.frombuffer(src.bytes_of(w[1]), dtype=np.uint8)
            s = np.frombuffer(src.bytes_of(w[2]), dtype="<f4").reshape((rows + 127) // 128, (cols + 127) // 128)
            step = max(128, (_CHUNK_ELEMENTS // max(cols, 1)) // 128 * 128)
            for r0 in range(0, rows, step):
                r = min(step, rows - r0)
                yield (offset + r0 * cols * size, "dequant",
                       (q[r0 * cols:(r0 + r) * cols], _FP8[t["dtype"]], r, cols, s[r0 // 128:(r0 + r + 127) // 128]),
                       r * cols * size)
        offset += entries[w[1]][2]


def _pwrite_all(fd, data, offset):
    view = memoryview(data).cast("B")
    while len(view):
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _write_data(fd, jobs, out_dtype, isa, threads):
    """Runs the jobs on threads + 1 workers, at most `threads` of them decoding at a time. Each
    worker decodes its piece into its own buffer and pwrites it at its offset: no buffers handed
    to a writer thread, no OpenMP team idling at a barrier while one writes. The kernel serialises
    writes to one file (the inode's lock), so the spare worker keeps a write going while the
    others decode. Queued: about two pieces per worker."""
    code = _OUT[out_dtype][1]
    decoding = threading.BoundedSemaphore(threads)
    local = threading.local()

    def run(job):
        offset, kind, data, nbytes = job
        if kind == "copy":
            _pwrite_all(fd, data, offset)
            return
        q, fmt, rows, cols, scales = data
        buf = getattr(local, "buf", None)
        if buf is None or len(buf) < nbytes:
            buf = local.buf = np.empty(nbytes, dtype=np.uint8)
        with decoding:
            C.dequantize(q, fmt, rows, cols, C.GRANULARITY_BLOCK128, np.ascontiguousarray(scales), None, buf[:nbytes],
                         code, isa, 1)
        _pwrite_all(fd, buf[:nbytes], offset)

    pool = ThreadPoolExecutor(threads + 1)
    try:
        pending = collections.deque()
        for job in jobs:
            pending.append(pool.submit(run, job))
            if len(pending) > 2 * (threads + 1):
                pending.popleft().result()
        while pending:
            pending.popleft().result()
    finally:
        # on an error, no queued piece starts and the running ones finish before the file closes
        pool.shutdown(wait=True, cancel_futures=True)


def dequantize_checkpoint(in_path, out_path, dtype="bf16", *, isa="auto", threads=0):
    """Writes a copy of the safetensors file `in_path` to `out_path` in which every FP8 tensor W
    (F8_E4M3 or F8_E5M2, 2-D) that has a companion `W_scale_inv` (F32, ceil(rows/128) x
    ceil(cols/128): DeepSeek-V3's multipliers, despite the name) is replaced by
    W[i, j] * scale_inv[i // 128, j // 128] computed in FP32 and stored as `dtype` ("bf16" or "f16"
    rounded to nearest even, or "f32"). The scale tensors are dropped; every other tensor, the
    names and the metadata are copied. Reads through a memory map and writes in pieces of about
    1 Mi elements, each decoded and written at its place in the file by one of `threads` + 1
    workers, `threads` of them decoding at a time (0: as many as OpenMP's thread count).
    The output is written to a temporary file beside `out_path` and renamed, so it is whole or
    absent. Returns the names of the dequantised tensors."""
    if dtype not in _OUT:
        raise ValueError(f"dtype must be one of {', '.join(_OUT)}, got {dtype!r}")
    isa = isa_code(isa)
    threads = max(int(threads), 0) or C.max_threads()
    if os.path.exists(out_path) and os.path.samefile(in_path, out_path):
        raise ValueError("out_path must differ from in_path")
    src = _Safetensors(os.fspath(in_path))
    tmp = os.fspath(out_path) + ".partial"
    try:
        entries, order = _plan(src, dtype)
        header = _header(entries, order, src.metadata)
        with open(tmp, "wb", buffering=0) as out:
            _pwrite_all(out.fileno(), header, 0)
            _write_data(out.fileno(), _jobs(src, entries, order, len(header), dtype), dtype, isa, threads)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        src.close()
    return [w[1] for w in order if w[0] == "dequant"]
