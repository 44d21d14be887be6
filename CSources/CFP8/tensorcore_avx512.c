/* AVX-512 tasks of the tensor-core model: 16 output columns per vector, four rows of A at a time
 * (broadcast), so that each load of B serves four independent chains.
 * Exact for FP8 inputs with a small F (H100/Ada FP8: F = 13): every product of two FP8 values is
 * exact in FP32, its truncation to F bits below 2^E is trunc(p * 2^(F-E)), and the L+1 truncated
 * terms (each below 2^(F+2)) sum exactly in FP32. The power-of-two scaling is an integer add to
 * the exponent field: A is pre-scaled by 2^-64 (exact), so p·2^-64 is a normal FP32 value and
 * adding (F - E + 64) << 23 to its bits multiplies it by 2^(F-E+64) exactly; for a zero product
 * the add gives at most 2^-1, which truncates to zero.
 * The shift d = F - E + 64 (+ xa + xb with MX scales 2^xa, 2^xb of the term's 32-group, which the
 * scalar reference folds into the product and its exponent) is clamped to [0, 126] per term:
 *  - a non-zero product has E >= ea + eb (+ xa + xb) and ea + eb >= -28 (E5M2 minimum squared),
 *    so d <= F + 92 <= 126 (F <= 20 on this path): the upper clamp only meets zero products, for
 *    which 2^(126-127) truncates to zero;
 *  - d < 0 means p · 2^(F-E+xa+xb) < 2^(33+d-64) < 1 (|p| < 2^33), a zero term; the clamped add
 *    gives p · 2^-64 < 1, also zero, and a normal FP32 value (p · 2^-64 >= 2^-96).
 * The alignment point itself must keep c · 2^(F-E) and s · 2^(E-F) exact in FP32: s < 2^24 is an
 * integer, so E - F >= -126 keeps the result normal and E - F <= 104 keeps it finite; lanes
 * outside [F - 126, F + 104] take the scalar block. */
#include "internal.h"
#include "tensorcore_internal.h"

#if defined(CFP8_X86)
#include <immintrin.h>

#define EXP_NONE (-5000)
#define R 4
#define RZ (_MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)

/* MX: xs[r] = xa(row r, group of k) + xb(group of k, each of the 16 columns), columns past n 0. */
CFP8_TARGET_AVX512
static void mx_group(const cfp8_tc_job *job, const int64_t *rows, int64_t p, int64_t k, __m512i *xs) {
  const int64_t g = k / 32, j0 = p * CFP8_TC_PANEL, left = job->n - j0;
  __mmask16 mk = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
  __m512i xb = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(mk, job->b_mx + g * job->n + j0));
  for (int r = 0; r < R; r++) xs[r] = _mm512_add_epi32(xb, _mm512_set1_epi32(job->a_mx[rows[r] * job->kb32 + g]));
}

