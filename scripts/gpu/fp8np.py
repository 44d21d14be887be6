"""NumPy helpers shared by the H200 device scripts and the reader (no torch, no GPU needed).

- FP8 E4M3 / E5M2 decode tables written from the OCP definition, and a nearest-even encoder for
  finite in-range values (used to build test operands as raw bytes).
- BinWriter: concatenated little-endian C-order arrays, 16-byte aligned, with a JSON index
  (name, dtype, shape, offset, nbytes, note) -- the same layout cvt_common.hpp writes.
- load_bin: reads such a file back through its index.
"""
import json
import os

import numpy as np

FORMATS = ("e4m3", "e5m2")
_PARAMS = {"e4m3": (4, 3, 7), "e5m2": (5, 2, 15)}
MAX_FINITE = {"e4m3": 448.0, "e5m2": 57344.0}
MIN_SUBNORMAL = {"e4m3": 2.0 ** -9, "e5m2": 2.0 ** -16}
MIN_NORMAL = {"e4m3": 2.0 ** -6, "e5m2": 2.0 ** -14}


def decode_table(fmt):
    """float32[256]: the value of every code (NaN codes give NaN with the code's sign)."""
    eb, mb, bias = _PARAMS[fmt]
    out = np.empty(256, np.float32)
    for code in range(256):
        s = -1.0 if code & 0x80 else 1.0
        e = (code >> mb) & ((1 << eb) - 1)
        m = code & ((1 << mb) - 1)
        if fmt == "e4m3" and e == 15 and m == 7:
            v = float("nan")
        elif fmt == "e5m2" and e == 31:
            v = float("inf") if m == 0 else float("nan")
        elif e == 0:
            v = m * 2.0 ** (1 - bias - mb)
        else:
            v = (1 + m / (1 << mb)) * 2.0 ** (e - bias)
        out[code] = s * v if v == v else (np.float32(np.copysign(np.nan, s)))
    return out


def decode(codes, fmt):
    return decode_table(fmt)[np.asarray(codes, np.uint8)]


def _positive_finite(fmt):
    """Codes 0x00..max (ascending values) and their values as float64."""
    t = decode_table(fmt).astype(np.float64)
    maxcode = 0x7E if fmt == "e4m3" else 0x7B
    codes = np.arange(0, maxcode + 1, dtype=np.uint8)
    return codes, t[: maxcode + 1]


def encode(x, fmt):
    """uint8 codes: x (float64 array) rounded to nearest, ties to even code, |x| clamped to the
    largest finite value (so never NaN/Inf). Exact for every representable value."""
    x = np.asarray(x, np.float64)
    codes, vals = _positive_finite(fmt)
    a = np.minimum(np.abs(x), vals[-1])
    hi = np.clip(np.searchsorted(vals, a, side="left"), 0, len(vals) - 1)
    lo = np.maximum(hi - 1, 0)
    dlo = a - vals[lo]
    dhi = vals[hi] - a
    pick_hi = (dhi < dlo) | ((dhi == dlo) & (codes[hi] % 2 == 0))
    idx = np.where(pick_hi, hi, lo)
    out = codes[idx].astype(np.uint8)
    return np.where(np.signbit(x), out | 0x80, out).astype(np.uint8)


def random_codes(rng, shape, fmt, lo_exp, hi_exp, signed=True):
    """Random finite normal codes whose binade exponent is uniform in [lo_exp, hi_exp] (clipped
    to the format's normal range), mantissa uniform; sign random if `signed`."""
    eb, mb, bias = _PARAMS[fmt]
    emax = (1 << eb) - 2 - bias if fmt == "e5m2" else (1 << eb) - 1 - bias
    lo_exp = max(lo_exp, 1 - bias)
    hi_exp = min(hi_exp, emax)
    e = rng.integers(lo_exp, hi_exp + 1, size=shape)
    m = rng.integers(0, 1 << mb, size=shape)
    if fmt == "e4m3":  # 0x7F is NaN: at e = 8 the mantissa may not be 7
        m = np.where((e == emax) & (m == 7), 6, m)
    code = ((e + bias) << mb) | m
    if signed:
        code = code | (rng.integers(0, 2, size=shape) << 7)
    return code.astype(np.uint8)


def subnormal_codes(rng, shape, fmt, signed=True):
    _, mb, _ = _PARAMS[fmt]
    code = rng.integers(1, 1 << mb, size=shape)
    if signed:
        code = code | (rng.integers(0, 2, size=shape) << 7)
    return code.astype(np.uint8)


def f32_bits(x):
    return np.asarray(x, np.float32).view(np.uint32)


def bits_f32(u):
    return np.asarray(u, np.uint32).view(np.float32)


class BinWriter:
    def __init__(self, path):
        self.path = path
        self.f = open(path, "wb")
        self.off = 0
        self.arrays = []

    def add(self, name, arr, note=""):
        arr = np.asarray(arr)  # keeps 0-d arrays 0-d (ascontiguousarray would make them 1-d)
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        pad = (-self.off) % 16
        if pad:
            self.f.write(b"\0" * pad)
            self.off += pad
        data = arr.tobytes()
        self.f.write(data)
        self.arrays.append({"name": name, "dtype": arr.dtype.name, "shape": list(arr.shape),
                            "offset": self.off, "nbytes": len(data), "note": note})
        self.off += len(data)

    def finish(self, index_path, file_name, description, extra=None):
        self.f.close()
        idx = {"file": file_name, "description": description, "nbytes": self.off, "arrays": self.arrays}
        if extra:
            idx.update(extra)
        with open(index_path, "w") as f:
            json.dump(idx, f, indent=1)
        return idx


def load_bin(path, index):
    """dict name -> numpy array (read-only views of the file's bytes)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) != index["nbytes"]:
        raise ValueError(f"{path}: {len(raw)} bytes, index says {index['nbytes']}")
    out = {}
    for a in index["arrays"]:
        dt = np.dtype(a["dtype"]).newbyteorder("<")
        n = int(np.prod(a["shape"])) if a["shape"] else 1
        if n * dt.itemsize != a["nbytes"]:
            raise ValueError(f"{a['name']}: shape {a['shape']} x {dt} != {a['nbytes']} bytes")
        out[a["name"]] = np.frombuffer(raw, dt, count=n, offset=a["offset"]).reshape(a["shape"])
    return out


def load_manifest(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        return json.load(f)
