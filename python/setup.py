"""Builds fp8emu._cfp8 from the repository's C kernels (../CSources/CFP8/*.c, every file, so that
new kernel files need no change here) and the binding in src/.

The kernels pick their SIMD path at run time (function-level target attributes), so no -march
flag is given: the module runs on any x86-64 or AArch64 CPU. OpenMP: gcc links libgomp, clang
(CC=clang) links LLVM's libomp (Debian: libomp-dev)."""
import glob
import os
import sys

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
csources = os.path.join(here, "..", "CSources", "CFP8")
if not os.path.isfile(os.path.join(csources, "include", "cfp8.h")):
    sys.exit("fp8emu: ../CSources/CFP8 not found: build from a checkout of the fp8emu repository (pip install ./python)")

kernels = sorted(os.path.relpath(p, here) for p in glob.glob(os.path.join(csources, "*.c")))

setup(
    ext_modules=[
        Extension(
            "fp8emu._cfp8",
            sources=[os.path.join("src", "cfp8module.c")] + kernels,
            include_dirs=[os.path.relpath(os.path.join(csources, "include"), here)],
            # -ffp-contract=off: no compiler-made FMA anywhere (gcc would fuse across statements);
            # the kernels' fused operations are explicit, so every compiler gives the same bits.
            extra_compile_args=["-fopenmp", "-O3", "-fno-math-errno", "-ffp-contract=off", "-Wno-unused-parameter"],
            extra_link_args=["-fopenmp", "-lm"],
        )
    ],
)