/* One block of nb products for rows rows[0..R-1] (duplicates allowed) and 16 columns. */
CFP8_TARGET_AVX512
static void block16x4(const cfp8_tc_job *job, const int64_t *rows, int64_t p, int64_t k0, int nb, __m512 *c) {
  const int64_t K = job->k;
  const float *bv = job->bv + (p * K + k0) * CFP8_TC_PANEL;
  const int32_t *be = job->be + (p * K + k0) * CFP8_TC_PANEL;
  const float *av[R];
  const int32_t *ae[R];
  const int F = job->model->fraction_bits;
  const int elo = F - 126, ehi = F + 104; /* exact range of the alignment point (see top) */
  const int mx = job->scaling == CFP8_SCALING_MX;
  const int f16acc = job->model->accumulator == CFP8_TC_ACC_F16;
  __m512i E[R];
  __mmask16 cspecial[R];
  for (int r = 0; r < R; r++) {
    av[r] = job->av_pre + rows[r] * K + k0;
    ae[r] = job->ae + rows[r] * K + k0;
    /* FP16 accumulator: c rounded to FP16 (RNE) first; an overflow to Inf takes the scalar block */
    if (f16acc) c[r] = _mm512_cvtph_ps(_mm512_cvtps_ph(c[r], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    cspecial[r] = _mm512_fpclass_ps_mask(c[r], 0x99);
    __mmask16 cnz = _mm512_cmp_ps_mask(c[r], _mm512_setzero_ps(), _CMP_NEQ_UQ);
    E[r] = _mm512_mask_cvttps_epi32(_mm512_set1_epi32(-30000), cnz, _mm512_getexp_ps(c[r]));
  }
  /* MX: xs[r] = xa + xb of the current 32-group (zero without MX); segments never cross a group */
  __m512i xs[R];
  for (int r = 0; r < R; r++) xs[r] = _mm512_setzero_si512();
  /* (1) alignment point per lane */
  for (int t0 = 0, t1; t0 < nb; t0 = t1) {
    t1 = nb;
    if (mx) { mx_group(job, rows, p, k0 + t0, xs); t1 = (int)(((k0 + t0) / 32 + 1) * 32 - k0); if (t1 > nb) t1 = nb; }
    for (int t = t0; t < t1; t++) {
      __m512i eb = _mm512_loadu_si512(be + t * CFP8_TC_PANEL);
      for (int r = 0; r < R; r++)
        E[r] = _mm512_max_epi32(E[r], _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(ae[r][t]), eb), xs[r]));
    }
  }
  __m512 scale[R], s[R];
  __m512i shift[R];
  __mmask16 rare[R];
  for (int r = 0; r < R; r++) {
    __mmask16 nonzero = _mm512_cmpgt_epi32_mask(E[r], _mm512_set1_epi32(EXP_NONE));
    E[r] = _mm512_max_epi32(E[r], _mm512_set1_epi32(job->model->min_exponent));
    /* lanes outside the exact range, and a -0 c (whose all-zero sum keeps the sign) */
    rare[r] = (nonzero & (_mm512_cmplt_epi32_mask(E[r], _mm512_set1_epi32(elo)) |
                          _mm512_cmpgt_epi32_mask(E[r], _mm512_set1_epi32(ehi)))) |
              _mm512_cmpeq_epi32_mask(_mm512_castps_si512(c[r]), _mm512_set1_epi32(INT32_MIN)) | cspecial[r];
    E[r] = _mm512_min_epi32(_mm512_max_epi32(E[r], _mm512_set1_epi32(elo)), _mm512_set1_epi32(ehi));
    scale[r] = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(F + 127), E[r]), 23));
    shift[r] = _mm512_sub_epi32(_mm512_set1_epi32(F + 64), E[r]); /* d before the MX part and the clamp */
    s[r] = _mm512_roundscale_ps(_mm512_mul_ps(c[r], scale[r]), RZ);
  }
  /* (2) truncated terms, summed exactly (order does not matter: every partial sum is exact) */
  for (int t0 = 0, t1; t0 < nb; t0 = t1) {
    t1 = nb;
    if (mx) { mx_group(job, rows, p, k0 + t0, xs); t1 = (int)(((k0 + t0) / 32 + 1) * 32 - k0); if (t1 > nb) t1 = nb; }
    __m512i sh[R];
    for (int r = 0; r < R; r++)
      sh[r] = _mm512_slli_epi32(_mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(shift[r], xs[r]), _mm512_setzero_si512()),
                                                 _mm512_set1_epi32(126)), 23);
    for (int t = t0; t < t1; t++) {
      __m512 b = _mm512_loadu_ps(bv + t * CFP8_TC_PANEL);
      for (int r = 0; r < R; r++) {
        __m512 prod = _mm512_mul_ps(_mm512_set1_ps(av[r][t]), b); /* p · 2^-64 */
        __m512 term = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(prod), sh[r]));
        s[r] = _mm512_add_ps(s[r], _mm512_roundscale_ps(term, RZ));
      }
    }
  }
  /* (3) normalise: keep F fraction bits (FP32 accumulator; an FP16 result is rounded from the
     exact sum), then scale back by 2^(E-F) (exact); -0 becomes +0 */
  const __m512i keep = _mm512_set1_epi32(F < 23 && !f16acc ? (int)(0xFFFFFFFFu << (23 - F)) : -1);
  for (int r = 0; r < R; r++) {
    __m512 sum = _mm512_add_ps(s[r], _mm512_setzero_ps());
    sum = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(sum), keep));
    __m512 back = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(E[r], _mm512_set1_epi32(127 - F)), 23));
    __m512 res = _mm512_mul_ps(sum, back);
    /* the exact sum (s < 2^24 and E - F >= -126: exact in FP32) rounded once to FP16 (RNE; FP16
       subnormals and overflow as IEEE) */
    if (f16acc) res = _mm512_cvtph_ps(_mm512_cvtps_ph(res, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (rare[r]) {
      float cv[16], rv[16];
      _mm512_storeu_ps(cv, c[r]);
      _mm512_storeu_ps(rv, res);
      for (int l = 0; l < 16; l++)
        if (((rare[r] >> l) & 1) && p * CFP8_TC_PANEL + l < job->n)
          rv[l] = cfp8_tc_job_block(job, rows[r], p * CFP8_TC_PANEL + l, k0, nb, cv[l]);
      res = _mm512_loadu_ps(rv);
    }
    c[r] = res;
  }
}


