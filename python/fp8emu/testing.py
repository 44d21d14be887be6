"""Routing torch._scaled_mm on CPU tensors to fp8emu.scaled_mm, so that FP8 tests written for
GPUs run on CPU machines with a chosen GPU's tensor-core numerics."""
import contextlib
import warnings

from .matmul import scaled_mm


@contextlib.contextmanager
def emulate_scaled_mm(gpu="h100", accumulation=None, isa="auto", threads=None):
    """Within the block, aten::_scaled_mm on CPU tensors (torch._scaled_mm, torch.ops.aten._scaled_mm
    and whatever calls them, such as torchao's float8 layers) runs fp8emu.scaled_mm with `gpu`'s
    numerics; use_fast_accum then chooses fast or promoted accumulation, unless `accumulation`
    fixes one. The CPU kernel is replaced in PyTorch's dispatcher and restored on exit; CUDA calls
    are untouched. Yields the settings as a dict."""
    import torch

    settings = {"gpu": gpu, "accumulation": accumulation, "isa": isa, "threads": threads}

    def kernel(a, b, scale_a, scale_b, bias=None, scale_result=None, out_dtype=None, use_fast_accum=False):
        return scaled_mm(a, b, scale_a, scale_b, bias=bias, scale_result=scale_result, out_dtype=out_dtype,
                         use_fast_accum=use_fast_accum, **settings)

    library = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns that a kernel is overridden: that is the point
        library.impl("_scaled_mm", kernel, "CPU")
    try:
        yield settings
    finally:
        library._destroy()
