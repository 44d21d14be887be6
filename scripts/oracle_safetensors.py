#!/usr/bin/env python3
"""Independent oracle for fp8emu's safetensors / .npy I/O, dequantisation and quantisation.

Usage: oracle_safetensors.py PATH/TO/fp8emu

Files are written and read with the PyPI `safetensors` package, numpy and ml_dtypes (never with
our code); fp8emu is run as a subprocess on them. Checks:
  * round trips both ways with F8_E4M3, F8_E5M2, BF16, F16, F32, I8, U8 tensors and metadata
    (bytes, dtypes, shapes, metadata; byte-identical files where the layout is deterministic);
  * .npy exchange both ways (C and Fortran order, f4 f2 u1 i1 f8 i4, ranks 0..4);
  * dequantisation of synthetic DeepSeek-style checkpoints (odd shapes) bit-exact against
    numpy: (w.astype(f32) * s[i//128, j//128]).astype(bfloat16), and per-tensor, per-channel,
    MXFP8 scales;
  * quantisation bit-exact against a numpy implementation (q = clip(x / s).astype(fp8),
    s = amax / max), and quantise-then-dequantise error within the format's bound.
Prints one line per check and ends with "N passed, M failed".
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import ml_dtypes
import numpy as np
from safetensors import safe_open
from safetensors import deserialize
from safetensors.numpy import save_file

FP8EMU = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/fp8emu"
TMP = tempfile.mkdtemp(prefix="fp8emu-oracle-")
passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def run(*args):
    r = subprocess.run([FP8EMU, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"fp8emu {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def path(name):
    return os.path.join(TMP, name)


DTYPES = {
    "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2, "BF16": ml_dtypes.bfloat16,
    "F16": np.float16, "F32": np.float32, "F64": np.float64, "I8": np.int8, "U8": np.uint8, "I32": np.int32,
    "F8_E8M0": getattr(ml_dtypes, "float8_e8m0fnu", np.uint8),
}


def load_file(p):
    """Tensors of a file as parsed and validated by the safetensors package (its Rust
    deserializer), viewed with ml_dtypes types (safetensors.numpy has no FP8 types)."""
    out = {}
    for name, t in deserialize(open(p, "rb").read()):
        out[name] = np.frombuffer(bytes(t["data"]), dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return out


def metadata_of(p):
    with safe_open(p, "np") as f:
        return f.metadata()


def bits(a):
    a = np.array(a, order="C")
    return a.view(np.dtype(f"u{a.dtype.itemsize}")) if a.dtype.itemsize in (1, 2, 4, 8) else a


def same_bits(a, b):
    """Bit equality, except that any NaN equals any NaN (payloads are not specified)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "iub":
        return np.array_equal(a, b)
    fa, fb = a.astype(np.float64), b.astype(np.float64)
    nan = np.isnan(fa) & np.isnan(fb)
    return bool(np.all(nan | (bits(a) == bits(b))))


def call(name, fn):
    try:
        fn()
    except Exception as e:  # a crash of one check is a failure, not the end of the run
        check(name, False, f"exception: {e}")


rng = np.random.default_rng(20251129)


def random_fp8(shape, dtype, allow_nan=True):
    raw = rng.integers(0, 256, size=shape, dtype=np.uint8)
    a = raw.view(dtype)
    if not allow_nan:
        a = np.where(np.isnan(a.astype(np.float32)), np.zeros((), dtype), a).astype(dtype)
    return a


def mixed_tensors():
    return {
        "a.fp8_e4m3": random_fp8((5, 7), ml_dtypes.float8_e4m3fn),
        "a.fp8_e5m2": random_fp8((3, 4, 2), ml_dtypes.float8_e5m2),
        "b.bf16": rng.standard_normal((6, 9)).astype(ml_dtypes.bfloat16),
        "c.f16": rng.standard_normal((11,)).astype(np.float16),
        "d.f32": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "e.i8": rng.integers(-128, 128, size=(13,), dtype=np.int8),
        "f.u8": rng.integers(0, 256, size=(4, 4), dtype=np.uint8),
        "g.empty": np.zeros((0, 3), np.float32),
        "h.scalar": np.array(3.5, np.float32),
        "i.unicode_名前": np.arange(3, dtype=np.float32),
    }


