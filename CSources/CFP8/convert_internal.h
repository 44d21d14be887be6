/* Internal interface between the conversion driver (convert_driver.c) and the per-ISA kernels
 * (convert_{scalar,avx2,avx512,neon}.c). Never included by public headers. */
#ifndef CFP8_CONVERT_INTERNAL_H
#define CFP8_CONVERT_INTERNAL_H

/* Self-contained (no libc headers) so that convert_neon.c compiles freestanding for aarch64;
 * the other kernel files include internal.h before this header. */
#include "cfp8.h"
#include "arch.h"

/* Everything an encode kernel needs, resolved once per call. */
typedef struct cfp8_enc_plan {
  int32_t dst_format;
  int32_t m_bits;          /* target mantissa bits */
  int32_t bias;            /* target exponent bias */
  uint32_t max_enc;        /* largest finite magnitude encoding */
  int32_t fnuz;            /* 1: no -0 (a zero result is 0x00) */
  uint8_t nan_pos, nan_neg; /* result for NaN input with sign bit 0 / 1 */
  uint8_t ovf_pos, ovf_neg; /* result for overflow and Inf with sign 0 / 1 */
  int32_t rounding;
  uint32_t seed_key;       /* derived from the seed, see cfp8_stochastic_bits */
  const uint32_t *random_bits; /* caller bits indexed by global element index, or NULL */
} cfp8_enc_plan;

/* Fills a plan for an FP8 format other than E8M0; 0 if the format/preset is invalid. */
int cfp8_enc_plan_init(cfp8_enc_plan *p, int32_t dst_format, int32_t rounding, int32_t preset, uint64_t seed,
                       const uint32_t *random_bits);

static inline uint32_t cfp8_mix32(uint32_t x) {
  x ^= x >> 16; x *= 0x7FEB352Du; x ^= x >> 15; x *= 0x846CA68Bu; x ^= x >> 16;
  return x;
}
static inline uint32_t cfp8_seed_key(uint64_t seed) {
  return (uint32_t)seed ^ cfp8_mix32((uint32_t)(seed >> 32) + 0x632BE5ABu);
}
static inline uint32_t cfp8_sr_bits(uint32_t key, uint64_t index) {
  return cfp8_mix32(((uint32_t)index * 0x9E3779B9u) ^ ((uint32_t)(index >> 32) * 0x85EBCA6Bu) ^ key);
}

/* Kernels: src and dst point at element `index0` of the call (used for the random bits). */
typedef void (*cfp8_enc_kernel)(const void *src, uint8_t *dst, size_t n, size_t index0, const cfp8_enc_plan *p);
typedef void (*cfp8_dec_kernel)(const uint8_t *src, void *dst, size_t n, int32_t src_format);

/* Scalar kernels (portable; also the tails of SIMD kernels). src_format: F32, F16, BF16. */
void cfp8_enc_scalar(const void *src, int32_t src_format, uint8_t *dst, size_t n, size_t index0, int32_t preset,
                     const cfp8_enc_plan *p);

/* The sweep's FP32 reference for one (format, rounding, preset): encode_f32_core on n inputs,
 * the same C source as cfp8_enc_scalar (convert_scalar.c), also compiled for AVX-512 so that the
 * sweep's reference runs at the CPU's speed. Stochastic rounding: fills
 * random[i] = cfp8_sr_bits(key, index0 + i) and uses it. */
typedef void (*cfp8_sweep_ref_fn)(const uint32_t *x, uint8_t *dst, size_t n, size_t index0, int32_t fmt, int32_t rnd,
                                  int32_t preset, uint32_t key, uint32_t *random);
void cfp8_sweep_reference_f32(const uint32_t *x, uint8_t *dst, size_t n, size_t index0, int32_t fmt, int32_t rnd,
                              int32_t preset, uint32_t key, uint32_t *random);
#if defined(CFP8_X86)
void cfp8_sweep_reference_f32_avx512(const uint32_t *x, uint8_t *dst, size_t n, size_t index0, int32_t fmt,
                                     int32_t rnd, int32_t preset, uint32_t key, uint32_t *random);
#endif

/* Decode tables: 256 entries of F32 bits / F16 bits / BF16 bits (static, built once). */
const uint32_t *cfp8_dec_table_u32(int32_t src_format);
const uint16_t *cfp8_dec_table_u16(int32_t src_format, int32_t dst_format);
/* The scalar decoder: table lookups. */
void cfp8_dec_scalar(const uint8_t *src, int32_t src_format, void *dst, int32_t dst_format, size_t n);

/* One ISA's conversion kernels. encode and decode return 0 when they do not handle the case (the
 * scalar encoder or decoder runs instead); NULL: the ISA has none. */
typedef struct cfp8_convert_kernels {
  int (*encode)(const void *src, int32_t src_format, uint8_t *dst, size_t n, size_t index0, const cfp8_enc_plan *p);
  int (*decode)(const uint8_t *src, int32_t src_format, void *dst, int32_t dst_format, size_t n);
  cfp8_sweep_ref_fn sweep_reference;
} cfp8_convert_kernels;

/* Each ISA's registration (convert_<isa>.c; defined on its platform only). vbmi: the CPU has
 * AVX-512 VBMI (byte permutes for the 16-bit decode). */
void cfp8_convert_init_scalar(cfp8_convert_kernels *k);
void cfp8_convert_init_avx2(cfp8_convert_kernels *k);
void cfp8_convert_init_avx512(cfp8_convert_kernels *k, int vbmi);
void cfp8_convert_init_neon(cfp8_convert_kernels *k);

#endif
