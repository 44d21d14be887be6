/* NEON (AArch64) conversions: the integer encode algorithm of convert_avx512.c on 4 lanes.
 * Decoding is the scalar table loop. */
#include "convert_internal.h"
#if defined(CFP8_ARM64)
#include "simd.h"

/* Right shift by a per-lane count 0..63 (counts >= 32 give 0). */
static inline uint32x4_t srlv(uint32x4_t x, uint32x4_t c) {
  return vshlq_u32(x, vnegq_s32(vreinterpretq_s32_u32(vminq_u32(c, vdupq_n_u32(63)))));
}
static inline uint32x4_t sllv(uint32x4_t x, uint32x4_t c) {
  return vshlq_u32(x, vreinterpretq_s32_u32(vminq_u32(c, vdupq_n_u32(63))));
}

static inline uint32x4_t enc4(uint32x4_t u, uint32x4_t r, const cfp8_enc_plan *p, int rounding) {
  const uint32x4_t a = vandq_u32(u, vdupq_n_u32(0x7FFFFFFF));
  const uint32x4_t biased = vshrq_n_u32(a, 23);
  const uint32x4_t EB = vmaxq_u32(biased, vdupq_n_u32((uint32_t)(128 - p->bias)));
  const uint32x4_t s = vaddq_u32(vsubq_u32(EB, biased), vdupq_n_u32((uint32_t)(23 - p->m_bits)));
  const uint32x4_t sig = vorrq_u32(vandq_u32(a, vdupq_n_u32(0x7FFFFF)), vdupq_n_u32(0x800000));
  uint32x4_t q;
  if (rounding == CFP8_ROUND_NEAREST_EVEN) {
    const uint32x4_t sc = vminq_u32(s, vdupq_n_u32(31));
    const uint32x4_t odd = vandq_u32(srlv(sig, sc), vdupq_n_u32(1));
    const uint32x4_t halfm1 = srlv(vdupq_n_u32(0x7FFFFFFF), vsubq_u32(vdupq_n_u32(32), sc));
    q = srlv(vaddq_u32(vaddq_u32(sig, halfm1), odd), sc);
  } else if (rounding == CFP8_ROUND_TOWARD_ZERO) {
    q = srlv(sig, s);
  } else {
    q = srlv(sig, s);
    const uint32x4_t rem = vsubq_u32(sig, sllv(q, s));
    /* 32 - s and s - 32 as unsigned: a negative count wraps to a large one and gives 0 */
    const uint32x4_t frac = vorrq_u32(sllv(rem, vsubq_u32(vdupq_n_u32(32), s)), srlv(rem, vsubq_u32(s, vdupq_n_u32(32))));
    const uint32x4_t carry = vcltq_u32(vaddq_u32(frac, r), frac);
    q = vsubq_u32(q, carry);
  }
  uint32x4_t enc = vaddq_u32(vshlq_u32(vsubq_u32(EB, vdupq_n_u32((uint32_t)(128 - p->bias))), vdupq_n_s32(p->m_bits)), q);
  if (rounding == CFP8_ROUND_TOWARD_ZERO) enc = vminq_u32(enc, vdupq_n_u32(p->max_enc));
  const uint32x4_t neg = vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_u32(u), 31));
  uint32x4_t res = vorrq_u32(enc, vandq_u32(vshrq_n_u32(u, 24), vdupq_n_u32(0x80)));
  if (p->fnuz) res = vbicq_u32(res, vceqq_u32(enc, vdupq_n_u32(0)));
  const uint32x4_t ovf = rounding == CFP8_ROUND_TOWARD_ZERO ? vceqq_u32(a, vdupq_n_u32(0x7F800000))
                                                            : vcgtq_u32(enc, vdupq_n_u32(p->max_enc));
  const uint32x4_t nan = vcgtq_u32(a, vdupq_n_u32(0x7F800000));
  const uint32x4_t ovf_code = vbslq_u32(neg, vdupq_n_u32(p->ovf_neg), vdupq_n_u32(p->ovf_pos));
  const uint32x4_t nan_code = vbslq_u32(neg, vdupq_n_u32(p->nan_neg), vdupq_n_u32(p->nan_pos));
  res = vbslq_u32(ovf, ovf_code, res);
  return vbslq_u32(nan, nan_code, res);
}

static inline uint32x4_t load4(const void *src, int32_t src_format, size_t i) {
  if (src_format == CFP8_FORMAT_F32) return vld1q_u32((const uint32_t *)src + i);
  const uint16x4_t h = vld1_u16((const uint16_t *)src + i);
  if (src_format == CFP8_FORMAT_BF16) return vshll_n_u16(h, 16);
  return vreinterpretq_u32_f32(vcvt_f32_f16(vreinterpret_f16_u16(h))); /* exact */
}

static int encode_neon(const void *src, int32_t src_format, uint8_t *dst, size_t n, size_t index0, const cfp8_enc_plan *p) {
  const int rounding = p->rounding;
  if (rounding < 0 || rounding > 2) return 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t rb[4] = {0, 0, 0, 0};
    if (rounding == CFP8_ROUND_STOCHASTIC)
      for (int k = 0; k < 4; k++) {
        const uint64_t g = (uint64_t)index0 + i + (size_t)k;
        rb[k] = p->random_bits ? p->random_bits[g] : cfp8_sr_bits(p->seed_key, g);
      }
    const uint32x4_t res = enc4(load4(src, src_format, i), vld1q_u32(rb), p, rounding);
    const uint16x4_t h = vmovn_u32(res);
    const uint8x8_t b = vmovn_u16(vcombine_u16(h, h));
    uint8_t tmp[8];
    vst1_u8(tmp, b);
    __builtin_memcpy(dst + i, tmp, 4);
  }
  for (; i < n; i++) {
    uint32_t u;
    if (src_format == CFP8_FORMAT_F32) __builtin_memcpy(&u, (const uint32_t *)src + i, 4);
    else if (src_format == CFP8_FORMAT_BF16) u = (uint32_t)((const uint16_t *)src)[i] << 16;
    else u = vgetq_lane_u32(vreinterpretq_u32_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(((const uint16_t *)src)[i])))), 0);
    const uint64_t g = (uint64_t)index0 + i;
    const uint32_t r = rounding != CFP8_ROUND_STOCHASTIC ? 0 : p->random_bits ? p->random_bits[g] : cfp8_sr_bits(p->seed_key, g);
    dst[i] = (uint8_t)vgetq_lane_u32(enc4(vdupq_n_u32(u), vdupq_n_u32(r), p, rounding), 0);
  }
  return 1;
}

/* Decoding is table lookups on every ISA (the scalar decoder). */
void cfp8_convert_init_neon(cfp8_convert_kernels *k) { k->encode = encode_neon; }

#endif
