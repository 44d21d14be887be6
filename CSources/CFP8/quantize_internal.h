/* Shared by the quantiser's files: the driver (quantize.c) and its kernels (quantize_<isa>.c).
 * The scalar kernels are the reference; the AVX-512 ones give the same bits (max and a single
 * FP32 multiply are exact operations on the same inputs). Include internal.h first. */
#ifndef CFP8_QUANTIZE_INTERNAL_H
#define CFP8_QUANTIZE_INTERNAL_H

#include "cfp8.h"
#include "arch.h"
#include <math.h>

static inline float cfp8_quant_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
  if (e == 0x1F) return cfp8_bits_f32(sign | 0x7F800000u | (m << 13));
  if (e == 0) { /* zero or subnormal: m * 2^-24, exact in FP32 */
    float v = (float)m * 0x1p-24f;
    return sign ? -v : v;
  }
  return cfp8_bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

static inline float cfp8_quant_load_f32(const void *x, int32_t fmt, size_t i) {
  switch (fmt) {
  case CFP8_FORMAT_F32: return ((const float *)x)[i];
  case CFP8_FORMAT_BF16: return cfp8_bits_f32((uint32_t)((const uint16_t *)x)[i] << 16);
  default: return cfp8_quant_f16_to_f32(((const uint16_t *)x)[i]);
  }
}

/* NaN-propagating max of |x| */
static inline float cfp8_quant_amax_step(float m, float v) {
  float a = fabsf(v);
  if (a != a || m != m) return NAN;
  return a > m ? a : m;
}

/* RNE FP32 -> F16 (IEEE), NaN -> quiet NaN with its sign. */
uint16_t cfp8_quant_f32_to_f16_rne(float x);

/* max |x| over elements off..off+n-1 of one contiguous run (NaN if any is NaN). */
typedef float (*cfp8_amax_run_fn)(const void *x, int32_t fmt, size_t off, size_t n);
float cfp8_amax_run_scalar(const void *x, int32_t fmt, size_t off, size_t n);

/* One row of n elements; element j uses scale rs[j / span]. */
typedef void (*cfp8_deq_run_fn)(const uint8_t *q, const float *table, const float *rs, int64_t span, void *out,
                                int32_t out_format, size_t n);
void cfp8_deq_run_scalar(const uint8_t *q, const float *t, const float *rs, int64_t span, void *out, int32_t of,
                         size_t n);

/* 16-bit output (BF16 / F16) through per-scale tables: for a scale s, out = round(t[b] * s) is a
 * function of the byte b only, so a 256-entry table (built with the scalar formula, hence the
 * same bits) split into low and high byte planes turns 64 elements into four VBMI byte permutes,
 * two blends and two interleaving permutes. Used when one scale covers >= 128 elements. */
typedef struct { uint8_t lo[256], hi[256]; } cfp8_deq_table16;
/* One row of n elements through the tables, tabs[c / span] for element c. */
typedef void (*cfp8_deq_row_table16_fn)(const uint8_t *q, const cfp8_deq_table16 *tabs, int64_t span, uint16_t *out,
                                        int64_t n);

/* The same tables without VBMI, as 16-bit values (tabs + 256 * (c / span) for element c), read by one
 * load per element: plain C, as on Zen 3 that (2.8-3.4 G elements/s per core) beats AVX2's
 * gathers (2.3 G) and the decode-multiply-round of deq_run. */
typedef void (*cfp8_deq_row_lookup16_fn)(const uint8_t *q, const uint16_t *tabs, int64_t span, uint16_t *out,
                                         int64_t n);
void cfp8_deq_row_lookup16(const uint8_t *q, const uint16_t *tabs, int64_t span, uint16_t *out, int64_t n);

/* One ISA's quantiser kernels; deq_row_table16 and deq_row_lookup16 may be NULL (without both, the
 * row runs through deq_run; with both, deq_row_table16 is used). */
typedef struct cfp8_quantize_kernels {
  cfp8_amax_run_fn amax_run;
  cfp8_deq_run_fn deq_run;
  cfp8_deq_row_table16_fn deq_row_table16;
  cfp8_deq_row_lookup16_fn deq_row_lookup16;
} cfp8_quantize_kernels;

/* Each ISA's registration (quantize_<isa>.c; AVX2 and AVX-512 on x86 only). vbmi: the CPU has AVX-512
 * VBMI (the byte-table dequantiser). */
void cfp8_quantize_init_scalar(cfp8_quantize_kernels *k);
void cfp8_quantize_init_avx2(cfp8_quantize_kernels *k);
void cfp8_quantize_init_avx512(cfp8_quantize_kernels *k, int vbmi);

#endif
