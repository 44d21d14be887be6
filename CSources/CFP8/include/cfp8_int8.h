/* Deployment quantisation: symmetric INT8 with an exact INT8 x INT8 -> INT32 GEMM, and the 4-bit
 * weight formats INT4 (group-wise), MXFP4 and NVFP4. */
#ifndef CFP8_INT8_H
#define CFP8_INT8_H

#include "cfp8_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- INT8 --------------------------------------------------------------------------------- */

/* Largest K that cfp8_int8_gemm accepts: every partial sum of K products of int8 values is then
 * below 2^31 in magnitude (128·128·2^17 = 2^31 is reached only by K = 2^17 products of
 * (-128)·(-128)), so INT32 accumulation is exact. */
#define CFP8_INT8_GEMM_MAX_K 131071

/* C[i,j] = Σ_k A[i,k] · B[j,k], exact, as int32.
 * A is M×K row-major (lda >= K) and B is N×K row-major (ldb >= K): B holds the weights of a
 * linear layer as (out features × in features), so C = A·Bᵀ. C is M×N row-major (ldc >= N).
 * Every ISA path gives the same integers (the sum is exact):
 *   scalar  plain loops;
 *   avx512  with VNNI: vpdpbusd on (A + 128) as unsigned bytes, then C -= 128·colsum(B);
 *           without VNNI it runs the AVX2 kernel;
 *   avx2    vpmaddwd on sign-extended 16-bit operands (vpmaddubsw would saturate);
 *   neon    smull + sadalp (widening multiply, pairwise accumulate).
 * OpenMP over blocks of M and N. M, N or K may be 0 (K = 0 gives C = 0).
 * Errors: NULL pointers (when M·N > 0), negative sizes, K > CFP8_INT8_GEMM_MAX_K (BAD_SHAPE),
 * small leading dimensions (BAD_STRIDE), size overflow, allocation failure. */
cfp8_status cfp8_int8_gemm(int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda, const int8_t *b,
                           int64_t ldb, int32_t *c, int64_t ldc, int32_t isa, int32_t threads);

/* Requantisation epilogue to FP32:
 *   s_j = a_scale · w_scales[j]   (rounded to FP32)
 *   t   = (float)C[i,j] · s_j      (int32 -> FP32 rounds to nearest even above 2^24)
 *   out[i,j] = t + bias[j]         (bias NULL: out = t); two separate FP32 roundings, never an FMA.
 * Scales must be finite (BAD_SCALE). */
cfp8_status cfp8_int8_requantize(int64_t m, int64_t n, const int32_t *c, int64_t ldc, float a_scale,
                                 const float *w_scales, const float *bias, float *out, int64_t ldo);

/* Symmetric INT8 quantisation of an FP32 matrix (rows×cols, ldx >= cols) with given scales:
 *   q = clamp(rne(x / s), -127, 127)  (x / s in FP32; NaN -> 0, ±Inf -> ±127)
 * per_row = 0: one scale scales[0]; per_row = 1: scales[r] for row r (per output channel of a
 * weight matrix). Scales must be finite and > 0 (BAD_SCALE). q is rows×cols with ldq >= cols. */
cfp8_status cfp8_int8_quantize(const float *x, int64_t rows, int64_t cols, int64_t ldx, const float *scales,
                               int32_t per_row, int8_t *q, int64_t ldq);

/* max |x| over each row (per_row = 1, amax[rows]) or the whole matrix (amax[0]); NaN is skipped. */
cfp8_status cfp8_absmax_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx, int32_t per_row, float *amax);

/* ---- 4-bit weights -------------------------------------------------------------------------- */
/* All three formats quantise an FP32 matrix rows×cols (dense, row-major) group-wise along each row
 * (groups never straddle rows; the last group of a row may be short), and pack two 4-bit codes
 * per byte: element 2t of a row in the low nibble of byte t, element 2t+1 in the high nibble; a
 * row takes ceil(cols/2) bytes (an odd row ends with a zero high nibble). */
enum {
  CFP8_FOURBIT_INT4 = 0,   /* two's-complement nibble, values -7..7, scale per 128 (FP32 or FP16) */
  CFP8_FOURBIT_MXFP4 = 1,  /* E2M1 with an E8M0 scale per 32 (OCP MX v1.0) */
  CFP8_FOURBIT_NVFP4 = 2,  /* E2M1 with an E4M3 scale per 16 and one FP32 per-tensor scale */
};

/* Elements per scale group (128, 32, 16), or 0 for an unknown format. */
int32_t cfp8_fourbit_group(int32_t format);

/* E2M1 code (sign in bit 3) nearest to x, ties to even code, |x| > 6 saturates to 6, NaN -> +0. */
uint8_t cfp8_e2m1_encode(float x);
/* Value of an E2M1 code (low 4 bits): ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}. */
float cfp8_e2m1_decode(uint8_t code);

/* Quantises x. Outputs: packed (rows·ceil(cols/2) bytes); scales, one per group, row-major
 * (rows × ceil(cols/group)):
 *   INT4:  amax of the group a; s = a/7 (s = 1 when a = 0); with scale_format CFP8_FORMAT_F16
 *          s is rounded to FP16 (RNE; a result of 0 becomes the smallest FP16 subnormal), and the
 *          FP16 value is used below. q = clamp(rne(x/s), -7, 7). scales: float[] for F32,
 *          uint16_t[] (FP16 bits) for F16.
 *   MXFP4: e = floor(log2 a) - 2 (2 = emax of E2M1), clamped to [-127, 127] (a = 0: e = -127);
 *          scale byte = e + 127 (E8M0); q = e2m1(x / 2^e). scale_format ignored; scales uint8_t[].
 *   NVFP4: global g = 448·6 / amax(whole tensor) (g = 1 when the tensor is 0 or g is not finite);
 *          block scale sb = e4m3_satfinite_rne(a/6 · g) (uint8_t[]); q = e2m1(x · g / decode(sb))
 *          (x · g / 0 -> the block is zero). *tensor_scale receives the decode scale 1/g (FP32)
 *          as stored beside NVFP4 checkpoints ("weight_scale_2"). scale_format ignored.
 * Dequantisation (cfp8_fourbit_dequantize) is value(q) · s, value(q) · 2^e, or
 * value(q) · decode(sb) · (1/g) respectively (in FP32, in that order).
 * tensor_scale may be NULL except for NVFP4. Non-finite inputs: BAD_ARGUMENT. */
cfp8_status cfp8_fourbit_quantize(const float *x, int64_t rows, int64_t cols, int32_t format, int32_t scale_format,
                                  uint8_t *packed, void *scales, float *tensor_scale);

cfp8_status cfp8_fourbit_dequantize(const uint8_t *packed, int64_t rows, int64_t cols, int32_t format,
                                    int32_t scale_format, const void *scales, float tensor_scale, float *out);

#ifdef __cplusplus
}
#endif
#endif
