/* AVX2 tasks of the tensor-core model: the algorithm of tensorcore_avx512.c on two 8-lane halves
 * of each 16-column panel (AVX has round-toward-zero; the exponent of c comes from its bits, and a
 * subnormal c takes the scalar block). */
#include "internal.h"
#include "tensorcore_internal.h"

#if defined(CFP8_X86)
#include "simd.h"
#include <string.h>

#define EXP_NONE (-5000)
#define RZ (_MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)

CFP8_TARGET_AVX2
static __m256 block8(const cfp8_tc_job *job, int64_t i, int64_t p, int h, int64_t k0, int nb, __m256 c) {
  /* FP16 accumulator: c rounded to FP16 first, the exact FP32 result rounded once to FP16 */
  const int f16acc = job->model->accumulator == CFP8_TC_ACC_F16;
  if (f16acc) c = _mm256_cvtph_ps(_mm256_cvtps_ph(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const int64_t K = job->k;
  const float *av = job->av_pre + i * K + k0; /* A · 2^-64: see tensorcore_avx512.c */
  const int32_t *ae = job->ae + i * K + k0;
  const float *bv = job->bv + (p * K + k0) * CFP8_TC_PANEL + 8 * h;
  const int32_t *be = job->be + (p * K + k0) * CFP8_TC_PANEL + 8 * h;
  const int F = job->model->fraction_bits;
  const int elo = F - 126, ehi = F + 104; /* see tensorcore_avx512.c */
  const int mx = job->scaling == CFP8_SCALING_MX;
  const int64_t j0 = p * CFP8_TC_PANEL + 8 * h;
  __m256i xs = _mm256_setzero_si256(); /* MX: xa + xb of the current 32-group */
#define MX_GROUP(t0)                                                                                   \
  if (mx) {                                                                                            \
    const int64_t g = (k0 + (t0)) / 32;                                                                \
    int32_t xb[8];                                                                                     \
    for (int l = 0; l < 8; l++) xb[l] = j0 + l < job->n ? job->b_mx[g * job->n + j0 + l] : 0;         \
    xs = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)xb), _mm256_set1_epi32(job->a_mx[i * job->kb32 + g])); \
    t1 = (int)((g + 1) * 32 - k0);                                                                     \
    if (t1 > nb) t1 = nb;                                                                              \
  }
  const __m256i cb = _mm256_castps_si256(c);
  const __m256i biased = _mm256_and_si256(_mm256_srli_epi32(cb, 23), _mm256_set1_epi32(0xFF));
  const __m256 cnz = _mm256_cmp_ps(c, _mm256_setzero_ps(), _CMP_NEQ_UQ);
  const __m256i csub = _mm256_and_si256(_mm256_castps_si256(cnz), _mm256_cmpeq_epi32(biased, _mm256_setzero_si256()));
  __m256i E = _mm256_blendv_epi8(_mm256_set1_epi32(-30000), _mm256_sub_epi32(biased, _mm256_set1_epi32(127)),
                                 _mm256_castps_si256(cnz));
  for (int t0 = 0, t1; t0 < nb; t0 = t1) {
    t1 = nb;
    MX_GROUP(t0)
    for (int t = t0; t < t1; t++)
      E = _mm256_max_epi32(E, _mm256_add_epi32(_mm256_add_epi32(_mm256_set1_epi32(ae[t]), xs),
                                               _mm256_loadu_si256((const __m256i *)(be + t * CFP8_TC_PANEL))));
  }
  const __m256i nonzero = _mm256_cmpgt_epi32(E, _mm256_set1_epi32(EXP_NONE));
  E = _mm256_max_epi32(E, _mm256_set1_epi32(job->model->min_exponent));
  __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(elo), E), _mm256_cmpgt_epi32(E, _mm256_set1_epi32(ehi)));
  const __m256i cneg0 = _mm256_cmpeq_epi32(cb, _mm256_set1_epi32(INT32_MIN)); /* -0 c keeps its sign */
  const __m256i cinf = _mm256_cmpeq_epi32(biased, _mm256_set1_epi32(0xFF)); /* NaN/Inf c (FP16 overflow) */
  int rare = _mm256_movemask_ps(_mm256_castsi256_ps(
      _mm256_or_si256(_mm256_or_si256(_mm256_or_si256(_mm256_and_si256(nonzero, out), csub), cneg0), cinf)));
  E = _mm256_min_epi32(_mm256_max_epi32(E, _mm256_set1_epi32(elo)), _mm256_set1_epi32(ehi));
  __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(_mm256_set1_epi32(F + 127), E), 23));
  const __m256i d0 = _mm256_sub_epi32(_mm256_set1_epi32(F + 64), E); /* shift before MX and the clamp */
#define rz (_MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
  __m256 s0 = _mm256_round_ps(_mm256_mul_ps(c, scale), rz), s1 = _mm256_setzero_ps();
#define TERM(x) _mm256_round_ps(_mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(x), shift)), rz)
  for (int t0 = 0, t1; t0 < nb; t0 = t1) {
    t1 = nb;
    MX_GROUP(t0)
    const __m256i shift = _mm256_slli_epi32(
        _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(d0, xs), _mm256_setzero_si256()), _mm256_set1_epi32(126)), 23);
    int t = t0;
    for (; t + 1 < t1; t += 2) {
      __m256 p0 = _mm256_mul_ps(_mm256_set1_ps(av[t]), _mm256_loadu_ps(bv + t * CFP8_TC_PANEL));
      __m256 p1 = _mm256_mul_ps(_mm256_set1_ps(av[t + 1]), _mm256_loadu_ps(bv + (t + 1) * CFP8_TC_PANEL));
      s0 = _mm256_add_ps(s0, TERM(p0));
      s1 = _mm256_add_ps(s1, TERM(p1));
    }
    if (t < t1) {
      __m256 p0 = _mm256_mul_ps(_mm256_set1_ps(av[t]), _mm256_loadu_ps(bv + t * CFP8_TC_PANEL));
      s0 = _mm256_add_ps(s0, TERM(p0));
    }
  }
