/* NEON tasks of the tensor-core model (AArch64): the FP32-lane algorithm of tensorcore_avx2.c on
 * four 4-lane quarters of each 16-column panel (FRINTZ truncates; the exponent of c comes from its
 * bits; a subnormal, -0 or out-of-range lane takes the scalar block; FP32 or FP16 accumulator),
 * and the FP32 FMA `ideal` path. Other models (FP64 lanes) run the scalar reference on this ISA. */
/* internal.h is not included: it pulls in libc headers, and this file must also compile
 * freestanding for aarch64 (clang --target=aarch64-linux-gnu -ffreestanding -fsyntax-only). */
#include "tensorcore_internal.h"
#if defined(__aarch64__) && !defined(CFP8_ARM64)
#define CFP8_ARM64 1
#endif

#if defined(CFP8_ARM64)
#include <arm_neon.h>

#define EXP_NONE (-5000)

static float32x4_t block4(const cfp8_tc_job *job, int64_t i, int64_t p, int q, int64_t k0, int nb, float32x4_t c) {
  const int64_t K = job->k;
  const float *av = job->av + i * K + k0;
  const int32_t *ae = job->ae + i * K + k0;
  const float *bv = job->bv + (p * K + k0) * CFP8_TC_PANEL + 4 * q;
  const int32_t *be = job->be + (p * K + k0) * CFP8_TC_PANEL + 4 * q;
  const int F = job->model->fraction_bits;
  /* FP16 accumulator: c rounded to FP16 first (FCVTN rounds to nearest even under the default
     FPCR); the exact sum is rounded once to FP16 at the end */
  const int f16acc = job->model->accumulator == CFP8_TC_ACC_F16;
  if (f16acc) c = vcvt_f32_f16(vcvt_f16_f32(c));
  const uint32x4_t cb = vreinterpretq_u32_f32(c);
  const int32x4_t biased = vreinterpretq_s32_u32(vandq_u32(vshrq_n_u32(cb, 23), vdupq_n_u32(0xFF)));
  const uint32x4_t cnz = vmvnq_u32(vceqq_f32(c, vdupq_n_f32(0.0f)));
  /* rare: a subnormal c (exponent not in its bits), -0 c, NaN/Inf c (FP16 overflow) */
  uint32x4_t rare = vorrq_u32(vorrq_u32(vandq_u32(cnz, vceqq_s32(biased, vdupq_n_s32(0))), vceqq_u32(cb, vdupq_n_u32(0x80000000u))),
                              vceqq_s32(biased, vdupq_n_s32(0xFF)));
  int32x4_t E = vbslq_s32(cnz, vsubq_s32(biased, vdupq_n_s32(127)), vdupq_n_s32(-30000));
  for (int t = 0; t < nb; t++) E = vmaxq_s32(E, vaddq_s32(vdupq_n_s32(ae[t]), vld1q_s32(be + t * CFP8_TC_PANEL)));
  const uint32x4_t nonzero = vcgtq_s32(E, vdupq_n_s32(EXP_NONE));
  E = vmaxq_s32(E, vdupq_n_s32(job->model->min_exponent));
  rare = vorrq_u32(rare, vandq_u32(nonzero, vorrq_u32(vcltq_s32(E, vdupq_n_s32(-100)), vcgtq_s32(E, vdupq_n_s32(100)))));
  E = vminq_s32(vmaxq_s32(E, vdupq_n_s32(-100)), vdupq_n_s32(100));
  const float32x4_t scale = vreinterpretq_f32_s32(vshlq_n_s32(vsubq_s32(vdupq_n_s32(F + 127), E), 23));
  float32x4_t s0 = vrndq_f32(vmulq_f32(c, scale)), s1 = vdupq_n_f32(0.0f);
  int t = 0;
  for (; t + 1 < nb; t += 2) {
    float32x4_t p0 = vmulq_n_f32(vld1q_f32(bv + t * CFP8_TC_PANEL), av[t]);
    float32x4_t p1 = vmulq_n_f32(vld1q_f32(bv + (t + 1) * CFP8_TC_PANEL), av[t + 1]);
    s0 = vaddq_f32(s0, vrndq_f32(vmulq_f32(p0, scale)));
    s1 = vaddq_f32(s1, vrndq_f32(vmulq_f32(p1, scale)));
  }
  if (t < nb) s0 = vaddq_f32(s0, vrndq_f32(vmulq_f32(vmulq_n_f32(vld1q_f32(bv + t * CFP8_TC_PANEL), av[t]), scale)));
  float32x4_t s = vaddq_f32(vaddq_f32(s0, s1), vdupq_n_f32(0.0f)); /* -0 becomes +0 */
  if (F < 23 && !f16acc) s = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(s), vdupq_n_u32(0xFFFFFFFFu << (23 - F))));
  const float32x4_t back = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(E, vdupq_n_s32(127 - F)), 23));
  float32x4_t r = vmulq_f32(s, back); /* exact: s < 2^24, E - F >= -126 (see tensorcore_avx512.c) */
  if (f16acc) r = vcvt_f32_f16(vcvt_f16_f32(r));
  if (vmaxvq_u32(rare)) {
    float cv[4], rv[4];
    uint32_t rm[4];
    vst1q_f32(cv, c);
    vst1q_f32(rv, r);
    vst1q_u32(rm, rare);
    for (int l = 0; l < 4; l++) {
      int64_t j = p * CFP8_TC_PANEL + 4 * q + l;
      if (rm[l] && j < job->n) rv[l] = cfp8_tc_job_block(job, i, j, k0, nb, cv[l]);
    }
    r = vld1q_f32(rv);
  }
  return r;
}

