/* The quantiser's AVX2 kernel: amax of a run (FP32 and BF16). max is exact, so any order of the
 * lanes gives the scalar run's value; a NaN anywhere gives NaN, as the scalar run does. 16-bit
 * dequantisation takes the per-scale tables read in plain C (faster here than gathers). */
#include "internal.h"
#include "quantize_internal.h"
#if defined(CFP8_X86)
#include "simd.h"
#include <math.h>

CFP8_TARGET_AVX2 static float amax_run_avx2(const void *x, int32_t fmt, size_t off, size_t n) {
  if (fmt == CFP8_FORMAT_F16) return cfp8_amax_run_scalar(x, fmt, off, n);
  __m256 m = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v;
    if (fmt == CFP8_FORMAT_F32) v = _mm256_loadu_ps((const float *)x + off + i);
    else v = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)x + off + i))), 16));
    const __m256 a = _mm256_and_ps(v, absmask);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    m = _mm256_max_ps(m, a);
  }
  if (_mm256_movemask_ps(nan)) return NAN;
  float lanes[8];
  _mm256_storeu_ps(lanes, m);
  float r = 0.0f;
  for (int l = 0; l < 8; l++) r = lanes[l] > r ? lanes[l] : r;
  for (; i < n; i++) r = cfp8_quant_amax_step(r, cfp8_quant_load_f32(x, fmt, off + i));
  return r;
}

void cfp8_quantize_init_avx2(cfp8_quantize_kernels *k) {
  k->amax_run = amax_run_avx2;
  k->deq_row_lookup16 = cfp8_deq_row_lookup16;
}
#endif
