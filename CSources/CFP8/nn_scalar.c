/* The layer kernels' reference: every operation written out one element at a time, in the order
 * the SIMD files follow lane by lane (see nn_internal.h). */
#include "internal.h"
#include "nn_internal.h"
#include <math.h>

/* a·b + c written in two statements must stay two roundings on every target. */
#pragma STDC FP_CONTRACT OFF

static inline float canon(float x) { return cfp8_nn_canon1(x); }

/* ---- rounding to FP16 / BF16 ------------------------------------------------------------------ */
static inline float round_f16(float x) {
  const uint32_t u = cfp8_f32_bits(x), a = u & 0x7FFFFFFFu, s = u & 0x80000000u;
  if (a > 0x7F800000u) return x;
  if (a >= 0x477FF000u) return cfp8_bits_f32(s | 0x7F800000u); /* >= 65520: Inf */
  if (a >= 0x38800000u) {                                         /* FP16 normal: RNE on 10 bits */
    const uint32_t r = (a + 0xFFFu + ((a >> 13) & 1u)) & ~0x1FFFu;
    return cfp8_bits_f32(s | r);
  }
  /* FP16 subnormal: multiples of 2^-24; adding 0.5 (ulp 2^-24) rounds to one, ties to even */
  const float r = (cfp8_bits_f32(a) + 0.5f) - 0.5f;
  return cfp8_bits_f32(s | cfp8_f32_bits(r));
}

