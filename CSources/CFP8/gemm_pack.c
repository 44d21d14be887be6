/* Packing for the GEMM engine: decodes operands (FP8 via the reference tables, F16, BF16, F32) to
 * FP32 into MR-tall micro-panels of A and NR-wide micro-panels of B, zero-padding edge tiles, and
 * folds MXFP8 E8M0 scales into the decoded values (exact: a power of two times a value with at most
 * four significant bits stays representable, subnormals included, unless it overflows to ±Inf). */
#include "internal.h"
#include "gemm_internal.h"
#include <math.h>

float cfp8_gemm_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  const uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
  float v;
  if (e == 0) v = (float)m * 0x1p-24f; /* exact: m < 2^10 */
  else if (e == 31) v = cfp8_bits_f32(m ? (0x7FC00000u | (m << 13)) : 0x7F800000u);
  else v = cfp8_bits_f32(((e + 112) << 23) | (m << 13));
  return cfp8_bits_f32(cfp8_f32_bits(v) | sign);
}

uint16_t cfp8_gemm_f32_to_f16(float x) {
  uint32_t u = cfp8_f32_bits(x);
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
  u &= 0x7FFFFFFFu;
  if (u > 0x7F800000u) return sign | 0x7E00 | (uint16_t)((u >> 13) & 0x3FF); /* quiet NaN, payload kept */
  if (u >= 0x477FF000u) return sign | 0x7C00;                                  /* >= 65520 rounds to Inf */
  if (u >= 0x38800000u) {                                                        /* normal binary16 */
    uint32_t r = u - (112u << 23);
    r += 0xFFFu + ((r >> 13) & 1u);
    return sign | (uint16_t)(r >> 13);
  }
  /* subnormal (or zero): x·2^24 is exact in FP32; nearbyintf rounds ties to even. */
  const float scaled = cfp8_bits_f32(u) * 0x1p24f;
  return sign | (uint16_t)nearbyintf(scaled);
}

uint16_t cfp8_gemm_f32_to_bf16(float x) {
  const uint32_t u = cfp8_f32_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040); /* quiet NaN */
  return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* n elements of format fmt at base[off + i*stride] (element units) into dst[i*dstride]. */
static void decode_strided(const void *base, int32_t fmt, int64_t off, int64_t stride, int64_t n, float *dst,
                           int64_t dstride, int simd) {
#if defined(CFP8_X86)
  if (simd && stride == 1 && dstride == 1 && fmt <= CFP8_FORMAT_E5M2FNUZ && n >= 16) {
    cfp8_gemm_decode_fp8_avx512((const uint8_t *)base + off, n, fmt, dst);
    return;
  }
#endif
  if (cfp8_format_is_fp8(fmt)) {
    const float *t = cfp8_decode_table_f32(fmt);
    const uint8_t *s = (const uint8_t *)base + off;
    if (stride == 1 && dstride == 1) for (int64_t i = 0; i < n; i++) dst[i] = t[s[i]];
    else for (int64_t i = 0; i < n; i++) dst[i * dstride] = t[s[i * stride]];
  } else if (fmt == CFP8_FORMAT_F16) {
    const uint16_t *s = (const uint16_t *)base + off;
    for (int64_t i = 0; i < n; i++) dst[i * dstride] = cfp8_gemm_f16_to_f32(s[i * stride]);
  } else if (fmt == CFP8_FORMAT_BF16) {
    const uint16_t *s = (const uint16_t *)base + off;
    for (int64_t i = 0; i < n; i++) dst[i * dstride] = cfp8_bits_f32((uint32_t)s[i * stride] << 16);
  } else {
    const float *s = (const float *)base + off;
    for (int64_t i = 0; i < n; i++) dst[i * dstride] = s[i * stride];
  }
}

#if defined(CFP8_X86)
/* dst[k*dld + c] = value of src[c*cstride + k] for c < cols (<= 32), k < kc, FP8: decodes 64-long
 * runs of each line with SIMD into an L1 tile, then writes dst one contiguous row at a time. */
static void decode_transpose_fp8(const uint8_t *src, int64_t cstride, int cols, int64_t kc, int32_t fmt, float *dst,
                                 int dld) {
  float tile[32][64];
  for (int64_t k0 = 0; k0 < kc; k0 += 64) {
    const int64_t len = kc - k0 < 64 ? kc - k0 : 64;
    for (int c = 0; c < cols; c++) cfp8_gemm_decode_fp8_avx512(src + c * cstride + k0, len, fmt, tile[c]);
    for (int64_t k = 0; k < len; k++)
      for (int c = 0; c < cols; c++) dst[(k0 + k) * dld + c] = tile[c][k];
  }
}
#endif

