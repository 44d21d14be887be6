/* AVX-512 layer kernels: nn_scalar.c lane by lane, 16 elements per register (the 16 lanes of a
 * row reduction are one register); tails use masked loads and stores. */
#include "internal.h"
#include "nn_internal.h"
#if defined(CFP8_X86)
#include <immintrin.h>
#include <math.h>

#pragma STDC FP_CONTRACT OFF

#define T CFP8_TARGET_AVX512
#define SET1 _mm512_set1_ps

T static inline __m512 canon(__m512 x) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x,
                              _mm512_castsi512_ps(_mm512_set1_epi32((int)CFP8_NN_NAN_BITS)));
}

/* Lanes i < rem. */
T static inline __mmask16 lanes_below(int64_t rem) {
  return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1u);
}
T static inline __m512 load_part(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
T static inline void store_part(float *p, __mmask16 m, __m512 v) { _mm512_mask_storeu_ps(p, m, v); }

/* ---- rounding ----------------------------------------------------------------------------------- */
T static inline __m512 round_to(__m512 x, int32_t round) {
  if (round == CFP8_NN_ROUND_F16)
    return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (round == CFP8_NN_ROUND_BF16) {
    const __m512i u = _mm512_castps_si512(x);
    __m512i r = _mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF));
    r = _mm512_add_epi32(r, _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1)));
    r = _mm512_and_si512(r, _mm512_set1_epi32((int)0xFFFF0000u));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), _mm512_castsi512_ps(r), x);
  }
  return x;
}

/* ---- exp ---------------------------------------------------------------------------------------- */
/* exp(t + tlo) = p · 2^n; `lo` 0: tlo is 0 (see nn_avx2.c). */
T static inline __m512 exp_parts(__m512 t, __m512 tlo, int lo, __m512i *n) {
  /* MAXPS/MINPS semantics (MIN > t ? MIN : t), so that a NaN t stays NaN */
  t = _mm512_max_ps(SET1(CFP8_NN_EXP_MIN), t);
  t = _mm512_min_ps(SET1(CFP8_NN_EXP_MAX), t);
  const __m512 kf = _mm512_fmadd_ps(t, SET1(CFP8_NN_LOG2E), SET1(CFP8_NN_ROUND_MAGIC));
  const __m512 nf = _mm512_sub_ps(kf, SET1(CFP8_NN_ROUND_MAGIC));
  *n = _mm512_sub_epi32(_mm512_castps_si512(kf), _mm512_set1_epi32(0x4B400000));
  __m512 r = _mm512_fnmadd_ps(nf, SET1(CFP8_NN_LN2_HI), t);
  r = _mm512_fnmadd_ps(nf, SET1(CFP8_NN_LN2_LO), r);
  if (lo) r = _mm512_add_ps(r, tlo);
  __m512 q = _mm512_fmadd_ps(SET1(CFP8_NN_EXP_C6), r, SET1(CFP8_NN_EXP_C5));
  q = _mm512_fmadd_ps(q, r, SET1(CFP8_NN_EXP_C4));
  q = _mm512_fmadd_ps(q, r, SET1(CFP8_NN_EXP_C3));
  q = _mm512_fmadd_ps(q, r, SET1(CFP8_NN_EXP_C2));
  q = _mm512_fmadd_ps(q, r, SET1(1.0f));
  return _mm512_fmadd_ps(q, r, SET1(1.0f));
}

T static inline __m512 pow2(__m512i e) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(e, _mm512_set1_epi32(127)), 23));
}

T static inline __m512 scale2(__m512 v, __m512i n) {
  const __m512i n1 = _mm512_min_epi32(_mm512_max_epi32(n, _mm512_set1_epi32(-120)), _mm512_set1_epi32(127));
  __m512i n2 = _mm512_sub_epi32(n, n1);
  n2 = _mm512_min_epi32(_mm512_max_epi32(n2, _mm512_set1_epi32(-126)), _mm512_set1_epi32(127));
  return _mm512_mul_ps(_mm512_mul_ps(v, pow2(n1)), pow2(n2));
}

T static inline __m512 exp16(__m512 t) {
  __m512i n;
  const __m512 p = exp_parts(t, t, 0, &n);
  return scale2(p, n);
}

T static void k_exp(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes_below(n - i);
    store_part(y + i, m, canon(exp16(load_part(x + i, m))));
  }
}

