/* The block-FMA model of NVIDIA tensor cores (scalar reference): one block, chains of blocks,
 * and the per-format helpers shared by every matrix-product path. */
#include "internal.h"
#include "tensorcore_internal.h"
#include <math.h>

cfp8_status cfp8_tc_model_check(const cfp8_tc_model *m) {
  if (!m) return CFP8_ERR_NULL_POINTER;
  if (m->block_size < 1 || m->block_size > CFP8_TC_MAX_BLOCK) return CFP8_ERR_BAD_ARGUMENT;
  if (m->fraction_bits < 1 || m->fraction_bits > 40) return CFP8_ERR_BAD_ARGUMENT;
  if (m->min_exponent != CFP8_TC_NO_MIN_EXPONENT && (m->min_exponent < -400 || m->min_exponent > 400))
    return CFP8_ERR_BAD_ARGUMENT;
  if (m->accumulator != CFP8_TC_ACC_F32 && m->accumulator != CFP8_TC_ACC_F16) return CFP8_ERR_BAD_ARGUMENT;
  if (m->c_mode != CFP8_TC_C_FUSED && m->c_mode != CFP8_TC_C_ADDED && m->c_mode != CFP8_TC_C_ADDED_HALVES)
    return CFP8_ERR_BAD_ARGUMENT;
  if (m->c_mode == CFP8_TC_C_ADDED_HALVES && m->accumulator != CFP8_TC_ACC_F16) return CFP8_ERR_BAD_ARGUMENT;
  return CFP8_OK;
}


int cfp8_tc_format_emin(int32_t format) {
  switch (format) {
  case CFP8_FORMAT_E4M3: return -6;
  case CFP8_FORMAT_E5M2: return -14;
  case CFP8_FORMAT_F16: return -14;
  case CFP8_FORMAT_BF16: case CFP8_FORMAT_F32: return -126;
  default: return 0;
  }
}

static int format_mantissa_bits(int32_t format) {
  switch (format) {
  case CFP8_FORMAT_E4M3: return 3;
  case CFP8_FORMAT_E5M2: return 2;
  case CFP8_FORMAT_F16: case CFP8_FORMAT_F32: return 10; /* F32 operands are TF32 */
  case CFP8_FORMAT_BF16: return 7;
  default: return -1;
  }
}

int cfp8_tc_format_ok(int32_t format) { return format_mantissa_bits(format) >= 0; }

int cfp8_tc_representable(float x, int32_t format) {
  if (!isfinite(x) || x == 0.0f) {
    if (isinf(x)) return format != CFP8_FORMAT_E4M3;
    return 1;
  }
  int mb = format_mantissa_bits(format);
  if (mb < 0) return 0;
  float ax = fabsf(x);
  int e = ilogbf(ax), emin = cfp8_tc_format_emin(format);
  if (e < emin) e = emin;
  /* x must be a multiple of 2^(e - mb) and within range */
  double q = ldexp((double)ax, mb - e);
  if (q != floor(q)) return 0;
  switch (format) {
  case CFP8_FORMAT_E4M3: return ax <= 448.0f;
  case CFP8_FORMAT_E5M2: return ax <= 57344.0f;
  case CFP8_FORMAT_F16: return ax <= 65504.0f;
  default: return 1;
  }
}

int cfp8_tc_exponent(float x, int32_t format) {
  if (x == 0.0f) return CFP8_TC_ZERO_EXP;
  int e = ilogbf(x), emin = cfp8_tc_format_emin(format);
  return e < emin ? emin : e;
}

double cfp8_tc_round_f16(double x) {
  if (x == 0.0 || isnan(x) || isinf(x)) return x;
  double ax = fabs(x);
  int e = ilogb(ax);
  if (e < -14) e = -14;
  double ulp = ldexp(1.0, e - 10);
  double r = nearbyint(ax / ulp) * ulp; /* RNE: the default rounding mode */
  if (r > 65504.0) r = INFINITY;
  return copysign(r, x);
}

float cfp8_tc_round_f32_rz(double x) {
  float f = (float)x;
  if (fabs((double)f) > fabs(x)) f = nextafterf(f, 0.0f);
  return f;
}

/* c_added_halves: products at t mod 4 in {0, 1}, then {2, 3}, as two FP16 blocks of the model
 * with c fused (the first from +0); then c with one RNE FP16 addition. */
static float block_halves(const double *p, const int *pe, int n, float c, const cfp8_tc_model *m) {
  cfp8_tc_model half = *m;
  half.c_mode = CFP8_TC_C_FUSED;
  float h = 0.0f;
  for (int part = 0; part < 2; part++) {
    double hp[CFP8_TC_MAX_BLOCK];
    int he[CFP8_TC_MAX_BLOCK], hn = 0, special = 0;
    for (int i = 0; i < n; i++)
      if ((i & 2) == 2 * part) { hp[hn] = p[i]; he[hn] = pe[i]; special |= !isfinite(p[i]); hn++; }
    h = cfp8_tc_block_terms(hp, he, hn, h, &half, special);
  }
  if (isnan(h) || isnan(c) || (isinf(h) && isinf(c) && h != c)) return cfp8_bits_f32(0x7FFFFFFFu);
  return (float)cfp8_tc_round_f16((double)h + (double)c); /* exact in FP64, then one rounding */
}

