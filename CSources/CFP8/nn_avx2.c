/* AVX2 layer kernels: nn_scalar.c lane by lane, 8 elements per register; the 16 lanes of a row
 * reduction are two registers (lanes 0-7, 8-15). */
#include "internal.h"
#include "nn_internal.h"
#if defined(CFP8_X86)
#include <immintrin.h>
#include <math.h>

#pragma STDC FP_CONTRACT OFF

#define T CFP8_TARGET_AVX2
#define SET1 _mm256_set1_ps

T static inline __m256 canon(__m256 x) {
  return _mm256_blendv_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int)CFP8_NN_NAN_BITS)),
                          _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* The live lanes of an 8-lane group: i < rem. Whole groups use plain loads and stores; only a
 * row's last group is masked, and its store goes through a buffer (VMASKMOVPS stores are
 * microcoded and slow on AMD cores). */
typedef struct part { __m256i m; int rem; } part;
T static inline part lanes_below(int64_t rem) {
  part p;
  p.rem = (int)(rem < 0 ? 0 : rem > 8 ? 8 : rem);
  p.m = _mm256_cmpgt_epi32(_mm256_set1_epi32(p.rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return p;
}
T static inline __m256 load_part(const float *p, part m) {
  return m.rem == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m.m);
}
T static inline void store_part(float *p, part m, __m256 v) {
  if (m.rem == 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  float t[8];
  _mm256_storeu_ps(t, v);
  for (int i = 0; i < m.rem; i++) p[i] = t[i];
}

/* ---- rounding ----------------------------------------------------------------------------------- */
T static inline __m256 round_to(__m256 x, int32_t round) {
  if (round == CFP8_NN_ROUND_F16)
    return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (round == CFP8_NN_ROUND_BF16) {
    const __m256i u = _mm256_castps_si256(x);
    __m256i r = _mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF));
    r = _mm256_add_epi32(r, _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1)));
    r = _mm256_and_si256(r, _mm256_set1_epi32((int)0xFFFF0000u));
    return _mm256_blendv_ps(_mm256_castsi256_ps(r), x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  return x;
}

/* ---- exp ---------------------------------------------------------------------------------------- */
/* exp(t + tlo) = p · 2^n; `lo` 0: tlo is 0 (adding +0 to r changes nothing but -0, for which the
 * polynomial gives 1 either way). */
T static inline __m256 exp_parts(__m256 t, __m256 tlo, int lo, __m256i *n) {
  t = _mm256_max_ps(SET1(CFP8_NN_EXP_MIN), t); /* MIN > t ? MIN : t, a NaN t stays */
  t = _mm256_min_ps(SET1(CFP8_NN_EXP_MAX), t);
  const __m256 kf = _mm256_fmadd_ps(t, SET1(CFP8_NN_LOG2E), SET1(CFP8_NN_ROUND_MAGIC));
  const __m256 nf = _mm256_sub_ps(kf, SET1(CFP8_NN_ROUND_MAGIC));
  *n = _mm256_sub_epi32(_mm256_castps_si256(kf), _mm256_set1_epi32(0x4B400000));
  __m256 r = _mm256_fnmadd_ps(nf, SET1(CFP8_NN_LN2_HI), t);
  r = _mm256_fnmadd_ps(nf, SET1(CFP8_NN_LN2_LO), r);
  if (lo) r = _mm256_add_ps(r, tlo);
  __m256 q = _mm256_fmadd_ps(SET1(CFP8_NN_EXP_C6), r, SET1(CFP8_NN_EXP_C5));
  q = _mm256_fmadd_ps(q, r, SET1(CFP8_NN_EXP_C4));
  q = _mm256_fmadd_ps(q, r, SET1(CFP8_NN_EXP_C3));
  q = _mm256_fmadd_ps(q, r, SET1(CFP8_NN_EXP_C2));
  q = _mm256_fmadd_ps(q, r, SET1(1.0f));
  return _mm256_fmadd_ps(q, r, SET1(1.0f));
}

T static inline __m256 pow2(__m256i e) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
}

T static inline __m256 scale2(__m256 v, __m256i n) {
  const __m256i n1 = _mm256_min_epi32(_mm256_max_epi32(n, _mm256_set1_epi32(-120)), _mm256_set1_epi32(127));
  __m256i n2 = _mm256_sub_epi32(n, n1);
  n2 = _mm256_min_epi32(_mm256_max_epi32(n2, _mm256_set1_epi32(-126)), _mm256_set1_epi32(127));
  return _mm256_mul_ps(_mm256_mul_ps(v, pow2(n1)), pow2(n2));
}