static inline float round_bf16(float x) {
  const uint32_t u = cfp8_f32_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return x;
  return cfp8_bits_f32((u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u);
}

static inline float round_to(float x, int32_t round) {
  return round == CFP8_NN_ROUND_F16 ? round_f16(x) : round == CFP8_NN_ROUND_BF16 ? round_bf16(x) : x;
}

/* ---- exp ---------------------------------------------------------------------------------------- */
/* exp(t + tlo) = p · 2^n (nn_internal.h); returns p, *n receives n. NaN gives p NaN. tlo is a
 * small correction to t (0 for a plain exp). */
static inline float exp_parts(float t, float tlo, int32_t *n) {
  t = t < CFP8_NN_EXP_MIN ? CFP8_NN_EXP_MIN : t;
  t = t > CFP8_NN_EXP_MAX ? CFP8_NN_EXP_MAX : t;
  const float kf = fmaf(t, CFP8_NN_LOG2E, CFP8_NN_ROUND_MAGIC);
  const float nf = kf - CFP8_NN_ROUND_MAGIC;
  *n = (int32_t)(cfp8_f32_bits(kf) - 0x4B400000u);
  float r = fmaf(nf, -CFP8_NN_LN2_HI, t);
  r = fmaf(nf, -CFP8_NN_LN2_LO, r);
  r = r + tlo;
  float q = fmaf(CFP8_NN_EXP_C6, r, CFP8_NN_EXP_C5);
  q = fmaf(q, r, CFP8_NN_EXP_C4);
  q = fmaf(q, r, CFP8_NN_EXP_C3);
  q = fmaf(q, r, CFP8_NN_EXP_C2);
  q = fmaf(q, r, 1.0f);
  return fmaf(q, r, 1.0f);
}

/* v · 2^n, rounded once. */
static inline float scale2(float v, int32_t n) {
  int32_t n1 = n < -120 ? -120 : n;
  n1 = n1 > 127 ? 127 : n1;
  int32_t n2 = n - n1;
  n2 = n2 < -126 ? -126 : n2;
  n2 = n2 > 127 ? 127 : n2;
  const float v1 = v * cfp8_nn_pow2(n1);
  return v1 * cfp8_nn_pow2(n2);
}

static inline float exp_one(float t) {
  int32_t n;
  const float p = exp_parts(t, 0.0f, &n);
  return scale2(p, n);
}

static void k_exp(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = canon(exp_one(x[i]));
}

/* ---- GELU --------------------------------------------------------------------------------------- */
typedef struct gelu_parts {
  float xc;   /* x clamped to [-16, 16] */
  float p, e, d;
  int32_t n;  /* e = p · 2^n = exp(-2|u|), d = 1 + e */
} gelu_parts;

static inline gelu_parts gelu_common(float x) {
  gelu_parts g;
  float xc = x > -CFP8_NN_GELU_CLAMP ? x : -CFP8_NN_GELU_CLAMP;
  xc = xc < CFP8_NN_GELU_CLAMP ? xc : CFP8_NN_GELU_CLAMP;
  /* x³ = b + blo */
  const float a = xc * xc, alo = fmaf(xc, xc, -a);
  const float b = a * xc;
  const float blo = fmaf(a, xc, -b) + alo * xc;
  /* k·x³ = m + mlo */
  const float m = CFP8_NN_GELU_K_HI * b;
  const float mlo = fmaf(CFP8_NN_GELU_K_HI, b, -m) + (CFP8_NN_GELU_K_HI * blo + CFP8_NN_GELU_K_LO * b);
  /* s = x + k·x³ = s + slo (two-sum) */
  const float s = xc + m, bv = s - xc;
  const float slo = ((xc - (s - bv)) + (m - bv)) + mlo;
  /* -2|u| = -(2c·|s|) = t + tlo */
  const float sa = fabsf(s), salo = signbit(s) ? -slo : slo;
  const float pr = CFP8_NN_GELU_2C_HI * sa;
  const float prlo = fmaf(CFP8_NN_GELU_2C_HI, sa, -pr) + (CFP8_NN_GELU_2C_HI * salo + CFP8_NN_GELU_2C_LO * sa);
  g.xc = xc;
  g.p = exp_parts(-pr, -prlo, &g.n);
  g.e = scale2(g.p, g.n);
  g.d = 1.0f + g.e;
  return g;
}

static inline float gelu_one(float x) {
  const gelu_parts g = gelu_common(x);
  float y;
  if (x < 0.0f) {
    float v = g.xc * g.p;
    v = v / g.d;
    y = scale2(v, g.n);
  } else {
    y = x / g.d; /* a NaN x lands here */
  }
  return canon(y);
}

static inline float gelu_grad_one(float x) {
  const gelu_parts g = gelu_common(x);
  float b = CFP8_NN_GELU_K3 * g.xc;
  b = b * g.xc;
  b = 1.0f + b;
  const float du = CFP8_NN_GELU_C * b;
  const int neg = x < 0.0f;
  const float s1 = (neg ? 1.0f : g.e) / g.d;   /* 1 - σ */
  const float sig = (neg ? g.p : 1.0f) / g.d;  /* σ, times 2^-n when x < 0 */
  float w = g.xc * 2.0f;
  w = w * du;
  w = w * s1;
  w = 1.0f + w;
  float y = sig * w;
  if (neg) y = scale2(y, g.n);
  return canon(x != x ? x : y);
}

static void k_gelu(const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = gelu_one(x[i]);
}

static void k_gelu_backward(const float *dy, const float *x, float *dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) dx[i] = canon(dy[i] * gelu_grad_one(x[i]));
}

/* ---- 16-lane reductions ------------------------------------------------------------------------- */
static inline float lanes_sum(float l[CFP8_NN_LANES]) {
  for (int i = 0; i < 8; i++) l[i] = l[i] + l[i + 8];
  for (int i = 0; i < 4; i++) l[i] = l[i] + l[i + 4];
  for (int i = 0; i < 2; i++) l[i] = l[i] + l[i + 2];
  return l[0] + l[1];
}

static inline float max2(float a, float b) { return a > b ? a : b; }

static inline float lanes_max(float l[CFP8_NN_LANES]) {
  for (int i = 0; i < 8; i++) l[i] = max2(l[i], l[i + 8]);
  for (int i = 0; i < 4; i++) l[i] = max2(l[i], l[i + 4]);
  for (int i = 0; i < 2; i++) l[i] = max2(l[i], l[i + 2]);
  return max2(l[0], l[1]);
}