#undef TERM
#undef MX_GROUP
  __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_setzero_ps());
  if (F < 23 && !f16acc) /* FP32 accumulator: F + 1 significant bits; FP16: rounded from the exact sum */
    s = _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(s), _mm256_set1_epi32((int)(0xFFFFFFFFu << (23 - F)))));
  __m256 back = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(E, _mm256_set1_epi32(127 - F)), 23));
  __m256 r = _mm256_mul_ps(s, back);
  if (f16acc) r = _mm256_cvtph_ps(_mm256_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (rare) {
    float cv[8], rv[8];
    _mm256_storeu_ps(cv, c);
    _mm256_storeu_ps(rv, r);
    for (int l = 0; l < 8; l++) {
      int64_t j = p * CFP8_TC_PANEL + 8 * h + l;
      if (((rare >> l) & 1) && j < job->n) rv[l] = cfp8_tc_job_block(job, i, j, k0, nb, cv[l]);
    }
    r = _mm256_loadu_ps(rv);
  }
  return r;
}


/* FP64 variant (F >= 23: 16-bit and TF32 inputs, B200 FP8, FP16 accumulators), 4 lanes at a
 * time (quarter q of the panel): the algorithm of block16x4_f64 in tensorcore_avx512.c, with the
 * exponent of c from its bits and round-toward-zero FP64 -> FP32 done by stepping the RNE result
 * toward zero when it moved away. */
CFP8_TARGET_AVX2
static __m128 block4_f64(const cfp8_tc_job *job, int64_t i, int64_t p, int q, int64_t k0, int nb, __m128 c) {
  const int64_t K = job->k;
  const float *av = job->av + i * K + k0;
  const int32_t *ae = job->ae + i * K + k0;
  const float *bv = job->bv + (p * K + k0) * CFP8_TC_PANEL + 4 * q;
  const int32_t *be = job->be + (p * K + k0) * CFP8_TC_PANEL + 4 * q;
  const int F = job->model->fraction_bits;
  const int fused = job->model->c_mode == CFP8_TC_C_FUSED;
  const int f16acc = job->model->accumulator == CFP8_TC_ACC_F16;
  if (f16acc) c = _mm_cvtph_ps(_mm_cvtps_ph(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m128i cb = _mm_castps_si128(c);
  const __m128i biased = _mm_and_si128(_mm_srli_epi32(cb, 23), _mm_set1_epi32(0xFF));
  const __m128i cnz = _mm_castps_si128(_mm_cmp_ps(c, _mm_setzero_ps(), _CMP_NEQ_UQ));
  /* rare: subnormal c (exponent not in its bits), -0 c, NaN/Inf c */
  __m128i rare = _mm_or_si128(_mm_and_si128(cnz, _mm_cmpeq_epi32(biased, _mm_setzero_si128())),
                              _mm_or_si128(_mm_cmpeq_epi32(cb, _mm_set1_epi32(INT32_MIN)), _mm_cmpeq_epi32(biased, _mm_set1_epi32(0xFF))));
  __m128i E = _mm_set1_epi32(-30000);
  if (fused) E = _mm_blendv_epi8(E, _mm_sub_epi32(biased, _mm_set1_epi32(127)), cnz);
  /* MX (B200 FP8): see block16x4_f64 in tensorcore_avx512.c */
  const int mx = job->scaling == CFP8_SCALING_MX;
  const int64_t j0 = p * CFP8_TC_PANEL + 4 * q;
  __m128i xs = _mm_setzero_si128();
#define MX_GROUP4(t0)                                                                                  \
  if (mx) {                                                                                            \
    const int64_t g = (k0 + (t0)) / 32;                                                                \
    int32_t xb[4];                                                                                     \
    for (int l = 0; l < 4; l++) xb[l] = j0 + l < job->n ? job->b_mx[g * job->n + j0 + l] : 0;         \
    xs = _mm_add_epi32(_mm_loadu_si128((const __m128i *)xb), _mm_set1_epi32(job->a_mx[i * job->kb32 + g])); \
    t1 = (int)((g + 1) * 32 - k0);                                                                     \
    if (t1 > nb) t1 = nb;                                                                              \
  }
  for (int t0 = 0, t1; t0 < nb; t0 = t1) {
    t1 = nb;
    MX_GROUP4(t0)
    for (int t = t0; t < t1; t++)
      E = _mm_max_epi32(E, _mm_add_epi32(_mm_add_epi32(_mm_set1_epi32(ae[t]), xs),
                                         _mm_loadu_si128((const __m128i *)(be + t * CFP8_TC_PANEL))));
  }
  const __m128i nonzero = _mm_cmpgt_epi32(E, _mm_set1_epi32(EXP_NONE));
  E = _mm_max_epi32(E, _mm_set1_epi32(job->model->min_exponent));
  rare = _mm_or_si128(rare, _mm_and_si128(nonzero, _mm_or_si128(_mm_cmpgt_epi32(_mm_set1_epi32(-900), E),
                                                                _mm_cmpgt_epi32(E, _mm_set1_epi32(900)))));
  E = _mm_min_epi32(_mm_max_epi32(E, _mm_set1_epi32(-900)), _mm_set1_epi32(900));
  const __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_cvtepi32_epi64(_mm_sub_epi32(_mm_set1_epi32(F + 1023), E)), 52));
  const __m256d cd = _mm256_cvtps_pd(c);
  __m256d s0 = fused ? _mm256_round_pd(_mm256_mul_pd(cd, scale), RZ) : _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  for (int t0 = 0, t1; t0 < nb; t0 = t1) {
    t1 = nb;
    __m256d sc = scale;
    MX_GROUP4(t0)
    if (mx) {
      __m128i b32 = _mm_add_epi32(_mm_sub_epi32(_mm_set1_epi32(F + 1023), E), xs);
      b32 = _mm_min_epi32(_mm_max_epi32(b32, _mm_set1_epi32(1)), _mm_set1_epi32(2046));
      sc = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_cvtepi32_epi64(b32), 52));
    }
    int t = t0;
    for (; t + 1 < t1; t += 2) {
      __m256d p0 = _mm256_mul_pd(_mm256_set1_pd((double)av[t]), _mm256_cvtps_pd(_mm_loadu_ps(bv + t * CFP8_TC_PANEL)));
      __m256d p1 = _mm256_mul_pd(_mm256_set1_pd((double)av[t + 1]), _mm256_cvtps_pd(_mm_loadu_ps(bv + (t + 1) * CFP8_TC_PANEL)));
      s0 = _mm256_add_pd(s0, _mm256_round_pd(_mm256_mul_pd(p0, sc), RZ));
      s1 = _mm256_add_pd(s1, _mm256_round_pd(_mm256_mul_pd(p1, sc), RZ));
    }
    if (t < t1) {
      __m256d p0 = _mm256_mul_pd(_mm256_set1_pd((double)av[t]), _mm256_cvtps_pd(_mm_loadu_ps(bv + t * CFP8_TC_PANEL)));
      s0 = _mm256_add_pd(s0, _mm256_round_pd(_mm256_mul_pd(p0, sc), RZ));
    }
  }
