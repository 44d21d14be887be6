/* The scalar INT8 GEMM: one exact int32 dot product per output, the reference of every path. */
#include "int8_internal.h"

static void rows_scalar(int64_t i0, int64_t i1, int64_t n, int64_t k, const int8_t *a, int64_t lda, const int8_t *b,
                        int64_t ldb, int32_t *c, int64_t ldc) {
  for (int64_t i = i0; i < i1; i++)
    for (int64_t j = 0; j < n; j++) {
      int32_t s = 0;
      for (int64_t p = 0; p < k; p++) s += (int32_t)a[i * lda + p] * (int32_t)b[j * ldb + p];
      c[i * ldc + j] = s;
    }
}

void cfp8_int8_init_scalar(cfp8_int8_kernels *k) { k->rows = rows_scalar; }