/* ---- softmax ------------------------------------------------------------------------------------ */
static void k_softmax_row(const float *x, float *y, int64_t len, int64_t cols, float scale, int32_t round) {
  float l[CFP8_NN_LANES];
  for (int i = 0; i < CFP8_NN_LANES; i++) l[i] = -INFINITY;
  for (int64_t j = 0; j < len; j++) l[j % CFP8_NN_LANES] = max2(x[j] * scale, l[j % CFP8_NN_LANES]);
  const float mx = lanes_max(l);
  for (int i = 0; i < CFP8_NN_LANES; i++) l[i] = 0.0f;
  for (int64_t j = 0; j < len; j++) {
    const float e = exp_one(x[j] * scale - mx);
    y[j] = e;
    l[j % CFP8_NN_LANES] = l[j % CFP8_NN_LANES] + e;
  }
  const float z = lanes_sum(l);
  for (int64_t j = 0; j < len; j++) y[j] = canon(round_to(y[j] / z, round));
  for (int64_t j = len; j < cols; j++) y[j] = 0.0f;
}

static void k_softmax_backward_row(const float *p, const float *dp, float *dx, int64_t len, int64_t cols,
                                   float scale) {
  float l[CFP8_NN_LANES] = {0};
  for (int64_t j = 0; j < len; j++) l[j % CFP8_NN_LANES] = fmaf(p[j], dp[j], l[j % CFP8_NN_LANES]);
  const float dot = lanes_sum(l);
  for (int64_t j = 0; j < len; j++) {
    float t = dp[j] - dot;
    t = p[j] * t;
    dx[j] = canon(t * scale);
  }
  for (int64_t j = len; j < cols; j++) dx[j] = 0.0f;
}

/* ---- LayerNorm ---------------------------------------------------------------------------------- */
static void k_layernorm_row(const float *x, const float *gamma, const float *beta, int64_t d, float eps,
                            int32_t round, float *y, float *mean_out, float *rstd_out) {
  float l[CFP8_NN_LANES] = {0};
  for (int64_t j = 0; j < d; j++) l[j % CFP8_NN_LANES] = l[j % CFP8_NN_LANES] + x[j];
  const float mean = lanes_sum(l) / (float)d;
  for (int i = 0; i < CFP8_NN_LANES; i++) l[i] = 0.0f;
  for (int64_t j = 0; j < d; j++) {
    const float c = x[j] - mean;
    l[j % CFP8_NN_LANES] = fmaf(c, c, l[j % CFP8_NN_LANES]);
  }
  const float var = lanes_sum(l) / (float)d;
  const float rs = 1.0f / sqrtf(var + eps);
  for (int64_t j = 0; j < d; j++) {
    const float c = x[j] - mean;
    const float h = c * rs;
    float o = h * gamma[j];
    o = o + beta[j];
    y[j] = canon(round_to(o, round));
  }
  *mean_out = canon(mean);
  *rstd_out = canon(rs);
}

static void k_layernorm_backward_row(const float *dy, const float *x, float mean, float rstd, const float *gamma,
                                     int64_t d, float *dx, float *pg, float *pb) {
  float l1[CFP8_NN_LANES] = {0}, l2[CFP8_NN_LANES] = {0};
  for (int64_t j = 0; j < d; j++) {
    const float h = (x[j] - mean) * rstd;
    const float g = dy[j] * gamma[j];
    l1[j % CFP8_NN_LANES] = l1[j % CFP8_NN_LANES] + g;
    l2[j % CFP8_NN_LANES] = fmaf(g, h, l2[j % CFP8_NN_LANES]);
    pg[j] = fmaf(dy[j], h, pg[j]);
    pb[j] = pb[j] + dy[j];
  }
  const float mean_d = lanes_sum(l1) / (float)d;
  const float mean_dx = lanes_sum(l2) / (float)d;
  for (int64_t j = 0; j < d; j++) {
    const float h = (x[j] - mean) * rstd;
    const float g = dy[j] * gamma[j];
    float t = g - mean_d;
    const float u = h * mean_dx;
    t = t - u;
    dx[j] = canon(rstd * t);
  }
}

/* ---- element-wise ------------------------------------------------------------------------------- */
static void k_add(const float *a, const float *b, float *y, int64_t n, int32_t round) {
  for (int64_t i = 0; i < n; i++) y[i] = canon(round_to(a[i] + b[i], round));
}