#undef MX_GROUP4
  __m256d sum = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_setzero_pd());
  __m256d back = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_cvtepi32_epi64(_mm_add_epi32(E, _mm_set1_epi32(1023 - F))), 52));
  __m256d exact = _mm256_mul_pd(sum, back);
  /* RZ: the RNE conversion, stepped one ulp toward zero where it moved away from zero */
  __m128 f = _mm256_cvtpd_ps(exact);
  const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
  __m256d away = _mm256_cmp_pd(_mm256_and_pd(_mm256_cvtps_pd(f), absmask), _mm256_and_pd(exact, absmask), _CMP_GT_OQ);
  __m128i away32 = _mm_castps_si128(_mm256_cvtpd_ps(away)); /* all-ones double -> NaN float: nonzero bits */
  away32 = _mm_xor_si128(_mm_cmpeq_epi32(away32, _mm_setzero_si128()), _mm_set1_epi32(-1));
  __m128 res = _mm_castsi128_ps(_mm_add_epi32(_mm_castps_si128(f), away32)); /* bits - 1 where away */
  if (f16acc) {
    __m256d inexact = _mm256_cmp_pd(_mm256_cvtps_pd(res), exact, _CMP_NEQ_OQ);
    __m128i inex32 = _mm_xor_si128(_mm_cmpeq_epi32(_mm_castps_si128(_mm256_cvtpd_ps(inexact)), _mm_setzero_si128()), _mm_set1_epi32(-1));
    res = _mm_castsi128_ps(_mm_or_si128(_mm_castps_si128(res), _mm_and_si128(inex32, _mm_set1_epi32(1))));
    res = _mm_cvtph_ps(_mm_cvtps_ph(res, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  } else if (!fused) {
    res = _mm_add_ps(res, c);
  }
  int rmask = _mm_movemask_ps(_mm_castsi128_ps(rare));
  if (rmask) {
    float cv[4], rv[4];
    _mm_storeu_ps(cv, c);
    _mm_storeu_ps(rv, res);
    for (int l = 0; l < 4; l++) {
      int64_t j = p * CFP8_TC_PANEL + 4 * q + l;
      if (((rmask >> l) & 1) && j < job->n) rv[l] = cfp8_tc_job_block(job, i, j, k0, nb, cv[l]);
    }
    res = _mm_loadu_ps(rv);
  }
  return res;
}

CFP8_TARGET_AVX2
int cfp8_tc_task_avx2(const cfp8_tc_job *job, int64_t i, int64_t p) {
  const int path = cfp8_tc_simd_model_ok(job);
  if (!path || job->a_special[i] || job->b_special[p] || cfp8_tc_mx_nan(job, i, i + 1, p)) return 0;
  const int64_t K = job->k;
  const int block_scaled = job->scaling == CFP8_SCALING_BLOCK;
  float *out = job->acc + i * job->ldacc + p * CFP8_TC_PANEL;
  float init[CFP8_TC_PANEL];
  for (int l = 0; l < CFP8_TC_PANEL; l++)
    init[l] = p * CFP8_TC_PANEL + l < job->n ? cfp8_tc_init(job, i, p * CFP8_TC_PANEL + l) : 0.0f;
  for (int l = 0; l < CFP8_TC_PANEL; l++)
    if (init[l] - init[l] != 0.0f) return 0; /* NaN or Inf: the scalar task */
  if (path == CFP8_TC_SIMD_EXACT) {
    /* every FP64 operation exact (cfp8_tc_exact_init_ok in tensorcore_gemm.c): the order is free */
    if (!cfp8_tc_exact_init_ok(job, i, p)) return 0;
    const float *av = job->av + i * K, *bv = job->bv + p * K * CFP8_TC_PANEL;
    __m256d s[4];
    for (int q = 0; q < 4; q++) s[q] = _mm256_setzero_pd();
    for (int64_t kk = 0; kk < K; kk++) {
      __m256d a = _mm256_set1_pd((double)av[kk]);
      for (int q = 0; q < 4; q++) s[q] = _mm256_fmadd_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(bv + kk * CFP8_TC_PANEL + 4 * q)), s[q]);
    }
    for (int q = 0; q < 4; q++) _mm_storeu_ps(out + 4 * q, _mm256_cvtpd_ps(_mm256_add_pd(s[q], _mm256_cvtps_pd(_mm_loadu_ps(init + 4 * q)))));
    return 1;
  }
  if (path == CFP8_TC_SIMD_F64) {
    const int L = job->model->block_size;
    const int fast = job->accumulation == CFP8_TC_ACCUM_FAST;
    const int64_t interval = fast ? (K > 0 ? K : 1) : job->interval;
    for (int q = 0; q < 4; q++) {
      __m128 acc = _mm_loadu_ps(init + 4 * q);
      for (int64_t s0 = 0; s0 < K; s0 += interval) {
        int64_t s1 = s0 + interval < K ? s0 + interval : K;
        __m128 part = fast ? acc : _mm_setzero_ps();
        for (int64_t k0 = s0; k0 < s1; k0 += L) part = block4_f64(job, i, p, q, k0, (int)(s1 - k0 < L ? s1 - k0 : L), part);
        if (fast) acc = part;
        else if (block_scaled) {
          float sc = job->blk_a[i * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
          acc = _mm_fmadd_ps(_mm_set1_ps(sc), part, acc);
        } else acc = _mm_add_ps(acc, part);
      }
      _mm_storeu_ps(out + 4 * q, acc);
    }
    return 1;
  }
  for (int h = 0; h < 2; h++) {
    __m256 acc = _mm256_loadu_ps(init + 8 * h);
    if (job->accumulation == CFP8_TC_ACCUM_IDEAL) {
      const float *av = job->av + i * K, *bv = job->bv + p * K * CFP8_TC_PANEL + 8 * h;
      for (int64_t s0 = 0; s0 < K; s0 += 128) {
        int64_t s1 = s0 + 128 < K ? s0 + 128 : K;
        __m256 part = block_scaled ? _mm256_setzero_ps() : acc;
        for (int64_t kk = s0; kk < s1; kk++)
          part = _mm256_fmadd_ps(_mm256_set1_ps(av[kk]), _mm256_loadu_ps(bv + kk * CFP8_TC_PANEL), part);
        if (block_scaled) {
          float sc = job->blk_a[i * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
          acc = _mm256_fmadd_ps(_mm256_set1_ps(sc), part, acc);
        } else acc = part;
      }
    } else {
      const int L = job->model->block_size;
      const int64_t interval = job->accumulation == CFP8_TC_ACCUM_FAST ? (K > 0 ? K : 1) : job->interval;
      for (int64_t s0 = 0; s0 < K; s0 += interval) {
        int64_t s1 = s0 + interval < K ? s0 + interval : K;
        __m256 part = job->accumulation == CFP8_TC_ACCUM_FAST ? acc : _mm256_setzero_ps();
        for (int64_t k0 = s0; k0 < s1; k0 += L) part = block8(job, i, p, h, k0, (int)(s1 - k0 < L ? s1 - k0 : L), part);
        if (job->accumulation == CFP8_TC_ACCUM_FAST) acc = part;
        else if (block_scaled) {
          float sc = job->blk_a[i * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
          acc = _mm256_fmadd_ps(_mm256_set1_ps(sc), part, acc);
        } else acc = _mm256_add_ps(acc, part);
      }
    }
    _mm256_storeu_ps(out + 8 * h, acc);
  }
  return 1;
}
/* ---- four rows at a time: FP8 inputs, FP32-lane models, FAST or PROMOTED, no MX ------------
 * block8's numbers for 4 rows x 16 columns (each load of B serves four rows), with two steps done
 * more cheaply; both give the same integers as block8, so the bits are the same:
 * (1) The alignment point from int8 exponents. Every exponent of an FP8 operand lies in
 *     [-14, 15] (E5M2's range; E4M3's is [-6, 8]); job->ae8/be8 hold them with -64 for a zero
 *     operand. A saturating int8 add gives each product's exponent exactly (sums in [-28, 30]),
 *     and at most -49 when a factor is zero (-64 + 15; two zeros saturate at -128), below every
 *     real one. One 32-byte operation covers two values of k for 16 columns: be8 interleaves the
 *     two k byte by byte and A's two exponents are one broadcast 16-bit word; a k alone (odd
 *     start or end) pairs with -128, whose sums saturate far below. The two bytes of each column
 *     are merged at the end; a maximum of -49 or less means no non-zero product (EXP_NONE).
 * (2) The truncated terms summed as integers. A term trunc(p * 2^(F-E)) is computed exactly as
 *     block8 computes it (the product p * 2^-64 and an integer add to its exponent field, see
 *     tensorcore_avx512.c), but VCVTTPS2DQ truncates it to int32 where block8 uses VROUNDPS
 *     toward zero and an FP32 add: the same integer, below 2^(F+2) in magnitude. The L + 1
 *     integers sum below 2^24 (cfp8_tc_simd_model_ok), exactly in int32 in any order, as block8's
 *     FP32 sum is exact, and convert exactly back to FP32. A zero sum is +0 in both (block8 adds
 *     +0; a -0 c takes the scalar block in both).
 * Measured on the 2-core Zen 3 VM (AVX2): about twice block8's speed (docs/tensor-cores.md). */
#define ROWS 4

/* What the accumulators c entering a block can hold, so that block16x4 skips the checks that cannot
 * fire: C_ZERO, +0 in every lane (the first block of a promotion interval); C_CLEAN, +0 or a normal
 * finite float in every lane (the result of a block with an FP32 accumulator in which no lane took
 * the scalar block: |sum| < 2^21 integer units of 2^(E-F), E in [F - 126, F + 104], so the result
 * is +0 or lies in [2^-126, 2^125)); C_ANY, anything (an initial accumulator, an FP16 accumulator,
 * a lane of the scalar block). */
enum { C_ZERO, C_CLEAN, C_ANY };

/* The rest of a block's set-up for 8 lanes, from the alignment point e of products and c: the
 * minimum exponent, the rare lanes (non-zero ones outside the exact range, or c_rare), E clamped to
 * that range, the terms' shift F - E + 64 clamped to [0, 126] (see tensorcore_avx512.c: the clamps
 * only meet zero products and terms below 1), and c's term trunc(c · 2^(F-E)) (0 without c: a
 * C_ZERO block). Inlined into each caller, so that each accumulator state keeps its own code. */
CFP8_TARGET_AVX2
static inline __attribute__((always_inline)) int block_alignment(const cfp8_tc_job *job, __m256i e, __m256i nonzero,
                                                                 __m256i c_rare, const __m256 *c, __m256i *E,
                                                                 __m256i *shift, __m256i *s) {
  const int F = job->model->fraction_bits;
  const int elo = F - 126, ehi = F + 104;
  e = _mm256_max_epi32(e, _mm256_set1_epi32(job->model->min_exponent));
  const __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(elo), e), _mm256_cmpgt_epi32(e, _mm256_set1_epi32(ehi)));
  const int rare = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(nonzero, out), c_rare)));
  e = _mm256_min_epi32(_mm256_max_epi32(e, _mm256_set1_epi32(elo)), _mm256_set1_epi32(ehi));
  *E = e;
  *shift = _mm256_slli_epi32(_mm256_min_epi32(_mm256_max_epi32(_mm256_sub_epi32(_mm256_set1_epi32(F + 64), e),
                                                               _mm256_setzero_si256()), _mm256_set1_epi32(126)), 23);
  if (!c) *s = _mm256_setzero_si256();
  else {
    const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(_mm256_set1_epi32(F + 127), e), 23));
    *s = _mm256_cvttps_epi32(_mm256_mul_ps(*c, scale)); /* c · 2^(F-E), below 2^(F+1) */
  }
  return rare;
}

