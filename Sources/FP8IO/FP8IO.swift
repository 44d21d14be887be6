// File formats: safetensors, NumPy .npy, and FP8 checkpoint inspection / dequantisation /
// quantisation built on them.
