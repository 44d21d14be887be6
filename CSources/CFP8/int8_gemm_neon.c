/* NEON path of the INT8 GEMM (baseline AArch64 Advanced SIMD, no dotprod extension needed):
 * smull widens 8 int8×int8 products to int16 (exact: |a·b| <= 2^14), sadalp adds adjacent
 * pairs into int32 lanes. Works on the unpacked operands, one dot product per output. */
#include "int8_internal.h"
#if defined(CFP8_ARM64)
#include "simd.h"

static void rows_neon(int64_t i0, int64_t i1, int64_t n, int64_t k, const int8_t *a, int64_t lda, const int8_t *b,
                      int64_t ldb, int32_t *c, int64_t ldc) {
  for (int64_t i = i0; i < i1; i++) {
    const int8_t *ar = a + i * lda;
    for (int64_t j = 0; j < n; j++) {
      const int8_t *br = b + j * ldb;
      int32x4_t acc0 = vdupq_n_s32(0), acc1 = vdupq_n_s32(0);
      int64_t p = 0;
      for (; p + 16 <= k; p += 16) {
        int8x16_t x = vld1q_s8(ar + p), y = vld1q_s8(br + p);
        acc0 = vpadalq_s16(acc0, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
        acc1 = vpadalq_s16(acc1, vmull_s8(vget_high_s8(x), vget_high_s8(y)));
      }
      int32_t s = vaddvq_s32(vaddq_s32(acc0, acc1));
      for (; p < k; p++) s += (int32_t)ar[p] * (int32_t)br[p];
      c[i * ldc + j] = s;
    }
  }
}

void cfp8_int8_init_neon(cfp8_int8_kernels *k) { k->rows = rows_neon; }
#endif