/* The FP64 variant for models with F >= 23 (16-bit and TF32 inputs, B200 FP8): products of two
 * significands of at most 11 bits are exact in FP64, trunc(p * 2^(F-E)) is exact, and L+1 terms
 * below 2^(F+2) sum exactly; the result s * 2^(E-F) is exact in FP64 and converted to FP32 with
 * embedded round-toward-zero (B200 FP8: then c is added with an RNE FP32 addition). */
CFP8_TARGET_AVX512
static void block16x4_f64(const cfp8_tc_job *job, const int64_t *rows, int64_t p, int64_t k0, int nb, __m512 *c) {
  const int64_t K = job->k;
  const float *bv = job->bv + (p * K + k0) * CFP8_TC_PANEL;
  const int32_t *be = job->be + (p * K + k0) * CFP8_TC_PANEL;
  const int F = job->model->fraction_bits;
  const int fused = job->model->c_mode == CFP8_TC_C_FUSED;
  const int f16acc = job->model->accumulator == CFP8_TC_ACC_F16;
  const int mx = job->scaling == CFP8_SCALING_MX;
  const float *av[R];
  const int32_t *ae[R];
  for (int r = 0; r < R; r++) { av[r] = job->av + rows[r] * K + k0; ae[r] = job->ae + rows[r] * K + k0; }
  __m256 half_out[R][2];
  for (int h = 0; h < 2; h++) {
    __m512d cd[R], scale[R], s[R];
    __m256i E[R];
    __mmask8 rare[R];
    for (int r = 0; r < R; r++) {
      __m256 ch = h ? _mm512_extractf32x8_ps(c[r], 1) : _mm512_castps512_ps256(c[r]);
      /* with an FP16 accumulator c is rounded to FP16 first (RNE) */
      if (f16acc) ch = _mm256_cvtph_ps(_mm256_cvtps_ph(ch, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      cd[r] = _mm512_cvtps_pd(ch);
      __mmask8 cnz = _mm512_cmp_pd_mask(cd[r], _mm512_setzero_pd(), _CMP_NEQ_UQ);
      E[r] = fused ? _mm512_mask_cvttpd_epi32(_mm256_set1_epi32(-30000), cnz, _mm512_getexp_pd(cd[r])) : _mm256_set1_epi32(-30000);
      /* a -0 c (the sign of an all-zero sum) and a NaN/Inf c (FP16 overflow) take the scalar block */
      rare[r] = _mm256_cmpeq_epi32_mask(_mm256_castps_si256(ch), _mm256_set1_epi32(INT32_MIN)) |
                _mm256_fpclass_ps_mask(ch, 0x99);
    }
    /* MX (B200 FP8): xs = xa + xb of the term's 32-group, in its exponent and in its scale */
    __m512i xs16[R];
    __m256i xs[R];
    for (int r = 0; r < R; r++) xs[r] = _mm256_setzero_si256();
    for (int t0 = 0, t1; t0 < nb; t0 = t1) {
      t1 = nb;
      if (mx) {
        mx_group(job, rows, p, k0 + t0, xs16);
        for (int r = 0; r < R; r++) xs[r] = h ? _mm512_extracti32x8_epi32(xs16[r], 1) : _mm512_castsi512_si256(xs16[r]);
        t1 = (int)(((k0 + t0) / 32 + 1) * 32 - k0);
        if (t1 > nb) t1 = nb;
      }
      for (int t = t0; t < t1; t++) {
        __m256i eb = _mm256_loadu_si256((const __m256i *)(be + t * CFP8_TC_PANEL + 8 * h));
        for (int r = 0; r < R; r++)
          E[r] = _mm256_max_epi32(E[r], _mm256_add_epi32(_mm256_add_epi32(_mm256_set1_epi32(ae[r][t]), eb), xs[r]));
      }
    }
    for (int r = 0; r < R; r++) {
      __mmask8 nonzero = _mm256_cmpgt_epi32_mask(E[r], _mm256_set1_epi32(EXP_NONE));
      E[r] = _mm256_max_epi32(E[r], _mm256_set1_epi32(job->model->min_exponent));
      rare[r] |= nonzero & (_mm256_cmplt_epi32_mask(E[r], _mm256_set1_epi32(-900)) |
                            _mm256_cmpgt_epi32_mask(E[r], _mm256_set1_epi32(900)));
      E[r] = _mm256_min_epi32(_mm256_max_epi32(E[r], _mm256_set1_epi32(-900)), _mm256_set1_epi32(900));
      __m512i e64 = _mm512_cvtepi32_epi64(_mm256_sub_epi32(_mm256_set1_epi32(F + 1023), E[r]));
      scale[r] = _mm512_castsi512_pd(_mm512_slli_epi64(e64, 52));
      s[r] = fused ? _mm512_roundscale_pd(_mm512_mul_pd(cd[r], scale[r]), RZ) : _mm512_setzero_pd();
    }
    /* MX: the term's scale 2^(F-E+xa+xb), its biased exponent clamped to [1, 2046]: a non-zero FP8
       product has F-E+xa+xb <= F+28, so the upper clamp only meets zero products; below 2^-1022
       the term p·2^(F-E+xa+xb) < 2^33·2^-1022 truncates to zero, as p·2^-1022 does */
    for (int t0 = 0, t1; t0 < nb; t0 = t1) {
      t1 = nb;
      __m512d sc[R];
      for (int r = 0; r < R; r++) sc[r] = scale[r];
      if (mx) {
        mx_group(job, rows, p, k0 + t0, xs16);
        for (int r = 0; r < R; r++) {
          __m256i x = h ? _mm512_extracti32x8_epi32(xs16[r], 1) : _mm512_castsi512_si256(xs16[r]);
          __m256i be32 = _mm256_add_epi32(_mm256_sub_epi32(_mm256_set1_epi32(F + 1023), E[r]), x);
          be32 = _mm256_min_epi32(_mm256_max_epi32(be32, _mm256_set1_epi32(1)), _mm256_set1_epi32(2046));
          sc[r] = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_cvtepi32_epi64(be32), 52));
        }
        t1 = (int)(((k0 + t0) / 32 + 1) * 32 - k0);
        if (t1 > nb) t1 = nb;
      }
      for (int t = t0; t < t1; t++) {
        __m512d b = _mm512_cvtps_pd(_mm256_loadu_ps(bv + t * CFP8_TC_PANEL + 8 * h));
        for (int r = 0; r < R; r++) {
          __m512d prod = _mm512_mul_pd(_mm512_set1_pd((double)av[r][t]), b);
          s[r] = _mm512_add_pd(s[r], _mm512_roundscale_pd(_mm512_mul_pd(prod, sc[r]), RZ));
        }
      }
    }
    for (int r = 0; r < R; r++) {
      __m512d sum = _mm512_add_pd(s[r], _mm512_setzero_pd());
      __m512i back64 = _mm512_slli_epi64(_mm512_cvtepi32_epi64(_mm256_add_epi32(E[r], _mm256_set1_epi32(1023 - F))), 52);
      __m512d exact = _mm512_mul_pd(sum, _mm512_castsi512_pd(back64));
      __m256 res = _mm512_cvt_roundpd_ps(exact, RZ);
      if (f16acc) {
        /* to FP16 with one rounding: round to odd at 24 bits (toward zero, then the sticky bit
           into the last place), then RNE to 11 bits */
        __mmask8 inexact = _mm512_cmp_pd_mask(_mm512_cvtps_pd(res), exact, _CMP_NEQ_OQ);
        __m256i bits = _mm256_mask_or_epi32(_mm256_castps_si256(res), inexact, _mm256_castps_si256(res), _mm256_set1_epi32(1));
        res = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_castsi256_ps(bits), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      } else if (!fused) res = _mm256_add_ps(res, _mm512_cvtpd_ps(cd[r]));
      if (rare[r]) {
        float cv[8], rv[8];
        _mm256_storeu_ps(cv, _mm512_cvtpd_ps(cd[r]));
        _mm256_storeu_ps(rv, res);
        for (int l = 0; l < 8; l++) {
          int64_t j = p * CFP8_TC_PANEL + 8 * h + l;
          if (((rare[r] >> l) & 1) && j < job->n) rv[l] = cfp8_tc_job_block(job, rows[r], j, k0, nb, cv[l]);
        }
        res = _mm256_loadu_ps(rv);
      }
      half_out[r][h] = res;
    }
  }
  for (int r = 0; r < R; r++)
    c[r] = _mm512_insertf32x8(_mm512_castps256_ps512(half_out[r][0]), half_out[r][1], 1);
}