T static inline __m256 exp8(__m256 t) {
  __m256i n;
  const __m256 p = exp_parts(t, t, 0, &n);
  return scale2(p, n);
}

T static void k_exp(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) {
    const part m = lanes_below(n - i);
    store_part(y + i, m, canon(exp8(load_part(x + i, m))));
  }
}

/* ---- GELU --------------------------------------------------------------------------------------- */
typedef struct gelu_parts { __m256 xc, p, e, d; __m256i n; } gelu_parts;

T static inline gelu_parts gelu_common(__m256 x) {
  gelu_parts g;
  __m256 xc = _mm256_max_ps(x, SET1(-CFP8_NN_GELU_CLAMP)); /* x > -16 ? x : -16 */
  xc = _mm256_min_ps(xc, SET1(CFP8_NN_GELU_CLAMP));         /* xc < 16 ? xc : 16 */
  const __m256 a = _mm256_mul_ps(xc, xc), alo = _mm256_fmsub_ps(xc, xc, a);
  const __m256 b = _mm256_mul_ps(a, xc);
  const __m256 blo = _mm256_add_ps(_mm256_fmsub_ps(a, xc, b), _mm256_mul_ps(alo, xc));
  const __m256 kh = SET1(CFP8_NN_GELU_K_HI);
  const __m256 m = _mm256_mul_ps(kh, b);
  const __m256 mlo = _mm256_add_ps(_mm256_fmsub_ps(kh, b, m),
                                   _mm256_add_ps(_mm256_mul_ps(kh, blo), _mm256_mul_ps(SET1(CFP8_NN_GELU_K_LO), b)));
  const __m256 s = _mm256_add_ps(xc, m), bv = _mm256_sub_ps(s, xc);
  const __m256 slo =
      _mm256_add_ps(_mm256_add_ps(_mm256_sub_ps(xc, _mm256_sub_ps(s, bv)), _mm256_sub_ps(m, bv)), mlo);
  const __m256 sign = _mm256_and_ps(s, SET1(-0.0f)); /* s < 0: |s| and -slo (s = -0 only with slo = 0) */
  const __m256 sa = _mm256_xor_ps(s, sign), salo = _mm256_xor_ps(slo, sign);
  const __m256 ch = SET1(CFP8_NN_GELU_2C_HI);
  const __m256 pr = _mm256_mul_ps(ch, sa);
  const __m256 prlo = _mm256_add_ps(_mm256_fmsub_ps(ch, sa, pr),
                                    _mm256_add_ps(_mm256_mul_ps(ch, salo), _mm256_mul_ps(SET1(CFP8_NN_GELU_2C_LO), sa)));
  g.xc = xc;
  g.p = exp_parts(_mm256_xor_ps(pr, SET1(-0.0f)), _mm256_xor_ps(prlo, SET1(-0.0f)), 1, &g.n);
  g.e = scale2(g.p, g.n);
  g.d = _mm256_add_ps(SET1(1.0f), g.e);
  return g;
}

T static inline __m256 gelu8(__m256 x) {
  const gelu_parts g = gelu_common(x);
  const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  /* one division: (x < 0 ? xc·p : x) / d, then the x < 0 lanes scaled by 2^n */
  const __m256 q = _mm256_div_ps(_mm256_blendv_ps(x, _mm256_mul_ps(g.xc, g.p), neg), g.d);
  return canon(_mm256_blendv_ps(q, scale2(q, g.n), neg));
}

T static inline __m256 gelu_grad8(__m256 x) {
  const gelu_parts g = gelu_common(x);
  __m256 b = _mm256_mul_ps(SET1(CFP8_NN_GELU_K3), g.xc);
  b = _mm256_mul_ps(b, g.xc);
  b = _mm256_add_ps(SET1(1.0f), b);
  const __m256 du = _mm256_mul_ps(SET1(CFP8_NN_GELU_C), b);
  const __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 s1 = _mm256_div_ps(_mm256_blendv_ps(g.e, SET1(1.0f), neg), g.d);
  const __m256 sig = _mm256_div_ps(_mm256_blendv_ps(SET1(1.0f), g.p, neg), g.d);
  __m256 w = _mm256_mul_ps(g.xc, SET1(2.0f));
  w = _mm256_mul_ps(w, du);
  w = _mm256_mul_ps(w, s1);
  w = _mm256_add_ps(SET1(1.0f), w);
  __m256 y = _mm256_mul_ps(sig, w);
  y = _mm256_blendv_ps(y, scale2(y, g.n), neg);
  y = _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  return canon(y);
}

