// Matrix storage with element format and layout, scaling recipes and the FP8 GEMM.
