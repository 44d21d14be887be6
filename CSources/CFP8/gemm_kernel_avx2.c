/* AVX2 micro-kernel: 6×16 (12 ymm accumulators), the scalar kernel's FMA chains. */
#include "internal.h"
#include "gemm_internal.h"
#if defined(CFP8_X86)
#include "simd.h"

enum { VMR = 6, VNR = 16 };

CFP8_TARGET_AVX2 static inline void chain6x16(int64_t kc, const float *a, const float *b, __m256 c[VMR][2]) {
  for (int64_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(b + k * VNR), b1 = _mm256_loadu_ps(b + k * VNR + 8);
#pragma clang loop unroll(full)
    for (int r = 0; r < VMR; r++) {
      const __m256 ar = _mm256_broadcast_ss(a + k * VMR + r);
      c[r][0] = _mm256_fmadd_ps(ar, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(ar, b1, c[r][1]);
    }
  }
}

CFP8_TARGET_AVX2 static void kernel_avx2(int64_t kc, const float *a, const float *b, float *w, int64_t ldw, int load,
                                         const float *scales) {
  __m256 c[VMR][2];
  if (!scales) {
    for (int r = 0; r < VMR; r++) {
      c[r][0] = load ? _mm256_loadu_ps(w + r * ldw) : _mm256_setzero_ps();
      c[r][1] = load ? _mm256_loadu_ps(w + r * ldw + 8) : _mm256_setzero_ps();
    }
    chain6x16(kc, a, b, c);
    for (int r = 0; r < VMR; r++) {
      _mm256_storeu_ps(w + r * ldw, c[r][0]);
      _mm256_storeu_ps(w + r * ldw + 8, c[r][1]);
    }
    return;
  }
  for (int64_t k0 = 0, q = 0; k0 < kc; k0 += CFP8_GEMM_SCALE_BLOCK, q++) {
    const int64_t len = kc - k0 < CFP8_GEMM_SCALE_BLOCK ? kc - k0 : CFP8_GEMM_SCALE_BLOCK;
    for (int r = 0; r < VMR; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
    chain6x16(len, a + k0 * VMR, b + k0 * VNR, c);
    const int from_w = load || q > 0;
    for (int r = 0; r < VMR; r++) {
      const __m256 s = _mm256_set1_ps(scales[q * VMR + r]);
      const __m256 o0 = from_w ? _mm256_loadu_ps(w + r * ldw) : _mm256_setzero_ps();
      const __m256 o1 = from_w ? _mm256_loadu_ps(w + r * ldw + 8) : _mm256_setzero_ps();
      _mm256_storeu_ps(w + r * ldw, _mm256_fmadd_ps(s, c[r][0], o0));
      _mm256_storeu_ps(w + r * ldw + 8, _mm256_fmadd_ps(s, c[r][1], o1));
    }
  }
}

void cfp8_gemm_kernel_avx2(cfp8_gemm_kernel_info *info) {
  info->mr = VMR;
  info->nr = VNR;
  info->kernel = kernel_avx2;
}
#endif
