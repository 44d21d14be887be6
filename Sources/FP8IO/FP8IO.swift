// File formats: safetensors, NumPy .npy, and the real-GPU tensor-core vector layout.
@_exported import FP8
