/* AVX-512 VNNI micro-kernel of the INT8 GEMM: vpdpbusd multiplies unsigned bytes of A (stored
 * as a + 128) by signed bytes of B and adds groups of four products to int32 lanes, without
 * saturation. The driver subtracts 128·colsum(B). */
#include "int8_internal.h"
#if defined(CFP8_X86)
#include "simd.h"

CFP8_TARGET_AVX512VNNI
static void kernel_vnni(int64_t kp, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *tile, int load) {
#define CFP8_INIT(i) (load ? _mm512_loadu_si512(tile + 16 * (i)) : _mm512_setzero_si512())
  __m512i c00 = CFP8_INIT(0), c01 = CFP8_INIT(1), c10 = CFP8_INIT(2), c11 = CFP8_INIT(3);
  __m512i c20 = CFP8_INIT(4), c21 = CFP8_INIT(5), c30 = CFP8_INIT(6), c31 = CFP8_INIT(7);
  __m512i c40 = CFP8_INIT(8), c41 = CFP8_INIT(9), c50 = CFP8_INIT(10), c51 = CFP8_INIT(11);
  __m512i c60 = CFP8_INIT(12), c61 = CFP8_INIT(13), c70 = CFP8_INIT(14), c71 = CFP8_INIT(15);
#undef CFP8_INIT
  const uint8_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
  const uint8_t *a4 = a + 4 * lda, *a5 = a + 5 * lda, *a6 = a + 6 * lda, *a7 = a + 7 * lda;
  for (int64_t p = 0; p < kp; p += 4) {
    __m512i b0 = _mm512_loadu_si512((const void *)b);
    __m512i b1 = _mm512_loadu_si512((const void *)(b + 64));
    b += 128;
    __m512i x;
    int32_t w;
#define CFP8_ROW(ai, ci0, ci1)            \
    __builtin_memcpy(&w, ai + p, 4);                \
    x = _mm512_set1_epi32(w);             \
    ci0 = _mm512_dpbusd_epi32(ci0, x, b0); \
    ci1 = _mm512_dpbusd_epi32(ci1, x, b1);
    CFP8_ROW(a0, c00, c01) CFP8_ROW(a1, c10, c11) CFP8_ROW(a2, c20, c21) CFP8_ROW(a3, c30, c31)
    CFP8_ROW(a4, c40, c41) CFP8_ROW(a5, c50, c51) CFP8_ROW(a6, c60, c61) CFP8_ROW(a7, c70, c71)
#undef CFP8_ROW
  }
  _mm512_storeu_si512(tile + 0, c00); _mm512_storeu_si512(tile + 16, c01);
  _mm512_storeu_si512(tile + 32, c10); _mm512_storeu_si512(tile + 48, c11);
  _mm512_storeu_si512(tile + 64, c20); _mm512_storeu_si512(tile + 80, c21);
  _mm512_storeu_si512(tile + 96, c30); _mm512_storeu_si512(tile + 112, c31);
  _mm512_storeu_si512(tile + 128, c40); _mm512_storeu_si512(tile + 144, c41);
  _mm512_storeu_si512(tile + 160, c50); _mm512_storeu_si512(tile + 176, c51);
  _mm512_storeu_si512(tile + 192, c60); _mm512_storeu_si512(tile + 208, c61);
  _mm512_storeu_si512(tile + 224, c70); _mm512_storeu_si512(tile + 240, c71);
}

void cfp8_int8_init_vnni(cfp8_int8_kernels *k) { k->vnni = kernel_vnni; }
#endif
