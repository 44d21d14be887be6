// NVIDIA tensor-core numerics: GPU architectures, the block-FMA model and accumulation schemes.
@_exported import FP8
