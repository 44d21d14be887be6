"""Reads the results of the H200 device run (a folder with manifest.json and the binary files)
and prints a summary; optionally exports every array as .npy (the project's Swift code reads .npy)
so that the results can become test fixtures quickly.

  python3 scripts/gpu/read_results.py DIR                 # summary
  python3 scripts/gpu/read_results.py DIR --export-npy FIXTURE_DIR
  python3 scripts/gpu/read_results.py DIR --check-selftest   # used by selftest.sh (fake outputs)

Only numpy is needed (fp8np.py and make_manifest.py beside this file).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fp8np  # noqa: E402
# The manifest writer's own digest, so that a file checks against its entry by construction.
from make_manifest import sha256  # noqa: E402

CATS = ["zero", "f32_subnormal", "finite_in_range", "finite_overflow", "inf", "nan"]
ALL_SPECIALS = False
KEY = []  # one-line key results, printed again at the very end (the device tool shows the tail)


def load_all(directory):
    man = fp8np.load_manifest(directory)
    data = {}
    for e in man["files"]:
        if "arrays" not in e:
            continue
        path = os.path.join(directory, e["file"])
        if e.get("sha256") and sha256(path) != e["sha256"]:
            raise SystemExit(f"{e['file']}: sha256 differs from the manifest")
        data[e["file"]] = (fp8np.load_bin(path, {"nbytes": e["bytes"], "arrays": e["arrays"]}), e)
    return man, data


def f32(u):
    return float(np.uint32(u).view(np.float32))


def summarize_cvt(d, meta):
    print("== cvt.bin: hardware FP8 conversion (satfinite, RNE) vs our cuda-satfinite reference")
    for fmt in fp8np.FORMATS:
        p = f"f32_{fmt}_"
        rng = d[p + "range"]
        tot = int(d[p + "total"][0])
        print(f"  FP32 -> {fmt}: inputs [{rng[0]:#x}, {rng[1]:#x}): {tot} mismatches")
        top = sorted(((int(c), int(a), int(b)) for a, b, c in d[p + "pairs"]), reverse=True)[:3]
        KEY.append(f"cvt FP32->{fmt}: {tot} mismatches over [{rng[0]:#x}, {rng[1]:#x}); by category "
                   f"{dict(zip(CATS, map(int, d[p + 'category_mismatches'])))}; top (hw, ours): "
                   f"{[(hex(a), hex(b), c) for c, a, b in top]}")
        cm = d[p + "category_mismatches"]
        ci = d[p + "category_inputs"]
        for c in range(6):
            print(f"    {CATS[c]:16s} {int(ci[c]):>11d} inputs  {int(cm[c]):>10d} mismatches")
        pairs = d[p + "pairs"]
        if len(pairs):
            order = np.argsort(-pairs[:, 2].astype(np.int64))
            print("    (hardware, ours): count   -- most frequent first")
            for r in pairs[order[:12]]:
                print(f"      ({int(r[0]):#04x}, {int(r[1]):#04x}): {int(r[2])}")
        cnt = d[p + "mm_category_count"]
        inp, hw, rf = d[p + "mm_input"], d[p + "mm_hw"], d[p + "mm_ref"]
        off = 0
        for c in range(6):
            n = int(cnt[c])
            if n:
                ex = ", ".join(f"{int(inp[off + k]):#010x}({f32(inp[off + k]):.6g}): hw {int(hw[off + k]):#04x} ours {int(rf[off + k]):#04x}"
                               for k in range(min(3, n)))
                print(f"    first {CATS[c]}: {ex}")
            off += n
    sp = d["special_input"]
    print(f"  specials ({len(sp)} inputs; rows shown where hardware != ours or the lanes differ, "
          f"--all-specials for all): input -> e4m3 hw lo/hi (ours) | e5m2 hw lo/hi (ours)")
    lane_diff = shown = 0
    for i, u in enumerate(sp):
        row = []
        notable = False
        for fmt in fp8np.FORMATS:
            lo, hi, rf = (int(d[f"special_{fmt}_{k}"][i]) for k in ("hw_lo", "hw_hi", "ref"))
            lane_diff += lo != hi
            flag = "" if lo == rf and hi == rf else " !"
            notable |= bool(flag)
            row.append(f"{lo:02x}/{hi:02x} ({rf:02x}){flag}")
        if notable or ALL_SPECIALS:
            shown += 1
            print(f"    {int(u):#010x} {f32(u):>14.7g}  {row[0]:16s} | {row[1]}")
    print(f"  specials: {shown} rows shown; low and high lane differ in {lane_diff} cases")
    KEY.append(f"cvt specials: {shown} of {len(sp)} differ from ours; lanes differ in {lane_diff}")
    for src in ("f16", "bf16"):
        for fmt in fp8np.FORMATS:
            hw, rf = d[f"{src}_{fmt}_hw"], d[f"{src}_{fmt}_ref"]
            bad = np.nonzero(hw != rf)[0]
            ex = ", ".join(f"{int(u):#06x}: hw {int(hw[u]):#04x} ours {int(rf[u]):#04x}" for u in bad[:4])
            print(f"  {src} -> {fmt}: {len(bad)} of 65536 differ{': ' + ex if len(bad) else ''}")
            KEY.append(f"cvt {src}->{fmt}: {len(bad)} of 65536 differ")
    for fmt in fp8np.FORMATS:
        h = d[f"decode_{fmt}_f16"]
        got = h.view(np.float16).astype(np.float32)
        want = fp8np.decode_table(fmt)
        nan = np.isnan(want)
        bad = np.nonzero(~nan & ~((got == want) & (np.signbit(got) == np.signbit(want))))[0]
        nan_bits = sorted({f"{int(h[c]):#06x}" for c in np.nonzero(nan)[0]})
        KEY.append(f"decode {fmt}: {len(bad)} non-NaN codes differ; NaN codes give f16 {nan_bits}")
        print(f"  decode {fmt} -> f16: {len(bad)} non-NaN codes differ from the definition"
              f"{' ' + str([hex(int(c)) for c in bad[:8]]) if len(bad) else ''}; NaN codes give f16 {nan_bits}"
              f"; NaN codes decode to NaN: {bool(np.all(np.isnan(got[nan])))}")


def summarize_wgmma(name, d, meta):
    fmt = meta.get("format")
    n = meta.get("N")
    print(f"== {name}: wgmma m64n{n}k32 {fmt}, {meta.get('blocks')} blocks"
          f"{' (DATA ONLY: no GPU results)' if meta.get('data_only') else ''}")
    for v, info in (meta.get("compile_info") or {}).items():
        print(f"  {v}: QGMMA {info.get('qgmma_found')} ({info.get('sass_source')}); "
              f"{(info.get('sass_gmma_lines') or ['-'])[0]}; FADD count {info.get('sass_fadd_count')}")
    if meta.get("note"):
        print("  NOTE:", meta["note"])
    t = fp8np.decode_table(fmt).astype(np.float64)
    A, B, C = t[d["a"]], t[d["b"]], d["c"].astype(np.float64)
    with np.errstate(all="ignore"):
        exact = np.einsum("gik,gkj->gij", A, B) + C
    kinds = meta.get("kinds", [])
    for variant in ("d_direct", "d_partial"):
        D = d[variant]
        if np.all(np.isnan(D)):
            print(f"  {variant}: all NaN (not measured)")
            continue
        low10 = (D.view(np.uint32) & 0x3FF) == 0
        rne = exact.astype(np.float32)
        eq = np.mean(D.view(np.uint32) == rne.view(np.uint32))
        print(f"  {variant}: rows {D.size}; low 10 mantissa bits zero in {low10.mean():.3f}; "
              f"equal to RNE(exact) in {eq:.3f}")
        KEY.append(f"{name} {variant}: low-10-bits-zero {low10.mean():.3f}, ==RNE(exact) {eq:.3f}, "
                   f"QGMMA {(meta.get('compile_info') or {}).get(variant[2:], {}).get('qgmma_found')}")
        for kid, kn in enumerate(kinds):
            g = d["kind"] == kid
            if not g.any():
                continue
            dd, ee = D[g].astype(np.float64), exact[g]
            with np.errstate(all="ignore"):
                rel = np.abs(dd - ee) / np.maximum(np.abs(ee), 1e-300)
            fin = np.isfinite(rel)
            print(f"    {kn:16s} rows {dd.size:6d}  max rel err {np.max(rel[fin]) if fin.any() else float('nan'):.3g}  "
                  f"NaN out {int(np.isnan(dd).sum())}  Inf out {int(np.isinf(dd).sum())}")
    if not np.all(np.isnan(d["d_direct"])):
        diff = d["d_direct"].view(np.uint32) != d["d_partial"].view(np.uint32)
        print(f"  direct vs partial: {int(diff.sum())} of {diff.size} rows differ")
        KEY.append(f"{name}: direct vs partial differ in {int(diff.sum())} of {diff.size} rows")


def summarize_scaled_mm(d, meta):
    runs, sets = meta["runs"], {s["id"]: s for s in meta["sets"]}
    ok = [r for r in runs if r["status"] == "ok"]
    print(f"== scaled_mm.bin: {len(sets)} operand sets, {len(runs)} runs, {len(ok)} ok"
          f"{' (DATA ONLY)' if meta.get('data_only') else ''}; env {meta.get('env')}")
    for e in meta.get("distinct_errors", []):
        print("  error:", e)
    kern = sorted({k for r in runs for k in r.get("kernels", [])})
    for k in kern:
        print("  kernel:", k[:160])
    KEY.append(f"scaled_mm: {len(ok)} of {len(runs)} runs ok; {len(kern)} distinct kernels; errors "
               f"{[e[:80] for e in meta.get('distinct_errors', [])]}")
    nondet = [r["id"] for r in ok if not r.get("repeat_bit_identical", True)]
    print(f"  runs whose two calls differ bitwise: {nondet[:20]}")
    if not ok:
        return
    print("  max |out - exact| / sum|a_k b_k| (float64 exact), scale mode 'one':   K: fast=False / fast=True")
    rows = {}
    for r in ok:
        s = sets[r["set"]]
        if r["scale_mode"] != "one":
            continue
        ta, tb = fp8np.decode_table(s["fmt_a"]).astype(np.float64), fp8np.decode_table(s["fmt_b"]).astype(np.float64)
        av, bv = ta[d[f"set{s['id']}_a"]], tb[d[f"set{s['id']}_bt"]]
        exact = av @ bv.T
        mag = np.abs(av) @ np.abs(bv).T  # sum of |a_k b_k|: the error scale of a dot product
        out = d[f"run{r['id']}_out"].astype(np.float64)
        with np.errstate(all="ignore"):
            rel = np.nanmax(np.abs(out - exact) / np.maximum(mag, 1e-30))
        rows.setdefault((s["fmt_a"], s["fmt_b"], s["kind"], s["M"]), {}).setdefault(s["K"], {})[r["fast_accum"]] = rel
    for key, byk in rows.items():
        cells = "  ".join(f"{k}: {v.get(False, float('nan')):.2e}/{v.get(True, float('nan')):.2e}"
                          for k, v in sorted(byk.items()))
        print(f"    {key[0]}x{key[1]} {key[2]:5s} M=N={key[3]}: {cells}")


def export_npy(data, outdir):
    os.makedirs(outdir, exist_ok=True)
    n = 0
    for fname, (arrs, _) in data.items():
        stem = os.path.splitext(fname)[0]
        for k, v in arrs.items():
            np.save(os.path.join(outdir, f"{stem}__{k}.npy"), np.ascontiguousarray(v))
            n += 1
    print(f"exported {n} arrays to {outdir}")


def check_selftest(man, data):
    """The planted differences of cvt_selftest.cc and the shapes of the data-only stages."""
    d, _ = data["cvt.bin"]
    for fmt, ovf in (("e4m3", 0xFE), ("e5m2", 0xFB)):  # negative saturation codes
        p = f"f32_{fmt}_"
        assert list(d[p + "range"]) == [0xFF000000, 1 << 32], d[p + "range"]
        assert int(d[p + "total"][0]) == (1 << 23), d[p + "total"]
        cm = d[p + "category_mismatches"]
        assert int(cm[5]) == (1 << 23) - 1 and int(cm[3]) == 1 and int(cm.sum()) == 1 << 23, cm
        assert int(d[p + "category_inputs"].sum()) == 1 << 24
        pairs = {(int(a), int(b)): int(c) for a, b, c in d[p + "pairs"]}
        assert pairs == {(0xFF, 0x7F): (1 << 23) - 1, (ovf - 1, ovf): 1}, pairs
        cnt = d[p + "mm_category_count"]
        assert list(map(int, cnt)) == [0, 0, 0, 1, 0, 1000], cnt
        assert int(d[p + "mm_input"][0]) == 0xFF003039 and int(d[p + "mm_ref"][0]) == ovf
        assert int(d[p + "mm_hw"][0]) == ovf - 1
        assert int(d[p + "mm_input"][1]) == 0xFF800001 and int(d[p + "mm_hw"][1]) == 0xFF
        assert int(d[p + "mm_ref"][1]) == 0x7F
        assert np.all(np.diff(d[p + "mm_input"][1:].astype(np.int64)) > 0)
    for fmt in fp8np.FORMATS:
        assert np.array_equal(d[f"special_{fmt}_hw_lo"], d[f"special_{fmt}_ref"])
    bad = [(s, f, int(u)) for s in ("f16", "bf16") for f in fp8np.FORMATS
           for u in np.nonzero(d[f"{s}_{f}_hw"] != d[f"{s}_{f}_ref"])[0]]
    assert bad == [("f16", "e4m3", 0x3C00)], bad
    assert int(d["f16_e4m3_ref"][0x3C00]) == 0x38 and int(d["f16_e4m3_hw"][0x3C00]) == 0x39
    for fmt in fp8np.FORMATS:
        got = d[f"decode_{fmt}_f16"].view(np.float16).astype(np.float32)
        want = fp8np.decode_table(fmt)
        nan = np.isnan(want)
        bad = np.nonzero(~nan & (got != want))[0]
        assert list(bad) == ([0x3D] if fmt == "e5m2" else []), (fmt, bad)
        assert np.all(np.isnan(got[nan]))
    for fmt in fp8np.FORMATS:
        w, meta = data[f"wgmma_{fmt}.bin"]
        g, n = meta["meta"]["blocks"], meta["meta"]["N"]
        assert w["a"].shape == (g, 64, 32) and w["b"].shape == (g, 32, n) and w["c"].shape == (g, 64, n)
        assert w["d_direct"].shape == (g, 64, n) and np.all(np.isnan(w["d_direct"]))
        assert w["kind"].shape == (g,)
        t = fp8np.decode_table(fmt)
        assert not np.isnan(t[w["a"][w["kind"] != meta["meta"]["kinds"].index("specials")]]).any()
    s, meta = data["scaled_mm.bin"]
    mm = meta["meta"]
    for st in mm["sets"]:
        assert s[f"set{st['id']}_a"].shape == (st["M"], st["K"]) and s[f"set{st['id']}_bt"].shape == (st["N"], st["K"])
        t = fp8np.decode_table(st["fmt_a"])
        assert not np.isnan(t[s[f"set{st['id']}_a"]]).any()
    for r in mm["runs"]:
        st = mm["sets"][r["set"]]
        assert s[f"run{r['id']}_out"].shape == (st["M"], st["N"])
    names = {e["file"] for e in man["files"]}
    assert names == {"cvt.bin", "wgmma_e4m3.bin", "wgmma_e5m2.bin", "scaled_mm.bin", "log.txt", "sass.txt"}, names
    assert len(names) + 1 <= 8
    print("selftest checks: all passed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--export-npy")
    ap.add_argument("--check-selftest", action="store_true")
    ap.add_argument("--all-specials", action="store_true")
    args = ap.parse_args()
    global ALL_SPECIALS
    ALL_SPECIALS = args.all_specials
    man, data = load_all(args.dir)
    g = man.get("gpu", {})
    print(f"run of {man.get('date_utc')} seed {man.get('seed')} commit {man.get('git_commit')}: GPU {g or '-'}; "
          f"nvcc {man.get('nvcc')}; python {json.dumps(man.get('python'))}")
    print(f"stages: {[(s['stage'], s['rc'], s['seconds']) for s in man.get('stages', [])]}; "
          f"cvt F2FP in SASS: {man.get('sass_check', {}).get('cvt_f2fp_found')}")
    for fname, (arrs, e) in data.items():
        meta = e.get("meta", {})
        if fname == "cvt.bin":
            summarize_cvt(arrs, meta)
        elif fname.startswith("wgmma_"):
            summarize_wgmma(fname, arrs, meta)
        elif fname == "scaled_mm.bin":
            summarize_scaled_mm(arrs, meta)
    print("== KEY RESULTS")
    for k in KEY:
        print("  " + k)
    if args.export_npy:
        export_npy(data, args.export_npy)
    if args.check_selftest:
        check_selftest(man, data)


if __name__ == "__main__":
    main()