T static void k_gelu(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) {
    const part m = lanes_below(n - i);
    store_part(y + i, m, gelu8(load_part(x + i, m)));
  }
}

T static void k_gelu_backward(const float *dy, const float *x, float *dx, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) {
    const part m = lanes_below(n - i);
    const __m256 g = gelu_grad8(load_part(x + i, m));
    store_part(dx + i, m, canon(_mm256_mul_ps(load_part(dy + i, m), g)));
  }
}

/* ---- 16-lane reductions: lo = lanes 0-7, hi = lanes 8-15 ---------------------------------------- */
T static inline float lanes_sum(__m256 lo, __m256 hi) {
  const __m256 s8 = _mm256_add_ps(lo, hi);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

T static inline float lanes_max(__m256 lo, __m256 hi) {
  const __m256 s8 = _mm256_max_ps(lo, hi);
  const __m128 s4 = _mm_max_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_max_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_max_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

/* The 16 elements of a row starting at j: two groups of 8 with their live-lane masks. */
typedef struct chunk { part m0, m1; } chunk;
T static inline chunk chunk_at(int64_t len, int64_t j) {
  chunk c;
  c.m0 = lanes_below(len - j);
  c.m1 = lanes_below(len - j - 8);
  return c;
}
T static inline __m256 keep(__m256 v, part m) { return m.rem == 8 ? v : _mm256_and_ps(v, _mm256_castsi256_ps(m.m)); }

/* max_j (x[j]·scale) over the row (the 16-lane maximum). */
T static inline float row_max(const float *x, int64_t len, float scale) {
  __m256 m0 = SET1(-INFINITY), m1 = m0;
  const __m256 sc = SET1(scale);
  for (int64_t j = 0; j < len; j += 16) {
    const chunk c = chunk_at(len, j);
    const __m256 s0 = _mm256_mul_ps(load_part(x + j, c.m0), sc), s1 = _mm256_mul_ps(load_part(x + j + 8, c.m1), sc);
    m0 = _mm256_blendv_ps(m0, _mm256_max_ps(s0, m0), _mm256_castsi256_ps(c.m0.m));
    m1 = _mm256_blendv_ps(m1, _mm256_max_ps(s1, m1), _mm256_castsi256_ps(c.m1.m));
  }
  return lanes_max(m0, m1);
}

/* Σ_j exp(x[j]·scale - mx) (16-lane sum); stores the exponentials in y when y is not NULL. */
T static inline float row_sum_exp(const float *x, int64_t len, float scale, float mx, float *y) {
  __m256 z0 = _mm256_setzero_ps(), z1 = z0;
  const __m256 sc = SET1(scale), m = SET1(mx);
  for (int64_t j = 0; j < len; j += 16) {
    const chunk c = chunk_at(len, j);
    const __m256 e0 = exp8(_mm256_sub_ps(_mm256_mul_ps(load_part(x + j, c.m0), sc), m));
    const __m256 e1 = exp8(_mm256_sub_ps(_mm256_mul_ps(load_part(x + j + 8, c.m1), sc), m));
    if (y) {
      store_part(y + j, c.m0, e0);
      store_part(y + j + 8, c.m1, e1);
    }
    z0 = _mm256_add_ps(z0, keep(e0, c.m0));
    z1 = _mm256_add_ps(z1, keep(e1, c.m1));
  }
  return lanes_sum(z0, z1);
}

T static void store_zeros(float *y, int64_t n) {
  for (int64_t j = 0; j < n; j += 8) store_part(y + j, lanes_below(n - j), _mm256_setzero_ps());
}

/* ---- softmax ------------------------------------------------------------------------------------ */
T static void k_softmax_row(const float *x, float *y, int64_t len, int64_t cols, float scale, int32_t round) {
  const float mx = row_max(x, len, scale);
  const __m256 z = SET1(row_sum_exp(x, len, scale, mx, y));
  for (int64_t j = 0; j < len; j += 8) {
    const part m = lanes_below(len - j);
    store_part(y + j, m, canon(round_to(_mm256_div_ps(load_part(y + j, m), z), round)));
  }
  store_zeros(y + len, cols - len);
}

T static void k_softmax_backward_row(const float *p, const float *dp, float *dx, int64_t len, int64_t cols,
                                     float scale) {
  __m256 l0 = _mm256_setzero_ps(), l1 = l0;
  for (int64_t j = 0; j < len; j += 16) {
    const chunk c = chunk_at(len, j);
    l0 = _mm256_fmadd_ps(load_part(p + j, c.m0), load_part(dp + j, c.m0), l0);
    l1 = _mm256_fmadd_ps(load_part(p + j + 8, c.m1), load_part(dp + j + 8, c.m1), l1);
  }
  const __m256 dot = SET1(lanes_sum(l0, l1)), sc = SET1(scale);
  for (int64_t j = 0; j < len; j += 8) {
    const part m = lanes_below(len - j);
    __m256 t = _mm256_sub_ps(load_part(dp + j, m), dot);
    t = _mm256_mul_ps(load_part(p + j, m), t);
    store_part(dx + j, m, canon(_mm256_mul_ps(t, sc)));
  }
  store_zeros(dx + len, cols - len);
}

/* ---- LayerNorm ---------------------------------------------------------------------------------- */
T static void k_layernorm_row(const float *x, const float *gamma, const float *beta, int64_t d, float eps,
                              int32_t round, float *y, float *mean_out, float *rstd_out) {
  __m256 l0 = _mm256_setzero_ps(), l1 = l0;
  for (int64_t j = 0; j < d; j += 16) {
    const chunk c = chunk_at(d, j);
    l0 = _mm256_add_ps(l0, load_part(x + j, c.m0));
    l1 = _mm256_add_ps(l1, load_part(x + j + 8, c.m1));
  }
  const float mean = lanes_sum(l0, l1) / (float)d;
  const __m256 mv = SET1(mean);
  l0 = l1 = _mm256_setzero_ps();
  for (int64_t j = 0; j < d; j += 16) {
    const chunk c = chunk_at(d, j);
    const __m256 c0 = keep(_mm256_sub_ps(load_part(x + j, c.m0), mv), c.m0);
    const __m256 c1 = keep(_mm256_sub_ps(load_part(x + j + 8, c.m1), mv), c.m1);
    l0 = _mm256_fmadd_ps(c0, c0, l0);
    l1 = _mm256_fmadd_ps(c1, c1, l1);
  }
  const float var = lanes_sum(l0, l1) / (float)d;
  const float rs = 1.0f / sqrtf(var + eps);
  const __m256 rv = SET1(rs);
  for (int64_t j = 0; j < d; j += 8) {
    const part m = lanes_below(d - j);
    const __m256 h = _mm256_mul_ps(_mm256_sub_ps(load_part(x + j, m), mv), rv);
    __m256 o = _mm256_mul_ps(h, load_part(gamma + j, m));
    o = _mm256_add_ps(o, load_part(beta + j, m));
    store_part(y + j, m, canon(round_to(o, round)));
  }
  *mean_out = cfp8_nn_canon1(mean);
  *rstd_out = cfp8_nn_canon1(rs);
}

T static void k_layernorm_backward_row(const float *dy, const float *x, float mean, float rstd, const float *gamma,
                                       int64_t d, float *dx, float *pg, float *pb) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
  const __m256 mv = SET1(mean), rv = SET1(rstd);
  for (int64_t j = 0; j < d; j += 16) {
    const chunk c = chunk_at(d, j);
    for (int half = 0; half < 2; half++) {
      const int64_t o = j + 8 * half;
      const part m = half ? c.m1 : c.m0;
      const __m256 dyv = load_part(dy + o, m);
      const __m256 h = _mm256_mul_ps(_mm256_sub_ps(load_part(x + o, m), mv), rv);
      const __m256 g = keep(_mm256_mul_ps(dyv, load_part(gamma + o, m)), m);
      if (half) {
        a1 = _mm256_add_ps(a1, g);
        b1 = _mm256_fmadd_ps(g, keep(h, m), b1);
      } else {
        a0 = _mm256_add_ps(a0, g);
        b0 = _mm256_fmadd_ps(g, keep(h, m), b0);
      }
      store_part(pg + o, m, _mm256_fmadd_ps(dyv, h, load_part(pg + o, m)));
      store_part(pb + o, m, _mm256_add_ps(load_part(pb + o, m), dyv));
    }
  }
  const __m256 md = SET1(lanes_sum(a0, a1) / (float)d), mdx = SET1(lanes_sum(b0, b1) / (float)d);
  for (int64_t j = 0; j < d; j += 8) {
    const part m = lanes_below(d - j);
    const __m256 h = _mm256_mul_ps(_mm256_sub_ps(load_part(x + j, m), mv), rv);
    const __m256 g = _mm256_mul_ps(load_part(dy + j, m), load_part(gamma + j, m));
    __m256 t = _mm256_sub_ps(g, md);
    t = _mm256_sub_ps(t, _mm256_mul_ps(h, mdx));
    store_part(dx + j, m, canon(_mm256_mul_ps(rv, t)));
  }
}

/* ---- element-wise ------------------------------------------------------------------------------- */
T static void k_add(const float *a, const float *b, float *y, int64_t n, int32_t round) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, canon(round_to(_mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)), round)));
  if (i < n) {
    const part m = lanes_below(n - i);
    store_part(y + i, m, canon(round_to(_mm256_add_ps(load_part(a + i, m), load_part(b + i, m)), round)));
  }
}