void cfp8_gemm_decode_row(const cfp8_operand *x, int64_t r, int64_t c0, int64_t count, float *dst) {
  if (x->transposed) decode_strided(x->data, x->format, c0 * x->ld + r, x->ld, count, dst, 1, 0);
  else decode_strided(x->data, x->format, r * x->ld + c0, 1, count, dst, 1, 0);
}

/* FP32 operands are copied, not decoded: one pass per panel written in k order (small products
 * spend a large share of their time here). `lines` strided `stride` apart, `count` of them, each
 * read at [0, kc); panel[k·width + l] = line l at k, zero for l in [count, width). */
static void pack_f32_lines(const float *src, int64_t stride, int64_t count, int64_t kc, int width, float *panel) {
  for (int64_t l = 0; l < count; l++) {
    const float *line = src + l * stride;
    for (int64_t k = 0; k < kc; k++) panel[k * width + l] = line[k];
  }
  for (int64_t l = count; l < width; l++)
    for (int64_t k = 0; k < kc; k++) panel[k * width + l] = 0.0f;
}
/* panel[k·width + l] = src[k·stride + l] for l < count, zero up to width. */
static void pack_f32_rows(const float *src, int64_t stride, int64_t count, int64_t kc, int width, float *panel) {
  for (int64_t k = 0; k < kc; k++) {
    float *o = panel + k * width;
    memcpy(o, src + k * stride, (size_t)count * sizeof(float));
    for (int64_t l = count; l < width; l++) o[l] = 0.0f;
  }
}

/* A panel of `count` lines of x from line `line` on, k from k0: panel[k·width + l], zero for l in
 * [count, width). A's rows and a transposed B's columns run along k (contiguous in k, `ld` apart);
 * a transposed A's columns and B's rows run across it (element k of line l at (k0 + k)·ld + line + l). */
static void pack_lines(const cfp8_operand *x, int along_k, int64_t line, int64_t count, int64_t k0, int64_t kc,
                       int width, int simd, float *panel) {
  if (x->format == CFP8_FORMAT_F32) {
    const float *f = x->data;
    if (along_k) pack_f32_lines(f + line * x->ld + k0, x->ld, count, kc, width, panel);
    else pack_f32_rows(f + k0 * x->ld + line, x->ld, count, kc, width, panel);
  } else if (!along_k) {
    for (int64_t k = 0; k < kc; k++) {
      decode_strided(x->data, x->format, (k0 + k) * x->ld + line, 1, count, panel + k * width, 1, simd);
      for (int64_t l = count; l < width; l++) panel[k * width + l] = 0.0f;
    }
  } else {
#if defined(CFP8_X86)
    if (simd && x->format <= CFP8_FORMAT_E5M2FNUZ && width <= 32)
      decode_transpose_fp8((const uint8_t *)x->data + line * x->ld + k0, x->ld, (int)count, kc, x->format, panel, width);
    else
#endif
      for (int64_t l = 0; l < count; l++)
        decode_strided(x->data, x->format, (line + l) * x->ld + k0, 1, kc, panel + l, width, 0);
    for (int64_t l = count; l < width; l++)
      for (int64_t k = 0; k < kc; k++) panel[k * width + l] = 0.0f;
  }
}

/* Panels of `width` lines (the last zero-padded) for lines [first, first + total); with MX scales,
 * the scale of line l at k is mx[l·mx_line + (k / 32)·mx_block]. */
static void pack_panels(const cfp8_operand *x, int along_k, int64_t first, int64_t total, int64_t k0, int64_t kc,
                        int width, const uint8_t *mx, int64_t mx_line, int64_t mx_block, int simd, float *dst) {
  const float *e8 = mx ? cfp8_decode_table_f32(CFP8_FORMAT_E8M0) : NULL;
  for (int64_t p = 0; p < total; p += width) {
    float *panel = dst + (p / width) * (int64_t)width * kc;
    const int64_t count = total - p < width ? total - p : width;
    pack_lines(x, along_k, first + p, count, k0, kc, width, simd, panel);
    if (e8)
      for (int64_t k = 0; k < kc; k++) {
        const uint8_t *s = mx + ((k0 + k) / 32) * mx_block + (first + p) * mx_line;
        for (int64_t l = 0; l < count; l++) panel[k * width + l] *= e8[s[l * mx_line]];
      }
  }
}

void cfp8_gemm_pack_a(const cfp8_operand *a, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr,
                      const uint8_t *mx, int64_t mxld, int simd, float *dst) {
  pack_panels(a, !a->transposed, i0, mc, k0, kc, mr, mx, mxld, 1, simd, dst);
}

void cfp8_gemm_pack_b(const cfp8_operand *b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr,
                      const uint8_t *mx, int64_t mxld, int simd, float *dst) {
  pack_panels(b, b->transposed, j0, nc, k0, kc, nr, mx, 1, mxld, simd, dst);
}
