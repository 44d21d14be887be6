/* The quantiser's AVX-512 kernels: amax of a run (FP32 and BF16), dequantisation of a row to FP32
 * and BF16 by in-register table lookups, and with VBMI, 16-bit outputs through per-scale byte
 * tables. Same bits as the scalar kernels. */
#include "internal.h"
#include "quantize_internal.h"
#include "cfp8_quantize.h"
#if defined(CFP8_X86)
#include "simd.h"

CFP8_TARGET_AVX512 static float amax_run_avx512(const void *x, int32_t fmt, size_t off, size_t n) {
  if (fmt == CFP8_FORMAT_F16) return cfp8_amax_run_scalar(x, fmt, off, n);
  __m512 m = _mm512_setzero_ps();
  __mmask16 nan = 0;
  const __m512i absmask = _mm512_set1_epi32(0x7FFFFFFF);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i v;
    if (fmt == CFP8_FORMAT_F32) v = _mm512_loadu_si512((const void *)((const float *)x + off + i));
    else v = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)x + off + i))), 16);
    __m512 a = _mm512_castsi512_ps(_mm512_and_si512(v, absmask));
    nan |= _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
    m = _mm512_max_ps(m, a);
  }
  if (nan) return NAN;
  float r = _mm512_reduce_max_ps(m);
  for (; i < n; i++) r = cfp8_quant_amax_step(r, cfp8_quant_load_f32(x, fmt, off + i));
  return r;
}

/* 128-entry table lookup for 16 indices (bits 0..6): four 32-entry two-register permutes, then
 * blends on bits 5 and 6. */
CFP8_TARGET_AVX512 static inline __m512 lookup128(__m512i idx, const __m512 *T) {
  __m512 r0 = _mm512_permutex2var_ps(T[0], idx, T[1]);
  __m512 r1 = _mm512_permutex2var_ps(T[2], idx, T[3]);
  __m512 r2 = _mm512_permutex2var_ps(T[4], idx, T[5]);
  __m512 r3 = _mm512_permutex2var_ps(T[6], idx, T[7]);
  __mmask16 b5 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(32));
  __mmask16 b6 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(64));
  r0 = _mm512_mask_blend_ps(b5, r0, r1);
  r2 = _mm512_mask_blend_ps(b5, r2, r3);
  return _mm512_mask_blend_ps(b6, r0, r2);
}

CFP8_TARGET_AVX512 static inline __m256i bf16_rne16(__m512 v) {
  __m512i u = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  __m512i qn = _mm512_or_si512(_mm512_and_si512(u, _mm512_set1_epi32((int)0x80000000u)), _mm512_set1_epi32(0x7FC00000));
  r = _mm512_mask_blend_epi32(nan, r, qn);
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

/* 1 when table[i | 0x80] is table[i] with the sign bit flipped for every i < 128 (OCP E4M3 and
 * E5M2; not the FNUZ formats, whose 0x80 is NaN). */
static int sign_symmetric(const float *t) {
  for (int i = 0; i < 128; i++)
    if (cfp8_f32_bits(t[i | 0x80]) != (cfp8_f32_bits(t[i]) ^ 0x80000000u)) return 0;
  return 1;
}

CFP8_TARGET_AVX512 static void deq_run_avx512(const uint8_t *q, const float *t, const float *rs, int64_t span,
                                              void *out, int32_t of, size_t n) {
  if (of == CFP8_FORMAT_F16) { cfp8_deq_run_scalar(q, t, rs, span, out, of, n); return; }
  __m512 T[16];
  for (int k = 0; k < 16; k++) T[k] = _mm512_loadu_ps(t + 16 * k);
  const int sym = sign_symmetric(t);
  const __m512i low7 = _mm512_set1_epi32(0x7F), sbit = _mm512_set1_epi32(0x80);
  size_t i = 0;
  while (i < n) {
    size_t end = (i / (size_t)span + 1) * (size_t)span;
    if (end > n) end = n;
    const __m512 vs = _mm512_set1_ps(rs[i / (size_t)span]);
    for (; i + 16 <= end; i += 16) {
      __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + i)));
      __m512 d;
      if (sym) {
        __m512 m = lookup128(_mm512_and_si512(idx, low7), T);
        __m512i sign = _mm512_slli_epi32(_mm512_and_si512(idx, sbit), 24);
        d = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(m), sign));
      } else {
        __m512 lo = lookup128(idx, T), hi = lookup128(idx, T + 8);
        d = _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, sbit), lo, hi);
      }
      __m512 v = _mm512_mul_ps(d, vs);
      if (of == CFP8_FORMAT_F32) _mm512_storeu_ps((float *)out + i, v);
      else _mm256_storeu_si256((__m256i *)((uint16_t *)out + i), bf16_rne16(v));
    }
    if (i < end) { /* tail of a span: scalar, same arithmetic */
      float s = rs[i / (size_t)span];
      size_t bytes = of == CFP8_FORMAT_F32 ? 4 : 2;
      cfp8_deq_run_scalar(q + i, t, &s, (int64_t)(end - i), (char *)out + i * bytes, of, end - i);
      i = end;
    }
  }
}