def test_python_to_us_and_back():
    t = mixed_tensors()
    for label, md in [("one-key metadata", {"format": "pt"}), ("no metadata", None)]:
        src = path("py.safetensors")
        save_file(t, src, metadata=md)
        dst = path("ours.safetensors")
        run("copy", src, "--out", dst)
        back = load_file(dst)
        ok = set(back) == set(t) and all(same_bits(back[k], t[k]) and back[k].shape == t[k].shape for k in t)
        check(f"python file read and rewritten by fp8emu, tensors bit-exact ({label})", ok)
        check(f"metadata preserved ({label})", metadata_of(dst) == md, f"{metadata_of(dst)} != {md}")
        check(f"rewritten file byte-identical to the reference writer's ({label})",
              open(src, "rb").read() == open(dst, "rb").read())
    md = {"format": "pt", "zeta": "1", "alpha": "two words", "quote\"and\\": "line\nbreak é"}
    save_file(t, src, metadata=md)
    run("copy", src, "--out", dst)
    check("multi-key metadata with escapes preserved", metadata_of(dst) == md, str(metadata_of(dst)))
    # what we read, exported as .npy (decoded exactly to float32 for FP8/BF16)
    for k, v in t.items():
        if v.ndim == 0 and k != "h.scalar":
            continue
        out = path("x.npy")
        run("export", src, "--tensor", k, "--out", out)
        got = np.load(out)
        want = v.astype(np.float32) if v.dtype in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2, ml_dtypes.bfloat16) else v
        check(f"export {k} ({v.dtype}) to .npy bit-exact", same_bits(got, want) and got.shape == want.shape)


def test_npy_to_us():
    arrays = {
        "f4_c": rng.standard_normal((3, 5)).astype("<f4"),
        "f4_f": np.asfortranarray(rng.standard_normal((4, 6, 3)).astype("<f4")),
        "f2_f": np.asfortranarray(rng.standard_normal((7, 2)).astype("<f2")),
        "u1": rng.integers(0, 256, (2, 3, 2, 2), dtype=np.uint8),
        "i1_f": np.asfortranarray(rng.integers(-128, 128, (5, 3), dtype=np.int8)),
        "f8": rng.standard_normal((9,)),
        "i4": rng.integers(-(2**31), 2**31, (3, 3), dtype=np.int32),
        "scalar": np.array(1.25, np.float32),
        "empty": np.zeros((0, 4), np.float32),
    }
    args = []
    for k, v in arrays.items():
        p = path(f"{k}.npy")
        np.save(p, v)
        args.append(f"{k}={p}")
    out = path("from_npy.safetensors")
    run("import", *args, "--out", out)
    back = load_file(out)
    for k, v in arrays.items():
        check(f".npy {k} ({v.dtype}, {'F' if v.flags.f_contiguous and v.ndim > 1 else 'C'} order) imported bit-exact",
              k in back and same_bits(back[k], np.array(v, order="C")) and back[k].shape == v.shape)


def weight_dequant_reference(w, s, block=128):
    """DeepSeek-V3 weight_dequant: y = w.float() * s[i//128, j//128], stored as bfloat16."""
    r, c = w.shape
    s_full = np.repeat(np.repeat(s, block, axis=0), block, axis=1)[:r, :c]
    return (w.astype(np.float32) * s_full.astype(np.float32)).astype(np.float32)


