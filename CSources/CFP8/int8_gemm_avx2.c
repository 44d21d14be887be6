/* AVX2 micro-kernel of the INT8 GEMM: operands sign-extended to int16 while packing, then
 * vpmaddwd (pairs of 16×16-bit products summed into int32; exact, as |a·b| <= 2^14) and vpaddd.
 * vpmaddubsw is avoided: it saturates its 16-bit pair sums. */
#include "int8_internal.h"
#if defined(CFP8_X86)
#include "simd.h"

CFP8_TARGET_AVX2
static void kernel_avx2(int64_t kp, const int16_t *a, int64_t lda, const int16_t *b, int32_t *tile, int load) {
#define CFP8_INIT(i) (load ? _mm256_loadu_si256((const __m256i *)tile + (i)) : _mm256_setzero_si256())
  __m256i c00 = CFP8_INIT(0), c01 = CFP8_INIT(1), c10 = CFP8_INIT(2), c11 = CFP8_INIT(3);
  __m256i c20 = CFP8_INIT(4), c21 = CFP8_INIT(5), c30 = CFP8_INIT(6), c31 = CFP8_INIT(7);
  __m256i c40 = CFP8_INIT(8), c41 = CFP8_INIT(9), c50 = CFP8_INIT(10), c51 = CFP8_INIT(11);
#undef CFP8_INIT
  const int16_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
  for (int64_t p = 0; p < kp; p += 2) {
    __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
    __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
    b += 32;
    __m256i x;
    int32_t w;
#define CFP8_ROW(ai, ci0, ci1)                                   \
    __builtin_memcpy(&w, ai + p, 4);                                       \
    x = _mm256_set1_epi32(w);                                    \
    ci0 = _mm256_add_epi32(ci0, _mm256_madd_epi16(x, b0));       \
    ci1 = _mm256_add_epi32(ci1, _mm256_madd_epi16(x, b1));
    CFP8_ROW(a0, c00, c01) CFP8_ROW(a1, c10, c11) CFP8_ROW(a2, c20, c21)
    CFP8_ROW(a3, c30, c31) CFP8_ROW(a4, c40, c41) CFP8_ROW(a5, c50, c51)
#undef CFP8_ROW
  }
  __m256i *t = (__m256i *)tile;
  _mm256_storeu_si256(t + 0, c00); _mm256_storeu_si256(t + 1, c01);
  _mm256_storeu_si256(t + 2, c10); _mm256_storeu_si256(t + 3, c11);
  _mm256_storeu_si256(t + 4, c20); _mm256_storeu_si256(t + 5, c21);
  _mm256_storeu_si256(t + 6, c30); _mm256_storeu_si256(t + 7, c31);
  _mm256_storeu_si256(t + 8, c40); _mm256_storeu_si256(t + 9, c41);
  _mm256_storeu_si256(t + 10, c50); _mm256_storeu_si256(t + 11, c51);
}

void cfp8_int8_init_avx2(cfp8_int8_kernels *k) { k->avx2 = kernel_avx2; }
#endif
