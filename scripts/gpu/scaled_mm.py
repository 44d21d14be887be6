"""H200 measurement, stage 3: cuBLASLt's FP8 GEMM through torch._scaled_mm, FP32 output.

For each operand set (formats of A and B, data kind, K) and each setting (use_fast_accum False /
True x scale mode one / tensor / row), D = (scale_a * scale_b) * (A @ B) in FP32 on the GPU. The
operands (FP8 bytes), the scales and the outputs are kept, so that a replay through the emulator
can find the accumulation (promotion interval without fast accumulation, the block chaining with
it) and the epilogue's rounding.

Layouts: A is M x K row-major; B is K x N column-major as _scaled_mm requires, stored as its
transpose bt (N x K row-major, bt[n, k] = B[k, n]). Scale modes: one = per-tensor 1.0; tensor =
per-tensor full-mantissa FP32 scales; row = scale_a (M, 1) and scale_b (1, N) (row-wise, which
torch sends to cuBLASLt on sm_90 with cuBLAS >= 12.9 for FP32 output; errors are recorded).
Data kinds: pos = FP8 values in [1, 2) (all positive); mixed = N(0,1) rounded to the format;
probe = a row of ones and rows in [1, 2) against columns of small values in [2^-5, 2^-4) with
spikes of 256 every p_j steps of k (p_j per column), which makes the promotion interval visible.

Run on the device: python3 scripts/gpu/scaled_mm.py --out OUT_DIR --work WORK_DIR --seed S
Data only (no GPU, for the selftest): --data-only.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fp8np  # noqa: E402

K_LIST = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
M = N = 16
PERIODS = [32, 64, 96, 128, 192, 256, 384, 512, 1024, 2048, 4096, 8192, 16, 48, 80, 160]
SCALE_MODES = ["one", "tensor", "row"]
PROFILE_BUDGET_S = 40.0


def make_operands(kind, fa, fb, m, n, k, rng):
    if kind == "pos":
        a = fp8np.random_codes(rng, (m, k), fa, 0, 0, signed=False)
        bt = fp8np.random_codes(rng, (n, k), fb, 0, 0, signed=False)
    elif kind == "mixed":
        a = fp8np.encode(rng.standard_normal((m, k)), fa)
        bt = fp8np.encode(rng.standard_normal((n, k)), fb)
    elif kind == "probe":
        a = fp8np.random_codes(rng, (m, k), fa, 0, 0, signed=False)
        a[0, :] = fp8np.encode(np.ones(k), fa)
        bt = fp8np.random_codes(rng, (n, k), fb, -5, -5, signed=False)
        spike = fp8np.encode(np.array([256.0]), fb)[0]
        for j in range(n):
            bt[j, :: PERIODS[j % len(PERIODS)]] = spike
    else:
        raise ValueError(kind)
    return a.astype(np.uint8), bt.astype(np.uint8)


def plan(seed):
    """The operand sets: list of dicts (id, fmt_a, fmt_b, kind, M, N, K) with their bytes."""
    sets = []
    rng = np.random.default_rng([seed, 3])
    combos = [("e4m3", "e4m3", ("pos", "mixed", "probe")), ("e4m3", "e5m2", ("pos", "mixed")),
              ("e5m2", "e4m3", ("pos", "mixed"))]
    for fa, fb, kinds in combos:
        for kind in kinds:
            for k in K_LIST:
                a, bt = make_operands(kind, fa, fb, M, N, k, rng)
                sets.append({"fmt_a": fa, "fmt_b": fb, "kind": kind, "M": M, "N": N, "K": k, "a": a, "bt": bt})
    # E5M2 x E5M2: cuBLASLt is documented not to take it; one small set records what happens.
    a, bt = make_operands("mixed", "e5m2", "e5m2", M, N, 64, rng)
    sets.append({"fmt_a": "e5m2", "fmt_b": "e5m2", "kind": "mixed", "M": M, "N": N, "K": 64, "a": a, "bt": bt})
    # One production-like tile count (split-K less likely): 128 x 128, K = 4096.
    a, bt = make_operands("mixed", "e4m3", "e4m3", 128, 128, 4096, rng)
    sets.append({"fmt_a": "e4m3", "fmt_b": "e4m3", "kind": "mixed", "M": 128, "N": 128, "K": 4096, "a": a, "bt": bt})
    for i, s in enumerate(sets):
        s["id"] = i
    return sets


def scales_for(mode, m, n, rng):
    """0-d float32 arrays (per-tensor) or (M,1) and (1,N) (row-wise). Never numpy scalars:
    torch.from_numpy takes arrays only."""
    if mode == "one":
        return np.array(1.0, np.float32), np.array(1.0, np.float32)
    if mode == "tensor":
        return np.array(rng.uniform(0.5, 1.0), np.float32), np.array(rng.uniform(1.0, 2.0), np.float32)
    return (rng.uniform(0.5, 2.0, (m, 1)).astype(np.float32), rng.uniform(0.5, 2.0, (1, n)).astype(np.float32))


def cublaslt_version():
    """cublasLtGetVersion() of the library torch loaded (dlopen by soname finds the loaded one)."""
    import ctypes
    for lib in ("libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"):
        try:
            f = ctypes.CDLL(lib).cublasLtGetVersion
            f.restype = ctypes.c_size_t
            return int(f())
        except Exception:  # noqa: BLE001
            continue
    return None


def kernels_of(fn, torch):
    """Names of the GPU kernels that fn launches (torch.profiler), or an error string."""
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as p:
            fn()
            torch.cuda.synchronize()
        names = []
        for e in p.events():
            if str(getattr(e, "device_type", "")).endswith("CUDA") and e.name not in names:
                names.append(e.name)
        return names
    except Exception as e:  # noqa: BLE001
        return [f"profiler error: {e!r}"[:300]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--data-only", action="store_true")
    ap.add_argument("--simulate", action="store_true",
                    help="with --data-only: out = FP32(exact) and status ok (exercises the reader)")
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    t_start = time.time()
    sets = plan(args.seed)
    rng = np.random.default_rng([args.seed, 4])
    torch = None
    env = {}
    if not args.data_only:
        import torch  # noqa: F811
        env = {"torch": torch.__version__, "cuda": torch.version.cuda,
               "capability": list(torch.cuda.get_device_capability()), "device": torch.cuda.get_device_name(0)}
        torch.zeros(1, device="cuda")
        env["cublasLtGetVersion"] = cublaslt_version()
        try:
            import importlib.metadata as md
            env["nvidia_cublas_package"] = md.version("nvidia-cublas")
        except Exception as e:  # noqa: BLE001
            env["nvidia_cublas_package"] = repr(e)[:200]
    dt = {}
    if torch is not None:
        dt = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}
    name = "scaled_mm.bin"
    w = fp8np.BinWriter(os.path.join(args.out, name))
    runs = []
    profiled = set()
    prof_time = [0.0]
    for s in sets:
        sid = s["id"]
        w.add(f"set{sid}_a", s["a"], f"A {s['M']}x{s['K']} {s['fmt_a']} codes, row-major")
        w.add(f"set{sid}_bt", s["bt"], f"B^T {s['N']}x{s['K']} {s['fmt_b']} codes (B column-major)")
        if torch is not None:
            A = torch.from_numpy(s["a"].copy()).view(dt[s["fmt_a"]]).cuda()
            B = torch.from_numpy(s["bt"].copy()).view(dt[s["fmt_b"]]).cuda().t()
        for fast in (False, True):
            for mode in SCALE_MODES:
                sa, sb = scales_for(mode, s["M"], s["N"], rng)
                rid = len(runs)
                r = {"id": rid, "set": sid, "fast_accum": fast, "scale_mode": mode, "status": "not run"}
                out = np.full((s["M"], s["N"]), np.nan, np.float32)
                if torch is None and args.simulate:
                    ta = fp8np.decode_table(s["fmt_a"]).astype(np.float64)
                    tb = fp8np.decode_table(s["fmt_b"]).astype(np.float64)
                    out = (sa.astype(np.float64) * sb.astype(np.float64) * (ta[s["a"]] @ tb[s["bt"]].T)).astype(np.float32)
                    if fast:
                        out = out * np.float32(1 + 2.0 ** -12)
                    r.update(status="ok", simulated=True, repeat_bit_identical=True)
                if torch is not None:
                    t0 = time.time()
                    try:
                        SA, SB = torch.from_numpy(sa.copy()).cuda(), torch.from_numpy(sb.copy()).cuda()

                        def call_private():
                            return torch._scaled_mm(A, B, scale_a=SA, scale_b=SB, out_dtype=torch.float32,
                                                    use_fast_accum=fast)

                        def call_public():  # torch.nn.functional.scaled_mm (torch >= 2.10)
                            F = torch.nn.functional
                            st = F.ScalingType
                            names = ("Tensorwise", "TensorWise") if mode != "row" else ("Rowwise", "RowWise")
                            rec = next(getattr(st, x) for x in names if hasattr(st, x))
                            return F.scaled_mm(A, B, SA, rec, SB, rec, output_dtype=torch.float32,
                                               use_fast_accum=fast)
                        call = call_private
                        r["api"] = "torch._scaled_mm"
                        try:
                            d1 = call()
                        except Exception as e1:  # noqa: BLE001
                            r["error_private_api"] = f"{type(e1).__name__}: {e1}"[:800]
                            call = call_public
                            r["api"] = "torch.nn.functional.scaled_mm"
                            d1 = call()
                        d2 = call()
                        torch.cuda.synchronize()
                        out = d1.float().cpu().numpy()
                        r["status"] = "ok"
                        r["repeat_bit_identical"] = bool(np.array_equal(out.view(np.uint32),
                                                                         d2.float().cpu().numpy().view(np.uint32)))
                        r["out_dtype"] = str(d1.dtype)
                        # Kernel names once per (formats, shape, fast, one|row); "tensor" uses the
                        # same path as "one". At most PROFILE_BUDGET_S seconds of profiling in all.
                        key = (s["fmt_a"], s["fmt_b"], s["M"], s["K"], fast, mode)
                        if (not args.no_profile and mode != "tensor" and key not in profiled
                                and prof_time[0] < PROFILE_BUDGET_S):
                            profiled.add(key)
                            tp = time.time()
                            r["kernels"] = kernels_of(call, torch)
                            prof_time[0] += time.time() - tp
                    except Exception as e:  # noqa: BLE001
                        r["status"] = "error"
                        r["error"] = f"{type(e).__name__}: {e}"[:1500]
                        if "error_private_api" in r:
                            r["error"] = f"torch._scaled_mm: {r['error_private_api']} | fallback: {r['error']}"[:2000]
                    r["seconds"] = round(time.time() - t0, 4)
                w.add(f"run{rid}_scale_a", sa, "float32 scale_a as passed")
                w.add(f"run{rid}_scale_b", sb, "float32 scale_b as passed")
                w.add(f"run{rid}_out", out, "float32 output M x N (NaN where the call failed)")
                runs.append(r)
        st = [r["status"] for r in runs if r["set"] == sid]
        print(f"scaled_mm set {sid}: {s['fmt_a']}x{s['fmt_b']} {s['kind']} M={s['M']} K={s['K']}: "
              f"{st.count('ok')} ok, {st.count('error')} errors ({time.time() - t_start:.1f} s)", flush=True)
    meta_sets = [{k: v for k, v in s.items() if k not in ("a", "bt")} for s in sets]
    errors = sorted({r.get("error", "")[:200] for r in runs if r["status"] == "error"})
    env["profiling_seconds"] = round(prof_time[0], 2)
    env["profiled_keys"] = len(profiled)
    extra = {"seed": args.seed, "env": env, "sets": meta_sets, "runs": runs, "periods": PERIODS,
             "data_only": args.data_only, "distinct_errors": errors,
             "formula": "out = scale_a * scale_b * (A @ B), A = set{s}_a (M x K), B = set{s}_bt^T (K x N)"}
    w.finish(os.path.join(args.work, name + ".index.json"), name,
             "torch._scaled_mm (cuBLASLt) FP8 GEMM, FP32 output, fast accumulation on/off, per-tensor and "
             "row-wise scales", extra)
    ok = sum(r["status"] == "ok" for r in runs)
    print(f"scaled_mm: {len(sets)} operand sets, {len(runs)} runs, {ok} ok, "
          f"{time.time() - t_start:.1f} s", flush=True)
    for e in errors:
        print("  error:", e, flush=True)
    kern = sorted({k for r in runs for k in r.get("kernels", [])})
    print("  kernels seen:", json.dumps(kern)[:3000], flush=True)


if __name__ == "__main__":
    main()