def test_deepseek_dequant():
    shapes = [(300, 200), (129, 257), (1, 1), (128, 128), (7, 1000), (1000, 7), (256, 130)]
    t = {}
    refs = {}
    for n, (r, c) in enumerate(shapes):
        w = random_fp8((r, c), ml_dtypes.float8_e4m3fn)
        s = (rng.uniform(0.5, 2.0, ((r + 127) // 128, (c + 127) // 128)) * 2.0 ** rng.integers(-12, 4, ((r + 127) // 128, (c + 127) // 128))).astype(np.float32)
        name = f"model.layers.{n}.mlp.down_proj.weight"
        t[name] = w
        t[name + "_scale_inv"] = s
        refs[name] = weight_dequant_reference(w, s)
    # per-tensor and per-channel (vLLM style) with an input_scale, an MXFP8 weight, an unscaled FP8
    w = random_fp8((33, 70), ml_dtypes.float8_e4m3fn)
    s = np.array([0.0123], np.float32)
    t["pt.weight"], t["pt.weight_scale"], t["pt.input_scale"] = w, s, np.array([0.5], np.float32)
    refs["pt.weight"] = w.astype(np.float32) * s[0]
    w = random_fp8((40, 9), ml_dtypes.float8_e5m2)
    s = rng.uniform(1e-3, 1e-1, (40, 1)).astype(np.float32)
    t["pc.weight"], t["pc.weight_scale"] = w, s
    refs["pc.weight"] = w.astype(np.float32) * s
    w = random_fp8((5, 70), ml_dtypes.float8_e4m3fn)
    e = rng.integers(110, 140, (5, 3), dtype=np.uint8)
    t["mx.weight"], t["mx.weight_scale"] = w, e.view(ml_dtypes.float8_e8m0fnu) if hasattr(ml_dtypes, "float8_e8m0fnu") else e
    refs["mx.weight"] = w.astype(np.float32) * np.repeat(np.exp2(e.astype(np.float64) - 127).astype(np.float32), 32, axis=1)[:, :70]
    w = random_fp8((3, 3), ml_dtypes.float8_e5m2)
    t["raw.fp8"] = w
    refs["raw.fp8"] = w.astype(np.float32)
    t["model.norm.weight"] = rng.standard_normal((200,)).astype(ml_dtypes.bfloat16)
    t["model.embed.int8"] = rng.integers(-128, 128, (17,), dtype=np.int8)
    md = {"format": "pt", "quantization": "fp8 block 128"}
    src = path("deepseek.safetensors")
    save_file(t, src, metadata=md)
    for to, np_t in [("bf16", ml_dtypes.bfloat16), ("f32", np.float32)]:
        dst = path(f"deq_{to}.safetensors")
        run("dequant", src, "--out", dst, "--to", to)
        back = load_file(dst)
        for name, ref in refs.items():
            want = ref.astype(np_t)
            got = back.get(name)
            check(f"dequant {name} {t[name].shape} -> {to} bit-exact vs numpy/ml_dtypes",
                  got is not None and same_bits(got, want),
                  "" if got is None else f"{np.sum(bits(got) != bits(want))} differing")
        dropped = [k for k in t if k.endswith(("_scale_inv", "_scale", "input_scale"))]
        check(f"dequant -> {to}: scale tensors dropped", not any(k in back for k in dropped))
        check(f"dequant -> {to}: other tensors copied bit-exact",
              same_bits(back["model.norm.weight"], t["model.norm.weight"]) and same_bits(back["model.embed.int8"], t["model.embed.int8"]))
        check(f"dequant -> {to}: metadata kept", metadata_of(dst) == md)
    info = json.loads(run("inspect", src, "--json"))
    rows = {r["name"]: r for r in info["tensors"]}
    check("inspect pairs block scales (block128)", rows["model.layers.1.mlp.down_proj.weight"].get("granularity") == "block128")
    check("inspect pairs per-tensor / per-channel / mxfp8 scales",
          rows["pt.weight"].get("granularity") == "per-tensor" and rows["pc.weight"].get("granularity") == "per-channel"
          and rows["mx.weight"].get("granularity") == "mxfp8" and rows["pt.weight"].get("input_scale") == "pt.input_scale")
    w = t["model.layers.0.mlp.down_proj.weight"].astype(np.float32)
    amax = float(np.max(np.abs(w[~np.isnan(w)])))
    r = rows["model.layers.0.mlp.down_proj.weight"]
    check("inspect statistics (amax, NaN, saturated, zero fractions)",
          r["amax"] == amax and abs(r["nan_fraction"] - np.mean(np.isnan(w))) < 1e-12
          and abs(r["zero_fraction"] - np.mean(w == 0)) < 1e-12
          and abs(r["saturated_fraction"] - np.mean(np.abs(w) == 448)) < 1e-12, str(r))


def quantize_reference(x, recipe, fmt, mx_rule="ocp"):
    """numpy quantiser: s = amax / max (float32), q = satfinite(x / s) rounded to nearest even."""
    fp8 = ml_dtypes.float8_e4m3fn if fmt == "e4m3" else ml_dtypes.float8_e5m2
    mx = np.float32(448.0 if fmt == "e4m3" else 57344.0)
    emax = 8 if fmt == "e4m3" else 15
    r, c = x.shape
    x = x.astype(np.float32)
    if recipe == "mxfp8":
        nb = (c + 31) // 32
        xp = np.zeros((r, nb * 32), np.float32)
        xp[:, :c] = np.abs(x)
        amax = xp.reshape(r, nb, 32).max(axis=2)
        if mx_rule == "ocp":
            m, ex = np.frexp(amax)
            e = (ex - 1) - emax
        else:
            v = (amax * np.float32(np.float32(1.0) / mx)).astype(np.float32)
            m, ex = np.frexp(v)
            e = np.where(m == 0.5, ex - 1, ex)
        e = np.where(amax == 0, 0, np.clip(e, -127, 127))
        s_full = np.repeat(np.exp2(e.astype(np.float64)).astype(np.float32), 32, axis=1)[:, :c]
        scales = (e + 127).astype(np.uint8)
    else:
        if recipe == "per-tensor":
            amax = np.max(np.abs(x)).reshape(1)
        elif recipe == "per-channel":
            amax = np.max(np.abs(x), axis=1).reshape(r, 1)
        else:
            br, bc = (r + 127) // 128, (c + 127) // 128
            xp = np.zeros((br * 128, bc * 128), np.float32)
            xp[:r, :c] = np.abs(x)
            amax = xp.reshape(br, 128, bc, 128).max(axis=(1, 3))
        scales = np.where(amax == 0, np.float32(1), (amax / mx).astype(np.float32)).astype(np.float32)
        if recipe == "per-tensor":
            s_full = np.full((r, c), scales[0], np.float32)
        elif recipe == "per-channel":
            s_full = np.repeat(scales, c, axis=1)
        else:
            s_full = np.repeat(np.repeat(scales, 128, 0), 128, 1)[:r, :c]
    q = np.clip((x / s_full).astype(np.float32), -mx, mx).astype(fp8)
    return q, scales, s_full


def test_quantize():
    x = {
        "l0.weight": (rng.standard_normal((300, 200)) * 0.02).astype(np.float32),
        "l1.weight": (rng.standard_normal((129, 257)) * 3).astype(ml_dtypes.bfloat16),
        "l2.weight": (rng.standard_normal((7, 65)) * 1e-3).astype(np.float16),
        "l3.weight": np.zeros((4, 40), np.float32),
        "norm.weight": np.ones((200,), np.float32),
        "bias": rng.standard_normal((9, 9)).astype(np.float32),
    }
    x["l0.weight"][3, 5] = 0.7  # an outlier
    src = path("dense.safetensors")
    save_file(x, src, metadata={"format": "pt"})
    cases = [("per-tensor", "e4m3", None), ("per-channel", "e4m3", None), ("block128", "e4m3", None),
             ("mxfp8", "e4m3", "ocp"), ("mxfp8", "e4m3", "round-up"), ("block128", "e5m2", None), ("mxfp8", "e5m2", "ocp")]
    for recipe, fmt, rule in cases:
        dst = path("q.safetensors")
        args = ["quantize", src, "--out", dst, "--recipe", recipe, "--format", fmt]
        if rule:
            args += ["--mx-rule", rule]
        run(*args)
        back = load_file(dst)
        label = f"{recipe}/{fmt}" + (f"/{rule}" if rule else "")
        check(f"quantize {label}: only 2-D *weight tensors quantised",
              all(k not in back or k in ("norm.weight", "bias") for k in ("norm.weight", "bias"))
              and same_bits(back["norm.weight"], x["norm.weight"]) and same_bits(back["bias"], x["bias"]))
        for name in ("l0.weight", "l1.weight", "l2.weight", "l3.weight"):
            q_ref, s_ref, s_full = quantize_reference(x[name].astype(np.float32), recipe, fmt, rule or "ocp")
            sname = name + ("_scale_inv" if recipe == "block128" else "_scale")
            q, s = back.get(name), back.get(sname)
            ok_q = q is not None and same_bits(q, q_ref)
            ok_s = s is not None and np.array_equal(bits(s).reshape(-1), bits(s_ref).reshape(-1))
            check(f"quantize {label} {name}: bits and scales equal the numpy reference", ok_q and ok_s,
                  "" if q is None else f"q diff {np.sum(bits(q) != bits(q_ref))}, scales ok {ok_s}")
            if q is None:
                continue
            xf = x[name].astype(np.float64)
            s_full = s_full.astype(np.float64)
            deq = q.astype(np.float64) * s_full
            mant = 3 if fmt == "e4m3" else 2
            min_sub = 2.0 ** (-9 if fmt == "e4m3" else -16)
            maxf = 448.0 if fmt == "e4m3" else 57344.0
            bound = np.maximum(np.abs(xf) * 2.0 ** -(mant + 1), s_full * min_sub / 2)
            sat = np.abs(xf) / s_full > maxf  # only the OCP MX rule saturates
            bound = np.where(sat, np.abs(xf) - maxf * s_full, bound) * (1 + 1e-6)
            check(f"quantize {label} {name}: dequantised error within the format bound",
                  bool(np.all(np.abs(deq - xf) <= bound)))
        check(f"quantize {label}: metadata kept", metadata_of(dst) == {"format": "pt"})
        deq_path = path("qd.safetensors")
        run("dequant", dst, "--out", deq_path, "--to", "f32")
        d = load_file(deq_path)
        q_ref, s_ref, s_full = quantize_reference(x["l1.weight"].astype(np.float32), recipe, fmt, rule or "ocp")
        check(f"quantize {label} then fp8emu dequant equals q*s", same_bits(d["l1.weight"], (q_ref.astype(np.float32) * s_full).astype(np.float32)))


def test_rejects():
    """fp8emu must refuse malformed files with one line naming the file (exit status 65, bad data, not a crash)."""
    good = path("good.safetensors")
    save_file({"a": np.zeros(4, np.float32)}, good)
    raw = open(good, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    cases = {
        "truncated": raw[:5],
        "huge header length": struct.pack("<Q", 2**62) + raw[8:],
        "header beyond file": struct.pack("<Q", n + 100) + raw[8:],
        "bad JSON": struct.pack("<Q", n) + raw[8:8 + n].replace(b":", b";", 1) + raw[8 + n:],
        "missing data": raw[:-4],
    }
    for label, data in cases.items():
        p = path("bad.safetensors")
        open(p, "wb").write(data)
        r = subprocess.run([FP8EMU, "inspect", p], capture_output=True, text=True)
        check(f"fp8emu refuses a file with {label}",
              r.returncode == 65 and r.stderr.startswith(f"Error: {p}: ") and r.stderr.count("\n") == 1,
              f"rc={r.returncode} {r.stderr[:200]}")


for fn in [test_python_to_us_and_back, test_npy_to_us, test_deepseek_dequant, test_quantize, test_rejects]:
    call(fn.__name__, fn)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
