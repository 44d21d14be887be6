/* Helpers of a tensor-core job shared by its tasks on every ISA (tensorcore_<isa>.c): one block of
 * the scalar reference, and the tests that decide whether a SIMD path is exact for a job, a row or
 * a panel. */
#include "internal.h"
#include "tensorcore_internal.h"
#include <math.h>

float cfp8_tc_job_block(const cfp8_tc_job *job, int64_t i, int64_t j, int64_t k0, int nb, float c) {
  double p[CFP8_TC_MAX_BLOCK];
  int pe[CFP8_TC_MAX_BLOCK];
  int special = 0;
  const int64_t pnl = j / CFP8_TC_PANEL, jj = j % CFP8_TC_PANEL;
  for (int t = 0; t < nb; t++) {
    int64_t kk = k0 + t;
    float a = cfp8_tc_a_value(job, i, kk);
    float b = job->bv[(pnl * job->k + kk) * CFP8_TC_PANEL + jj];
    p[t] = (double)a * (double)b;
    pe[t] = cfp8_tc_a_exp(job, i, kk) + cfp8_tc_b_exp(job, pnl, kk, (int)jj);
    if (job->scaling == CFP8_SCALING_MX) {
      int16_t xa = job->a_mx[i * job->kb32 + kk / 32], xb = job->b_mx[(kk / 32) * job->n + j];
      if (xa == INT16_MIN || xb == INT16_MIN) p[t] = NAN;
      else { p[t] = ldexp(p[t], xa + xb); pe[t] += xa + xb; }
    }
    if (!isfinite(p[t])) special = 1;
  }
  return cfp8_tc_block_terms(p, pe, nb, c, job->model, special);
}

int cfp8_tc_mx_nan(const cfp8_tc_job *job, int64_t i0, int64_t i1, int64_t p) {
  if (job->scaling != CFP8_SCALING_MX) return 0;
  if (i1 > job->m) i1 = job->m;
  for (int64_t i = i0; i < i1; i++)
    for (int64_t g = 0; g < job->kb32; g++) if (job->a_mx[i * job->kb32 + g] == INT16_MIN) return 1;
  int64_t j1 = (p + 1) * CFP8_TC_PANEL < job->n ? (p + 1) * CFP8_TC_PANEL : job->n;
  for (int64_t g = 0; g < job->kb32; g++)
    for (int64_t j = p * CFP8_TC_PANEL; j < j1; j++) if (job->b_mx[g * job->n + j] == INT16_MIN) return 1;
  return 0;
}

/* The EXACT reference sums init + the products in FP64 (in k order, in partials of 128); when no
 * addition rounds, any order gives its bits. E4M3 values are m·2^-9 with |m| < 2^18 (448 < 2^9,
 * smallest subnormal 2^-9), so a product is an integer multiple of 2^-18 below 2^36 units; K <=
 * 2^16 of them plus an init that is a multiple of 2^-18 with |init| <= 2^34 (2^52 units) give
 * partial sums below 2^53 units of 2^-18, in any order and grouping: every one is exact in FP64,
 * and the rounding to FP32 at the end is the only one. With K >= 1 the reference's partials start
 * from +0, so a -0 init never survives; the SIMD sums start from +0 and add init last. */
int cfp8_tc_exact_init_ok(const cfp8_tc_job *job, int64_t i, int64_t p) {
  if (!job->acc_init) return 1;
  for (int64_t j = p * CFP8_TC_PANEL; j < (p + 1) * CFP8_TC_PANEL && j < job->n; j++) {
    double v = job->acc_init[i * job->n + j], u = v * 0x1p18;
    if (!(fabs(v) <= 0x1p34) || u != trunc(u)) return 0;
  }
  return 1;
}

int cfp8_tc_simd_model_ok(const cfp8_tc_job *job) {
  if (job->accumulation == CFP8_TC_ACCUM_EXACT) return job->exact_e4m3 ? CFP8_TC_SIMD_EXACT : 0;
  if (job->accumulation == CFP8_TC_ACCUM_IDEAL) return job->scaling != CFP8_SCALING_MX ? CFP8_TC_SIMD_F32 : 0;
  if (job->accumulation != CFP8_TC_ACCUM_FAST && job->accumulation != CFP8_TC_ACCUM_PROMOTED) return 0;
  const cfp8_tc_model *m = job->model;
  const int F = m->fraction_bits;
  /* MX (FP8 only): both paths fold the power-of-two scales into each term (shift or scale) */
  /* FP16 accumulator: c fused only (FP64 lanes, or FP32 lanes for FP8 with F <= 20) */
  if (m->accumulator == CFP8_TC_ACC_F16 && (m->c_mode != CFP8_TC_C_FUSED || (F < 23 && !job->fp8_inputs))) return 0;
  /* FP32 lanes: FP8 products exact; terms below 2^(F+2), L+1 of them, sum exactly in FP32; with an
     FP16 accumulator c is rounded to FP16 first and the exact FP32 result rounded once to FP16 */
  if (job->fp8_inputs && m->c_mode == CFP8_TC_C_FUSED && F <= 20 &&
      ((int64_t)(m->block_size + 1) << (F + 2)) <= (1 << 24)) return CFP8_TC_SIMD_F32;
  /* FP64 lanes: products of <= 11-bit significands exact; sums below 2^52 exact */
  if (F >= 23 && F <= 40 && ((int64_t)(m->block_size + 1) << (F + 2)) <= ((int64_t)1 << 52)) return CFP8_TC_SIMD_F64;
  return 0;
}
