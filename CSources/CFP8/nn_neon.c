/* NEON layer kernels: nn_scalar.c lane by lane, 4 elements per register; the 16 lanes of a row
 * reduction are four registers (lanes 0-3, 4-7, 8-11, 12-15). Tails go through a zero-filled
 * 16-element buffer. */
#include "nn_internal.h"
#if defined(CFP8_ARM64)
#include <arm_neon.h>

#pragma STDC FP_CONTRACT OFF

typedef float32x4_t V;
#define DUP vdupq_n_f32

static inline V canon(V x) { return vbslq_f32(vceqq_f32(x, x), x, vreinterpretq_f32_u32(vdupq_n_u32(CFP8_NN_NAN_BITS))); }
static inline V max2(V a, V b) { return vbslq_f32(vcgtq_f32(a, b), a, b); } /* a > b ? a : b */

/* Lanes i < rem of group g (lanes 4g .. 4g+3). */
static inline uint32x4_t lanes_below(int64_t rem, int g) {
  const uint32_t iota[4] = {0, 1, 2, 3};
  const int64_t r = rem - 4 * g;
  return vcltq_u32(vld1q_u32(iota), vdupq_n_u32((uint32_t)(r < 0 ? 0 : r > 4 ? 4 : r)));
}
static inline V keep(V v, uint32x4_t m) { return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), m)); }

/* Up to 16 elements at p (n of them live) into v[0..3], zeros beyond. */
static inline void load16(const float *p, int64_t n, V v[4]) {
  if (n >= 16) {
    for (int g = 0; g < 4; g++) v[g] = vld1q_f32(p + 4 * g);
    return;
  }
  float buf[16] = {0};
  __builtin_memcpy(buf, p, (size_t)(n > 0 ? n : 0) * sizeof(float));
  for (int g = 0; g < 4; g++) v[g] = vld1q_f32(buf + 4 * g);
}
static inline void store16(float *p, int64_t n, const V v[4]) {
  if (n >= 16) {
    for (int g = 0; g < 4; g++) vst1q_f32(p + 4 * g, v[g]);
    return;
  }
  float buf[16];
  for (int g = 0; g < 4; g++) vst1q_f32(buf + 4 * g, v[g]);
  __builtin_memcpy(p, buf, (size_t)(n > 0 ? n : 0) * sizeof(float));
}

/* ---- rounding ----------------------------------------------------------------------------------- */
static inline V round_to(V x, int32_t round) {
  if (round == CFP8_NN_ROUND_F16) return vcvt_f32_f16(vcvt_f16_f32(x));
  if (round == CFP8_NN_ROUND_BF16) {
    const uint32x4_t u = vreinterpretq_u32_f32(x);
    uint32x4_t r = vaddq_u32(u, vdupq_n_u32(0x7FFF));
    r = vaddq_u32(r, vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1)));
    r = vandq_u32(r, vdupq_n_u32(0xFFFF0000u));
    return vbslq_f32(vceqq_f32(x, x), vreinterpretq_f32_u32(r), x);
  }
  return x;
}

/* ---- exp ---------------------------------------------------------------------------------------- */
/* exp(t + tlo) = p · 2^n; `lo` 0: tlo is 0 (adding +0 to r changes nothing but -0, for which the
 * polynomial gives 1 either way). */
static inline V exp_parts(V t, V tlo, int lo, int32x4_t *n) {
  t = vbslq_f32(vcltq_f32(t, DUP(CFP8_NN_EXP_MIN)), DUP(CFP8_NN_EXP_MIN), t);
  t = vbslq_f32(vcgtq_f32(t, DUP(CFP8_NN_EXP_MAX)), DUP(CFP8_NN_EXP_MAX), t);
  const V kf = vfmaq_f32(DUP(CFP8_NN_ROUND_MAGIC), t, DUP(CFP8_NN_LOG2E));
  const V nf = vsubq_f32(kf, DUP(CFP8_NN_ROUND_MAGIC));
  *n = vsubq_s32(vreinterpretq_s32_f32(kf), vdupq_n_s32(0x4B400000));
  V r = vfmsq_f32(t, nf, DUP(CFP8_NN_LN2_HI));
  r = vfmsq_f32(r, nf, DUP(CFP8_NN_LN2_LO));
  if (lo) r = vaddq_f32(r, tlo);
  V q = vfmaq_f32(DUP(CFP8_NN_EXP_C5), DUP(CFP8_NN_EXP_C6), r);
  q = vfmaq_f32(DUP(CFP8_NN_EXP_C4), q, r);
  q = vfmaq_f32(DUP(CFP8_NN_EXP_C3), q, r);
  q = vfmaq_f32(DUP(CFP8_NN_EXP_C2), q, r);
  q = vfmaq_f32(DUP(1.0f), q, r);
  return vfmaq_f32(DUP(1.0f), q, r);
}

