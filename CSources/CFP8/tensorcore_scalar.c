/* The scalar reference task of the tensor-core model: one row of one 16-column panel, every
 * accumulation scheme; what every SIMD task falls back to and is tested against. */
#include "internal.h"
#include "tensorcore_internal.h"
#include <math.h>

static float scaled_value(const cfp8_tc_job *job, float x, int64_t i_or_kb, int is_a, int64_t kk, int64_t j) {
  if (job->scaling == CFP8_SCALING_MX) {
    int16_t e = is_a ? job->a_mx[i_or_kb * job->kb32 + kk / 32] : job->b_mx[(kk / 32) * job->n + j];
    x = e == INT16_MIN ? NAN : ldexpf(x, e);
  }
  return x;
}

static float block_scale(const cfp8_tc_job *job, int64_t i, int64_t j, int64_t kb) {
  return job->blk_a[i * job->kb128 + kb] * job->blk_b[kb * job->nb128 + j / 128];
}

void cfp8_tc_task_scalar(const cfp8_tc_job *job, int64_t i, int64_t pnl) {
  const int64_t K = job->k;
  const int L = job->model ? job->model->block_size : 1;
  for (int jj = 0; jj < CFP8_TC_PANEL; jj++) {
    int64_t j = pnl * CFP8_TC_PANEL + jj;
    float *out = &job->acc[i * job->ldacc + j];
    if (j >= job->n) { *out = 0.0f; continue; }
    const float *brow = job->bv + pnl * K * CFP8_TC_PANEL + jj;
    const int block_scaled = job->scaling == CFP8_SCALING_BLOCK;
    const float init = cfp8_tc_init(job, i, j);
    float acc = init;
    switch (job->accumulation) {
    case CFP8_TC_ACCUM_FAST:
      for (int64_t k0 = 0; k0 < K; k0 += L) acc = cfp8_tc_job_block(job, i, j, k0, (int)(K - k0 < L ? K - k0 : L), acc);
      break;
    case CFP8_TC_ACCUM_PROMOTED:
      for (int64_t s0 = 0; s0 < K; s0 += job->interval) {
        int64_t s1 = s0 + job->interval < K ? s0 + job->interval : K;
        float part = 0.0f;
        for (int64_t k0 = s0; k0 < s1; k0 += L) part = cfp8_tc_job_block(job, i, j, k0, (int)(s1 - k0 < L ? s1 - k0 : L), part);
        acc = block_scaled ? fmaf(block_scale(job, i, j, s0 / 128), part, acc) : acc + part;
      }
      break;
    case CFP8_TC_ACCUM_IDEAL:
      for (int64_t s0 = 0; s0 < K; s0 += 128) {
        int64_t s1 = s0 + 128 < K ? s0 + 128 : K;
        float part = block_scaled ? 0.0f : acc;
        for (int64_t kk = s0; kk < s1; kk++)
          part = fmaf(scaled_value(job, cfp8_tc_a_value(job, i, kk), i, 1, kk, j),
                      scaled_value(job, brow[kk * CFP8_TC_PANEL], kk, 0, kk, j), part);
        acc = block_scaled ? fmaf(block_scale(job, i, j, s0 / 128), part, acc) : part;
      }
      break;
    default: { /* EXACT */
      double s = (double)init;
      for (int64_t s0 = 0; s0 < K; s0 += 128) {
        int64_t s1 = s0 + 128 < K ? s0 + 128 : K;
        double part = 0.0;
        for (int64_t kk = s0; kk < s1; kk++) {
          double a = cfp8_tc_a_value(job, i, kk), b = brow[kk * CFP8_TC_PANEL];
          if (job->scaling == CFP8_SCALING_MX) {
            int16_t xa = job->a_mx[i * job->kb32 + kk / 32], xb = job->b_mx[(kk / 32) * job->n + j];
            a = xa == INT16_MIN ? NAN : ldexp(a, xa);
            b = xb == INT16_MIN ? NAN : ldexp(b, xb);
          }
          part += a * b;
        }
        s += block_scaled ? (double)block_scale(job, i, j, s0 / 128) * part : part;
      }
      acc = (float)s;
    }
    }
    *out = acc;
  }
}
