/* AVX2 conversions: the AVX-512 algorithm (see convert_avx512.c) on 8 lanes; decode by gathers. */
#include "internal.h"
#include "convert_internal.h"
#if defined(CFP8_X86)
#include "simd.h"

#define T CFP8_TARGET_AVX2

static inline T __m256i gt_u32(__m256i a, __m256i b) {
  const __m256i m = _mm256_set1_epi32((int)0x80000000u);
  return _mm256_cmpgt_epi32(_mm256_xor_si256(a, m), _mm256_xor_si256(b, m));
}

static inline T __m256i load8(const void *src, int32_t src_format, size_t i) {
  if (src_format == CFP8_FORMAT_F32) return _mm256_loadu_si256((const __m256i *)((const uint32_t *)src + i));
  const __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)src + i));
  if (src_format == CFP8_FORMAT_BF16) return _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
  return _mm256_castps_si256(_mm256_cvtph_ps(h));
}

/* Fast path for RNE and RZ; see enc16_fast in convert_avx512.c (same algorithm, 8 lanes). */
/* ocp: the plan passes ocp_fast_ok (see convert_avx512.c): overflow by an unsigned min on the
 * magnitude code, NaN by one blend, the sign OR'd last (before the NaN blend when the NaN code
 * drops the sign: nan_signed = 0). */
static inline __attribute__((always_inline)) T __m256i enc8_fast_x(__m256i u, const cfp8_enc_plan *p, const int rounding,
                                                                   const int ocp, const int nan_signed) {
  const int sh = 23 - p->m_bits, emin = 1 - p->bias;
  const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF));
  __m256i t = _mm256_add_epi32(a, _mm256_set1_epi32((int)((uint32_t)(p->bias - 127) << 23)));
  if (rounding == CFP8_ROUND_NEAREST_EVEN) {
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(a, sh), _mm256_set1_epi32(1));
    t = _mm256_add_epi32(_mm256_add_epi32(t, _mm256_set1_epi32((1 << (sh - 1)) - 1)), odd);
  }
  const __m256i M = _mm256_set1_epi32((emin + 23 - p->m_bits + 127) << 23);
  const __m256i f = _mm256_castps_si256(_mm256_add_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(M)));
  const __m256i sub = _mm256_cmpgt_epi32(_mm256_set1_epi32((emin + 127) << 23), a); /* a >= 0 as signed */
  __m256i enc = _mm256_blendv_epi8(_mm256_srli_epi32(t, sh), _mm256_sub_epi32(f, M), sub);
  if (ocp) {
    const __m256i inf = _mm256_set1_epi32(0x7F800000);
    if (rounding == CFP8_ROUND_TOWARD_ZERO) {
      enc = _mm256_min_epu32(enc, _mm256_set1_epi32((int)p->max_enc));
      enc = _mm256_blendv_epi8(enc, _mm256_set1_epi32(p->ovf_pos), _mm256_cmpeq_epi32(a, inf));
    } else {
      enc = _mm256_min_epu32(enc, _mm256_set1_epi32(p->ovf_pos)); /* also Inf: its enc is above */
    }
    const __m256i nanm = _mm256_cmpgt_epi32(a, inf); /* a >= 0 as signed */
    if (nan_signed) enc = _mm256_blendv_epi8(enc, _mm256_set1_epi32(p->nan_pos), nanm);
    const __m256i r = _mm256_or_si256(enc, _mm256_and_si256(_mm256_srli_epi32(u, 24), _mm256_set1_epi32(0x80)));
    return nan_signed ? r : _mm256_blendv_epi8(r, _mm256_set1_epi32(p->nan_pos), nanm);
  }
  __m256i ovf;
  if (rounding == CFP8_ROUND_TOWARD_ZERO) {
    enc = _mm256_min_epi32(enc, _mm256_set1_epi32((int)p->max_enc));
    ovf = _mm256_cmpeq_epi32(a, _mm256_set1_epi32(0x7F800000));
  } else {
    ovf = _mm256_cmpgt_epi32(enc, _mm256_set1_epi32((int)p->max_enc));
  }
  const __m256i neg = _mm256_srai_epi32(u, 31);
  __m256i res = _mm256_or_si256(enc, _mm256_and_si256(_mm256_srli_epi32(u, 24), _mm256_set1_epi32(0x80)));
  if (p->fnuz) res = _mm256_andnot_si256(_mm256_cmpeq_epi32(enc, _mm256_setzero_si256()), res);
  const __m256i nan = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7F800000));
  const __m256i ovf_code = _mm256_blendv_epi8(_mm256_set1_epi32(p->ovf_pos), _mm256_set1_epi32(p->ovf_neg), neg);
  const __m256i nan_code = _mm256_blendv_epi8(_mm256_set1_epi32(p->nan_pos), _mm256_set1_epi32(p->nan_neg), neg);
  res = _mm256_blendv_epi8(res, ovf_code, ovf);
  return _mm256_blendv_epi8(res, nan_code, nan);
}