/* Returns whether some lane took the scalar block. */
CFP8_TARGET_AVX2
static int block16x4(const cfp8_tc_job *job, const int64_t *rows, int64_t p, int64_t k0, int nb, __m256 c[ROWS][2],
                     int cstate) {
  const int64_t K = job->k;
  const int F = job->model->fraction_bits;
  const int f16acc = job->model->accumulator == CFP8_TC_ACC_F16;
  const float *bv = job->bv + (p * K + k0) * CFP8_TC_PANEL;
  /* (1) products' alignment point, int8, two k per operation */
  const int64_t kp = (K + 1) & ~(int64_t)1;
  const int8_t *be8 = job->be8 + p * kp * CFP8_TC_PANEL;
  __m128i e8[ROWS];
  {
    __m256i m[ROWS];
    const int8_t *ae8[ROWS];
    for (int r = 0; r < ROWS; r++) { m[r] = _mm256_set1_epi8(-128); ae8[r] = job->ae8 + rows[r] * K; }
    int64_t k = k0;
    const int64_t k1 = k0 + nb;
    /* one k alone (an odd start or end): its partner byte in A's word is -128, whose sums
       saturate far below every real exponent */
#define SINGLE(kk)                                                                                   \
    {                                                                                                \
      const __m256i eb = _mm256_loadu_si256((const __m256i *)(be8 + ((kk) & ~(int64_t)1) * CFP8_TC_PANEL)); \
      for (int r = 0; r < ROWS; r++) {                                                               \
        const uint8_t x = (uint8_t)ae8[r][kk];                                                       \
        const int16_t w = (int16_t)((kk) & 1 ? (uint16_t)(x << 8) | 0x80u : (uint16_t)(0x8000u | x)); \
        m[r] = _mm256_max_epi8(m[r], _mm256_adds_epi8(_mm256_set1_epi16(w), eb));                    \
      }                                                                                              \
    }
    if (k & 1) { SINGLE(k) k++; }
    for (; k + 1 < k1; k += 2) {
      const __m256i eb = _mm256_loadu_si256((const __m256i *)(be8 + k * CFP8_TC_PANEL));
      for (int r = 0; r < ROWS; r++)
        m[r] = _mm256_max_epi8(m[r], _mm256_adds_epi8(_mm256_broadcastw_epi16(_mm_loadu_si16(ae8[r] + k)), eb));
    }
    if (k < k1) SINGLE(k)
#undef SINGLE
    /* byte 2j holds even k of column j, byte 2j + 1 odd k: merge, then keep the even bytes */
    const __m256i even = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1,
                                          0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
    for (int r = 0; r < ROWS; r++) {
      __m256i mm = _mm256_max_epi8(m[r], _mm256_srli_epi16(m[r], 8)); /* high byte shifted in: its max */
      mm = _mm256_shuffle_epi8(mm, even);
      const __m128i m16 = _mm_unpacklo_epi64(_mm256_castsi256_si128(mm), _mm256_extracti128_si256(mm, 1));
      /* -49 or less: no non-zero product; -128 from here on, below c's -127 in the C_CLEAN test */
      e8[r] = _mm_blendv_epi8(m16, _mm_set1_epi8(-128), _mm_cmpgt_epi8(_mm_set1_epi8(-48), m16));
    }
  }
  /* c's exponent, the clamps and the rare lanes, as in block8 */
  __m256i shift[ROWS][2], E[ROWS][2], s[ROWS][2];
  int rare[ROWS][2], any_rare = 0;
  for (int r = 0; r < ROWS; r++)
    for (int h = 0; h < 2; h++) {
      __m256i e = _mm256_cvtepi8_epi32(h ? _mm_srli_si128(e8[r], 8) : e8[r]);
      if (cstate != C_ANY) {
        /* c is +0 or normal: its exponent is its biased exponent - 127, and a +0 c gives -127,
           which loses to every product exponent and beats only the -128 of no product; the
           reference's -30000 for both gives the same lanes and, where nothing is non-zero, the
           same +0 result */
        if (cstate == C_CLEAN)
          e = _mm256_max_epi32(e, _mm256_sub_epi32(_mm256_srli_epi32(_mm256_slli_epi32(_mm256_castps_si256(c[r][h]), 1), 24),
                                                   _mm256_set1_epi32(127)));
        rare[r][h] = block_alignment(job, e, _mm256_cmpgt_epi32(e, _mm256_set1_epi32(-127)), _mm256_setzero_si256(),
                                     cstate == C_ZERO ? NULL : &c[r][h], &E[r][h], &shift[r][h], &s[r][h]);
      } else {
        __m256 cv = c[r][h];
        if (f16acc) cv = _mm256_cvtph_ps(_mm256_cvtps_ph(cv, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        c[r][h] = cv;
        const __m256i cb = _mm256_castps_si256(cv);
        const __m256i biased = _mm256_and_si256(_mm256_srli_epi32(cb, 23), _mm256_set1_epi32(0xFF));
        const __m256 cnz = _mm256_cmp_ps(cv, _mm256_setzero_ps(), _CMP_NEQ_UQ);
        e = _mm256_blendv_epi8(e, _mm256_set1_epi32(-30000), _mm256_cmpgt_epi32(_mm256_set1_epi32(-48), e));
        e = _mm256_max_epi32(e, _mm256_blendv_epi8(_mm256_set1_epi32(-30000), _mm256_sub_epi32(biased, _mm256_set1_epi32(127)),
                                                   _mm256_castps_si256(cnz)));
        /* a subnormal c (its exponent is not in its bits), a -0 c (keeps its sign), NaN/Inf */
        const __m256i csub = _mm256_and_si256(_mm256_castps_si256(cnz), _mm256_cmpeq_epi32(biased, _mm256_setzero_si256()));
        const __m256i cneg0 = _mm256_cmpeq_epi32(cb, _mm256_set1_epi32(INT32_MIN));
        const __m256i cinf = _mm256_cmpeq_epi32(biased, _mm256_set1_epi32(0xFF));
        rare[r][h] = block_alignment(job, e, _mm256_cmpgt_epi32(e, _mm256_set1_epi32(EXP_NONE)),
                                     _mm256_or_si256(_mm256_or_si256(csub, cneg0), cinf), &c[r][h], &E[r][h], &shift[r][h], &s[r][h]);
      }
      any_rare |= rare[r][h];
    }
  /* (2) truncated terms, summed in int32 */
  const float *av[ROWS];
  for (int r = 0; r < ROWS; r++) av[r] = job->av_pre + rows[r] * K + k0;
  for (int t = 0; t < nb; t++) {
    const __m256 b0 = _mm256_loadu_ps(bv + t * CFP8_TC_PANEL), b1 = _mm256_loadu_ps(bv + t * CFP8_TC_PANEL + 8);
    for (int r = 0; r < ROWS; r++) {
      const __m256 a = _mm256_broadcast_ss(av[r] + t);
      s[r][0] = _mm256_add_epi32(s[r][0], _mm256_cvttps_epi32(_mm256_castsi256_ps(
                                              _mm256_add_epi32(_mm256_castps_si256(_mm256_mul_ps(a, b0)), shift[r][0]))));
      s[r][1] = _mm256_add_epi32(s[r][1], _mm256_cvttps_epi32(_mm256_castsi256_ps(
                                              _mm256_add_epi32(_mm256_castps_si256(_mm256_mul_ps(a, b1)), shift[r][1]))));
    }
  }
  /* (3) normalise as block8 */
  const __m256i keep = _mm256_set1_epi32(F < 23 && !f16acc ? (int)(0xFFFFFFFFu << (23 - F)) : -1);
  for (int r = 0; r < ROWS; r++)
    for (int h = 0; h < 2; h++) {
      __m256 sum = _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(_mm256_cvtepi32_ps(s[r][h])), keep));
      __m256 back = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(E[r][h], _mm256_set1_epi32(127 - F)), 23));
      __m256 res = _mm256_mul_ps(sum, back);
      if (f16acc) res = _mm256_cvtph_ps(_mm256_cvtps_ph(res, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      if (rare[r][h]) {
        float cv[8], rv[8];
        _mm256_storeu_ps(cv, c[r][h]);
        _mm256_storeu_ps(rv, res);
        for (int l = 0; l < 8; l++) {
          int64_t j = p * CFP8_TC_PANEL + 8 * h + l;
          if (((rare[r][h] >> l) & 1) && j < job->n) rv[l] = cfp8_tc_job_block(job, rows[r], j, k0, nb, cv[l]);
        }
        res = _mm256_loadu_ps(rv);
      }
      c[r][h] = res;
    }
  return any_rare != 0;
}