CFP8_TARGET_AVX512
static __m512 load_init(const cfp8_tc_job *job, int64_t i, int64_t p, int *special) {
  if (!job->acc_init) return _mm512_setzero_ps();
  int64_t left = job->n - p * CFP8_TC_PANEL;
  __mmask16 mk = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
  __m512 v = _mm512_maskz_loadu_ps(mk, job->acc_init + i * job->n + p * CFP8_TC_PANEL);
  if (_mm512_fpclass_ps_mask(v, 0x99)) *special = 1; /* NaN or Inf */
  return v;
}

CFP8_TARGET_AVX512
int cfp8_tc_task_avx512(const cfp8_tc_job *job, int64_t i0, int64_t p) {
  const int path = cfp8_tc_simd_model_ok(job);
  if (!path || job->b_special[p] || cfp8_tc_mx_nan(job, i0, i0 + R, p)) return 0;
  const int64_t K = job->k;
  int64_t rows[R];
  int nrows = 0, special = 0;
  __m512 acc[R];
  for (int r = 0; r < R; r++) {
    rows[r] = i0 + r < job->m ? i0 + r : i0; /* tail: repeat the first row, results dropped */
    if (i0 + r < job->m) nrows++;
    if (job->a_special[rows[r]]) special = 1;
    acc[r] = load_init(job, rows[r], p, &special);
  }
  if (special) return 0;
  const int block_scaled = job->scaling == CFP8_SCALING_BLOCK;
  const float *bv = job->bv + p * K * CFP8_TC_PANEL;
  if (path == CFP8_TC_SIMD_EXACT) {
    /* every FP64 operation exact (cfp8_tc_exact_init_ok in tensorcore_gemm.c): the order is free */
    for (int r = 0; r < R; r++) if (!cfp8_tc_exact_init_ok(job, rows[r], p)) return 0;
    __m512d lo[R], hi[R];
    for (int r = 0; r < R; r++) { lo[r] = _mm512_setzero_pd(); hi[r] = _mm512_setzero_pd(); }
    for (int64_t kk = 0; kk < K; kk++) {
      __m512 b = _mm512_loadu_ps(bv + kk * CFP8_TC_PANEL);
      __m512d blo = _mm512_cvtps_pd(_mm512_castps512_ps256(b)), bhi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(b, 1));
      for (int r = 0; r < R; r++) {
        __m512d a = _mm512_set1_pd((double)job->av[rows[r] * K + kk]);
        lo[r] = _mm512_fmadd_pd(a, blo, lo[r]);
        hi[r] = _mm512_fmadd_pd(a, bhi, hi[r]);
      }
    }
    for (int r = 0; r < R; r++) {
      lo[r] = _mm512_add_pd(lo[r], _mm512_cvtps_pd(_mm512_castps512_ps256(acc[r])));
      hi[r] = _mm512_add_pd(hi[r], _mm512_cvtps_pd(_mm512_extractf32x8_ps(acc[r], 1)));
      acc[r] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo[r])), _mm512_cvtpd_ps(hi[r]), 1);
    }
  } else if (job->accumulation == CFP8_TC_ACCUM_IDEAL) {
    for (int64_t s0 = 0; s0 < K; s0 += 128) {
      int64_t s1 = s0 + 128 < K ? s0 + 128 : K;
      __m512 part[R];
      for (int r = 0; r < R; r++) part[r] = block_scaled ? _mm512_setzero_ps() : acc[r];
      for (int64_t kk = s0; kk < s1; kk++) {
        __m512 b = _mm512_loadu_ps(bv + kk * CFP8_TC_PANEL);
        for (int r = 0; r < R; r++) part[r] = _mm512_fmadd_ps(_mm512_set1_ps(job->av[rows[r] * K + kk]), b, part[r]);
      }
      for (int r = 0; r < R; r++) {
        if (block_scaled) {
          float sc = job->blk_a[rows[r] * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
          acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(sc), part[r], acc[r]);
        } else acc[r] = part[r];
      }
    }
  } else {
    const int L = job->model->block_size;
    const int fast = job->accumulation == CFP8_TC_ACCUM_FAST;
    const int64_t interval = fast ? (K > 0 ? K : 1) : job->interval;
    for (int64_t s0 = 0; s0 < K; s0 += interval) {
      int64_t s1 = s0 + interval < K ? s0 + interval : K;
      __m512 part[R];
      for (int r = 0; r < R; r++) part[r] = fast ? acc[r] : _mm512_setzero_ps();
      for (int64_t k0 = s0; k0 < s1; k0 += L) {
        int nb = (int)(s1 - k0 < L ? s1 - k0 : L);
        if (path == CFP8_TC_SIMD_F64) block16x4_f64(job, rows, p, k0, nb, part);
        else block16x4(job, rows, p, k0, nb, part);
      }
      for (int r = 0; r < R; r++) {
        if (fast) acc[r] = part[r];
        else if (block_scaled) {
          float sc = job->blk_a[rows[r] * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
          acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(sc), part[r], acc[r]);
        } else acc[r] = _mm512_add_ps(acc[r], part[r]);
      }
    }
  }
  for (int r = 0; r < nrows; r++) _mm512_storeu_ps(job->acc + rows[r] * job->ldacc + p * CFP8_TC_PANEL, acc[r]);
  return 1;
}
#endif
