// NVIDIA tensor-core numerics: GPU architectures, the block-FMA model and accumulation schemes.
