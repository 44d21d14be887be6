/* Format definitions and the reference FP8 -> FP32 decode, written from the OCP 8-bit
 * floating point specification (v1.0) and, for FNUZ, from the AMD/Graphcore convention. */
#include "internal.h"
#include <math.h>
#include <pthread.h>

int32_t cfp8_format_is_fp8(int32_t format) { return format >= CFP8_FORMAT_E4M3 && format <= CFP8_FORMAT_E8M0; }

int32_t cfp8_format_size(int32_t format) {
  if (cfp8_format_is_fp8(format)) return 1;
  if (format == CFP8_FORMAT_F16 || format == CFP8_FORMAT_BF16) return 2;
  if (format == CFP8_FORMAT_F32) return 4;
  return 0;
}

cfp8_status cfp8_format_describe(int32_t format, cfp8_format_info *out) {
  if (!out) return CFP8_ERR_NULL_POINTER;
  cfp8_format_info i = {0};
  switch (format) {
  case CFP8_FORMAT_E4M3: i = (cfp8_format_info){4, 3, 7, 1, 0, 1, 448.0f, 0x1p-6f, 0x1p-9f}; break;
  case CFP8_FORMAT_E5M2: i = (cfp8_format_info){5, 2, 15, 1, 1, 1, 57344.0f, 0x1p-14f, 0x1p-16f}; break;
  case CFP8_FORMAT_E4M3FNUZ: i = (cfp8_format_info){4, 3, 8, 1, 0, 0, 240.0f, 0x1p-7f, 0x1p-10f}; break;
  case CFP8_FORMAT_E5M2FNUZ: i = (cfp8_format_info){5, 2, 16, 1, 0, 0, 57344.0f, 0x1p-15f, 0x1p-17f}; break;
  case CFP8_FORMAT_E8M0: i = (cfp8_format_info){8, 0, 127, 0, 0, 0, 0x1p127f, 0x1p-127f, 0x1p-127f}; break;
  default: return CFP8_ERR_BAD_FORMAT;
  }
  *out = i;
  return CFP8_OK;
}

float cfp8_fp8_to_f32_reference(uint8_t bits, int32_t format) {
  if (format == CFP8_FORMAT_E8M0) {
    if (bits == 0xFF) return NAN;
    return ldexpf(1.0f, (int)bits - 127);
  }
  cfp8_format_info f;
  if (cfp8_format_describe(format, &f) != CFP8_OK) return NAN;
  const int sign = bits >> 7;
  const int e = (bits >> f.mantissa_bits) & ((1 << f.exponent_bits) - 1);
  const int m = bits & ((1 << f.mantissa_bits) - 1);
  const int emax_field = (1 << f.exponent_bits) - 1;
  if (!f.has_negative_zero && bits == 0x80) return NAN; /* FNUZ: the single NaN */
  if (format == CFP8_FORMAT_E4M3 && e == emax_field && m == 7) return sign ? -NAN : NAN;
  if (format == CFP8_FORMAT_E5M2 && e == emax_field) {
    if (m == 0) return sign ? -INFINITY : INFINITY;
    return sign ? -NAN : NAN;
  }
  float v = (e == 0) ? ldexpf((float)m, 1 - f.bias - f.mantissa_bits)
                     : ldexpf((float)((1 << f.mantissa_bits) | m), e - f.bias - f.mantissa_bits);
  return sign ? -v : v;
}

static float tables[5][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
  for (int fmt = 0; fmt < 5; fmt++)
    for (int b = 0; b < 256; b++) tables[fmt][b] = cfp8_fp8_to_f32_reference((uint8_t)b, fmt);
}

const float *cfp8_decode_table_f32(int32_t format) {
  if (!cfp8_format_is_fp8(format)) return NULL;
  pthread_once(&tables_once, build_tables);
  return tables[format];
}