/* The FP8 jobs block16x4 takes (an FP32-lane model, FAST or PROMOTED, no MX) read A only as
 * av_pre and ae8, and B as bv and be8; every other job is packed in full. */
static int compact_avx2(const cfp8_tc_job *job) {
  return (job->accumulation == CFP8_TC_ACCUM_FAST || job->accumulation == CFP8_TC_ACCUM_PROMOTED) &&
         job->scaling != CFP8_SCALING_MX && cfp8_tc_simd_model_ok(job) == CFP8_TC_SIMD_F32;
}

/* Rows i0..i0+3 of panel p: FP8 FAST/PROMOTED on block16x4, or IDEAL (FP32 FMA, any input);
 * 0 when the job is neither (the per-row task runs). */
CFP8_TARGET_AVX2
int cfp8_tc_task_avx2_rows(const cfp8_tc_job *job, int64_t i0, int64_t p) {
  const int ideal = job->accumulation == CFP8_TC_ACCUM_IDEAL;
  if (job->b_special[p] ||
      !(ideal ? cfp8_tc_simd_model_ok(job) == CFP8_TC_SIMD_F32 && job->scaling != CFP8_SCALING_MX : job->ae8 && compact_avx2(job)))
    return 0;
  const int64_t K = job->k;
  int64_t rows[ROWS];
  int nrows = 0;
  __m256 acc[ROWS][2];
  for (int r = 0; r < ROWS; r++) {
    rows[r] = i0 + r < job->m ? i0 + r : i0; /* tail: repeat the first row, results dropped */
    if (i0 + r < job->m) nrows++;
    if (job->a_special[rows[r]]) return 0;
    float init[CFP8_TC_PANEL];
    for (int l = 0; l < CFP8_TC_PANEL; l++) {
      init[l] = p * CFP8_TC_PANEL + l < job->n ? cfp8_tc_init(job, rows[r], p * CFP8_TC_PANEL + l) : 0.0f;
      if (init[l] - init[l] != 0.0f) return 0; /* NaN or Inf: the scalar task */
    }
    acc[r][0] = _mm256_loadu_ps(init);
    acc[r][1] = _mm256_loadu_ps(init + 8);
  }
  const int block_scaled = job->scaling == CFP8_SCALING_BLOCK;
  if (ideal) {
    /* FP32 FMA in k order per element, as the scalar task: 8 independent chains per k instead of
       the per-row task's 2, so the FMA latency is hidden */
    const float *bv = job->bv + p * K * CFP8_TC_PANEL;
    for (int64_t s0 = 0; s0 < K; s0 += 128) {
      const int64_t s1 = s0 + 128 < K ? s0 + 128 : K;
      __m256 part[ROWS][2];
      for (int r = 0; r < ROWS; r++)
        for (int h = 0; h < 2; h++) part[r][h] = block_scaled ? _mm256_setzero_ps() : acc[r][h];
      for (int64_t kk = s0; kk < s1; kk++) {
        const __m256 b0 = _mm256_loadu_ps(bv + kk * CFP8_TC_PANEL), b1 = _mm256_loadu_ps(bv + kk * CFP8_TC_PANEL + 8);
        for (int r = 0; r < ROWS; r++) {
          const __m256 a = _mm256_broadcast_ss(job->av + rows[r] * K + kk);
          part[r][0] = _mm256_fmadd_ps(a, b0, part[r][0]);
          part[r][1] = _mm256_fmadd_ps(a, b1, part[r][1]);
        }
      }
      for (int r = 0; r < ROWS; r++)
        for (int h = 0; h < 2; h++) {
          if (block_scaled) {
            float sc = job->blk_a[rows[r] * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
            acc[r][h] = _mm256_fmadd_ps(_mm256_set1_ps(sc), part[r][h], acc[r][h]);
          } else acc[r][h] = part[r][h];
        }
    }
  }
  const int L = ideal ? 1 : job->model->block_size;
  const int fast = job->accumulation == CFP8_TC_ACCUM_FAST;
  const int f16acc = !ideal && job->model->accumulator == CFP8_TC_ACC_F16;
  const int64_t interval = ideal ? K + 1 : fast ? (K > 0 ? K : 1) : job->interval;
  for (int64_t s0 = 0; !ideal && s0 < K; s0 += interval) {
    const int64_t s1 = s0 + interval < K ? s0 + interval : K;
    __m256 part[ROWS][2];
    for (int r = 0; r < ROWS; r++)
      for (int h = 0; h < 2; h++) part[r][h] = fast ? acc[r][h] : _mm256_setzero_ps();
    /* a promoted interval starts from +0; the accumulator a FAST chain starts from is anything */
    int cstate = fast ? C_ANY : C_ZERO;
    for (int64_t k0 = s0; k0 < s1; k0 += L) {
      const int rare = block16x4(job, rows, p, k0, (int)(s1 - k0 < L ? s1 - k0 : L), part, cstate);
      cstate = rare || f16acc ? C_ANY : C_CLEAN;
    }
    for (int r = 0; r < ROWS; r++)
      for (int h = 0; h < 2; h++) {
        if (fast) acc[r][h] = part[r][h];
        else if (block_scaled) {
          float sc = job->blk_a[rows[r] * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
          acc[r][h] = _mm256_fmadd_ps(_mm256_set1_ps(sc), part[r][h], acc[r][h]);
        } else acc[r][h] = _mm256_add_ps(acc[r][h], part[r][h]);
      }
  }
  for (int r = 0; r < nrows; r++) {
    _mm256_storeu_ps(job->acc + rows[r] * job->ldacc + p * CFP8_TC_PANEL, acc[r][0]);
    _mm256_storeu_ps(job->acc + rows[r] * job->ldacc + p * CFP8_TC_PANEL + 8, acc[r][1]);
  }
  return 1;
}
#undef ROWS

/* The packers of compact jobs: the byte tables' values computed from the bits, 8 bytes per step
 * (the table loop costs about 4 cycles an element, as much as the products of a 64-column row).
 * With e and m the byte's exponent and mantissa fields, w the mantissa width and b the bias (E4M3:
 * 3, 7; E5M2: 2, 15), and 2^s the copy's scale (A's av_pre: 2^-64; B's bv: 1):
 * - a normal value is (1 + m/2^w)·2^(e-b), so value·2^s has the FP32 bits
 *   sign | (byte & 0x7F)<<(23-w) + (127+s-b)<<23;
 * - a subnormal (e = 0) is m·2^(1-b-w): (float)m · 2^(1-b-w+s) is exact, the sign or'ed in (+0 and
 *   -0 included);
 * - the model exponent is e - b, raised to 1 - b (the format's emin) for subnormals; -64 for zeros.
 * NaN and infinity (E4M3 0x7F/0xFF; E5M2 e = 31) make a packer decline: the table loop then packs
 * the line or panel and flags it. */
typedef struct {
  int e4m3, w, bias;
  __m256i mag, expf, special_at, mant, norm_bias, emin;
  __m256 sub_scale;
} fp8_unpack;

CFP8_TARGET_AVX2
static int fp8_unpack_init(fp8_unpack *u, int32_t format, int s) {
  u->e4m3 = format == CFP8_FORMAT_E4M3;
  if (!u->e4m3 && format != CFP8_FORMAT_E5M2) return 0;
  u->w = u->e4m3 ? 3 : 2;
  u->bias = u->e4m3 ? 7 : 15;
  u->mag = _mm256_set1_epi32(0x7F);
  u->expf = _mm256_set1_epi32(u->e4m3 ? 0x78 : 0x7C);
  u->special_at = _mm256_set1_epi32(u->e4m3 ? 0x7F : 0x7C);
  u->mant = _mm256_set1_epi32((1 << u->w) - 1);
  u->norm_bias = _mm256_set1_epi32((127 + s - u->bias) << 23);
  u->emin = _mm256_set1_epi32(1 - u->bias);
  u->sub_scale = _mm256_castsi256_ps(_mm256_set1_epi32((127 + 1 - u->bias - u->w + s) << 23));
  return 1;
}

/* 8 bytes: the values' FP32 bits and the model exponents (int32); 0 when one is NaN or Inf */
CFP8_TARGET_AVX2
static inline int fp8_unpack8(const fp8_unpack *u, const uint8_t *src, __m256i *bits, __m256i *e) {
  const __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)src));
  const __m256i xm = _mm256_and_si256(x, u->mag), xe = _mm256_and_si256(x, u->expf);
  const __m256i spec = _mm256_cmpeq_epi32(u->e4m3 ? xm : xe, u->special_at);
  if (_mm256_movemask_ps(_mm256_castsi256_ps(spec))) return 0;
  const __m256i sign = _mm256_slli_epi32(_mm256_andnot_si256(u->mag, x), 24);
  const __m256i nbits = _mm256_add_epi32(_mm256_slli_epi32(xm, 23 - u->w), u->norm_bias);
  const __m256i sbits = _mm256_castps_si256(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(x, u->mant)), u->sub_scale));
  *bits = _mm256_or_si256(_mm256_blendv_epi8(nbits, sbits, _mm256_cmpeq_epi32(xe, _mm256_setzero_si256())), sign);
  const __m256i ex = _mm256_max_epi32(_mm256_sub_epi32(_mm256_srli_epi32(xm, u->w), _mm256_set1_epi32(u->bias)), u->emin);
  *e = _mm256_blendv_epi8(ex, _mm256_set1_epi32(-64), _mm256_cmpeq_epi32(xm, _mm256_setzero_si256()));
  return 1;
}