static inline V pow2(int32x4_t e) { return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(e, vdupq_n_s32(127)), 23)); }

static inline V scale2(V v, int32x4_t n) {
  const int32x4_t n1 = vminq_s32(vmaxq_s32(n, vdupq_n_s32(-120)), vdupq_n_s32(127));
  int32x4_t n2 = vsubq_s32(n, n1);
  n2 = vminq_s32(vmaxq_s32(n2, vdupq_n_s32(-126)), vdupq_n_s32(127));
  return vmulq_f32(vmulq_f32(v, pow2(n1)), pow2(n2));
}

static inline V exp4(V t) {
  int32x4_t n;
  const V p = exp_parts(t, t, 0, &n);
  return scale2(p, n);
}

/* ---- GELU --------------------------------------------------------------------------------------- */
typedef struct gelu_parts { V xc, p, e, d; int32x4_t n; } gelu_parts;

/* fma(a, b, -c) */
static inline V fms(V a, V b, V c) { return vfmaq_f32(vnegq_f32(c), a, b); }

static inline gelu_parts gelu_common(V x) {
  gelu_parts g;
  V xc = vbslq_f32(vcgtq_f32(x, DUP(-CFP8_NN_GELU_CLAMP)), x, DUP(-CFP8_NN_GELU_CLAMP));
  xc = vbslq_f32(vcltq_f32(xc, DUP(CFP8_NN_GELU_CLAMP)), xc, DUP(CFP8_NN_GELU_CLAMP));
  const V a = vmulq_f32(xc, xc), alo = fms(xc, xc, a);
  const V b = vmulq_f32(a, xc);
  const V blo = vaddq_f32(fms(a, xc, b), vmulq_f32(alo, xc));
  const V kh = DUP(CFP8_NN_GELU_K_HI);
  const V m = vmulq_f32(kh, b);
  const V mlo = vaddq_f32(fms(kh, b, m), vaddq_f32(vmulq_f32(kh, blo), vmulq_f32(DUP(CFP8_NN_GELU_K_LO), b)));
  const V s = vaddq_f32(xc, m), bv = vsubq_f32(s, xc);
  const V slo = vaddq_f32(vaddq_f32(vsubq_f32(xc, vsubq_f32(s, bv)), vsubq_f32(m, bv)), mlo);
  const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(s), vdupq_n_u32(0x80000000u));
  const V sa = vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(s), sign));
  const V salo = vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(slo), sign));
  const V ch = DUP(CFP8_NN_GELU_2C_HI);
  const V pr = vmulq_f32(ch, sa);
  const V prlo = vaddq_f32(fms(ch, sa, pr), vaddq_f32(vmulq_f32(ch, salo), vmulq_f32(DUP(CFP8_NN_GELU_2C_LO), sa)));
  g.xc = xc;
  g.p = exp_parts(vnegq_f32(pr), vnegq_f32(prlo), 1, &g.n);
  g.e = scale2(g.p, g.n);
  g.d = vaddq_f32(DUP(1.0f), g.e);
  return g;
}

static inline V gelu4(V x) {
  const gelu_parts g = gelu_common(x);
  const uint32x4_t neg = vcltq_f32(x, DUP(0.0f));
  /* one division: (x < 0 ? xc·p : x) / d, then the x < 0 lanes scaled by 2^n */
  const V q = vdivq_f32(vbslq_f32(neg, vmulq_f32(g.xc, g.p), x), g.d);
  return canon(vbslq_f32(neg, scale2(q, g.n), q));
}

