"""H200 measurement, stage 2: Hopper wgmma on FP8 operands with a non-zero FP32 accumulator C.

A Triton kernel computes, per block g, D[g] = A[g] @ B[g] + C[g] with A[g] 64x32 and B[g] 32xN FP8
(E4M3 x E4M3 or E5M2 x E5M2) and C[g] 64xN FP32 loaded from memory: `tl.dot(a, b, acc=c)`. K = 32 is
one wgmma m64nNk32 instruction. Two variants of the same kernel:
  direct   tl.dot default; on sm_90 Triton's max_num_imprecise_acc default is 2^30 > K, so the
           accumulator registers holding C go straight into the wgmma (this is what we measure)
  partial  max_num_imprecise_acc=32 (<= K): Triton zero-initialises a partial accumulator, runs
           the wgmma on it and adds C with an FP32 add afterwards (cross-check: d = c + wgmma(0))
Every (g, i, j) is one test row: a = A[g, i, :], b = B[g, :, j], c = C[g, i, j], d = D[g, i, j].

Run on the device: python3 scripts/gpu/wgmma_triton.py --out OUT_DIR --work WORK_DIR --seed S
Data only (no GPU, for the selftest): --data-only writes the operands with d = NaN.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fp8np  # noqa: E402

BM, BK = 64, 32

# Block kinds (uint8 id -> name). Value distributions: "shared" follows the published real-GPU
# vectors (../shared/tensorcore-vectors: a, b ~ N(0,1) rounded to the format, c ~ U(0,1)).
KINDS = [
    "shared",          # a, b ~ N(0,1) -> fmt; c ~ U(0,1)
    "shared_c_signed", # a, b ~ N(0,1); c = +-U(1,2) * 2^U{-8..8}, full 23-bit mantissa
    "c_huge",          # c = +-U * 2^U{12..40}: the products are far below c's ulp ... or near it
    "c_tiny",          # c = +-U * 2^U{-40..-12}: c far below the products' alignment point
    "cancel",          # designed cancellation: products cancel in pairs and/or c = -sum
    "subnormal",       # FP8 subnormal/smallest-normal operands, c tiny or zero
    "spread",          # operands over the whole exponent range of the format, c random
    "zero_sign",       # exact zero results: c = +-0 with products summing to zero, -0 handling
    "c_max",           # c at or near FLT_MAX (+-) with large positive products (an overflow is not
                       # reachable in one block: |sum of products| <= 32 * 57344^2 < 2^37)
    "specials",        # NaN / Inf in c or in the operands (E5M2 Inf; E4M3 NaN 0x7F)
]
# How many blocks of each kind (in this order, repeated until `blocks` are filled).
SCHEDULE = ["shared"] * 8 + ["shared_c_signed"] * 4 + ["c_huge", "c_huge", "c_tiny", "c_tiny", "cancel",
            "cancel", "cancel", "subnormal", "subnormal", "spread", "spread", "spread", "zero_sign",
            "c_max", "specials", "shared_c_signed"] + ["shared"] * 4


def _normal_codes(rng, shape, fmt):
    return fp8np.encode(rng.standard_normal(shape), fmt)


def _exact_dot(a_codes, b_codes, fmt):
    """Exact sum over k of a[i,k] * b[k,j] as float64 (FP8 products and sums of 32 of them are
    exact in float64 for these ranges)."""
    av = fp8np.decode(a_codes, fmt).astype(np.float64)
    bv = fp8np.decode(b_codes, fmt).astype(np.float64)
    return av @ bv


def make_block(kind, rng, fmt, n):
    a = _normal_codes(rng, (BM, BK), fmt)
    b = _normal_codes(rng, (BK, n), fmt)
    c = rng.uniform(0.0, 1.0, (BM, n)).astype(np.float32)
    mx = fp8np.MAX_FINITE[fmt]
    if kind == "shared":
        pass
    elif kind == "shared_c_signed":
        c = (rng.uniform(1, 2, (BM, n)) * 2.0 ** rng.integers(-8, 9, (BM, n))
             * rng.choice([-1.0, 1.0], (BM, n))).astype(np.float32)
    elif kind == "c_huge":
        c = (rng.uniform(1, 2, (BM, n)) * 2.0 ** rng.integers(12, 41, (BM, n))
             * rng.choice([-1.0, 1.0], (BM, n))).astype(np.float32)
        # some rows with large products too, so that they reach into c's last bits
        a[: BM // 4] = fp8np.random_codes(rng, (BM // 4, BK), fmt, 4, 8)
        b[:, : n // 2] = fp8np.random_codes(rng, (BK, n // 2), fmt, 4, 8)
    elif kind == "c_tiny":
        c = (rng.uniform(1, 2, (BM, n)) * 2.0 ** rng.integers(-40, -11, (BM, n))
             * rng.choice([-1.0, 1.0], (BM, n))).astype(np.float32)
    elif kind == "cancel":
        # Rows i = j (mod n) are designed with column j:
        #   i < 16      products cancel in pairs (a[2t+1] = -a[2t], b[2t+1] = b[2t]): sum 0, d = c
        #   16 <= i < 32 pairs cancel except the last pair: d = c + a[30]b[30] + a[31]b[31]
        #   32 <= i < 48 c = -(exact sum) rounded to FP32: d = the rounding error (or 0)
        #   48 <= i < 64 c = -(exact sum) * (1 + 2^-20): d = a tiny difference of large terms
        b[1::2, :] = b[0::2, :]
        for i in range(BM):
            if i < 32:
                a[i, 1::2] = a[i, 0::2] ^ 0x80
            if 16 <= i < 32:
                a[i, 31] = a[i, 30]
        exact = _exact_dot(a, b, fmt)
        for i in range(32, BM):
            j = i % n
            s = exact[i, j] if i < 48 else exact[i, j] * (1 + 2.0 ** -20)
            c[i, j] = np.float32(-s)
    elif kind == "subnormal":
        a = fp8np.subnormal_codes(rng, (BM, BK), fmt)
        b = fp8np.subnormal_codes(rng, (BK, n), fmt)
        # mix in smallest normals in half the rows / columns
        a[BM // 2:, ::2] = fp8np.random_codes(rng, (BM // 2, BK // 2), fmt, -30, -5)
        b[::2, n // 2:] = fp8np.random_codes(rng, (BK // 2, n - n // 2), fmt, -30, -5)
        sel = rng.integers(0, 3, (BM, n))
        tiny = (rng.uniform(1, 2, (BM, n)) * 2.0 ** rng.integers(-40, -10, (BM, n))
                * rng.choice([-1.0, 1.0], (BM, n)))
        c = np.where(sel == 0, 0.0, np.where(sel == 1, tiny, c)).astype(np.float32)
    elif kind == "spread":
        a = fp8np.random_codes(rng, (BM, BK), fmt, -30, 30)
        b = fp8np.random_codes(rng, (BK, n), fmt, -30, 30)
        c = (rng.uniform(1, 2, (BM, n)) * 2.0 ** rng.integers(-30, 31, (BM, n))
             * rng.choice([-1.0, 1.0], (BM, n))).astype(np.float32)
    elif kind == "zero_sign":
        b[1::2, :] = b[0::2, :]
        a[:, 1::2] = a[:, 0::2] ^ 0x80  # every row's products cancel exactly: sum = +0 or -0?
        a[BM // 2:, :] = 0x80  # -0 operands in the lower half
        c = np.zeros((BM, n), np.float32)
        c[::2, :] = np.float32(-0.0)
        c[BM // 4: BM // 2, : n // 2] = rng.uniform(0, 1, (BM // 4, n // 2))
    elif kind == "c_max":
        a = fp8np.random_codes(rng, (BM, BK), fmt, 6, 30, signed=False)
        b = fp8np.random_codes(rng, (BK, n), fmt, 6, 30, signed=False)
        big = np.float32(3.4e38)
        c = np.where(rng.integers(0, 2, (BM, n)) == 0, big, -big).astype(np.float32)
        c[: BM // 4] = np.float32(np.finfo(np.float32).max)
        c[BM // 4: BM // 2] = (rng.uniform(1, 2, (BM // 4, n)) * 2.0 ** 100).astype(np.float32)
    elif kind == "specials":
        specials = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, np.finfo(np.float32).max,
                             np.float32(1e-45), -np.float32(1e-45)], np.float32)
        c = specials[rng.integers(0, len(specials), (BM, n))].astype(np.float32)
        # NaN bits with a payload, and a negative NaN
        c[0, 0] = fp8np.bits_f32(np.uint32(0x7FC12345))
        c[1, 0] = fp8np.bits_f32(np.uint32(0xFFC00001))
        nan = 0x7F
        a[BM // 2: BM // 2 + 4, 3] = nan
        a[BM // 2 + 4: BM // 2 + 8, 5] = nan | 0x80
        if fmt == "e5m2":
            a[BM // 2 + 8: BM // 2 + 12, 7] = 0x7C  # +Inf
            a[BM // 2 + 12: BM // 2 + 16, 7] = 0xFC  # -Inf
            b[7, : n // 2] = 0x00  # Inf x 0 in the first half of the columns
    else:
        raise ValueError(kind)
    _ = mx
    return a.astype(np.uint8), b.astype(np.uint8), c.astype(np.float32)


def make_data(fmt, blocks, n, seed):
    rng = np.random.default_rng([seed, 0 if fmt == "e4m3" else 1, n])
    kinds = [SCHEDULE[g % len(SCHEDULE)] for g in range(blocks)]
    A = np.empty((blocks, BM, BK), np.uint8)
    B = np.empty((blocks, BK, n), np.uint8)
    C = np.empty((blocks, BM, n), np.float32)
    for g, k in enumerate(kinds):
        A[g], B[g], C[g] = make_block(k, rng, fmt, n)
    kind_ids = np.array([KINDS.index(k) for k in kinds], np.uint8)
    return A, B, C, kind_ids


# ---- GPU part ----------------------------------------------------------------------------------
def _kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def wgmma_block(a_ptr, b_ptr, c_ptr, d_ptr, BN: tl.constexpr, PARTIAL: tl.constexpr):
        g = tl.program_id(0)
        rm = tl.arange(0, 64)
        rk = tl.arange(0, 32)
        rn = tl.arange(0, BN)
        a = tl.load(a_ptr + g * 64 * 32 + rm[:, None] * 32 + rk[None, :])
        b = tl.load(b_ptr + g * 32 * BN + rk[:, None] * BN + rn[None, :])
        c = tl.load(c_ptr + g * 64 * BN + rm[:, None] * BN + rn[None, :])
        if PARTIAL:
            d = tl.dot(a, b, acc=c, max_num_imprecise_acc=32)
        else:
            d = tl.dot(a, b, acc=c)
        tl.store(d_ptr + g * 64 * BN + rm[:, None] * BN + rn[None, :], d)

    return wgmma_block


def _sass_of(ck, work, tag):
    """SASS text of a compiled Triton kernel: asm['sass'] if this Triton has it, else cuobjdump
    on the cubin."""
    try:
        s = ck.asm["sass"]
        if s:
            return s, "asm['sass']"
    except Exception as e:  # noqa: BLE001
        err = repr(e)
    else:
        err = "empty"
    cubin = os.path.join(work, f"wgmma_{tag}.cubin")
    with open(cubin, "wb") as f:
        f.write(ck.asm["cubin"])
    for tool in ("cuobjdump", "/usr/local/cuda/bin/cuobjdump"):
        try:
            r = subprocess.run([tool, "-sass", cubin], capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                return r.stdout, f"{tool} -sass (asm['sass'] failed: {err})"
        except Exception:  # noqa: BLE001
            pass
    return "", f"no SASS (asm['sass']: {err}; cuobjdump failed)"


def run_gpu(fmt, A, B, C, n, work):
    import torch
    kern = _kernel()
    dt = torch.float8_e4m3fn if fmt == "e4m3" else torch.float8_e5m2
    dev = "cuda"
    a = torch.from_numpy(A.copy()).view(dt).to(dev)
    b = torch.from_numpy(B.copy()).view(dt).to(dev)
    c = torch.from_numpy(C.copy()).to(dev)
    blocks = A.shape[0]
    out = {}
    info = {}
    for variant, partial in (("direct", False), ("partial", True)):
        d = torch.full((blocks, BM, n), float("nan"), dtype=torch.float32, device=dev)
        ck = kern[(blocks,)](a, b, c, d, BN=n, PARTIAL=partial, num_warps=4)
        torch.cuda.synchronize()
        if ck is None or not hasattr(ck, "asm"):
            ck = kern.warmup(a, b, c, d, BN=n, PARTIAL=partial, num_warps=4, grid=(blocks,))
        out[variant] = d.cpu().numpy()
        d2 = torch.full_like(d, float("nan"))
        kern[(blocks,)](a, b, c, d2, BN=n, PARTIAL=partial, num_warps=4)
        torch.cuda.synchronize()
        repeat_ok = bool(np.array_equal(out[variant].view(np.uint32), d2.cpu().numpy().view(np.uint32)))
        sass, how = _sass_of(ck, work, f"{fmt}_{variant}")
        ptx = ck.asm.get("ptx", "") if hasattr(ck.asm, "get") else ck.asm["ptx"]
        ttgir = ck.asm.get("ttgir", "") if hasattr(ck.asm, "get") else ck.asm["ttgir"]
        gmma = [ln.strip() for ln in sass.splitlines() if "GMMA" in ln]
        wg_ptx = [ln.strip() for ln in ptx.splitlines() if "wgmma" in ln and "mma_async" in ln]
        mma_enc = sorted(set(re.findall(r"nvidia_mma<\{[^}]*\}>", ttgir)))
        info[variant] = {
            "sass_source": how,
            "sass_gmma_lines": gmma[:16],
            "qgmma_found": any("QGMMA" in ln for ln in gmma),
            "any_gmma_found": bool(gmma),
            "ptx_wgmma_lines": wg_ptx[:16],
            "ttgir_mma_encodings": mma_enc,
            "sass_fadd_count": sum(1 for ln in sass.splitlines() if re.search(r"\bFADD\b", ln)),
            "repeat_bit_identical": repeat_ok,
        }
        with open(os.path.join(work, f"sass_wgmma_{fmt}_{variant}.txt"), "w") as f:
            f.write(f"# {fmt} {variant} N={n}: {how}\n# ttgir mma: {mma_enc}\n")
            f.write("# PTX wgmma lines:\n" + "\n".join(wg_ptx) + "\n# SASS:\n" + sass)
    return out, info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--blocks", type=int, default=32)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--formats", default="e4m3,e5m2")
    ap.add_argument("--data-only", action="store_true", help="no GPU: operands only, D = NaN")
    ap.add_argument("--simulate", action="store_true",
                    help="with --data-only: D = FP32(exact) instead of NaN (exercises the reader)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    failed = []
    for fmt in args.formats.split(","):
        t0 = time.time()
        n = args.n
        tried = []
        info, out = {}, None
        if args.data_only:
            A, B, C, kinds = make_data(fmt, args.blocks, n, args.seed)
            sim = np.full(C.shape, np.nan, np.float32)
            if args.simulate:
                t = fp8np.decode_table(fmt).astype(np.float64)
                with np.errstate(all="ignore"):
                    sim = (np.einsum("gik,gkj->gij", t[A], t[B]) + C).astype(np.float32)
            out = {"direct": sim, "partial": sim}
        else:
            # Fall back to wider N if Triton does not emit wgmma (QGMMA) for the requested one.
            for n in [args.n] + [x for x in (32, 64, 128) if x > args.n]:
                A, B, C, kinds = make_data(fmt, args.blocks, n, args.seed)
                try:
                    out, info = run_gpu(fmt, A, B, C, n, args.work)
                except Exception as e:  # noqa: BLE001
                    tried.append({"n": n, "error": repr(e)[:2000]})
                    print(f"wgmma {fmt} N={n}: FAILED {e!r}", flush=True)
                    out = None
                    continue
                ok = info["direct"]["qgmma_found"]
                tried.append({"n": n, "qgmma_found": ok})
                print(f"wgmma {fmt} N={n}: QGMMA in SASS: {ok}", flush=True)
                if ok:
                    break
            if out is None:
                print(f"wgmma {fmt}: every attempt failed", flush=True)
                failed.append(fmt)
                continue
            if not info["direct"]["qgmma_found"]:
                failed.append(fmt)  # results kept, but flagged: not the wgmma path
        name = f"wgmma_{fmt}.bin"
        w = fp8np.BinWriter(os.path.join(args.out, name))
        w.add("a", A, f"uint8 FP8 {fmt} codes [block, i, k]: A[g] is 64x32 row-major")
        w.add("b", B, f"uint8 FP8 {fmt} codes [block, k, j]: B[g] is 32xN row-major")
        w.add("c", C, "float32 accumulator input [block, i, j]")
        w.add("d_direct", out["direct"], "float32 D = A@B + C, C fed into the wgmma (Triton default on sm_90)")
        w.add("d_partial", out["partial"], "float32 D = C + wgmma(A, B, 0) (max_num_imprecise_acc=32)")
        w.add("kind", kinds, "uint8 block kind id, see kinds")
        extra = {"format": fmt, "blocks": int(A.shape[0]), "M": BM, "K": BK, "N": int(n), "seed": args.seed,
                 "kinds": KINDS, "attempts": tried, "compile_info": info, "data_only": args.data_only,
                 "row": "test row (g,i,j): a=A[g,i,:], b=B[g,:,j], c=C[g,i,j], d=D[g,i,j]"}
        if not args.data_only and n != args.n:
            extra["note"] = f"Triton did not give QGMMA at N={args.n}; fell back to N={n}"
        w.finish(os.path.join(args.work, name + ".index.json"), name,
                 f"Hopper wgmma m64n{n}k32 via Triton tl.dot, FP8 {fmt}, non-zero FP32 C", extra)
        dd = out["direct"]
        print(f"wgmma {fmt}: {A.shape[0]} blocks x 64 x {n} = {dd.size} rows, "
              f"direct vs partial differ in {int(np.sum(dd.view(np.uint32) != out['partial'].view(np.uint32)))}, "
              f"{time.time() - t0:.1f} s", flush=True)
        print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != 'sass_gmma_lines'} for k, v in info.items()}),
              flush=True)
    if failed:
        raise SystemExit(f"wgmma: no QGMMA result for {failed}")


if __name__ == "__main__":
    main()