float cfp8_tc_block_terms(const double *p, const int *pe, int n, float c, const cfp8_tc_model *m, int special) {
  if (m->accumulator == CFP8_TC_ACC_F16) c = (float)cfp8_tc_round_f16((double)c);
  if (m->c_mode == CFP8_TC_C_ADDED_HALVES) return block_halves(p, pe, n, c, m);
  if (special || !isfinite(c)) {
    /* special values were flagged by the caller: p[i] holds a*b computed in double (NaN for
     * Inf*0, +-Inf for Inf products) */
    int nan = isnan(c), pinf = c == INFINITY, ninf = c == -INFINITY;
    for (int i = 0; i < n; i++) {
      if (isnan(p[i])) nan = 1;
      else if (p[i] == INFINITY) pinf = 1;
      else if (p[i] == -INFINITY) ninf = 1;
    }
    if (nan || (pinf && ninf)) return cfp8_bits_f32(0x7FFFFFFFu);
    if (pinf) return INFINITY;
    if (ninf) return -INFINITY;
  }
  int fused = m->c_mode == CFP8_TC_C_FUSED;
  int E = CFP8_TC_ZERO_EXP, all_neg_zero = 1;
  for (int i = 0; i < n; i++) {
    if (p[i] != 0.0) { all_neg_zero = 0; if (pe[i] > E) E = pe[i]; }
    else if (!signbit(p[i])) all_neg_zero = 0;
  }
  if (fused) {
    if (c != 0.0f) { all_neg_zero = 0; int ec = ilogbf(c); if (ec > E) E = ec; }
    else if (!signbit(c)) all_neg_zero = 0;
  }
  double sum;
  if (E == CFP8_TC_ZERO_EXP) {
    sum = all_neg_zero ? -0.0 : 0.0;
  } else {
    if (m->min_exponent != CFP8_TC_NO_MIN_EXPONENT && E < m->min_exponent) E = m->min_exponent;
    int F = m->fraction_bits;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += trunc(ldexp(p[i], F - E));
    if (fused) s += trunc(ldexp((double)c, F - E));
    if (F < 23 && s != 0.0 && m->accumulator == CFP8_TC_ACC_F32) {
      /* the normalised sum keeps F fraction bits (truncated): on H100/Ada FP8 the low 23 - F
         mantissa bits of every FP32 result are zero; an FP16 result is rounded from the exact
         sum (Ada FP8: the real-GPU FP16-output rows decide it) */
      int top = ilogb(s);
      if (top > F) s = ldexp(trunc(ldexp(s, F - top)), top - F);
    }
    sum = ldexp(s, E - F);
    if (sum == 0.0) sum = 0.0;
  }
  if (fused) {
    if (m->accumulator == CFP8_TC_ACC_F16) return (float)cfp8_tc_round_f16(sum);
    return cfp8_tc_round_f32_rz(sum);
  }
  /* c added after: the products' sum to FP32 toward zero, then one RNE addition */
  if (m->accumulator == CFP8_TC_ACC_F16) return (float)cfp8_tc_round_f16((double)cfp8_tc_round_f32_rz(sum) + (double)c);
  volatile float s32 = cfp8_tc_round_f32_rz(sum);
  return s32 + c;
}

/* Fills p/pe for n products and returns 1 when any of them is special. */
static int make_terms(const float *a, const float *b, int n, int32_t fa, int32_t fb, double *p, int *pe) {
  int special = 0;
  for (int i = 0; i < n; i++) {
    p[i] = (double)a[i] * (double)b[i];
    if (!isfinite(a[i]) || !isfinite(b[i])) { special = 1; pe[i] = CFP8_TC_ZERO_EXP; continue; }
    pe[i] = (a[i] == 0.0f || b[i] == 0.0f) ? CFP8_TC_ZERO_EXP : cfp8_tc_exponent(a[i], fa) + cfp8_tc_exponent(b[i], fb);
  }
  return special;
}

cfp8_status cfp8_tc_block(const float *a, const float *b, int32_t n, float c, int32_t in_format,
                          const cfp8_tc_model *model, float *d) {
  if (!a || !b || !d) return CFP8_ERR_NULL_POINTER;
  cfp8_status st = cfp8_tc_model_check(model);
  if (st) return st;
  if (!cfp8_tc_format_ok(in_format)) return CFP8_ERR_BAD_FORMAT;
  if (n < 0 || n > model->block_size) return CFP8_ERR_BAD_SHAPE;
  for (int i = 0; i < n; i++)
    if (!cfp8_tc_representable(a[i], in_format) || !cfp8_tc_representable(b[i], in_format)) return CFP8_ERR_BAD_ARGUMENT;
  double p[CFP8_TC_MAX_BLOCK];
  int pe[CFP8_TC_MAX_BLOCK];
  int special = make_terms(a, b, n, in_format, in_format, p, pe);
  *d = cfp8_tc_block_terms(p, pe, n, c, model, special);
  return CFP8_OK;
}

cfp8_status cfp8_tc_dot(const float *a, const float *b, int32_t k, float c, int32_t in_format,
                        const cfp8_tc_model *model, float *d) {
  if (!a || !b || !d) return CFP8_ERR_NULL_POINTER;
  cfp8_status st = cfp8_tc_model_check(model);
  if (st) return st;
  if (!cfp8_tc_format_ok(in_format)) return CFP8_ERR_BAD_FORMAT;
  if (k < 0) return CFP8_ERR_BAD_SHAPE;
  float acc = c; /* k = 0: no block runs and c passes through, as in cfp8_tc_gemm */
  for (int32_t k0 = 0; k0 < k; k0 += model->block_size) {
    int32_t nb = k - k0 < model->block_size ? k - k0 : model->block_size;
    st = cfp8_tc_block(a + k0, b + k0, nb, acc, in_format, model, &acc);
    if (st) return st;
  }
  *d = acc;
  return CFP8_OK;
}
