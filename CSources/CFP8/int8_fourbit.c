/* 4-bit weight formats: INT4 group-wise, MXFP4 (E2M1 + E8M0 per 32), NVFP4 (E2M1 + E4M3 per 16
 * + FP32 per tensor). Scalar: these run once per weight at load time. */
#include "internal.h"
#include <math.h>

int32_t cfp8_fourbit_group(int32_t format) {
  switch (format) {
  case CFP8_FOURBIT_INT4: return 128;
  case CFP8_FOURBIT_MXFP4: return 32;
  case CFP8_FOURBIT_NVFP4: return 16;
  default: return 0;
  }
}

static const float e2m1_values[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

float cfp8_e2m1_decode(uint8_t code) {
  float v = e2m1_values[code & 7];
  return (code & 8) ? -v : v;
}

/* Midpoints between neighbours; at a midpoint the even code (mantissa bit 0) wins. */
uint8_t cfp8_e2m1_encode(float x) {
  if (x != x) return 0;
  uint8_t sign = signbit(x) ? 8 : 0;
  float a = fabsf(x);
  uint8_t c;
  if (a <= 0.25f) c = 0;
  else if (a < 0.75f) c = 1;
  else if (a <= 1.25f) c = 2;
  else if (a < 1.75f) c = 3;
  else if (a <= 2.5f) c = 4;
  else if (a < 3.5f) c = 5;
  else if (a <= 5.0f) c = 6;
  else c = 7;
  return sign | c;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static uint16_t f32_to_f16_bits(float x) {
  _Float16 h = (_Float16)x;
  uint16_t u;
  memcpy(&u, &h, 2);
  return u;
}
static float f16_bits_to_f32(uint16_t u) {
  _Float16 h;
  memcpy(&h, &u, 2);
  return (float)h;
}

static void put_nibble(uint8_t *row, int64_t j, uint8_t code) {
  if (j & 1) row[j >> 1] = (uint8_t)((row[j >> 1] & 0x0F) | (code << 4));
  else row[j >> 1] = (uint8_t)((row[j >> 1] & 0xF0) | (code & 0x0F));
}
static uint8_t get_nibble(const uint8_t *row, int64_t j) { return (j & 1) ? (row[j >> 1] >> 4) : (row[j >> 1] & 0x0F); }

static cfp8_status validate(int64_t rows, int64_t cols, int32_t format, int32_t scale_format) {
  if (rows < 0 || cols < 0) return CFP8_ERR_BAD_SHAPE;
  if (cfp8_fourbit_group(format) == 0) return CFP8_ERR_BAD_FORMAT;
  if (format == CFP8_FOURBIT_INT4 && scale_format != CFP8_FORMAT_F32 && scale_format != CFP8_FORMAT_F16)
    return CFP8_ERR_BAD_FORMAT;
  int64_t t;
  if (__builtin_mul_overflow(rows, cols, &t) || t > (int64_t)(SIZE_MAX / 8)) return CFP8_ERR_SIZE_OVERFLOW;
  return CFP8_OK;
}

cfp8_status cfp8_fourbit_quantize(const float *x, int64_t rows, int64_t cols, int32_t format, int32_t scale_format,
                                  uint8_t *packed, void *scales, float *tensor_scale) {
  cfp8_status st = validate(rows, cols, format, scale_format);
  if (st) return st;
  if (format == CFP8_FOURBIT_NVFP4 && !tensor_scale) return CFP8_ERR_NULL_POINTER;
  if (rows == 0 || cols == 0) {
    if (tensor_scale) *tensor_scale = 1.0f;
    return CFP8_OK;
  }
  if (!x || !packed || !scales) return CFP8_ERR_NULL_POINTER;
  int64_t n = rows * cols;
  float tamax = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(x[i])) return CFP8_ERR_BAD_ARGUMENT;
    float v = fabsf(x[i]);
    tamax = v > tamax ? v : tamax;
  }
  float g = 1.0f;
  if (format == CFP8_FOURBIT_NVFP4) {
    if (tamax > 0) g = (448.0f * 6.0f) / tamax;
    if (!isfinite(g) || g == 0) g = 1.0f;
    *tensor_scale = 1.0f / g;
  } else if (tensor_scale) {
    *tensor_scale = 1.0f;
  }
  int64_t group = cfp8_fourbit_group(format), gpr = ceil_div(cols, group), rb = ceil_div(cols, 2);
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    uint8_t *pr = packed + r * rb;
    memset(pr, 0, (size_t)rb);
    for (int64_t gi = 0; gi < gpr; gi++) {
      int64_t j0 = gi * group, j1 = j0 + group < cols ? j0 + group : cols;
      float a = 0;
      for (int64_t j = j0; j < j1; j++) a = fabsf(xr[j]) > a ? fabsf(xr[j]) : a;
      int64_t si = r * gpr + gi;
      if (format == CFP8_FOURBIT_INT4) {
        float s = a > 0 ? a / 7.0f : 1.0f;
        if (scale_format == CFP8_FORMAT_F16) {
          uint16_t h = f32_to_f16_bits(s);
          if ((h & 0x7FFF) == 0) h = 0x0001;
          if ((h & 0x7C00) == 0x7C00) h = 0x7BFF;  /* beyond FP16 max: largest finite */
          ((uint16_t *)scales)[si] = h;
          s = f16_bits_to_f32(h);
        } else {
          ((float *)scales)[si] = s;
        }
        for (int64_t j = j0; j < j1; j++) {
          float v = xr[j] / s;
          v = v > 7.0f ? 7.0f : (v < -7.0f ? -7.0f : v);
          put_nibble(pr, j, (uint8_t)((int)rintf(v) & 0x0F));
        }
      } else if (format == CFP8_FOURBIT_MXFP4) {
        int e = -127;
        if (a > 0) {
          int ex;
          frexpf(a, &ex);         /* a = f·2^ex, f in [0.5, 1): floor(log2 a) = ex - 1 */
          e = ex - 1 - 2;
          e = e < -127 ? -127 : (e > 127 ? 127 : e);
        }
        ((uint8_t *)scales)[si] = (uint8_t)(e + 127);
        for (int64_t j = j0; j < j1; j++) put_nibble(pr, j, cfp8_e2m1_encode(ldexpf(xr[j], -e)));
      } else {
        uint8_t sb = cfp8_encode_f32_reference(a / 6.0f * g, CFP8_FORMAT_E4M3, CFP8_ROUND_NEAREST_EVEN,
                                               CFP8_PRESET_CUDA_SATFINITE, 0);
        ((uint8_t *)scales)[si] = sb;
        float d = cfp8_fp8_to_f32_reference(sb, CFP8_FORMAT_E4M3);
        for (int64_t j = j0; j < j1; j++) put_nibble(pr, j, d > 0 ? cfp8_e2m1_encode(xr[j] * g / d) : 0);
      }
    }
  }
  return CFP8_OK;
}

