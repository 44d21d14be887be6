"""Compiles the wgmma kernel of wgmma_triton.py for sm_90 WITHOUT a GPU (triton.compile with a
GPUTarget) and checks the SASS: both variants must use QGMMA m64nNk32; the direct variant must
feed the accumulator registers into the QGMMA (no FADD), the partial variant must start the QGMMA
from zero (RZ) and add C with FADDs. Needs Triton (with its bundled ptxas/cuobjdump/nvdisasm).

  python3 scripts/gpu/triton_compile_check.py [--n 16]
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402

import wgmma_triton  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16)
    args = ap.parse_args()
    kern = wgmma_triton._kernel()
    ok = True
    for fmt, ty in (("e4m3", "*fp8e4nv"), ("e5m2", "*fp8e5")):
        for partial in (False, True):
            sig = {"a_ptr": ty, "b_ptr": ty, "c_ptr": "*fp32", "d_ptr": "*fp32", "BN": "constexpr",
                   "PARTIAL": "constexpr"}
            src = triton.compiler.ASTSource(fn=kern, signature=sig, constexprs={"BN": args.n, "PARTIAL": partial})
            ck = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": 4})
            sass = ck.asm["sass"]
            gmma = [ln.split("\t")[-1].strip() for ln in sass.splitlines() if "QGMMA" in ln]
            fadd = sum(1 for ln in sass.splitlines() if re.search(r"\bFADD\b", ln))
            shape = f"QGMMA.64x{args.n}x32.F32.{fmt.upper()}.{fmt.upper()}"
            good = len(gmma) == 1 and shape in gmma[0]
            if partial:
                good = good and ", RZ, !UPT" in gmma[0] and fadd > 0
            else:
                good = good and ", RZ" not in gmma[0] and fadd == 0
            ok &= good
            print(f"{fmt} {'partial' if partial else 'direct '} N={args.n}: {'ok ' if good else 'BAD'} "
                  f"{gmma} FADD={fadd}")
    if not ok:
        raise SystemExit("triton_compile_check: unexpected SASS")
    print("triton_compile_check: ok (Triton", triton.__version__ + ")")


if __name__ == "__main__":
    main()