static inline V gelu_grad4(V x) {
  const gelu_parts g = gelu_common(x);
  V b = vmulq_f32(DUP(CFP8_NN_GELU_K3), g.xc);
  b = vmulq_f32(b, g.xc);
  b = vaddq_f32(DUP(1.0f), b);
  const V du = vmulq_f32(DUP(CFP8_NN_GELU_C), b);
  const uint32x4_t neg = vcltq_f32(x, DUP(0.0f));
  const V s1 = vdivq_f32(vbslq_f32(neg, DUP(1.0f), g.e), g.d);
  const V sig = vdivq_f32(vbslq_f32(neg, g.p, DUP(1.0f)), g.d);
  V w = vmulq_f32(g.xc, DUP(2.0f));
  w = vmulq_f32(w, du);
  w = vmulq_f32(w, s1);
  w = vaddq_f32(DUP(1.0f), w);
  V y = vmulq_f32(sig, w);
  y = vbslq_f32(neg, scale2(y, g.n), y);
  y = vbslq_f32(vceqq_f32(x, x), y, x);
  return canon(y);
}

/* Element-wise loops: 16 elements per step, the tail through load16/store16. */
static void k_exp(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    V v[4];
    load16(x + i, n - i, v);
    for (int g = 0; g < 4; g++) v[g] = canon(exp4(v[g]));
    store16(y + i, n - i, v);
  }
}

static void k_gelu(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    V v[4];
    load16(x + i, n - i, v);
    for (int g = 0; g < 4; g++) v[g] = gelu4(v[g]);
    store16(y + i, n - i, v);
  }
}

static void k_gelu_backward(const float *dy, const float *x, float *dx, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    V v[4], d[4];
    load16(x + i, n - i, v);
    load16(dy + i, n - i, d);
    for (int g = 0; g < 4; g++) v[g] = canon(vmulq_f32(d[g], gelu_grad4(v[g])));
    store16(dx + i, n - i, v);
  }
}

/* ---- 16-lane reductions ------------------------------------------------------------------------- */
static inline float lanes_sum(const V l[4]) {
  const V s = vaddq_f32(vaddq_f32(l[0], l[2]), vaddq_f32(l[1], l[3]));
  const float32x2_t s2 = vadd_f32(vget_low_f32(s), vget_high_f32(s));
  return vget_lane_f32(s2, 0) + vget_lane_f32(s2, 1);
}

static inline float lanes_max(const V l[4]) {
  const V s = max2(max2(l[0], l[2]), max2(l[1], l[3]));
  const float32x2_t a = vget_low_f32(s), b = vget_high_f32(s);
  const float32x2_t s2 = vbsl_f32(vcgt_f32(a, b), a, b);
  const float x0 = vget_lane_f32(s2, 0), x1 = vget_lane_f32(s2, 1);
  return x0 > x1 ? x0 : x1;
}

static inline float row_max(const float *x, int64_t len, float scale) {
  V mx[4];
  for (int g = 0; g < 4; g++) mx[g] = DUP(-__builtin_inff());
  for (int64_t j = 0; j < len; j += 16) {
    V v[4];
    load16(x + j, len - j, v);
    for (int g = 0; g < 4; g++) {
      const V s = vmulq_f32(v[g], DUP(scale));
      mx[g] = vbslq_f32(lanes_below(len - j, g), max2(s, mx[g]), mx[g]);
    }
  }
  return lanes_max(mx);
}

static inline float row_sum_exp(const float *x, int64_t len, float scale, float mx, float *y) {
  V z[4];
  for (int g = 0; g < 4; g++) z[g] = DUP(0.0f);
  for (int64_t j = 0; j < len; j += 16) {
    V v[4];
    load16(x + j, len - j, v);
    for (int g = 0; g < 4; g++) {
      v[g] = exp4(vsubq_f32(vmulq_f32(v[g], DUP(scale)), DUP(mx)));
      z[g] = vaddq_f32(z[g], keep(v[g], lanes_below(len - j, g)));
    }
    if (y) store16(y + j, len - j, v);
  }
  return lanes_sum(z);
}

static void store_zeros(float *y, int64_t n) {
  for (int64_t j = 0; j < n; j++) y[j] = 0.0f;
}

/* ---- softmax ------------------------------------------------------------------------------------ */
static void k_softmax_row(const float *x, float *y, int64_t len, int64_t cols, float scale, int32_t round) {
  const float mx = row_max(x, len, scale);
  const V z = DUP(row_sum_exp(x, len, scale, mx, y));
  for (int64_t j = 0; j < len; j += 16) {
    V v[4];
    load16(y + j, len - j, v);
    for (int g = 0; g < 4; g++) v[g] = canon(round_to(vdivq_f32(v[g], z), round));
    store16(y + j, len - j, v);
  }
  store_zeros(y + len, cols - len);
}

