/* AVX-512 conversions. Encode: the scalar reference's integer algorithm on 16 lanes (variable
 * shifts; no floating-point arithmetic, so denormal inputs cost nothing extra). FP16/BF16 sources
 * are widened to FP32 first, which is exact, so no double rounding can occur; the stochastic
 * fraction is defined on the value, so the widening does not change it either.
 * Decode: VBMI byte tables (vpermi2b) for each byte of the result, or gathers without VBMI. */
#include "internal.h"
#include "convert_internal.h"
#if defined(CFP8_X86)
#include "simd.h"

#define T CFP8_TARGET_AVX512
#define TV CFP8_TARGET_AVX512VBMI

/* 16 FP32 bit patterns -> 16 result bytes in the low byte of each lane. */
static inline T __m512i enc16(__m512i u, __m512i idx, const cfp8_enc_plan *p, int rounding, __m512i key,
                                const uint32_t *rbits) {
  const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF));
  const __m512i biased = _mm512_srli_epi32(a, 23);
  const __m512i EB = _mm512_max_epi32(biased, _mm512_set1_epi32(128 - p->bias));
  /* s = 23 - m + EB - max(biased,1); biased 0 (FP32 subnormal) only makes s larger, result 0. */
  const __m512i s = _mm512_add_epi32(_mm512_sub_epi32(EB, biased), _mm512_set1_epi32(23 - p->m_bits));
  const __m512i sig = _mm512_or_si512(_mm512_and_si512(a, _mm512_set1_epi32(0x7FFFFF)), _mm512_set1_epi32(0x800000));
  __m512i q;
  if (rounding == CFP8_ROUND_NEAREST_EVEN) {
    const __m512i sc = _mm512_min_epu32(s, _mm512_set1_epi32(31));
    const __m512i odd = _mm512_and_si512(_mm512_srlv_epi32(sig, sc), _mm512_set1_epi32(1));
    const __m512i halfm1 = _mm512_srlv_epi32(_mm512_set1_epi32(0x7FFFFFFF), _mm512_sub_epi32(_mm512_set1_epi32(32), sc));
    q = _mm512_srlv_epi32(_mm512_add_epi32(_mm512_add_epi32(sig, halfm1), odd), sc);
  } else if (rounding == CFP8_ROUND_TOWARD_ZERO) {
    q = _mm512_srlv_epi32(sig, s);
  } else {
    __m512i r;
    if (rbits) {
      r = _mm512_loadu_si512(rbits);
    } else { /* cfp8_sr_bits on 16 lanes; idx holds the low 32 bits of the index, key folds the high */
      __m512i x = _mm512_xor_si512(_mm512_mullo_epi32(idx, _mm512_set1_epi32((int)0x9E3779B9u)), key);
      x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
      x = _mm512_mullo_epi32(x, _mm512_set1_epi32(0x7FEB352D));
      x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
      x = _mm512_mullo_epi32(x, _mm512_set1_epi32((int)0x846CA68Bu));
      r = _mm512_xor_si512(x, _mm512_srli_epi32(x, 16));
    }
    if (!_mm512_cmplt_epu32_mask(a, _mm512_set1_epi32((128 - p->bias) << 23))) {
      /* No lane below the target's smallest normal: s = 23 - m everywhere and frac = rem << (9 + m)
       * exactly, so frac + r >= 2^32 iff rem + (r >> (9 + m)) >= 2^(23 - m): add and let the carry
       * run into q (and on into the exponent field), as RNE does with its half. */
      const int sh = 23 - p->m_bits;
      q = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(a, _mm512_set1_epi32((int)((uint32_t)(p->bias - 127) << 23))),
                                             _mm512_srli_epi32(r, 32 - sh)), sh);
      goto specials;
    }
    q = _mm512_srlv_epi32(sig, s);
    const __m512i rem = _mm512_sub_epi32(sig, _mm512_sllv_epi32(q, s));
    const __m512i frac = _mm512_or_si512(_mm512_sllv_epi32(rem, _mm512_sub_epi32(_mm512_set1_epi32(32), s)),
                                         _mm512_srlv_epi32(rem, _mm512_sub_epi32(s, _mm512_set1_epi32(32))));
    const __mmask16 carry = _mm512_cmplt_epu32_mask(_mm512_add_epi32(frac, r), frac);
    q = _mm512_mask_add_epi32(q, carry, q, _mm512_set1_epi32(1));
  }
  q = _mm512_add_epi32(_mm512_slli_epi32(_mm512_sub_epi32(EB, _mm512_set1_epi32(128 - p->bias)), p->m_bits), q);
