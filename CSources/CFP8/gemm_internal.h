/* Shared by the gemm_*.c files only. */
#ifndef CFP8_GEMM_INTERNAL_H
#define CFP8_GEMM_INTERNAL_H

/* Includes only the public headers (so that the NEON file can be syntax-checked freestanding);
 * the other gemm files include internal.h first. */
#include "cfp8.h"
#include "arch.h"

/* K blocks of the block-scaled mode; the packing block KC is a multiple of it. */
#define CFP8_GEMM_SCALE_BLOCK 128

/* Micro-kernel: acc[r][c] (r < MR, c < NR, row stride ldw) over kc steps of packed A (MR floats
 * per k) and packed B (NR floats per k). `load` 0 starts every chain from +0.0f, 1 continues the
 * chains stored in w. `scales` NULL: one chain. Else block mode: kc is cut into 128-long chunks
 * (the last may be shorter); chunk q forms a partial chain from +0.0f, then
 * w = fmaf(scales[q*MR + r], partial, w) (w read as +0.0f when !load and q == 0). */
typedef void (*cfp8_gemm_ukernel)(int64_t kc, const float *a, const float *b, float *w, int64_t ldw, int load,
                                  const float *scales);

typedef struct cfp8_gemm_kernel_info {
  int mr, nr;
  cfp8_gemm_ukernel kernel;
} cfp8_gemm_kernel_info;

void cfp8_gemm_kernel_scalar(cfp8_gemm_kernel_info *info);
#if defined(CFP8_X86)
void cfp8_gemm_kernel_avx2(cfp8_gemm_kernel_info *info);
void cfp8_gemm_kernel_avx512(cfp8_gemm_kernel_info *info);
/* Skinny product (M small, B row-major FP8 K×N): w[i][j] (row stride ldw) = the plain chain over
 * k of af[i][k] (FP32, row stride ldaf) times decode(b[k][j]), for j in [n0, n1). n0 is a multiple
 * of 64. Returns 0 if this CPU lacks what the kernel needs (VBMI). */
int cfp8_gemm_skinny_avx512(int64_t m, int64_t n0, int64_t n1, int64_t k, const float *af, int64_t ldaf,
                            const uint8_t *b, int64_t ldb, int32_t bformat, float *w, int64_t ldw);
/* The same for a column-major FP8 B (column j at b + j*ldb); n0 a multiple of 128. */
int cfp8_gemm_skinny_t_avx512(int64_t m, int64_t n0, int64_t n1, int64_t k, const float *af, int64_t ldaf,
                              const uint8_t *b, int64_t ldb, int32_t bformat, float *w, int64_t ldw);
/* Contiguous FP8 (E4M3, E5M2 and FNUZ) → FP32, same values as cfp8_decode_table_f32 (VBMI). */
void cfp8_gemm_decode_fp8_avx512(const uint8_t *src, int64_t n, int32_t format, float *dst);
#endif
#if defined(CFP8_ARM64)
void cfp8_gemm_kernel_neon(cfp8_gemm_kernel_info *info);
#endif

/* Packing (gemm_pack.c). Element (r, c) of op(X): X->transposed ? data[c*ld + r] : data[r*ld + c].
 * `mx` (NULL for none): E8M0 bytes folded into the decoded values; for A mx[r*mxld + c/32], for B
 * mx[(r/32)*mxld + c]. */
/* `simd` 1: contiguous FP8 runs decode with cfp8_gemm_decode_fp8_avx512 (the caller checked VBMI). */
void cfp8_gemm_pack_a(const cfp8_operand *a, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr,
                      const uint8_t *mx, int64_t mxld, int simd, float *dst);
void cfp8_gemm_pack_b(const cfp8_operand *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr,
                      const uint8_t *mx, int64_t mxld, int simd, float *dst);
/* Decodes `count` elements of op(X) row r starting at column c0 into dst (contiguous). */
void cfp8_gemm_decode_row(const cfp8_operand *x, int64_t r, int64_t c0, int64_t count, float *dst);

/* Scalar conversions used by the epilogue. */
uint16_t cfp8_gemm_f32_to_f16(float x);
uint16_t cfp8_gemm_f32_to_bf16(float x);
float cfp8_gemm_f16_to_f32(uint16_t h);

#endif