/* int32 exponents (each in [-64, 15]) of 8 elements to 8 int8 */
CFP8_TARGET_AVX2
static inline __m128i narrow8(__m256i e) {
  const __m128i e16 = _mm_packs_epi32(_mm256_castsi256_si128(e), _mm256_extracti128_si256(e, 1));
  return _mm_packs_epi16(e16, e16);
}

/* The last n < 8 bytes of a line, through a zero-padded copy: values (as floats) and int8
 * exponents in v[0..n) and e8[0..n); 0 when one is NaN or Inf */
CFP8_TARGET_AVX2
static int fp8_unpack_tail(const fp8_unpack *u, const uint8_t *src, int n, float v[8], int8_t e8[8]) {
  uint8_t tail[8] = {0};
  memcpy(tail, src, (size_t)n);
  __m256i bits, e;
  if (!fp8_unpack8(u, tail, &bits, &e)) return 0;
  _mm256_storeu_si256((__m256i *)v, bits);
  _mm_storel_epi64((__m128i *)e8, narrow8(e));
  return 1;
}

CFP8_TARGET_AVX2
static int pack_a_line_avx2(const uint8_t *line, int64_t k, int32_t format, float *pre, int8_t *e8) {
  fp8_unpack u;
  if (!fp8_unpack_init(&u, format, -64)) return 0;
  int64_t kk = 0;
  for (; kk + 8 <= k; kk += 8) {
    __m256i bits, e;
    if (!fp8_unpack8(&u, line + kk, &bits, &e)) return 0;
    _mm256_storeu_si256((__m256i *)(pre + kk), bits);
    _mm_storel_epi64((__m128i *)(e8 + kk), narrow8(e));
  }
  if (kk < k) {
    float v[8];
    int8_t e8t[8];
    if (!fp8_unpack_tail(&u, line + kk, (int)(k - kk), v, e8t)) return 0;
    memcpy(pre + kk, v, (size_t)(k - kk) * 4);
    memcpy(e8 + kk, e8t, (size_t)(k - kk));
  }
  return 1;
}