cfp8_status cfp8_fourbit_dequantize(const uint8_t *packed, int64_t rows, int64_t cols, int32_t format,
                                    int32_t scale_format, const void *scales, float tensor_scale, float *out) {
  cfp8_status st = validate(rows, cols, format, scale_format);
  if (st) return st;
  if (rows == 0 || cols == 0) return CFP8_OK;
  if (!packed || !scales || !out) return CFP8_ERR_NULL_POINTER;
  if (format == CFP8_FOURBIT_NVFP4 && !isfinite(tensor_scale)) return CFP8_ERR_BAD_SCALE;
  int64_t group = cfp8_fourbit_group(format), gpr = ceil_div(cols, group), rb = ceil_div(cols, 2);
  for (int64_t r = 0; r < rows; r++) {
    const uint8_t *pr = packed + r * rb;
    float *o = out + r * cols;
    for (int64_t j = 0; j < cols; j++) {
      int64_t si = r * gpr + j / group;
      uint8_t code = get_nibble(pr, j);
      if (format == CFP8_FOURBIT_INT4) {
        float s = scale_format == CFP8_FORMAT_F16 ? f16_bits_to_f32(((const uint16_t *)scales)[si]) : ((const float *)scales)[si];
        int q = (code & 8) ? (int)code - 16 : (int)code;
        o[j] = (float)q * s;
      } else if (format == CFP8_FOURBIT_MXFP4) {
        uint8_t e = ((const uint8_t *)scales)[si];
        o[j] = e == 0xFF ? NAN : ldexpf(cfp8_e2m1_decode(code), (int)e - 127);
      } else {
        float d = cfp8_fp8_to_f32_reference(((const uint8_t *)scales)[si], CFP8_FORMAT_E4M3);
        o[j] = cfp8_e2m1_decode(code) * d * tensor_scale;
      }
    }
  }
  return CFP8_OK;
}