T static void k_round(float *x, int64_t n, int32_t round) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, canon(round_to(_mm256_loadu_ps(x + i), round)));
  if (i < n) {
    const part m = lanes_below(n - i);
    store_part(x + i, m, canon(round_to(load_part(x + i, m), round)));
  }
}

/* ---- cross-entropy ------------------------------------------------------------------------------ */
T static void k_logsumexp_row(const float *x, int64_t n, float *max_out, float *sum_out) {
  const float mx = row_max(x, n, 1.0f); /* x·1 is x */
  *max_out = mx;
  *sum_out = row_sum_exp(x, n, 1.0f, mx, NULL);
}

T static void k_cross_entropy_row(const float *x, int64_t n, float logz, float f, int64_t target, float grad_scale,
                                  float *dl) {
  const __m256 lz = SET1(logz), fv = SET1(f), gs = SET1(grad_scale);
  for (int64_t j = 0; j < n; j += 8) {
    const part m = lanes_below(n - j);
    __m256 g = _mm256_mul_ps(fv, exp8(_mm256_sub_ps(load_part(x + j, m), lz)));
    if (target >= j && target < j + 8) {
      const __m256i hit = _mm256_cmpeq_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32((int)(target - j)));
      g = _mm256_blendv_ps(g, _mm256_sub_ps(g, fv), _mm256_castsi256_ps(hit));
    }
    store_part(dl + j, m, canon(_mm256_mul_ps(g, gs)));
  }
}