specials:;
  __m512i enc = q; /* the magnitude code */
  /* toward zero: a finite overflow gives the largest finite value; only Inf is an overflow */
  if (rounding == CFP8_ROUND_TOWARD_ZERO) enc = _mm512_min_epu32(enc, _mm512_set1_epi32((int)p->max_enc));
  const __mmask16 neg = _mm512_movepi32_mask(u);
  __m512i res = _mm512_or_si512(enc, _mm512_and_si512(_mm512_srli_epi32(u, 24), _mm512_set1_epi32(0x80)));
  if (p->fnuz) res = _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(enc, enc), res);
  const __mmask16 ovf = rounding == CFP8_ROUND_TOWARD_ZERO ? _mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(0x7F800000))
                                                           : _mm512_cmpgt_epu32_mask(enc, _mm512_set1_epi32((int)p->max_enc));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x7F800000));
  res = _mm512_mask_mov_epi32(res, ovf, _mm512_mask_mov_epi32(_mm512_set1_epi32(p->ovf_pos), neg, _mm512_set1_epi32(p->ovf_neg)));
  res = _mm512_mask_mov_epi32(res, nan, _mm512_mask_mov_epi32(_mm512_set1_epi32(p->nan_pos), neg, _mm512_set1_epi32(p->nan_neg)));
  return res;
}

static inline T __m512i load16(const void *src, int32_t src_format, size_t i) {
  if (src_format == CFP8_FORMAT_F32) return _mm512_loadu_si512((const uint32_t *)src + i);
  const __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)src + i));
  if (src_format == CFP8_FORMAT_BF16) return _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
  return _mm512_castps_si512(_mm512_cvtph_ps(h)); /* exact; NaN keeps its sign */
}

/* Fast path for round-to-nearest-even and toward-zero (16 lanes). Normal targets: integer
 * rounding on the FP32 bits (the rounding carry moves into the exponent). Target subnormals
 * (|x| < 2^emin): one FP32 addition of M = 2^(emin - m + 23), whose ulp is the target's
 * subnormal quantum, so the FPU rounds |x| / quantum to an integer exactly once in the MXCSR
 * mode (set by the caller to RNE or RZ, with DAZ so FP32-denormal inputs cost no microcode
 * assist; they encode to zero in both modes anyway). */
static inline T __m512i enc16_fast(__m512i u, const cfp8_enc_plan *p, int rounding) {
  const int sh = 23 - p->m_bits, emin = 1 - p->bias;
  const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF));
  __m512i t = _mm512_add_epi32(a, _mm512_set1_epi32((int)((uint32_t)(p->bias - 127) << 23)));
  if (rounding == CFP8_ROUND_NEAREST_EVEN) {
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(a, sh), _mm512_set1_epi32(1));
    t = _mm512_add_epi32(_mm512_add_epi32(t, _mm512_set1_epi32((1 << (sh - 1)) - 1)), odd);
  }
  const __m512i M = _mm512_set1_epi32((emin + 23 - p->m_bits + 127) << 23);
  const __m512i f = _mm512_castps_si512(_mm512_add_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(M)));
  const __mmask16 sub = _mm512_cmplt_epu32_mask(a, _mm512_set1_epi32((emin + 127) << 23));
  __m512i enc = _mm512_mask_sub_epi32(_mm512_srli_epi32(t, sh), sub, f, M);
  __mmask16 ovf;
  if (rounding == CFP8_ROUND_TOWARD_ZERO) {
    enc = _mm512_min_epu32(enc, _mm512_set1_epi32((int)p->max_enc));
    ovf = _mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(0x7F800000));
  } else {
    ovf = _mm512_cmpgt_epu32_mask(enc, _mm512_set1_epi32((int)p->max_enc));
  }
  const __mmask16 neg = _mm512_movepi32_mask(u);
  __m512i res = _mm512_or_si512(enc, _mm512_and_si512(_mm512_srli_epi32(u, 24), _mm512_set1_epi32(0x80)));
  if (p->fnuz) res = _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(enc, enc), res);
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x7F800000));
  res = _mm512_mask_mov_epi32(res, ovf, _mm512_mask_mov_epi32(_mm512_set1_epi32(p->ovf_pos), neg, _mm512_set1_epi32(p->ovf_neg)));
  res = _mm512_mask_mov_epi32(res, nan, _mm512_mask_mov_epi32(_mm512_set1_epi32(p->nan_pos), neg, _mm512_set1_epi32(p->nan_neg)));
  return res;
}