#define enc8_fast(u, p, rounding) enc8_fast_x(u, p, rounding, ocp, nan_signed)

static inline __attribute__((always_inline)) T void enc_loop_fast_x(const void *src, int32_t src_format, uint8_t *dst,
                                                                    size_t n, const cfp8_enc_plan *plan,
                                                                    const int rounding, const int ocp, const int nan_signed) {
  /* a local copy: the byte stores cannot alias it, so its fields stay in registers */
  const cfp8_enc_plan local = *plan, *p = &local;
  const unsigned csr = _mm_getcsr();
  _mm_setcsr((csr & ~0x6000u) | 0x8040u | (rounding == CFP8_ROUND_TOWARD_ZERO ? 0x6000u : 0u)); /* FTZ, DAZ, RC */
  const __m256i fix = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i v0 = enc8_fast(load8(src, src_format, i), p, rounding);
    const __m256i v1 = enc8_fast(load8(src, src_format, i + 8), p, rounding);
    const __m256i v2 = enc8_fast(load8(src, src_format, i + 16), p, rounding);
    const __m256i v3 = enc8_fast(load8(src, src_format, i + 24), p, rounding);
    const __m256i w01 = _mm256_packus_epi32(v0, v1), w23 = _mm256_packus_epi32(v2, v3);
    _mm256_storeu_si256((__m256i *)(dst + i), _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23), fix));
  }
  for (; i < n; i++) {
    uint32_t u;
    if (src_format == CFP8_FORMAT_F32) u = ((const uint32_t *)src)[i];
    else if (src_format == CFP8_FORMAT_BF16) u = (uint32_t)((const uint16_t *)src)[i] << 16;
    else u = (uint32_t)_mm_cvtsi128_si32(_mm_castps_si128(_mm_cvtph_ps(_mm_cvtsi32_si128(((const uint16_t *)src)[i]))));
    dst[i] = (uint8_t)_mm256_cvtsi256_si32(enc8_fast(_mm256_set1_epi32((int)u), p, rounding));
  }
  _mm_setcsr(csr);
}
#undef enc8_fast

/* One loop per (mode, OCP fast or general, NaN convention). */
static T void enc_loop_fast(const void *src, int32_t src_format, uint8_t *dst, size_t n, const cfp8_enc_plan *p,
                            int rounding) {
  const int ocp = !p->fnuz && p->ovf_neg == (p->ovf_pos | 0x80) && p->ovf_pos >= p->max_enc && p->ovf_pos < 0x80 &&
                  p->nan_pos < 0x80 && (p->nan_neg == (p->nan_pos | 0x80) || p->nan_neg == p->nan_pos);
  const int ns = p->nan_neg != p->nan_pos;
  if (rounding == CFP8_ROUND_NEAREST_EVEN) {
    if (!ocp) enc_loop_fast_x(src, src_format, dst, n, p, CFP8_ROUND_NEAREST_EVEN, 0, 0);
    else if (ns) enc_loop_fast_x(src, src_format, dst, n, p, CFP8_ROUND_NEAREST_EVEN, 1, 1);
    else enc_loop_fast_x(src, src_format, dst, n, p, CFP8_ROUND_NEAREST_EVEN, 1, 0);
  } else {
    if (!ocp) enc_loop_fast_x(src, src_format, dst, n, p, CFP8_ROUND_TOWARD_ZERO, 0, 0);
    else if (ns) enc_loop_fast_x(src, src_format, dst, n, p, CFP8_ROUND_TOWARD_ZERO, 1, 1);
    else enc_loop_fast_x(src, src_format, dst, n, p, CFP8_ROUND_TOWARD_ZERO, 1, 0);
  }
}

