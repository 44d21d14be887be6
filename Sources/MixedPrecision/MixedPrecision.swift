// FP8 mixed-precision training on emulated tensor cores.
@_exported import FP8