/* Whether the OCP fast path applies: overflow codes are a magnitude code with the input's sign
 * (every OCP preset: saturating 0x7E|s / 0x7B|s or 0x7F|s / 0x7C|s, at or above the largest
 * finite encoding, so that min(enc, code) both rounds an overflow to it and leaves finite results
 * alone), and NaN codes either keep the sign (0x7F|s, 0x7E|s) or drop it (CUDA: 0x7F). */
static int ocp_fast_ok(const cfp8_enc_plan *p) {
  return !p->fnuz && p->ovf_neg == (p->ovf_pos | 0x80) && p->ovf_pos >= p->max_enc && p->ovf_pos < 0x80 &&
         p->nan_pos < 0x80 && (p->nan_neg == (p->nan_pos | 0x80) || p->nan_neg == p->nan_pos);
}

/* The constants of enc16_ocp, broadcast once per call (kept in registers: stores through the
 * uint8_t destination could otherwise alias the plan and force reloads in the loop). */
typedef struct {
  __m512i round_add, M, sub_lim, ovf, max, nan;
  int sh;
} ocp_consts;

static inline T ocp_consts ocp_consts_of(const cfp8_enc_plan *p, int rounding) {
  const int sh = 23 - p->m_bits, emin = 1 - p->bias;
  const uint32_t rebias = (uint32_t)(p->bias - 127) << 23;
  return (ocp_consts){
      .round_add = _mm512_set1_epi32((int)(rebias + (rounding == CFP8_ROUND_NEAREST_EVEN ? (1u << (sh - 1)) - 1u : 0u))),
      .M = _mm512_set1_epi32((emin + 23 - p->m_bits + 127) << 23),
      .sub_lim = _mm512_set1_epi32((emin + 127) << 23),
      .ovf = _mm512_set1_epi32(p->ovf_pos), .max = _mm512_set1_epi32((int)p->max_enc),
      .nan = _mm512_set1_epi32(p->nan_pos), .sh = sh};
}

/* enc16_fast for ocp_fast_ok plans, with fewer operations: overflow and Inf by one unsigned min on
 * the magnitude code (RNE; RZ clamps to the largest finite value and sets Inf by one compare),
 * NaN by one compare and one masked move, the sign by one ternary-logic OR at the end. */
