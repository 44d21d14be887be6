/* The matrix-product contract shared by the FP32-accumulating GEMM engine (gemm_*.c) and the
 * tensor-core model (tensorcore_*.c):
 *
 *   D = alpha · Σ_k scale(i,j,k) · op(A)[i,k] · op(B)[k,j] + beta · C + bias[j]
 *
 * with op(A) M×K and op(B) K×N, all row-major unless transposed. */
#ifndef CFP8_GEMM_H
#define CFP8_GEMM_H

#include "cfp8_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One operand. `format` is any CFP8_FORMAT_* except E8M0 (FP8 as uint8_t, F16/BF16 as uint16_t,
 * F32 as float). Not transposed: element (r, c) of op(X) is data[r * ld + c]. Transposed:
 * data[c * ld + r]. ld must be at least the stored row length. */
typedef struct cfp8_operand {
  const void *data;
  int32_t format;
  int32_t transposed;
  int64_t ld;
} cfp8_operand;

enum {
  CFP8_SCALING_NONE = 0,     /* no scales */
  CFP8_SCALING_TENSOR = 1,   /* a_scales[0], b_scales[0] (torch._scaled_mm) */
  CFP8_SCALING_ROWWISE = 2,  /* a_scales[M] per row of op(A), b_scales[N] per column of op(B) */
  CFP8_SCALING_BLOCK = 3,    /* DeepSeek-V3: a_scales[M][ceil(K/128)] per 1×128 tile,
                                b_scales[ceil(K/128)][ceil(N/128)] per 128×128 block, applied once
                                per 128-long K block: acc += (sa·sb) · partial */
  CFP8_SCALING_MX = 4,       /* MXFP8: E8M0 a_mx[M][ceil(K/32)], b_mx[ceil(K/32)][N] */
};

/* Scales multiply the decoded operands (dequantisation scales, "scale_inv" in DeepSeek's
 * checkpoints). Scale arrays are dense row-major with the shapes above; float scales must be
 * finite (CFP8_ERR_BAD_SCALE otherwise). */
typedef struct cfp8_scaling {
  int32_t mode;
  const float *a_scales;
  const float *b_scales;
  const uint8_t *a_mx;
  const uint8_t *b_mx;
} cfp8_scaling;

/* D = alpha·(scaled A·B) + beta·C + bias, then stored in d_format (F32, F16, BF16 with RNE, or an
 * FP8 format as satfinite(value · d_scale) with RNE). C is FP32 M×N (ldc), read only when
 * beta != 0; bias is FP32 length N or NULL; amax_out, if not NULL, receives max |value| over D
 * before d_scale (NaN if any value is NaN), as cuBLASLt's amax output. */
typedef struct cfp8_epilogue {
  float alpha;
  float beta;
  const float *c;
  int64_t ldc;
  const float *bias;
  void *d;
  int32_t d_format;
  int64_t ldd;
  float d_scale;
  float *amax_out;
} cfp8_epilogue;


/* The FP32-accumulating GEMM engine (gemm_*.c): BLIS-style packing that decodes the operands to
 * FP32, register-blocked FMA micro-kernels, OpenMP over blocks of M and N (never K).
 *
 * Numerics (identical bits on every ISA path and for every thread count):
 * - each accumulator is one FMA chain over k = 0, 1, ..., K-1 starting from +0.0f:
 *   acc = fmaf(a[i,k], b[k,j], acc), a and b the decoded operands (exact in FP32);
 * - TENSOR:  v = acc · (a_scales[0]·b_scales[0])            (scale product rounded to FP32 first)
 * - ROWWISE: v = acc · (a_scales[i]·b_scales[j])
 * - BLOCK:   per 128-long K block kb, a partial FMA chain from +0.0f, then
 *            acc = fmaf(a_scales[i][kb]·b_scales[kb][j/128], partial, acc), acc from +0.0f; v = acc
 * - MX:      FP8 operands only (CFP8_ERR_BAD_FORMAT otherwise); the E8M0 scales 2^(e-127) are
 *            folded into the decoded operands while packing (a·2^(e-127) is exact in FP32,
 *            subnormal results included, unless it overflows to ±Inf), then the plain chain; v = acc
 * - epilogue: t = alpha·v; if beta != 0: t = fmaf(beta, C[i,j], t); if bias: t = t + bias[j];
 *   amax = max |t| (NaN if any t is NaN); stored as F32, F16/BF16 (RNE), or FP8
 *   cfp8_encode_f32_reference(t · d_scale, d_format, RNE, CUDA_SATFINITE); a NaN t is first
 *   replaced by the quiet NaN +0x7FC00000 (which NaN an FMA propagates depends on the operand
 *   order, so sign and payload would otherwise differ between ISA paths).
 * `threads` 0 means the OpenMP default. Returns CFP8_ERR_* for NULL pointers, bad formats
 * (E8M0 operands, an unknown format), negative sizes, leading dimensions too small, missing or
 * non-finite scales (E8M0 0xFF is NaN and rejected), a non-finite d_scale for FP8 output, and size
 * overflow. M, N or K may be 0 (K = 0 gives D = beta·C + bias). */
cfp8_status cfp8_gemm(int64_t m, int64_t n, int64_t k, const cfp8_operand *a, const cfp8_operand *b,
                      const cfp8_scaling *scaling, const cfp8_epilogue *epilogue, int32_t isa, int32_t threads);

/* Strided batched products (the attention products QKᵀ and PV of batch × heads sequences): product
 * (o, i), o < outer, i < inner, is cfp8_gemm on the operands and epilogue moved by
 * o·x_outer + i·x_inner elements of their own format (x = a, b, c, d), e.g. for heads laid side by
 * side in the rows of a [batch][seq][3·d] QKV buffer: a_outer = seq·3d, a_inner = d/heads. Strides
 * are >= 0; the products must write disjoint parts of D. Scaling NONE or TENSOR (the same scales for
 * every product; CFP8_ERR_BAD_ARGUMENT for the others); bias and d_scale are shared; amax_out
 * receives the maximum over all products. Every product is checked as cfp8_gemm checks it and
 * computed with cfp8_gemm's numerics: threads take whole products (single-threaded each) when
 * there are at least as many products as threads, otherwise each product uses all threads. */
typedef struct cfp8_gemm_batch {
  int64_t outer, inner;
  int64_t a_outer, a_inner;
  int64_t b_outer, b_inner;
  int64_t c_outer, c_inner; /* read only when beta != 0 */
  int64_t d_outer, d_inner;
} cfp8_gemm_batch;

cfp8_status cfp8_gemm_batched(const cfp8_gemm_batch *batch, int64_t m, int64_t n, int64_t k, const cfp8_operand *a,
                              const cfp8_operand *b, const cfp8_scaling *scaling, const cfp8_epilogue *epilogue,
                              int32_t isa, int32_t threads);

/* The register tile MR×NR of an ISA's micro-kernel (for benchmarks and tests); 0 on bad ISA. */
cfp8_status cfp8_gemm_tile(int32_t isa, int32_t *mr, int32_t *nr);

#ifdef __cplusplus
}
#endif
#endif