/* ---- GELU --------------------------------------------------------------------------------------- */
typedef struct gelu_parts { __m512 xc, p, e, d; __m512i n; } gelu_parts;

T static inline gelu_parts gelu_common(__m512 x) {
  gelu_parts g;
  __m512 xc = _mm512_max_ps(x, SET1(-CFP8_NN_GELU_CLAMP)); /* x > -16 ? x : -16 */
  xc = _mm512_min_ps(xc, SET1(CFP8_NN_GELU_CLAMP));         /* xc < 16 ? xc : 16 */
  const __m512 a = _mm512_mul_ps(xc, xc), alo = _mm512_fmsub_ps(xc, xc, a);
  const __m512 b = _mm512_mul_ps(a, xc);
  const __m512 blo = _mm512_add_ps(_mm512_fmsub_ps(a, xc, b), _mm512_mul_ps(alo, xc));
  const __m512 kh = SET1(CFP8_NN_GELU_K_HI);
  const __m512 m = _mm512_mul_ps(kh, b);
  const __m512 mlo = _mm512_add_ps(_mm512_fmsub_ps(kh, b, m),
                                   _mm512_add_ps(_mm512_mul_ps(kh, blo), _mm512_mul_ps(SET1(CFP8_NN_GELU_K_LO), b)));
  const __m512 s = _mm512_add_ps(xc, m), bv = _mm512_sub_ps(s, xc);
  const __m512 slo =
      _mm512_add_ps(_mm512_add_ps(_mm512_sub_ps(xc, _mm512_sub_ps(s, bv)), _mm512_sub_ps(m, bv)), mlo);
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32((int)0x80000000u));
  const __m512 sa = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(s), sign));
  const __m512 salo = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(slo), sign));
  const __m512 ch = SET1(CFP8_NN_GELU_2C_HI);
  const __m512 pr = _mm512_mul_ps(ch, sa);
  const __m512 prlo = _mm512_add_ps(_mm512_fmsub_ps(ch, sa, pr),
                                    _mm512_add_ps(_mm512_mul_ps(ch, salo), _mm512_mul_ps(SET1(CFP8_NN_GELU_2C_LO), sa)));
  g.xc = xc;
  const __m512i neg0 = _mm512_set1_epi32((int)0x80000000u);
  g.p = exp_parts(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(pr), neg0)),
                  _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(prlo), neg0)), 1, &g.n);
  g.e = scale2(g.p, g.n);
  g.d = _mm512_add_ps(SET1(1.0f), g.e);
  return g;
}

T static inline __m512 gelu16(__m512 x) {
  const gelu_parts g = gelu_common(x);
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  /* one division: (x < 0 ? xc·p : x) / d, then the x < 0 lanes scaled by 2^n */
  const __m512 q = _mm512_div_ps(_mm512_mask_blend_ps(neg, x, _mm512_mul_ps(g.xc, g.p)), g.d);
  return canon(_mm512_mask_blend_ps(neg, q, scale2(q, g.n)));
}

T static inline __m512 gelu_grad16(__m512 x) {
  const gelu_parts g = gelu_common(x);
  __m512 b = _mm512_mul_ps(SET1(CFP8_NN_GELU_K3), g.xc);
  b = _mm512_mul_ps(b, g.xc);
  b = _mm512_add_ps(SET1(1.0f), b);
  const __m512 du = _mm512_mul_ps(SET1(CFP8_NN_GELU_C), b);
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 s1 = _mm512_div_ps(_mm512_mask_blend_ps(neg, g.e, SET1(1.0f)), g.d);
  const __m512 sig = _mm512_div_ps(_mm512_mask_blend_ps(neg, SET1(1.0f), g.p), g.d);
  __m512 w = _mm512_mul_ps(g.xc, SET1(2.0f));
  w = _mm512_mul_ps(w, du);
  w = _mm512_mul_ps(w, s1);
  w = _mm512_add_ps(SET1(1.0f), w);
  __m512 y = _mm512_mul_ps(sig, w);
  y = _mm512_mask_blend_ps(neg, y, scale2(y, g.n));
  y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x);
  return canon(y);
}

T static void k_gelu(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes_below(n - i);
    store_part(y + i, m, gelu16(load_part(x + i, m)));
  }
}