/* ---- AdamW -------------------------------------------------------------------------------------- */
T static void k_adamw(float *param, float *m, float *v, const float *grad, int64_t n, const cfp8_adamw_step *s) {
  const __m256 b1 = SET1(s->beta1), b2 = SET1(s->beta2), c1 = SET1(1.0f - s->beta1), c2 = SET1(1.0f - s->beta2);
  const __m256 bc1 = SET1(s->bias_correction1), bc2 = SET1(s->bias_correction2), eps = SET1(s->epsilon);
  const __m256 wd = SET1(s->weight_decay), lr = SET1(s->lr);
  for (int64_t i = 0; i < n; i += 8) {
    const part k = lanes_below(n - i);
    const __m256 g = load_part(grad + i, k), p = load_part(param + i, k);
    const __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, load_part(m + i, k)), _mm256_mul_ps(c1, g));
    const __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, load_part(v + i, k)), _mm256_mul_ps(_mm256_mul_ps(c2, g), g));
    const __m256 mh = _mm256_div_ps(mi, bc1), vh = _mm256_div_ps(vi, bc2);
    __m256 q = _mm256_div_ps(mh, _mm256_add_ps(_mm256_sqrt_ps(vh), eps));
    q = _mm256_add_ps(q, _mm256_mul_ps(wd, p));
    q = _mm256_mul_ps(lr, q);
    store_part(param + i, k, canon(_mm256_sub_ps(p, q)));
    store_part(m + i, k, canon(mi));
    store_part(v + i, k, canon(vi));
  }
}

void cfp8_nn_kernels_avx2(cfp8_nn_kernels *k) { CFP8_NN_FILL_TABLE(k); }
#endif
