/* NEON micro-kernel: 6×16 (24 float32x4 accumulators; NR divides the 128-wide scale blocks), the scalar kernel's FMA chains. */
#include "gemm_internal.h"
#if defined(CFP8_ARM64)
#include "simd.h"

enum { NMR = 6, NNR = 16 };

static inline void chain6x16(int64_t kc, const float *a, const float *b, float32x4_t c[NMR][4]) {
  for (int64_t k = 0; k < kc; k++) {
    float32x4_t bv[4];
    for (int v = 0; v < 4; v++) bv[v] = vld1q_f32(b + k * NNR + 4 * v);
    for (int r = 0; r < NMR; r++) {
      const float ar = a[k * NMR + r];
      for (int v = 0; v < 4; v++) c[r][v] = vfmaq_n_f32(c[r][v], bv[v], ar);
    }
  }
}

static void kernel_neon(int64_t kc, const float *a, const float *b, float *w, int64_t ldw, int load,
                        const float *scales) {
  float32x4_t c[NMR][4];
  const float32x4_t zero = vdupq_n_f32(0.0f);
  if (!scales) {
    for (int r = 0; r < NMR; r++)
      for (int v = 0; v < 4; v++) c[r][v] = load ? vld1q_f32(w + r * ldw + 4 * v) : zero;
    chain6x16(kc, a, b, c);
    for (int r = 0; r < NMR; r++)
      for (int v = 0; v < 4; v++) vst1q_f32(w + r * ldw + 4 * v, c[r][v]);
    return;
  }
  for (int64_t k0 = 0, q = 0; k0 < kc; k0 += CFP8_GEMM_SCALE_BLOCK, q++) {
    const int64_t len = kc - k0 < CFP8_GEMM_SCALE_BLOCK ? kc - k0 : CFP8_GEMM_SCALE_BLOCK;
    for (int r = 0; r < NMR; r++)
      for (int v = 0; v < 4; v++) c[r][v] = zero;
    chain6x16(len, a + k0 * NMR, b + k0 * NNR, c);
    const int from_w = load || q > 0;
    for (int r = 0; r < NMR; r++) {
      const float s = scales[q * NMR + r];
      for (int v = 0; v < 4; v++) {
        const float32x4_t o = from_w ? vld1q_f32(w + r * ldw + 4 * v) : zero;
        vst1q_f32(w + r * ldw + 4 * v, vfmaq_n_f32(o, c[r][v], s));
      }
    }
  }
}

void cfp8_gemm_kernel_neon(cfp8_gemm_kernel_info *info) {
  info->mr = NMR;
  info->nr = NNR;
  info->kernel = kernel_neon;
}
#endif