/* A full panel of B from 16 contiguous lines of k bytes (B transposed, columns j0..j0+15): bv rows
 * of 16 values per k, be8 in pairs of k interleaved byte by byte (panel layout of tensorcore_gemm.c).
 * Eight lines and eight k at a time: their value vectors transposed 8 × 8 in registers. */
CFP8_TARGET_AVX2
static int pack_b_panel_avx2(const uint8_t *const *lines, int64_t k, int32_t format, float *bv, int8_t *be8) {
  fp8_unpack u;
  if (!fp8_unpack_init(&u, format, 0)) return 0;
  int64_t kk = 0;
  for (; kk + 8 <= k; kk += 8)
    for (int h = 0; h < 2; h++) {
      __m256 v[8];
      int16_t pairs[8][4]; /* line l: its exponents of k pairs (kk, kk+1) ... (kk+6, kk+7) */
      for (int l = 0; l < 8; l++) {
        __m256i bits, e;
        if (!fp8_unpack8(&u, lines[8 * h + l] + kk, &bits, &e)) return 0;
        v[l] = _mm256_castsi256_ps(bits);
        _mm_storel_epi64((__m128i *)pairs[l], narrow8(e));
      }
      /* 8 × 8 transpose: row kk+t of the panel half */
      const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
      const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
      const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
      const __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
      const __m256 q0 = _mm256_shuffle_ps(t0, t2, 0x44), q1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      const __m256 q2 = _mm256_shuffle_ps(t1, t3, 0x44), q3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      const __m256 q4 = _mm256_shuffle_ps(t4, t6, 0x44), q5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      const __m256 q6 = _mm256_shuffle_ps(t5, t7, 0x44), q7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      const __m256 r[8] = {
        _mm256_permute2f128_ps(q0, q4, 0x20), _mm256_permute2f128_ps(q1, q5, 0x20),
        _mm256_permute2f128_ps(q2, q6, 0x20), _mm256_permute2f128_ps(q3, q7, 0x20),
        _mm256_permute2f128_ps(q0, q4, 0x31), _mm256_permute2f128_ps(q1, q5, 0x31),
        _mm256_permute2f128_ps(q2, q6, 0x31), _mm256_permute2f128_ps(q3, q7, 0x31),
      };
      for (int t = 0; t < 8; t++) _mm256_storeu_ps(bv + (kk + t) * CFP8_TC_PANEL + 8 * h, r[t]);
      for (int q = 0; q < 4; q++)
        for (int l = 0; l < 8; l++) memcpy(be8 + (kk + 2 * q) * CFP8_TC_PANEL + 2 * (8 * h + l), &pairs[l][q], 2);
    }
  if (kk < k)
    for (int l = 0; l < CFP8_TC_PANEL; l++) {
      float v[8];
      int8_t e8t[8];
      if (!fp8_unpack_tail(&u, lines[l] + kk, (int)(k - kk), v, e8t)) return 0;
      for (int64_t t = kk; t < k; t++) {
        bv[t * CFP8_TC_PANEL + l] = v[t - kk];
        be8[(t & ~(int64_t)1) * CFP8_TC_PANEL + 2 * l + (t & 1)] = e8t[t - kk];
      }
    }
  return 1;
}

void cfp8_tc_init_avx2(cfp8_tc_kernels *k) {
  k->task_rows = cfp8_tc_task_avx2_rows;
  k->task_row = cfp8_tc_task_avx2;
  k->compact = compact_avx2;
  k->pack_a_line = pack_a_line_avx2;
  k->pack_b_panel = pack_b_panel_avx2;
}

#endif