static inline T __m256i enc8(__m256i u, __m256i idx, const cfp8_enc_plan *p, int rounding, __m256i key,
                              const uint32_t *rbits) {
  const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF));
  const __m256i biased = _mm256_srli_epi32(a, 23);
  const __m256i EB = _mm256_max_epi32(biased, _mm256_set1_epi32(128 - p->bias));
  const __m256i s = _mm256_add_epi32(_mm256_sub_epi32(EB, biased), _mm256_set1_epi32(23 - p->m_bits));
  const __m256i sig = _mm256_or_si256(_mm256_and_si256(a, _mm256_set1_epi32(0x7FFFFF)), _mm256_set1_epi32(0x800000));
  __m256i q;
  if (rounding == CFP8_ROUND_NEAREST_EVEN) {
    const __m256i sc = _mm256_min_epu32(s, _mm256_set1_epi32(31));
    const __m256i odd = _mm256_and_si256(_mm256_srlv_epi32(sig, sc), _mm256_set1_epi32(1));
    const __m256i halfm1 = _mm256_srlv_epi32(_mm256_set1_epi32(0x7FFFFFFF), _mm256_sub_epi32(_mm256_set1_epi32(32), sc));
    q = _mm256_srlv_epi32(_mm256_add_epi32(_mm256_add_epi32(sig, halfm1), odd), sc);
  } else if (rounding == CFP8_ROUND_TOWARD_ZERO) {
    q = _mm256_srlv_epi32(sig, s);
  } else {
    q = _mm256_srlv_epi32(sig, s);
    const __m256i rem = _mm256_sub_epi32(sig, _mm256_sllv_epi32(q, s));
    const __m256i frac = _mm256_or_si256(_mm256_sllv_epi32(rem, _mm256_sub_epi32(_mm256_set1_epi32(32), s)),
                                         _mm256_srlv_epi32(rem, _mm256_sub_epi32(s, _mm256_set1_epi32(32))));
    __m256i r;
    if (rbits) {
      r = _mm256_loadu_si256((const __m256i *)rbits);
    } else {
      __m256i x = _mm256_xor_si256(_mm256_mullo_epi32(idx, _mm256_set1_epi32((int)0x9E3779B9u)), key);
      x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
      x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0x7FEB352D));
      x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
      x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int)0x846CA68Bu));
      r = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
    }
    const __m256i carry = gt_u32(frac, _mm256_add_epi32(frac, r)); /* all-ones where it carried */
    q = _mm256_sub_epi32(q, carry);
  }
  __m256i enc = _mm256_add_epi32(_mm256_slli_epi32(_mm256_sub_epi32(EB, _mm256_set1_epi32(128 - p->bias)), p->m_bits), q);
  if (rounding == CFP8_ROUND_TOWARD_ZERO) enc = _mm256_min_epi32(enc, _mm256_set1_epi32((int)p->max_enc));
  const __m256i neg = _mm256_srai_epi32(u, 31);
  __m256i res = _mm256_or_si256(enc, _mm256_and_si256(_mm256_srli_epi32(u, 24), _mm256_set1_epi32(0x80)));
  if (p->fnuz) res = _mm256_andnot_si256(_mm256_cmpeq_epi32(enc, _mm256_setzero_si256()), res);
  const __m256i ovf = rounding == CFP8_ROUND_TOWARD_ZERO ? _mm256_cmpeq_epi32(a, _mm256_set1_epi32(0x7F800000))
                                                          : _mm256_cmpgt_epi32(enc, _mm256_set1_epi32((int)p->max_enc));
  const __m256i nan = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7F800000));
  const __m256i ovf_code = _mm256_blendv_epi8(_mm256_set1_epi32(p->ovf_pos), _mm256_set1_epi32(p->ovf_neg), neg);
  const __m256i nan_code = _mm256_blendv_epi8(_mm256_set1_epi32(p->nan_pos), _mm256_set1_epi32(p->nan_neg), neg);
  res = _mm256_blendv_epi8(res, ovf_code, ovf);
  res = _mm256_blendv_epi8(res, nan_code, nan);
  return res;
}

