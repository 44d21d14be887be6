/* AVX-512 tasks of the tensor-core model: 16 output columns per vector, a row of A broadcast.
 * Exact for FP8 inputs with a small F (H100/Ada FP8: F = 13): every product of two FP8 values is
 * exact in FP32, its truncation to F bits below 2^E is trunc(p * 2^(F-E)) (an exact power-of-two
 * multiply, then a round toward zero), and the L+1 truncated terms (each below 2^(F+2)) sum
 * exactly in FP32. Lanes outside the fast path's range (|E| > 100) take the scalar block. */
#include "internal.h"
#include "tensorcore_internal.h"

#if defined(CFP8_X86)
#include <immintrin.h>

#define EXP_NONE (-5000)

CFP8_TARGET_AVX512
static __m512 block16(const cfp8_tc_job *job, int64_t i, int64_t p, int64_t k0, int nb, __m512 c) {
  const int64_t K = job->k;
  const float *av = job->av + i * K + k0;
  const int32_t *ae = job->ae + i * K + k0;
  const float *bv = job->bv + (p * K + k0) * CFP8_TC_PANEL;
  const int32_t *be = job->be + (p * K + k0) * CFP8_TC_PANEL;
  const int F = job->model->fraction_bits;
  const int floor_e = job->model->min_exponent;
  /* (1) alignment point per lane */
  __mmask16 cnz = _mm512_cmp_ps_mask(c, _mm512_setzero_ps(), _CMP_NEQ_UQ);
  __m512i E = _mm512_mask_cvttps_epi32(_mm512_set1_epi32(-30000), cnz, _mm512_getexp_ps(c));
  for (int t = 0; t < nb; t++)
    E = _mm512_max_epi32(E, _mm512_add_epi32(_mm512_set1_epi32(ae[t]), _mm512_loadu_si512(be + t * CFP8_TC_PANEL)));
  __mmask16 nonzero = _mm512_cmpgt_epi32_mask(E, _mm512_set1_epi32(EXP_NONE));
  E = _mm512_max_epi32(E, _mm512_set1_epi32(floor_e));
  __mmask16 rare = nonzero & (_mm512_cmplt_epi32_mask(E, _mm512_set1_epi32(-100)) |
                              _mm512_cmpgt_epi32_mask(E, _mm512_set1_epi32(100)));
  E = _mm512_min_epi32(_mm512_max_epi32(E, _mm512_set1_epi32(-100)), _mm512_set1_epi32(100));
  __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(F + 127), E), 23));
  /* (2) truncated terms, summed exactly */
#define rz (_MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
  __m512 s0 = _mm512_roundscale_ps(_mm512_mul_ps(c, scale), rz), s1 = _mm512_setzero_ps();
  int t = 0;
  for (; t + 1 < nb; t += 2) {
    __m512 p0 = _mm512_mul_ps(_mm512_set1_ps(av[t]), _mm512_loadu_ps(bv + t * CFP8_TC_PANEL));
    __m512 p1 = _mm512_mul_ps(_mm512_set1_ps(av[t + 1]), _mm512_loadu_ps(bv + (t + 1) * CFP8_TC_PANEL));
    s0 = _mm512_add_ps(s0, _mm512_roundscale_ps(_mm512_mul_ps(p0, scale), rz));
    s1 = _mm512_add_ps(s1, _mm512_roundscale_ps(_mm512_mul_ps(p1, scale), rz));
  }
  if (t < nb) {
    __m512 p0 = _mm512_mul_ps(_mm512_set1_ps(av[t]), _mm512_loadu_ps(bv + t * CFP8_TC_PANEL));
    s0 = _mm512_add_ps(s0, _mm512_roundscale_ps(_mm512_mul_ps(p0, scale), rz));
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_setzero_ps()); /* -0 becomes +0 */
  /* (3) normalise: keep F fraction bits, then scale back by 2^(E-F) (exact) */
  if (F < 23)
    s = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32((int)(0xFFFFFFFFu << (23 - F)))));
  __m512 back = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(E, _mm512_set1_epi32(127 - F)), 23));
  __m512 r = _mm512_mul_ps(s, back);
  if (rare) {
    float cv[16], rv[16];
    _mm512_storeu_ps(cv, c);
    _mm512_storeu_ps(rv, r);
    for (int l = 0; l < 16; l++)
      if (((rare >> l) & 1) && p * CFP8_TC_PANEL + l < job->n)
        rv[l] = cfp8_tc_job_block(job, i, p * CFP8_TC_PANEL + l, k0, nb, cv[l]);
    r = _mm512_loadu_ps(rv);
  }
  return r;
}

CFP8_TARGET_AVX512
int cfp8_tc_task_avx512(const cfp8_tc_job *job, int64_t i, int64_t p) {
  if (!cfp8_tc_simd_model_ok(job) || job->a_special[i] || job->b_special[p]) return 0;
  const int64_t K = job->k;
  const int block_scaled = job->scaling == CFP8_SCALING_BLOCK;
  float *out = job->acc + i * job->ldacc + p * CFP8_TC_PANEL;
  __m512 acc = _mm512_setzero_ps();
  if (job->acc_init) {
    int64_t left = job->n - p * CFP8_TC_PANEL;
    __mmask16 mk = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    acc = _mm512_maskz_loadu_ps(mk, job->acc_init + i * job->n + p * CFP8_TC_PANEL);
    if (_mm512_fpclass_ps_mask(acc, 0x99)) return 0; /* NaN or Inf: the scalar task */
  }
  if (job->accumulation == CFP8_TC_ACCUM_IDEAL) {
    const float *av = job->av + i * K, *bv = job->bv + p * K * CFP8_TC_PANEL;
    for (int64_t s0 = 0; s0 < K; s0 += 128) {
      int64_t s1 = s0 + 128 < K ? s0 + 128 : K;
      __m512 part = block_scaled ? _mm512_setzero_ps() : acc;
      for (int64_t kk = s0; kk < s1; kk++)
        part = _mm512_fmadd_ps(_mm512_set1_ps(av[kk]), _mm512_loadu_ps(bv + kk * CFP8_TC_PANEL), part);
      if (block_scaled) {
        float sc = job->blk_a[i * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
        acc = _mm512_fmadd_ps(_mm512_set1_ps(sc), part, acc);
      } else acc = part;
    }
    _mm512_storeu_ps(out, acc);
    return 1;
  }
  const int L = job->model->block_size;
  const int64_t interval = job->accumulation == CFP8_TC_ACCUM_FAST ? (K > 0 ? K : 1) : job->interval;
  for (int64_t s0 = 0; s0 < K; s0 += interval) {
    int64_t s1 = s0 + interval < K ? s0 + interval : K;
    __m512 part = job->accumulation == CFP8_TC_ACCUM_FAST ? acc : _mm512_setzero_ps();
    for (int64_t k0 = s0; k0 < s1; k0 += L) part = block16(job, i, p, k0, (int)(s1 - k0 < L ? s1 - k0 : L), part);
    if (job->accumulation == CFP8_TC_ACCUM_FAST) acc = part;
    else if (block_scaled) {
      float sc = job->blk_a[i * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
      acc = _mm512_fmadd_ps(_mm512_set1_ps(sc), part, acc);
    } else acc = _mm512_add_ps(acc, part);
  }
  _mm512_storeu_ps(out, acc);
  return 1;
}
#endif
