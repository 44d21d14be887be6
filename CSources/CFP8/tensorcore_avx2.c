/* AVX2 tasks of the tensor-core model: the algorithm of tensorcore_avx512.c on two 8-lane halves
 * of each 16-column panel (AVX has round-toward-zero; the exponent of c comes from its bits, and a
 * subnormal c takes the scalar block). */
#include "internal.h"
#include "tensorcore_internal.h"

#if defined(CFP8_X86)
#include <immintrin.h>
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

CFP8_TARGET_AVX2
static void block16x4(const cfp8_tc_job *job, const int64_t *rows, int64_t p, int64_t k0, int nb, __m256 c[ROWS][2]) {
  const int64_t K = job->k;
  const int F = job->model->fraction_bits;
  const int elo = F - 126, ehi = F + 104;
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
      e8[r] = _mm_unpacklo_epi64(_mm256_castsi256_si128(mm), _mm256_extracti128_si256(mm, 1));
    }
  }
  /* c's exponent, the clamps and the rare lanes, as in block8 */
  __m256i shift[ROWS][2], E[ROWS][2], s[ROWS][2];
  int rare[ROWS][2];
  for (int r = 0; r < ROWS; r++)
    for (int h = 0; h < 2; h++) {
      __m256 cv = c[r][h];
      if (f16acc) cv = _mm256_cvtph_ps(_mm256_cvtps_ph(cv, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      c[r][h] = cv;
      const __m256i cb = _mm256_castps_si256(cv);
      const __m256i biased = _mm256_and_si256(_mm256_srli_epi32(cb, 23), _mm256_set1_epi32(0xFF));
      const __m256 cnz = _mm256_cmp_ps(cv, _mm256_setzero_ps(), _CMP_NEQ_UQ);
      const __m256i csub = _mm256_and_si256(_mm256_castps_si256(cnz), _mm256_cmpeq_epi32(biased, _mm256_setzero_si256()));
      __m256i e = _mm256_cvtepi8_epi32(h ? _mm_srli_si128(e8[r], 8) : e8[r]);
      e = _mm256_blendv_epi8(e, _mm256_set1_epi32(-30000), _mm256_cmpgt_epi32(_mm256_set1_epi32(-48), e));
      e = _mm256_max_epi32(e, _mm256_blendv_epi8(_mm256_set1_epi32(-30000), _mm256_sub_epi32(biased, _mm256_set1_epi32(127)),
                                                 _mm256_castps_si256(cnz)));
      const __m256i nonzero = _mm256_cmpgt_epi32(e, _mm256_set1_epi32(EXP_NONE));
      e = _mm256_max_epi32(e, _mm256_set1_epi32(job->model->min_exponent));
      const __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(elo), e), _mm256_cmpgt_epi32(e, _mm256_set1_epi32(ehi)));
      const __m256i cneg0 = _mm256_cmpeq_epi32(cb, _mm256_set1_epi32(INT32_MIN));
      const __m256i cinf = _mm256_cmpeq_epi32(biased, _mm256_set1_epi32(0xFF));
      rare[r][h] = _mm256_movemask_ps(_mm256_castsi256_ps(
          _mm256_or_si256(_mm256_or_si256(_mm256_or_si256(_mm256_and_si256(nonzero, out), csub), cneg0), cinf)));
      e = _mm256_min_epi32(_mm256_max_epi32(e, _mm256_set1_epi32(elo)), _mm256_set1_epi32(ehi));
      E[r][h] = e;
      /* the term's shift F - E + 64, clamped to [0, 126] (see tensorcore_avx512.c: the clamps only
         meet zero products and terms below 1) */
      shift[r][h] = _mm256_slli_epi32(_mm256_min_epi32(_mm256_max_epi32(_mm256_sub_epi32(_mm256_set1_epi32(F + 64), e),
                                                                        _mm256_setzero_si256()), _mm256_set1_epi32(126)), 23);
      const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(_mm256_set1_epi32(F + 127), e), 23));
      s[r][h] = _mm256_cvttps_epi32(_mm256_mul_ps(cv, scale)); /* c · 2^(F-E), below 2^(F+1) */
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
}

/* Rows i0..i0+3 of panel p: FP8 FAST/PROMOTED on block16x4, or IDEAL (FP32 FMA, any input);
 * 0 when the job is neither (the per-row task runs). */
CFP8_TARGET_AVX2
int cfp8_tc_task_avx2_rows(const cfp8_tc_job *job, int64_t i0, int64_t p) {
  const int ideal = job->accumulation == CFP8_TC_ACCUM_IDEAL;
  if (cfp8_tc_simd_model_ok(job) != CFP8_TC_SIMD_F32 || job->scaling == CFP8_SCALING_MX || job->b_special[p] ||
      !(ideal || (job->ae8 && (job->accumulation == CFP8_TC_ACCUM_FAST || job->accumulation == CFP8_TC_ACCUM_PROMOTED))))
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
  const int64_t interval = ideal ? K + 1 : fast ? (K > 0 ? K : 1) : job->interval;
  for (int64_t s0 = 0; !ideal && s0 < K; s0 += interval) {
    const int64_t s1 = s0 + interval < K ? s0 + interval : K;
    __m256 part[ROWS][2];
    for (int r = 0; r < ROWS; r++)
      for (int h = 0; h < 2; h++) part[r][h] = fast ? acc[r][h] : _mm256_setzero_ps();
    for (int64_t k0 = s0; k0 < s1; k0 += L) block16x4(job, rows, p, k0, (int)(s1 - k0 < L ? s1 - k0 : L), part);
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
#endif