static inline __attribute__((always_inline)) T __m512i enc16_ocp(__m512i u, const ocp_consts c, const int sh,
                                                                 const int rounding, const int nan_signed) {
  const __m512i inf = _mm512_set1_epi32(0x7F800000);
  const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF));
  __m512i t = _mm512_add_epi32(a, c.round_add);
  if (rounding == CFP8_ROUND_NEAREST_EVEN) /* + the kept lsb: ties to even */
    t = _mm512_add_epi32(t, _mm512_and_si512(_mm512_srli_epi32(a, sh), _mm512_set1_epi32(1)));
  const __m512i f = _mm512_castps_si512(_mm512_add_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(c.M)));
  const __mmask16 sub = _mm512_cmplt_epu32_mask(a, c.sub_lim);
  __m512i enc = _mm512_mask_sub_epi32(_mm512_srli_epi32(t, sh), sub, f, c.M);
  if (rounding == CFP8_ROUND_NEAREST_EVEN) {
    enc = _mm512_min_epu32(enc, c.ovf); /* also Inf: its enc is above */
  } else {
    enc = _mm512_min_epu32(enc, c.max);
    enc = _mm512_mask_mov_epi32(enc, _mm512_cmpeq_epi32_mask(a, inf), c.ovf);
  }
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(a, inf);
  if (nan_signed) enc = _mm512_mask_mov_epi32(enc, nan, c.nan);
  /* enc | ((u >> 24) & 0x80) */
  __m512i res = _mm512_ternarylogic_epi32(enc, _mm512_srli_epi32(u, 24), _mm512_set1_epi32(0x80), 0xF8);
  if (!nan_signed) res = _mm512_mask_mov_epi32(res, nan, c.nan);
  return res;
}

/* 64 dword results (each < 256) -> 64 bytes in order. */
static inline T __m512i pack64(__m512i r0, __m512i r1, __m512i r2, __m512i r3) {
  const __m512i w01 = _mm512_packus_epi32(r0, r1), w23 = _mm512_packus_epi32(r2, r3);
  const __m512i b = _mm512_packus_epi16(w01, w23); /* per 128-bit lane: r0 r1 r2 r3 quarters */
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), b);
}

static inline __attribute__((always_inline)) T __m512i load16m(const void *src, const int src_format, size_t i, __mmask16 m) {
  if (src_format == CFP8_FORMAT_F32) return _mm512_maskz_loadu_epi32(m, (const uint32_t *)src + i);
  const __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)src + i);
  if (src_format == CFP8_FORMAT_BF16) return _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
  return _mm512_castps_si512(_mm512_cvtph_ps(h));
}

/* One loop per (source format, mode, NaN convention, shift): all constants inside it. */
static inline __attribute__((always_inline)) T void enc_loop_ocp(const void *src, const int src_format, uint8_t *dst,
                                                                 size_t n, const ocp_consts c, const int sh,
                                                                 const int rounding, const int nan_signed) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i r0 = enc16_ocp(load16(src, src_format, i), c, sh, rounding, nan_signed);
    const __m512i r1 = enc16_ocp(load16(src, src_format, i + 16), c, sh, rounding, nan_signed);
    const __m512i r2 = enc16_ocp(load16(src, src_format, i + 32), c, sh, rounding, nan_signed);
    const __m512i r3 = enc16_ocp(load16(src, src_format, i + 48), c, sh, rounding, nan_signed);
    _mm512_storeu_si512(dst + i, pack64(r0, r1, r2, r3));
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
    _mm_mask_storeu_epi8(dst + i, m, _mm512_cvtepi32_epi8(enc16_ocp(load16m(src, src_format, i, m), c, sh, rounding, nan_signed)));
  }
}

#define CFP8_OCP_SH(SRC, R, NS)                                                                        \
  do {                                                                                                \
    if (c.sh == 20) enc_loop_ocp(src, SRC, dst, n, c, 20, R, NS);                                     \
    else enc_loop_ocp(src, SRC, dst, n, c, 21, R, NS);                                                \
  } while (0)
#define CFP8_OCP_NS(SRC, R)                                                                            \
  do {                                                                                                \
    if (nan_signed) CFP8_OCP_SH(SRC, R, 1); else CFP8_OCP_SH(SRC, R, 0);                              \
  } while (0)
#define CFP8_OCP_R(SRC)                                                                                \
  do {                                                                                                \
    if (p->rounding == CFP8_ROUND_NEAREST_EVEN) CFP8_OCP_NS(SRC, CFP8_ROUND_NEAREST_EVEN);            \
    else CFP8_OCP_NS(SRC, CFP8_ROUND_TOWARD_ZERO);                                                    \
  } while (0)

