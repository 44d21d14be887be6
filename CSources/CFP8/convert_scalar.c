/* Scalar reference conversions, written from the OCP 8-bit floating point specification v1.0,
 * the FNUZ convention and each preset's source (see README). */
#include "internal.h"

typedef struct {
  int e_bits, m_bits, bias;
  uint8_t max_enc;    /* largest finite magnitude encoding */
  int fnuz;
} fmt_params;

static int params(int32_t format, fmt_params *p) {
  switch (format) {
  case CFP8_FORMAT_E4M3: *p = (fmt_params){4, 3, 7, 0x7E, 0}; return 1;
  case CFP8_FORMAT_E5M2: *p = (fmt_params){5, 2, 15, 0x7B, 0}; return 1;
  case CFP8_FORMAT_E4M3FNUZ: *p = (fmt_params){4, 3, 8, 0x7F, 1}; return 1;
  case CFP8_FORMAT_E5M2FNUZ: *p = (fmt_params){5, 2, 16, 0x7F, 1}; return 1;
  default: return 0;
  }
}

/* Result for NaN input and for overflow (finite beyond the rounding threshold, or Inf). */
static uint8_t nan_code(int32_t format, int32_t preset, uint8_t sign) {
  if (format == CFP8_FORMAT_E4M3FNUZ || format == CFP8_FORMAT_E5M2FNUZ) return 0x80;
  if (format == CFP8_FORMAT_E4M3) return (preset == CFP8_PRESET_CUDA_SATFINITE || preset == CFP8_PRESET_CUDA_NOSAT) ? 0x7F : (uint8_t)(0x7F | sign);
  /* E5M2 */
  switch (preset) {
  case CFP8_PRESET_ML_DTYPES: return (uint8_t)(0x7E | sign);
  case CFP8_PRESET_PYTORCH: return (uint8_t)(0x7F | sign);
  default: return 0x7F;
  }
}

static uint8_t overflow_code(int32_t format, int32_t preset, uint8_t sign, int is_inf, int32_t rounding) {
  if (format == CFP8_FORMAT_E4M3FNUZ || format == CFP8_FORMAT_E5M2FNUZ) return 0x80;
  const int saturate = preset == CFP8_PRESET_CUDA_SATFINITE || (preset == CFP8_PRESET_PYTORCH && format == CFP8_FORMAT_E4M3);
  if (format == CFP8_FORMAT_E4M3) return saturate ? (uint8_t)(0x7E | sign) : (uint8_t)(0x7F | sign);
  (void)is_inf; (void)rounding;
  return saturate ? (uint8_t)(0x7B | sign) : (uint8_t)(0x7C | sign);
}

uint8_t cfp8_encode_f32_reference(float x, int32_t format, int32_t rounding, int32_t preset, uint32_t random) {
  fmt_params p;
  if (!params(format, &p) || preset < 0 || preset > 3 || rounding < 0 || rounding > 2) return 0;
  const uint32_t u = cfp8_f32_bits(x);
  const uint8_t sign = (uint8_t)((u >> 24) & 0x80);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return nan_code(format, preset, sign);
  if (a == 0x7F800000u) return overflow_code(format, preset, sign, 1, rounding);

  /* value = sig * 2^(e - 23) */
  const int biased = (int)(a >> 23);
  const uint32_t sig = biased ? ((a & 0x7FFFFFu) | 0x800000u) : (a & 0x7FFFFFu);
  const int e = biased ? biased - 127 : -126;
  const int emin = 1 - p.bias;
  const int eq = (e > emin ? e : emin) - p.m_bits; /* exponent of one unit in the last place */
  const int s = 23 + eq - e;                       /* bits of sig below that unit, >= 23 - m_bits */
  uint32_t q;
  if (s >= 32) {
    q = 0; /* sig < 2^24 <= half an ulp: every mode gives zero (stochastic adds < one ulp) */
  } else {
    q = sig >> s;
    const uint32_t rem = sig & ((1u << s) - 1u);
    if (rounding == CFP8_ROUND_NEAREST_EVEN) {
      const uint32_t half = 1u << (s - 1);
      if (rem > half || (rem == half && (q & 1u))) q++;
    } else if (rounding == CFP8_ROUND_STOCHASTIC) {
      /* The top s bits of `random` are a uniform fraction of one ulp. */
      const uint32_t r = random >> (32 - s);
      if ((uint64_t)rem + r >= (1ull << s)) q++;
    }
  }
  /* Subnormal (e < emin): exponent field 0 and q counts ulps directly. Normal: field e + bias,
   * and the implicit bit in q carries into the exponent field, including on rounding up. */
  const uint32_t enc = (uint32_t)(((e > emin ? e : emin) + p.bias - 1) << p.m_bits) + q;
  if (enc > p.max_enc) return overflow_code(format, preset, sign, 0, rounding);
  if (enc == 0 && p.fnuz) return 0x00; /* FNUZ has no -0 */
  return (uint8_t)(enc | sign);
}

/* Portable bulk paths: the reference loops the SIMD files are measured and tested against. */
cfp8_status cfp8_encode(const void *src, int32_t src_format, uint8_t *dst, int32_t dst_format, size_t n,
                        const cfp8_encode_options *options) {
  if (!options || (n && (!src || !dst))) return CFP8_ERR_NULL_POINTER;
  fmt_params p;
  if (!params(dst_format, &p)) return CFP8_ERR_BAD_FORMAT;
  if (src_format != CFP8_FORMAT_F32) return CFP8_ERR_BAD_FORMAT; /* F16/BF16 sources: TODO(convert) */
  if (options->rounding < 0 || options->rounding > 2) return CFP8_ERR_BAD_ROUNDING;
  if (options->preset < 0 || options->preset > 3) return CFP8_ERR_BAD_PRESET;
  const float *x = (const float *)src;
  for (size_t i = 0; i < n; i++) {
    uint32_t r = options->random_bits ? options->random_bits[i] : 0;
    dst[i] = cfp8_encode_f32_reference(x[i], dst_format, options->rounding, options->preset, r);
  }
  return CFP8_OK;
}

cfp8_status cfp8_decode(const uint8_t *src, int32_t src_format, void *dst, int32_t dst_format, size_t n,
                        int32_t isa, int32_t threads) {
  if (n && (!src || !dst)) return CFP8_ERR_NULL_POINTER;
  const float *t = cfp8_decode_table_f32(src_format);
  if (!t || dst_format != CFP8_FORMAT_F32) return CFP8_ERR_BAD_FORMAT;
  float *y = (float *)dst;
  for (size_t i = 0; i < n; i++) y[i] = t[src[i]];
  return CFP8_OK;
}