int cfp8_tc_task_neon(const cfp8_tc_job *job, int64_t i, int64_t p) {
  if (cfp8_tc_simd_model_ok(job) != CFP8_TC_SIMD_F32 || job->scaling == CFP8_SCALING_MX || job->a_special[i] ||
      job->b_special[p]) return 0; /* MX: the scalar reference on this ISA */
  const int64_t K = job->k;
  const int block_scaled = job->scaling == CFP8_SCALING_BLOCK;
  float *out = job->acc + i * job->ldacc + p * CFP8_TC_PANEL;
  float init[CFP8_TC_PANEL];
  for (int l = 0; l < CFP8_TC_PANEL; l++) {
    init[l] = p * CFP8_TC_PANEL + l < job->n ? cfp8_tc_init(job, i, p * CFP8_TC_PANEL + l) : 0.0f;
    if (init[l] - init[l] != 0.0f) return 0; /* NaN or Inf: the scalar task */
  }
  for (int q = 0; q < 4; q++) {
    float32x4_t acc = vld1q_f32(init + 4 * q);
    if (job->accumulation == CFP8_TC_ACCUM_IDEAL) {
      const float *av = job->av + i * K, *bv = job->bv + p * K * CFP8_TC_PANEL + 4 * q;
      for (int64_t s0 = 0; s0 < K; s0 += 128) {
        int64_t s1 = s0 + 128 < K ? s0 + 128 : K;
        float32x4_t part = block_scaled ? vdupq_n_f32(0.0f) : acc;
        for (int64_t kk = s0; kk < s1; kk++) part = vfmaq_n_f32(part, vld1q_f32(bv + kk * CFP8_TC_PANEL), av[kk]);
        if (block_scaled) {
          float sc = job->blk_a[i * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
          acc = vfmaq_n_f32(acc, part, sc);
        } else acc = part;
      }
    } else {
      const int L = job->model->block_size;
      const int fast = job->accumulation == CFP8_TC_ACCUM_FAST;
      const int64_t interval = fast ? (K > 0 ? K : 1) : job->interval;
      for (int64_t s0 = 0; s0 < K; s0 += interval) {
        int64_t s1 = s0 + interval < K ? s0 + interval : K;
        float32x4_t part = fast ? acc : vdupq_n_f32(0.0f);
        for (int64_t k0 = s0; k0 < s1; k0 += L) part = block4(job, i, p, q, k0, (int)(s1 - k0 < L ? s1 - k0 : L), part);
        if (fast) acc = part;
        else if (block_scaled) {
          float sc = job->blk_a[i * job->kb128 + s0 / 128] * job->blk_b[(s0 / 128) * job->nb128 + (p * CFP8_TC_PANEL) / 128];
          acc = vfmaq_n_f32(acc, part, sc);
        } else acc = vaddq_f32(acc, part);
      }
    }
    vst1q_f32(out + 4 * q, acc);
  }
  return 1;
}
#endif