static void k_softmax_backward_row(const float *p, const float *dp, float *dx, int64_t len, int64_t cols,
                                   float scale) {
  V l[4];
  for (int g = 0; g < 4; g++) l[g] = DUP(0.0f);
  for (int64_t j = 0; j < len; j += 16) {
    V a[4], b[4];
    load16(p + j, len - j, a);
    load16(dp + j, len - j, b);
    for (int g = 0; g < 4; g++) l[g] = vfmaq_f32(l[g], a[g], b[g]);
  }
  const V dot = DUP(lanes_sum(l));
  for (int64_t j = 0; j < len; j += 16) {
    V a[4], b[4];
    load16(p + j, len - j, a);
    load16(dp + j, len - j, b);
    for (int g = 0; g < 4; g++) {
      V t = vsubq_f32(b[g], dot);
      t = vmulq_f32(a[g], t);
      b[g] = canon(vmulq_f32(t, DUP(scale)));
    }
    store16(dx + j, len - j, b);
  }
  store_zeros(dx + len, cols - len);
}

/* ---- LayerNorm ---------------------------------------------------------------------------------- */
static void k_layernorm_row(const float *x, const float *gamma, const float *beta, int64_t d, float eps,
                            int32_t round, float *y, float *mean_out, float *rstd_out) {
  V l[4];
  for (int g = 0; g < 4; g++) l[g] = DUP(0.0f);
  for (int64_t j = 0; j < d; j += 16) {
    V v[4];
    load16(x + j, d - j, v);
    for (int g = 0; g < 4; g++) l[g] = vaddq_f32(l[g], v[g]);
  }
  const float mean = lanes_sum(l) / (float)d;
  for (int g = 0; g < 4; g++) l[g] = DUP(0.0f);
  for (int64_t j = 0; j < d; j += 16) {
    V v[4];
    load16(x + j, d - j, v);
    for (int g = 0; g < 4; g++) {
      const V c = keep(vsubq_f32(v[g], DUP(mean)), lanes_below(d - j, g));
      l[g] = vfmaq_f32(l[g], c, c);
    }
  }
  const float var = lanes_sum(l) / (float)d;
  const float rs = 1.0f / __builtin_sqrtf(var + eps);
  for (int64_t j = 0; j < d; j += 16) {
    V v[4], gm[4], bt[4];
    load16(x + j, d - j, v);
    load16(gamma + j, d - j, gm);
    load16(beta + j, d - j, bt);
    for (int g = 0; g < 4; g++) {
      const V h = vmulq_f32(vsubq_f32(v[g], DUP(mean)), DUP(rs));
      V o = vmulq_f32(h, gm[g]);
      o = vaddq_f32(o, bt[g]);
      v[g] = canon(round_to(o, round));
    }
    store16(y + j, d - j, v);
  }
  *mean_out = cfp8_nn_canon1(mean);
  *rstd_out = cfp8_nn_canon1(rs);
}

static void k_layernorm_backward_row(const float *dy, const float *x, float mean, float rstd, const float *gamma,
                                     int64_t d, float *dx, float *pg, float *pb) {
  V a[4], b[4];
  for (int g = 0; g < 4; g++) a[g] = b[g] = DUP(0.0f);
  for (int64_t j = 0; j < d; j += 16) {
    V dv[4], xv[4], gm[4], vg[4], vb[4];
    load16(dy + j, d - j, dv);
    load16(x + j, d - j, xv);
    load16(gamma + j, d - j, gm);
    load16(pg + j, d - j, vg);
    load16(pb + j, d - j, vb);
    for (int g = 0; g < 4; g++) {
      const uint32x4_t live = lanes_below(d - j, g);
      const V h = vmulq_f32(vsubq_f32(xv[g], DUP(mean)), DUP(rstd));
      const V gg = keep(vmulq_f32(dv[g], gm[g]), live);
      a[g] = vaddq_f32(a[g], gg);
      b[g] = vfmaq_f32(b[g], gg, keep(h, live));
      vg[g] = vfmaq_f32(vg[g], dv[g], h);
      vb[g] = vaddq_f32(vb[g], dv[g]);
    }
    store16(pg + j, d - j, vg);
    store16(pb + j, d - j, vb);
  }
  const V md = DUP(lanes_sum(a) / (float)d), mdx = DUP(lanes_sum(b) / (float)d);
  for (int64_t j = 0; j < d; j += 16) {
    V dv[4], xv[4], gm[4];
    load16(dy + j, d - j, dv);
    load16(x + j, d - j, xv);
    load16(gamma + j, d - j, gm);
    for (int g = 0; g < 4; g++) {
      const V h = vmulq_f32(vsubq_f32(xv[g], DUP(mean)), DUP(rstd));
      const V gg = vmulq_f32(dv[g], gm[g]);
      V t = vsubq_f32(gg, md);
      t = vsubq_f32(t, vmulq_f32(h, mdx));
      dv[g] = canon(vmulq_f32(DUP(rstd), t));
    }
    store16(dx + j, d - j, dv);
  }
}