/* RNE and RZ for ocp_fast_ok plans (m_bits 3 or 2: shift 20 or 21). */
static T void enc_ocp(const void *src, int32_t src_format, uint8_t *dst, size_t n, const cfp8_enc_plan *p) {
  const ocp_consts c = ocp_consts_of(p, p->rounding);
  const int nan_signed = p->nan_neg != p->nan_pos;
  const unsigned csr = _mm_getcsr(); /* FTZ, DAZ, rounding control = the mode (see enc16_fast) */
  _mm_setcsr((csr & ~0x6000u) | 0x8040u | (p->rounding == CFP8_ROUND_TOWARD_ZERO ? 0x6000u : 0u));
  if (src_format == CFP8_FORMAT_F32) CFP8_OCP_R(CFP8_FORMAT_F32);
  else if (src_format == CFP8_FORMAT_BF16) CFP8_OCP_R(CFP8_FORMAT_BF16);
  else CFP8_OCP_R(CFP8_FORMAT_F16);
  _mm_setcsr(csr);
}
#undef CFP8_OCP_R
#undef CFP8_OCP_NS
#undef CFP8_OCP_SH

static T void enc_loop_fast(const void *src, int32_t src_format, uint8_t *dst, size_t n, const cfp8_enc_plan *plan,
                            int rounding) {
  /* a local copy: the byte stores cannot alias it, so its fields stay in registers */
  const cfp8_enc_plan local = *plan, *p = &local;
  const unsigned csr = _mm_getcsr();
  _mm_setcsr((csr & ~0x6000u) | 0x8040u | (rounding == CFP8_ROUND_TOWARD_ZERO ? 0x6000u : 0u)); /* FTZ, DAZ, RC */
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i r0 = enc16_fast(load16(src, src_format, i), p, rounding);
    const __m512i r1 = enc16_fast(load16(src, src_format, i + 16), p, rounding);
    const __m512i r2 = enc16_fast(load16(src, src_format, i + 32), p, rounding);
    const __m512i r3 = enc16_fast(load16(src, src_format, i + 48), p, rounding);
    /* four vectors of dwords (each < 256) -> 64 bytes in order */
    const __m512i w01 = _mm512_packus_epi32(r0, r1), w23 = _mm512_packus_epi32(r2, r3);
    const __m512i b = _mm512_packus_epi16(w01, w23); /* per 128-bit lane: r0 r1 r2 r3 quarters */
    _mm512_storeu_si512(dst + i, _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), b));
  }
  for (; i + 16 <= n; i += 16)
    _mm_storeu_si128((__m128i *)(dst + i), _mm512_cvtepi32_epi8(enc16_fast(load16(src, src_format, i), p, rounding)));
  if (i < n) {
    uint32_t tmp[16] = {0};
    for (size_t k = 0; k < n - i; k++) {
      if (src_format == CFP8_FORMAT_F32) tmp[k] = ((const uint32_t *)src)[i + k];
      else if (src_format == CFP8_FORMAT_BF16) tmp[k] = (uint32_t)((const uint16_t *)src)[i + k] << 16;
      else tmp[k] = (uint32_t)_mm_cvtsi128_si32(_mm_castps_si128(_mm_cvtph_ps(_mm_cvtsi32_si128(((const uint16_t *)src)[i + k]))));
    }
    uint8_t out[16];
    _mm_storeu_si128((__m128i *)out, _mm512_cvtepi32_epi8(enc16_fast(_mm512_loadu_si512(tmp), p, rounding)));
    memcpy(dst + i, out, n - i);
  }
  _mm_setcsr(csr);
}