static T void enc_loop(const void *src, int32_t src_format, uint8_t *dst, size_t n, size_t index0,
                       const cfp8_enc_plan *plan, int rounding) {
  /* a local copy: the byte stores cannot alias it, so its fields stay in registers */
  const cfp8_enc_plan local = *plan, *p = &local;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i fix = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i v[4];
    int wrap = 0;
    for (int k = 0; k < 4; k++) {
      const uint64_t g = (uint64_t)index0 + i + 8 * k;
      __m256i key = _mm256_setzero_si256(), idx = _mm256_setzero_si256();
      const uint32_t *rb = NULL;
      if (rounding == CFP8_ROUND_STOCHASTIC) {
        if (p->random_bits) rb = p->random_bits + g;
        else {
          if ((uint32_t)g > 0xFFFFFFF8u) { wrap = 1; break; }
          key = _mm256_set1_epi32((int)(((uint32_t)(g >> 32) * 0x85EBCA6Bu) ^ p->seed_key));
          idx = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)g), lane);
        }
      }
      v[k] = enc8(load8(src, src_format, i + 8 * k), idx, p, rounding, key, rb);
    }
    if (wrap) break;
    const __m256i w01 = _mm256_packus_epi32(v[0], v[1]), w23 = _mm256_packus_epi32(v[2], v[3]);
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23), fix);
    _mm256_storeu_si256((__m256i *)(dst + i), b);
  }
  for (; i < n; i++) {
    const uint64_t g = (uint64_t)index0 + i;
    uint32_t u;
    if (src_format == CFP8_FORMAT_F32) u = ((const uint32_t *)src)[i];
    else if (src_format == CFP8_FORMAT_BF16) u = (uint32_t)((const uint16_t *)src)[i] << 16;
    else u = (uint32_t)_mm_cvtsi128_si32(_mm_castps_si128(_mm_cvtph_ps(_mm_cvtsi32_si128(((const uint16_t *)src)[i]))));
    uint32_t rr[8];
    const uint32_t r = p->random_bits ? p->random_bits[g] : cfp8_sr_bits(p->seed_key, g);
    for (int k = 0; k < 8; k++) rr[k] = r;
    const __m256i out = enc8(_mm256_set1_epi32((int)u), _mm256_setzero_si256(), p, rounding, _mm256_setzero_si256(),
                             rounding == CFP8_ROUND_STOCHASTIC ? rr : NULL);
    dst[i] = (uint8_t)_mm256_cvtsi256_si32(out);
  }
}

static T int encode_avx2(const void *src, int32_t src_format, uint8_t *dst, size_t n, size_t index0, const cfp8_enc_plan *p) {
  switch (p->rounding) {
  case CFP8_ROUND_NEAREST_EVEN: enc_loop_fast(src, src_format, dst, n, p, CFP8_ROUND_NEAREST_EVEN); return 1;
  case CFP8_ROUND_TOWARD_ZERO: enc_loop_fast(src, src_format, dst, n, p, CFP8_ROUND_TOWARD_ZERO); return 1;
  case CFP8_ROUND_STOCHASTIC: enc_loop(src, src_format, dst, n, index0, p, CFP8_ROUND_STOCHASTIC); return 1;
  default: return 0;
  }
}

static T int decode_avx2(const uint8_t *src, int32_t src_format, void *dst, int32_t dst_format, size_t n) {
  const uint32_t *t32 = cfp8_dec_table_u32(src_format);
  size_t i = 0;
  if (dst_format == CFP8_FORMAT_F32) {
    uint32_t *y = (uint32_t *)dst;
    for (; i + 8 <= n; i += 8) {
      const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(src + i)));
      _mm256_storeu_si256((__m256i *)(y + i), _mm256_i32gather_epi32((const int *)t32, idx, 4));
    }
    for (; i < n; i++) y[i] = t32[src[i]];
    return 1;
  }
  /* F16/BF16: plain 16-bit table lookups (the fast byte-table decode is AVX-512 VBMI). */
  const uint16_t *t16 = cfp8_dec_table_u16(src_format, dst_format);
  uint16_t *y = (uint16_t *)dst;
  for (; i < n; i++) y[i] = t16[src[i]];
  return 1;
}

void cfp8_convert_init_avx2(cfp8_convert_kernels *k) {
  k->encode = encode_avx2;
  k->decode = decode_avx2;
}

#endif