/* ---- element-wise ------------------------------------------------------------------------------- */
static void k_add(const float *a, const float *b, float *y, int64_t n, int32_t round) {
  for (int64_t i = 0; i < n; i += 16) {
    V va[4], vb[4];
    load16(a + i, n - i, va);
    load16(b + i, n - i, vb);
    for (int g = 0; g < 4; g++) va[g] = canon(round_to(vaddq_f32(va[g], vb[g]), round));
    store16(y + i, n - i, va);
  }
}

static void k_round(float *x, int64_t n, int32_t round) {
  for (int64_t i = 0; i < n; i += 16) {
    V v[4];
    load16(x + i, n - i, v);
    for (int g = 0; g < 4; g++) v[g] = canon(round_to(v[g], round));
    store16(x + i, n - i, v);
  }
}

/* ---- cross-entropy ------------------------------------------------------------------------------ */
static void k_logsumexp_row(const float *x, int64_t n, float *max_out, float *sum_out) {
  const float mx = row_max(x, n, 1.0f); /* x·1 is x */
  *max_out = mx;
  *sum_out = row_sum_exp(x, n, 1.0f, mx, NULL);
}

static void k_cross_entropy_row(const float *x, int64_t n, float logz, float f, int64_t target, float grad_scale,
                                float *dl) {
  const uint32_t iota[4] = {0, 1, 2, 3};
  for (int64_t j = 0; j < n; j += 16) {
    V v[4];
    load16(x + j, n - j, v);
    for (int g = 0; g < 4; g++) {
      V e = vmulq_f32(DUP(f), exp4(vsubq_f32(v[g], DUP(logz))));
      const int64_t rel = target - j - 4 * g;
      if (rel >= 0 && rel < 4) {
        const uint32x4_t hit = vceqq_u32(vld1q_u32(iota), vdupq_n_u32((uint32_t)rel));
        e = vbslq_f32(hit, vsubq_f32(e, DUP(f)), e);
      }
      v[g] = canon(vmulq_f32(e, DUP(grad_scale)));
    }
    store16(dl + j, n - j, v);
  }
}

/* ---- AdamW -------------------------------------------------------------------------------------- */
static void k_adamw(float *param, float *m, float *v, const float *grad, int64_t n, const cfp8_adamw_step *s) {
  const V b1 = DUP(s->beta1), b2 = DUP(s->beta2), c1 = DUP(1.0f - s->beta1), c2 = DUP(1.0f - s->beta2);
  const V bc1 = DUP(s->bias_correction1), bc2 = DUP(s->bias_correction2), eps = DUP(s->epsilon);
  const V wd = DUP(s->weight_decay), lr = DUP(s->lr);
  for (int64_t i = 0; i < n; i += 16) {
    V gv[4], pv[4], mv[4], vv[4];
    load16(grad + i, n - i, gv);
    load16(param + i, n - i, pv);
    load16(m + i, n - i, mv);
    load16(v + i, n - i, vv);
    for (int g = 0; g < 4; g++) {
      const V mi = vaddq_f32(vmulq_f32(b1, mv[g]), vmulq_f32(c1, gv[g]));
      const V vi = vaddq_f32(vmulq_f32(b2, vv[g]), vmulq_f32(vmulq_f32(c2, gv[g]), gv[g]));
      const V mh = vdivq_f32(mi, bc1), vh = vdivq_f32(vi, bc2);
      V q = vdivq_f32(mh, vaddq_f32(vsqrtq_f32(vh), eps));
      q = vaddq_f32(q, vmulq_f32(wd, pv[g]));
      q = vmulq_f32(lr, q);
      pv[g] = canon(vsubq_f32(pv[g], q));
      mv[g] = canon(mi);
      vv[g] = canon(vi);
    }
    store16(param + i, n - i, pv);
    store16(m + i, n - i, mv);
    store16(v + i, n - i, vv);
  }
}

void cfp8_nn_kernels_neon(cfp8_nn_kernels *k) { CFP8_NN_FILL_TABLE(k); }
#endif