static T void enc_loop(const void *src, int32_t src_format, uint8_t *dst, size_t n, size_t index0,
                       const cfp8_enc_plan *plan, int rounding) {
  /* a local copy: the byte stores cannot alias it, so its fields stay in registers */
  const cfp8_enc_plan local = *plan, *p = &local;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const uint64_t g = (uint64_t)index0 + i;
    /* key folds the high half of the index (cfp8_sr_bits); lanes never straddle 2^32 inside a
     * 16-aligned group unless g's low half wraps, handled by the scalar fallback below. */
    __m512i key = _mm512_setzero_si512(), idx = _mm512_setzero_si512();
    const uint32_t *rb = NULL;
    if (rounding == CFP8_ROUND_STOCHASTIC) {
      if (p->random_bits) rb = p->random_bits + g;
      else {
        if ((uint32_t)g > 0xFFFFFFF0u) break;
        key = _mm512_set1_epi32((int)(((uint32_t)(g >> 32) * 0x85EBCA6Bu) ^ p->seed_key));
        idx = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)g), lane);
      }
    }
    const __m512i u = load16(src, src_format, i);
    _mm_storeu_si128((__m128i *)(dst + i), _mm512_cvtepi32_epi8(enc16(u, idx, p, rounding, key, rb)));
  }
  if (i < n) {
    /* Tail (and the rare 2^32 index wrap): the same algorithm, one lane at a time. */
    for (; i < n; i++) {
      const uint64_t g = (uint64_t)index0 + i;
      uint32_t u;
      if (src_format == CFP8_FORMAT_F32) u = ((const uint32_t *)src)[i];
      else if (src_format == CFP8_FORMAT_BF16) u = (uint32_t)((const uint16_t *)src)[i] << 16;
      else u = (uint32_t)_mm_cvtsi128_si32(_mm_castps_si128(_mm_cvtph_ps(_mm_cvtsi32_si128(((const uint16_t *)src)[i]))));
      const uint32_t r = p->random_bits ? p->random_bits[g] : cfp8_sr_bits(p->seed_key, g);
      /* one lane of the vector algorithm, lane 0 */
      const __m512i uv = _mm512_set1_epi32((int)u);
      const __m512i rv = _mm512_set1_epi32((int)r);
      uint32_t rr[16];
      _mm512_storeu_si512(rr, rv);
      const __m512i out = enc16(uv, _mm512_setzero_si512(), p, rounding, _mm512_setzero_si512(),
                                rounding == CFP8_ROUND_STOCHASTIC ? rr : NULL);
      dst[i] = (uint8_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(out));
    }
  }
}

static T int encode_avx512(const void *src, int32_t src_format, uint8_t *dst, size_t n, size_t index0, const cfp8_enc_plan *p) {
  if (ocp_fast_ok(p) && (p->rounding == CFP8_ROUND_NEAREST_EVEN || p->rounding == CFP8_ROUND_TOWARD_ZERO) &&
      (p->m_bits == 2 || p->m_bits == 3)) {
    enc_ocp(src, src_format, dst, n, p);
    return 1;
  }
  switch (p->rounding) {
  case CFP8_ROUND_NEAREST_EVEN: enc_loop_fast(src, src_format, dst, n, p, CFP8_ROUND_NEAREST_EVEN); return 1;
  case CFP8_ROUND_TOWARD_ZERO: enc_loop_fast(src, src_format, dst, n, p, CFP8_ROUND_TOWARD_ZERO); return 1;
  case CFP8_ROUND_STOCHASTIC: enc_loop(src, src_format, dst, n, index0, p, CFP8_ROUND_STOCHASTIC); return 1;
  default: return 0;
  }
}

/* ---- Decode -------------------------------------------------------------------------------- */

/* 256-entry byte table for byte `k` of the result, as 4 registers of 64 entries. */
static TV void plane(const uint8_t *bytes, int stride, int k, __m512i t[4]) {
  uint8_t b[256];
  for (int i = 0; i < 256; i++) b[i] = bytes[i * stride + k];
  for (int j = 0; j < 4; j++) t[j] = _mm512_loadu_si512(b + 64 * j);
}

static inline TV __m512i lookup(__m512i x, __mmask64 hi, const __m512i t[4]) {
  const __m512i lo = _mm512_permutex2var_epi8(t[0], x, t[1]);
  const __m512i up = _mm512_permutex2var_epi8(t[2], x, t[3]);
  return _mm512_mask_mov_epi8(lo, hi, up);
}