T static void k_gelu_backward(const float *dy, const float *x, float *dx, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes_below(n - i);
    const __m512 g = gelu_grad16(load_part(x + i, m));
    store_part(dx + i, m, canon(_mm512_mul_ps(load_part(dy + i, m), g)));
  }
}

/* ---- 16-lane reductions ------------------------------------------------------------------------- */
T static inline float lanes_sum(__m512 l) {
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(l), _mm512_extractf32x8_ps(l, 1));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

T static inline float lanes_max(__m512 l) {
  const __m256 s8 = _mm256_max_ps(_mm512_castps512_ps256(l), _mm512_extractf32x8_ps(l, 1));
  const __m128 s4 = _mm_max_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_max_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_max_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

T static inline float row_max(const float *x, int64_t len, float scale) {
  __m512 mx = SET1(-INFINITY);
  const __m512 sc = SET1(scale);
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 m = lanes_below(len - j);
    mx = _mm512_mask_max_ps(mx, m, _mm512_mul_ps(load_part(x + j, m), sc), mx);
  }
  return lanes_max(mx);
}

T static inline float row_sum_exp(const float *x, int64_t len, float scale, float mx, float *y) {
  __m512 z = _mm512_setzero_ps();
  const __m512 sc = SET1(scale), mv = SET1(mx);
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 m = lanes_below(len - j);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_mul_ps(load_part(x + j, m), sc), mv));
    if (y) store_part(y + j, m, e);
    z = _mm512_mask_add_ps(z, m, z, e);
  }
  return lanes_sum(z);
}

T static void store_zeros(float *y, int64_t n) {
  for (int64_t j = 0; j < n; j += 16) store_part(y + j, lanes_below(n - j), _mm512_setzero_ps());
}

/* ---- softmax ------------------------------------------------------------------------------------ */
T static void k_softmax_row(const float *x, float *y, int64_t len, int64_t cols, float scale, int32_t round) {
  const float mx = row_max(x, len, scale);
  const __m512 z = SET1(row_sum_exp(x, len, scale, mx, y));
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 m = lanes_below(len - j);
    store_part(y + j, m, canon(round_to(_mm512_div_ps(load_part(y + j, m), z), round)));
  }
  store_zeros(y + len, cols - len);
}

T static void k_softmax_backward_row(const float *p, const float *dp, float *dx, int64_t len, int64_t cols,
                                     float scale) {
  __m512 l = _mm512_setzero_ps();
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 m = lanes_below(len - j);
    l = _mm512_fmadd_ps(load_part(p + j, m), load_part(dp + j, m), l);
  }
  const __m512 dot = SET1(lanes_sum(l)), sc = SET1(scale);
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 m = lanes_below(len - j);
    __m512 t = _mm512_sub_ps(load_part(dp + j, m), dot);
    t = _mm512_mul_ps(load_part(p + j, m), t);
    store_part(dx + j, m, canon(_mm512_mul_ps(t, sc)));
  }
  store_zeros(dx + len, cols - len);
}

/* ---- LayerNorm ---------------------------------------------------------------------------------- */
T static void k_layernorm_row(const float *x, const float *gamma, const float *beta, int64_t d, float eps,
                              int32_t round, float *y, float *mean_out, float *rstd_out) {
  __m512 l = _mm512_setzero_ps();
  for (int64_t j = 0; j < d; j += 16) l = _mm512_add_ps(l, load_part(x + j, lanes_below(d - j)));
  const float mean = lanes_sum(l) / (float)d;
  const __m512 mv = SET1(mean);
  l = _mm512_setzero_ps();
  for (int64_t j = 0; j < d; j += 16) {
    const __mmask16 m = lanes_below(d - j);
    const __m512 c = _mm512_maskz_sub_ps(m, load_part(x + j, m), mv);
    l = _mm512_fmadd_ps(c, c, l);
  }
  const float var = lanes_sum(l) / (float)d;
  const float rs = 1.0f / sqrtf(var + eps);
  const __m512 rv = SET1(rs);
  for (int64_t j = 0; j < d; j += 16) {
    const __mmask16 m = lanes_below(d - j);
    const __m512 h = _mm512_mul_ps(_mm512_sub_ps(load_part(x + j, m), mv), rv);
    __m512 o = _mm512_mul_ps(h, load_part(gamma + j, m));
    o = _mm512_add_ps(o, load_part(beta + j, m));
    store_part(y + j, m, canon(round_to(o, round)));
  }
  *mean_out = cfp8_nn_canon1(mean);
  *rstd_out = cfp8_nn_canon1(rs);
}

