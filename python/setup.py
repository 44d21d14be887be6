"""Builds fp8emu._cfp8 from the repository's C kernels (../CSources/CFP8/*.c, every file, so that
new kernel files need no change here) and the binding in src/.

The kernels pick their SIMD path at run time (function-level target attributes), so no -march
flag is given: the module runs on any x86-64 or AArch64 CPU. Compiler: $CC, else clang where
installed, else the Python build's default (gcc). OpenMP: LLVM's libomp where it is
installed (libomp5.so, Debian's name that SwiftPM links for the CLI, or libomp.so), else the
compiler's own runtime (gcc: libgomp)."""
import glob
import os
import shutil
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

here = os.path.dirname(os.path.abspath(__file__))
csources = os.path.join(here, "..", "CSources", "CFP8")
if not os.path.isfile(os.path.join(csources, "include", "cfp8.h")):
    sys.exit("fp8emu: ../CSources/CFP8 not found: build from a checkout of the fp8emu repository (pip install ./python)")

kernels = sorted(os.path.relpath(p, here) for p in glob.glob(os.path.join(csources, "*.c")))

# clang unless CC says otherwise: SwiftPM builds the CLI's kernels with it, and its code for the
# tensor-core kernels ran 10-25% faster than gcc 12's (1024^3 H100 products, one thread, AVX2).
if "CC" not in os.environ and shutil.which("clang"):
    os.environ["CC"] = "clang"
# LLVM's libomp first: the CLI's runtime, and it yields when the CPU is oversubscribed where
# libgomp spins (two threads on a busy 2-core machine ran slower than one with libgomp); gcc's
# objects call libomp through its GOMP_* entry points. Then the compiler's own runtime.
OPENMP_LINKS = (["-lomp5"], ["-lomp"], ["-fopenmp"], ["-lgomp"])


class BuildWithOpenMP(build_ext):
    """Links the OpenMP runtime that this compiler can find, or stops with one clear line."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1  # about thirty kernel files

    def build_extensions(self):
        flags = self._openmp_link_flags()
        for ext in self.extensions:
            ext.extra_link_args = flags + ext.extra_link_args
        super().build_extensions()

    def _openmp_link_flags(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "omp.c")
            with open(src, "w") as f:
                f.write("int omp_get_max_threads(void);\nint main(void) {\n#pragma omp parallel\n{ }\n"
                        "return omp_get_max_threads() > 0 ? 0 : 1; }\n")
            try:
                objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
            except Exception:
                sys.exit("fp8emu: the C compiler does not accept -fopenmp (use gcc, or clang with libomp-dev)")
            for flags in OPENMP_LINKS:
                try:
                    self.compiler.link_executable(objs, os.path.join(tmp, "omp"), extra_postargs=flags)
                    return flags
                except Exception:
                    continue
        sys.exit("fp8emu: no OpenMP runtime to link: install libgomp (comes with gcc) or libomp-dev (clang)")


setup(
    cmdclass={"build_ext": BuildWithOpenMP},
    ext_modules=[
        Extension(
            "fp8emu._cfp8",
            sources=[os.path.join("src", "cfp8module.c")] + kernels,
            include_dirs=[os.path.relpath(os.path.join(csources, "include"), here)],
            # -ffp-contract=off: no compiler-made FMA anywhere (gcc would fuse across statements);
            # the kernels' fused operations are explicit, so every compiler gives the same bits.
            # -fvisibility=hidden: only PyInit__cfp8 is exported, so that calls between kernel files
            # bind locally and inline (through the PLT, cfp8_f32_to_bf16_rne alone made the
            # dequantiser 3x slower than in the CLI's static build).
            extra_compile_args=["-fopenmp", "-O3", "-fno-math-errno", "-ffp-contract=off", "-fvisibility=hidden",
                                "-Wno-unused-parameter"],
            extra_link_args=["-lm"],
        )
    ],
)