static TV void dec_f32_vbmi(const uint8_t *src, const uint32_t *table, uint32_t *dst, size_t n) {
  __m512i t0[4], t1[4], t2[4], t3[4];
  plane((const uint8_t *)table, 4, 0, t0); plane((const uint8_t *)table, 4, 1, t1);
  plane((const uint8_t *)table, 4, 2, t2); plane((const uint8_t *)table, 4, 3, t3);
  /* Pre-permute dwords so that the in-lane unpacks produce elements in order. */
  const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i x = _mm512_permutexvar_epi32(perm, _mm512_loadu_si512(src + i));
    const __mmask64 hi = _mm512_movepi8_mask(x);
    const __m512i b0 = lookup(x, hi, t0), b1 = lookup(x, hi, t1), b2 = lookup(x, hi, t2), b3 = lookup(x, hi, t3);
    const __m512i l01 = _mm512_unpacklo_epi8(b0, b1), h01 = _mm512_unpackhi_epi8(b0, b1);
    const __m512i l23 = _mm512_unpacklo_epi8(b2, b3), h23 = _mm512_unpackhi_epi8(b2, b3);
    _mm512_storeu_si512(dst + i, _mm512_unpacklo_epi16(l01, l23));
    _mm512_storeu_si512(dst + i + 16, _mm512_unpackhi_epi16(l01, l23));
    _mm512_storeu_si512(dst + i + 32, _mm512_unpacklo_epi16(h01, h23));
    _mm512_storeu_si512(dst + i + 48, _mm512_unpackhi_epi16(h01, h23));
  }
  for (; i < n; i++) dst[i] = table[src[i]];
}

static TV void dec_u16_vbmi(const uint8_t *src, const uint16_t *table, uint16_t *dst, size_t n) {
  __m512i t0[4], t1[4];
  plane((const uint8_t *)table, 2, 0, t0); plane((const uint8_t *)table, 2, 1, t1);
  const __m512i perm = _mm512_setr_epi64(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i x = _mm512_permutexvar_epi64(perm, _mm512_loadu_si512(src + i));
    const __mmask64 hi = _mm512_movepi8_mask(x);
    const __m512i b0 = lookup(x, hi, t0), b1 = lookup(x, hi, t1);
    _mm512_storeu_si512(dst + i, _mm512_unpacklo_epi8(b0, b1));
    _mm512_storeu_si512(dst + i + 32, _mm512_unpackhi_epi8(b0, b1));
  }
  for (; i < n; i++) dst[i] = table[src[i]];
}

static T void dec_f32_gather(const uint8_t *src, const uint32_t *table, uint32_t *dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
    _mm512_storeu_si512(dst + i, _mm512_i32gather_epi32(idx, (const int *)table, 4));
  }
  for (; i < n; i++) dst[i] = table[src[i]];
}

static TV int decode_avx512_vbmi(const uint8_t *src, int32_t src_format, void *dst, int32_t dst_format, size_t n) {
  if (dst_format == CFP8_FORMAT_F32) dec_f32_vbmi(src, cfp8_dec_table_u32(src_format), (uint32_t *)dst, n);
  else dec_u16_vbmi(src, cfp8_dec_table_u16(src_format, dst_format), (uint16_t *)dst, n);
  return 1;
}

/* Without VBMI: gathers for FP32, the scalar tables for 16 bits. */
static T int decode_avx512(const uint8_t *src, int32_t src_format, void *dst, int32_t dst_format, size_t n) {
  if (dst_format != CFP8_FORMAT_F32) return 0;
  dec_f32_gather(src, cfp8_dec_table_u32(src_format), (uint32_t *)dst, n);
  return 1;
}

void cfp8_convert_init_avx512(cfp8_convert_kernels *k, int vbmi) {
  k->encode = encode_avx512;
  k->decode = vbmi ? decode_avx512_vbmi : decode_avx512;
  k->sweep_reference = cfp8_sweep_reference_f32_avx512;
}

#endif
