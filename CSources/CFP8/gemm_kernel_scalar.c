/* The reference micro-kernel: the FMA chains of the contract written with fmaf, one element at a
 * time. Every SIMD kernel must give these bits. */
#include "internal.h"
#include "gemm_internal.h"
#include <math.h>

enum { SMR = 4, SNR = 8 };

static void kernel_scalar(int64_t kc, const float *a, const float *b, float *w, int64_t ldw, int load,
                          const float *scales) {
  if (!scales) {
    for (int r = 0; r < SMR; r++)
      for (int c = 0; c < SNR; c++) {
        float acc = load ? w[r * ldw + c] : 0.0f;
        for (int64_t k = 0; k < kc; k++) acc = fmaf(a[k * SMR + r], b[k * SNR + c], acc);
        w[r * ldw + c] = acc;
      }
    return;
  }
  for (int r = 0; r < SMR; r++)
    for (int c = 0; c < SNR; c++) {
      float acc = load ? w[r * ldw + c] : 0.0f;
      for (int64_t k0 = 0, q = 0; k0 < kc; k0 += CFP8_GEMM_SCALE_BLOCK, q++) {
        const int64_t k1 = k0 + CFP8_GEMM_SCALE_BLOCK < kc ? k0 + CFP8_GEMM_SCALE_BLOCK : kc;
        float partial = 0.0f;
        for (int64_t k = k0; k < k1; k++) partial = fmaf(a[k * SMR + r], b[k * SNR + c], partial);
        acc = fmaf(scales[q * SMR + r], partial, acc);
      }
      w[r * ldw + c] = acc;
    }
}

void cfp8_gemm_kernel_scalar(cfp8_gemm_kernel_info *info) {
  info->mr = SMR;
  info->nr = SNR;
  info->kernel = kernel_scalar;
}