T static void k_layernorm_backward_row(const float *dy, const float *x, float mean, float rstd, const float *gamma,
                                       int64_t d, float *dx, float *pg, float *pb) {
  __m512 a = _mm512_setzero_ps(), b = a;
  const __m512 mv = SET1(mean), rv = SET1(rstd);
  for (int64_t j = 0; j < d; j += 16) {
    const __mmask16 m = lanes_below(d - j);
    const __m512 dyv = load_part(dy + j, m);
    const __m512 h = _mm512_mul_ps(_mm512_sub_ps(load_part(x + j, m), mv), rv);
    const __m512 g = _mm512_maskz_mul_ps(m, dyv, load_part(gamma + j, m));
    a = _mm512_add_ps(a, g);
    b = _mm512_fmadd_ps(g, _mm512_maskz_mov_ps(m, h), b);
    store_part(pg + j, m, _mm512_fmadd_ps(dyv, h, load_part(pg + j, m)));
    store_part(pb + j, m, _mm512_add_ps(load_part(pb + j, m), dyv));
  }
  const __m512 md = SET1(lanes_sum(a) / (float)d), mdx = SET1(lanes_sum(b) / (float)d);
  for (int64_t j = 0; j < d; j += 16) {
    const __mmask16 m = lanes_below(d - j);
    const __m512 h = _mm512_mul_ps(_mm512_sub_ps(load_part(x + j, m), mv), rv);
    const __m512 g = _mm512_mul_ps(load_part(dy + j, m), load_part(gamma + j, m));
    __m512 t = _mm512_sub_ps(g, md);
    t = _mm512_sub_ps(t, _mm512_mul_ps(h, mdx));
    store_part(dx + j, m, canon(_mm512_mul_ps(rv, t)));
  }
}

/* ---- element-wise ------------------------------------------------------------------------------- */
T static void k_add(const float *a, const float *b, float *y, int64_t n, int32_t round) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes_below(n - i);
    store_part(y + i, m, canon(round_to(_mm512_add_ps(load_part(a + i, m), load_part(b + i, m)), round)));
  }
}

T static void k_round(float *x, int64_t n, int32_t round) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes_below(n - i);
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
  const __m512 lz = SET1(logz), fv = SET1(f), gs = SET1(grad_scale);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = lanes_below(n - j);
    __m512 g = _mm512_mul_ps(fv, exp16(_mm512_sub_ps(load_part(x + j, m), lz)));
    if (target >= j && target < j + 16) g = _mm512_mask_sub_ps(g, (__mmask16)(1u << (target - j)), g, fv);
    store_part(dl + j, m, canon(_mm512_mul_ps(g, gs)));
  }
}

/* ---- AdamW -------------------------------------------------------------------------------------- */
T static void k_adamw(float *param, float *m, float *v, const float *grad, int64_t n, const cfp8_adamw_step *s) {
  const __m512 b1 = SET1(s->beta1), b2 = SET1(s->beta2), c1 = SET1(1.0f - s->beta1), c2 = SET1(1.0f - s->beta2);
  const __m512 bc1 = SET1(s->bias_correction1), bc2 = SET1(s->bias_correction2), eps = SET1(s->epsilon);
  const __m512 wd = SET1(s->weight_decay), lr = SET1(s->lr);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = lanes_below(n - i);
    const __m512 g = load_part(grad + i, k), p = load_part(param + i, k);
    const __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, load_part(m + i, k)), _mm512_mul_ps(c1, g));
    const __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, load_part(v + i, k)), _mm512_mul_ps(_mm512_mul_ps(c2, g), g));
    const __m512 mh = _mm512_div_ps(mi, bc1), vh = _mm512_div_ps(vi, bc2);
    __m512 q = _mm512_div_ps(mh, _mm512_add_ps(_mm512_sqrt_ps(vh), eps));
    q = _mm512_add_ps(q, _mm512_mul_ps(wd, p));
    q = _mm512_mul_ps(lr, q);
    store_part(param + i, k, canon(_mm512_sub_ps(p, q)));
    store_part(m + i, k, canon(mi));
    store_part(v + i, k, canon(vi));
  }
}

void cfp8_nn_kernels_avx512(cfp8_nn_kernels *k) { CFP8_NN_FILL_TABLE(k); }
#endif