CFP8_TARGET_AVX512VBMI static void deq_row_table16(const uint8_t *q, const cfp8_deq_table16 *tabs, int64_t span,
                                                   uint16_t *out, int64_t n) {
  uint8_t il[64], ih[64];
  for (int k = 0; k < 32; k++) {
    il[2 * k] = (uint8_t)k;
    il[2 * k + 1] = (uint8_t)(64 + k);
    ih[2 * k] = (uint8_t)(32 + k);
    ih[2 * k + 1] = (uint8_t)(96 + k);
  }
  const __m512i I0 = _mm512_loadu_si512(il), I1 = _mm512_loadu_si512(ih);
  for (int64_t c0 = 0, b = 0; c0 < n; c0 += span, b++) {
    const cfp8_deq_table16 *tb = tabs + b;
    const __m512i L0 = _mm512_loadu_si512(tb->lo), L1 = _mm512_loadu_si512(tb->lo + 64);
    const __m512i L2 = _mm512_loadu_si512(tb->lo + 128), L3 = _mm512_loadu_si512(tb->lo + 192);
    const __m512i H0 = _mm512_loadu_si512(tb->hi), H1 = _mm512_loadu_si512(tb->hi + 64);
    const __m512i H2 = _mm512_loadu_si512(tb->hi + 128), H3 = _mm512_loadu_si512(tb->hi + 192);
    int64_t end = c0 + span < n ? c0 + span : n;
    for (int64_t c = c0; c < end; c += 64) {
      int64_t m = end - c < 64 ? end - c : 64;
      __mmask64 lm = m == 64 ? ~(__mmask64)0 : (((__mmask64)1 << m) - 1);
      __m512i x = _mm512_maskz_loadu_epi8(lm, q + c);
      __mmask64 top = _mm512_movepi8_mask(x);
      __m512i lo = _mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(L0, x, L1), _mm512_permutex2var_epi8(L2, x, L3));
      __m512i hi = _mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(H0, x, H1), _mm512_permutex2var_epi8(H2, x, H3));
      __m512i o0 = _mm512_permutex2var_epi8(lo, I0, hi), o1 = _mm512_permutex2var_epi8(lo, I1, hi);
      if (m == 64) {
        _mm512_storeu_si512((void *)(out + c), o0);
        _mm512_storeu_si512((void *)(out + c + 32), o1);
      } else {
        __mmask32 m0 = m >= 32 ? 0xFFFFFFFFu : (((__mmask32)1 << m) - 1);
        __mmask32 m1 = m > 32 ? (((__mmask32)1 << (m - 32)) - 1) : 0;
        _mm512_mask_storeu_epi16(out + c, m0, o0);
        _mm512_mask_storeu_epi16(out + c + 32, m1, o1);
      }
    }
  }
}

void cfp8_quantize_init_avx512(cfp8_quantize_kernels *k, int vbmi) {
  k->amax_run = amax_run_avx512;
  k->deq_run = deq_run_avx512;
  k->deq_row_table16 = vbmi ? deq_row_table16 : NULL;
}
#endif
