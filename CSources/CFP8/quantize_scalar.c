/* The quantiser's scalar kernels, the reference of every path: amax of a run, dequantisation of a
 * row, and the rounding of FP32 to BF16 and F16; and the per-scale table lookup that SIMD paths
 * without byte permutes use for 16-bit outputs (the scalar path keeps the formula). */
#include "internal.h"
#include "quantize_internal.h"
#include "cfp8_quantize.h"

uint16_t cfp8_f32_to_bf16_rne(float x) {
  uint32_t u = cfp8_f32_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)(((u >> 16) & 0x8000u) | 0x7FC0u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

uint16_t cfp8_quant_f32_to_f16_rne(float x) {
  uint32_t u = cfp8_f32_bits(x);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7E00u;
  if (a >= 0x477FF000u) return sign | 0x7C00u; /* >= 65520 rounds to Inf */
  if (a < 0x38800000u) {                       /* below 2^-14: subnormal; exact via FP32 RNE */
    float v = cfp8_bits_f32(a) * 0x1p24f;      /* multiple of 2^-24 -> integer count, RNE in the add */
    float r = (v + 0x1p23f) - 0x1p23f;
    return sign | (uint16_t)r;
  }
  uint32_t r = a + 0xFFFu + ((a >> 13) & 1u);
  return sign | (uint16_t)((r - (112u << 23)) >> 13);
}

/* max |x[0..n)| of one contiguous run (scalar reference). */
float cfp8_amax_run_scalar(const void *x, int32_t fmt, size_t off, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; i++) m = cfp8_quant_amax_step(m, cfp8_quant_load_f32(x, fmt, off + i));
  return m;
}

void cfp8_deq_run_scalar(const uint8_t *q, const float *t, const float *rs, int64_t span, void *out, int32_t of,
                         size_t n) {
  for (size_t i0 = 0, b = 0; i0 < n; i0 += (size_t)span, b++) {
    const size_t i1 = n - i0 > (size_t)span ? i0 + (size_t)span : n;
    const float s = rs[b];
    if (of == CFP8_FORMAT_F32)
      for (size_t i = i0; i < i1; i++) ((float *)out)[i] = t[q[i]] * s;
    else if (of == CFP8_FORMAT_BF16)
      for (size_t i = i0; i < i1; i++) ((uint16_t *)out)[i] = cfp8_f32_to_bf16_rne(t[q[i]] * s);
    else
      for (size_t i = i0; i < i1; i++) ((uint16_t *)out)[i] = cfp8_quant_f32_to_f16_rne(t[q[i]] * s);
  }
}

void cfp8_deq_row_lookup16(const uint8_t *q, const uint16_t *tabs, int64_t span, uint16_t *out, int64_t n) {
  for (int64_t c0 = 0; c0 < n; c0 += span) {
    const uint16_t *tb = tabs + 256 * (c0 / span);
    const int64_t end = c0 + span < n ? c0 + span : n;
    for (int64_t c = c0; c < end; c++) out[c] = tb[q[c]];
  }
}

void cfp8_quantize_init_scalar(cfp8_quantize_kernels *k) {
  k->amax_run = cfp8_amax_run_scalar;
  k->deq_run = cfp8_deq_run_scalar;
}