static void k_round(float *x, int64_t n, int32_t round) {
  for (int64_t i = 0; i < n; i++) x[i] = canon(round_to(x[i], round));
}

/* ---- cross-entropy ------------------------------------------------------------------------------ */
static void k_logsumexp_row(const float *x, int64_t n, float *max_out, float *sum_out) {
  float l[CFP8_NN_LANES];
  for (int i = 0; i < CFP8_NN_LANES; i++) l[i] = -INFINITY;
  for (int64_t j = 0; j < n; j++) l[j % CFP8_NN_LANES] = max2(x[j], l[j % CFP8_NN_LANES]);
  const float mx = lanes_max(l);
  for (int i = 0; i < CFP8_NN_LANES; i++) l[i] = 0.0f;
  for (int64_t j = 0; j < n; j++) l[j % CFP8_NN_LANES] = l[j % CFP8_NN_LANES] + exp_one(x[j] - mx);
  *max_out = mx;
  *sum_out = lanes_sum(l);
}

static void k_cross_entropy_row(const float *x, int64_t n, float logz, float f, int64_t target, float grad_scale,
                                float *dl) {
  for (int64_t j = 0; j < n; j++) {
    float g = f * exp_one(x[j] - logz);
    if (j == target) g = g - f;
    dl[j] = canon(g * grad_scale);
  }
}

/* ---- AdamW -------------------------------------------------------------------------------------- */
static void k_adamw(float *param, float *m, float *v, const float *grad, int64_t n, const cfp8_adamw_step *s) {
  const float b1 = s->beta1, b2 = s->beta2, c1 = 1.0f - s->beta1, c2 = 1.0f - s->beta2;
  for (int64_t i = 0; i < n; i++) {
    const float g = grad[i];
    float mi = b1 * m[i];
    mi = mi + c1 * g;
    float vi = b2 * v[i];
    float g2 = c2 * g;
    g2 = g2 * g;
    vi = vi + g2;
    const float mh = mi / s->bias_correction1, vh = vi / s->bias_correction2;
    const float den = sqrtf(vh) + s->epsilon;
    float q = mh / den;
    const float w = s->weight_decay * param[i];
    q = q + w;
    q = s->lr * q;
    param[i] = canon(param[i] - q);
    m[i] = canon(mi);
    v[i] = canon(vi);
  }
}

/* ---- log (shared by every ISA) ------------------------------------------------------------------ */
float cfp8_nn_logf(float x) {
  uint32_t u = cfp8_f32_bits(x);
  if (x != x || x < 0.0f) return cfp8_bits_f32(CFP8_NN_NAN_BITS);
  if (x == 0.0f) return -INFINITY;
  if (u == 0x7F800000u) return x;
  int32_t k = 0;
  if (u < 0x00800000u) { /* subnormal: scale into the normal range */
    u = cfp8_f32_bits(x * 0x1p25f);
    k = -25;
  }
  k += (int32_t)(u >> 23) - 127;
  u = (u & 0x007FFFFFu) | 0x3F800000u; /* m in [1, 2) */
  if (u > 0x3FB504F3u) {                /* m > sqrt 2: use m/2 */
    u -= 0x00800000u;
    k += 1;
  }
  const float f = cfp8_bits_f32(u) - 1.0f; /* exact */
  const float s = f / (2.0f + f);
  const float z = s * s;
  float r = fmaf(z, 2.0f / 11.0f, 2.0f / 9.0f);
  r = fmaf(r, z, 2.0f / 7.0f);
  r = fmaf(r, z, 2.0f / 5.0f);
  r = fmaf(r, z, 2.0f / 3.0f);
  r = r * z;
  const float hfsq = (0.5f * f) * f;
  /* log(1+f) = 2 atanh s = f - (hfsq - s·(hfsq + R)) */
  const float t = s * (hfsq + r);
  const float lm = f - (hfsq - t);
  const float kf = (float)k;
  return kf * CFP8_NN_LN2_HI + (kf * CFP8_NN_LN2_LO + lm);
}

void cfp8_nn_kernels_scalar(cfp8_nn_kernels *k) { CFP8_NN_FILL_TABLE(k); }
