/* Scalar reference conversions, written from the OCP 8-bit floating point specification v1.0,
 * the FNUZ convention and each preset's source (see README): one generic routine rounds any
 * binary source (sign, exponent field, significand) straight to the target, so FP32, FP16 and
 * BF16 inputs are encoded directly, never through an intermediate format. */
#include "internal.h"
#include "convert_internal.h"
#include <math.h>
#include <pthread.h>

typedef struct {
  int e_bits, m_bits, bias;
  uint8_t max_enc;    /* largest finite magnitude encoding */
  int fnuz;
} fmt_params;

static inline int params(int32_t format, fmt_params *p) {
  switch (format) {
  case CFP8_FORMAT_E4M3: *p = (fmt_params){4, 3, 7, 0x7E, 0}; return 1;
  case CFP8_FORMAT_E5M2: *p = (fmt_params){5, 2, 15, 0x7B, 0}; return 1;
  case CFP8_FORMAT_E4M3FNUZ: *p = (fmt_params){4, 3, 8, 0x7F, 1}; return 1;
  case CFP8_FORMAT_E5M2FNUZ: *p = (fmt_params){5, 2, 16, 0x7F, 1}; return 1;
  default: return 0;
  }
}

/* Result for a NaN input. Sources: cuda_fp8.hpp __nv_cvt_float_to_fp8 (host) replaces any NaN by
 * the positive canonical NaN before converting, so the sign is dropped (0x7F) for both formats;
 * ml_dtypes 0.7.0 keeps the sign (E4M3 0x7F|s, E5M2 0x7E|s: the quiet bit of the truncated FP32
 * NaN); torch 2.13.0's CPU casts give 0x7F|s for both (measured: scripts/oracle_torch.py).
 * FNUZ: the single NaN 0x80. */
static uint8_t nan_code(int32_t format, int32_t preset, uint8_t sign) {
  if (format == CFP8_FORMAT_E4M3FNUZ || format == CFP8_FORMAT_E5M2FNUZ) return 0x80;
  if (format == CFP8_FORMAT_E4M3) return (preset == CFP8_PRESET_CUDA_SATFINITE || preset == CFP8_PRESET_CUDA_NOSAT) ? 0x7F : (uint8_t)(0x7F | sign);
  switch (preset) { /* E5M2 */
  case CFP8_PRESET_ML_DTYPES: return (uint8_t)(0x7E | sign);
  case CFP8_PRESET_PYTORCH: return (uint8_t)(0x7F | sign);
  default: return 0x7F;
  }
}

/* Result for overflow (beyond max after rounding) and for ±Inf. cuda-satfinite saturates both
 * formats. torch 2.13.0's CPU casts saturate E4M3 (overflow and ±Inf give 0x7E|s, ±448, as its
 * c10 fp8e4m3fn_from_fp32_value does) but not E5M2 (0x7C|s, ±Inf): measured on every input by
 * scripts/oracle_torch.py. */
static uint8_t overflow_code(int32_t format, int32_t preset, uint8_t sign) {
  if (format == CFP8_FORMAT_E4M3FNUZ || format == CFP8_FORMAT_E5M2FNUZ) return 0x80;
  if (format == CFP8_FORMAT_E4M3) {
    const int saturate = preset == CFP8_PRESET_CUDA_SATFINITE || preset == CFP8_PRESET_PYTORCH;
    return saturate ? (uint8_t)(0x7E | sign) : (uint8_t)(0x7F | sign);
  }
  return preset == CFP8_PRESET_CUDA_SATFINITE ? (uint8_t)(0x7B | sign) : (uint8_t)(0x7C | sign);
}

static int msb64(uint64_t v) { return 63 - __builtin_clzll(v); }

/* Rounds the magnitude sig * 2^(e - mb) (sig < 2^(mb+1)) to the target. Returns the encoding
 * (> max_enc means overflow). */
static inline __attribute__((always_inline)) uint32_t round_magnitude(uint64_t sig, int e, int mb, const fmt_params *p, int32_t rounding, uint32_t random) {
  const int te = e - mb + msb64(sig);          /* floor(log2 |x|) */
  const int emin = 1 - p->bias;
  const int E = te > emin ? te : emin;         /* exponent of the result's binade */
  const int s = (E - p->m_bits) - (e - mb);    /* bits of sig below one unit in the last place */
  uint64_t q;
  if (s <= 0) return (uint32_t)(((E + p->bias - 1) << p->m_bits) + (sig << -s));
  if (s >= 64) {
    q = 0; /* |x| < 2^-63 ulp: below half an ulp; stochastic fraction truncates to 0 */
  } else {
    q = sig >> s;
    const uint64_t rem = sig & ((1ull << s) - 1ull);
    if (rounding == CFP8_ROUND_NEAREST_EVEN) {
      const uint64_t half = 1ull << (s - 1);
      if (rem > half || (rem == half && (q & 1u))) q++;
    } else if (rounding == CFP8_ROUND_STOCHASTIC) {
      /* frac: the discarded part as a 32-bit fraction of one ulp (truncated). */
      const uint64_t frac = s <= 32 ? rem << (32 - s) : rem >> (s - 32);
      if (frac + random >= (1ull << 32)) q++;
    }
  }
  /* Subnormal (E == emin, q < 2^m): field 0. Normal: field E + bias, the implicit bit in q
   * carries into the exponent field, including on rounding up. */
  return (uint32_t)(((E + p->bias - 1) << p->m_bits) + q);
}

/* The special results of one (format, preset), resolved once. */
typedef struct { uint8_t nan[2], ovf[2]; } specials;

static inline specials specials_of(int32_t format, int32_t preset) {
  return (specials){{nan_code(format, preset, 0), nan_code(format, preset, 0x80)},
                    {overflow_code(format, preset, 0), overflow_code(format, preset, 0x80)}};
}

/* Generic reference: a binary source with `eb` exponent and `mb` mantissa bits. */
static inline __attribute__((always_inline)) uint8_t encode_core(uint32_t sign_bit, uint32_t field, uint64_t mant, int eb,
                                                                 int mb, const fmt_params *p, const specials *sp,
                                                                 int32_t rounding, uint32_t random) {
  const uint8_t sign = sign_bit ? 0x80 : 0;
  const uint32_t all_ones = (1u << eb) - 1u;
  if (field == all_ones) return mant ? sp->nan[sign_bit] : sp->ovf[sign_bit];
  const uint64_t sig = field ? (mant | (1ull << mb)) : mant;
  if (sig == 0) return p->fnuz ? 0x00 : sign;
  const int bias_src = (1 << (eb - 1)) - 1;
  const int e = (field ? (int)field : 1) - bias_src;
  const uint32_t enc = round_magnitude(sig, e, mb, p, rounding, random);
  /* Overflow. Toward zero never leaves the finite range (IEEE 754 7.4): the largest finite value. */
  if (enc > p->max_enc) return rounding == CFP8_ROUND_TOWARD_ZERO ? (uint8_t)(p->max_enc | sign) : sp->ovf[sign_bit];
  if (enc == 0 && p->fnuz) return 0x00; /* FNUZ has no -0 */
  return (uint8_t)(enc | sign);
}

/* FP32 source, specialised: the same rounding as round_magnitude/encode_core, written without
 * branches (selects only). An FP32 normal's leading one is bit 23, and an FP32 subnormal lies far
 * below every target's smallest normal, so its result binade is the target's emin; no leading-zero
 * count is needed. With sig placed at bit 32 of a 64-bit word and shifted right by s (the bits of
 * sig below one ulp of the result), the high half is the truncated magnitude q and the low half is
 * the discarded part as a 32-bit fraction of one ulp, truncated: exactly the `frac` of stochastic
 * rounding; for nearest-even it is exact whenever it can reach one half (s <= 32; for s > 32,
 * sig < 2^24 is below half an ulp and so is frac). This is the FP32 reference
 * (cfp8_encode_f32_reference and the scalar path): ConversionOracleTests check it against the
 * FP64 oracle, scripts/oracle_mldtypes.py against ml_dtypes on all 2^32 inputs. */
static inline __attribute__((always_inline)) uint8_t encode_f32_core(uint32_t u, const fmt_params *p, const specials *sp,
                                                                     int32_t rounding, uint32_t random) {
  const uint32_t sb = u >> 31, a = u & 0x7FFFFFFFu;
  const int32_t biased = (int32_t)(a >> 23);
  const uint32_t sig = (a & 0x7FFFFFu) | (biased ? 0x800000u : 0u); /* |x| = sig * 2^(e - 23) */
  const int32_t e = (biased ? biased : 1) - 127;
  const int32_t emin = 1 - p->bias;
  const int32_t E = e > emin ? e : emin;       /* exponent of the result's binade */
  const int32_t s = E - e + 23 - p->m_bits;    /* bits of sig below one ulp: 20 <= s <= 149 */
  const uint64_t t = ((uint64_t)sig << 32) >> (s < 63 ? s : 63);
  uint32_t q = (uint32_t)(t >> 32);
  const uint32_t frac = (uint32_t)t;
  if (rounding == CFP8_ROUND_NEAREST_EVEN) q += (frac > 0x80000000u) | ((frac == 0x80000000u) & q);
  else if (rounding == CFP8_ROUND_STOCHASTIC) q += (uint32_t)(((uint64_t)frac + random) >> 32);
  const uint32_t enc = ((uint32_t)(E + p->bias - 1) << p->m_bits) + q;
  const uint8_t sign = (uint8_t)(sb << 7);
  const uint8_t ovf = sb ? sp->ovf[1] : sp->ovf[0], nan = sb ? sp->nan[1] : sp->nan[0];
  uint8_t r = (uint8_t)(enc | sign);
  r = (p->fnuz && enc == 0) ? 0x00 : r;
  /* Overflow. Toward zero never leaves the finite range (IEEE 754 7.4): the largest finite value. */
  r = enc > p->max_enc ? (rounding == CFP8_ROUND_TOWARD_ZERO ? (uint8_t)(p->max_enc | sign) : ovf) : r;
  r = a >= 0x7F800000u ? (a > 0x7F800000u ? nan : ovf) : r;
  return r;
}

static uint8_t encode_generic(uint32_t sign_bit, uint32_t field, uint64_t mant, int eb, int mb, int32_t format,
                              int32_t rounding, int32_t preset, uint32_t random) {
  fmt_params p;
  if (!params(format, &p) || preset < 0 || preset > 3 || rounding < 0 || rounding > 2) return 0;
  const specials sp = specials_of(format, preset);
  return encode_core(sign_bit, field, mant, eb, mb, &p, &sp, rounding, random);
}

uint8_t cfp8_encode_f32_reference(float x, int32_t format, int32_t rounding, int32_t preset, uint32_t random) {
  fmt_params p;
  if (!params(format, &p) || preset < 0 || preset > 3 || rounding < 0 || rounding > 2) return 0;
  const specials sp = specials_of(format, preset);
  return encode_f32_core(cfp8_f32_bits(x), &p, &sp, rounding, random);
}

/* The generic routine on an FP32 value (bench and cross-check of encode_f32_core). */
uint8_t cfp8_encode_f32_generic(float x, int32_t format, int32_t rounding, int32_t preset, uint32_t random);
uint8_t cfp8_encode_f32_generic(float x, int32_t format, int32_t rounding, int32_t preset, uint32_t random) {
  const uint32_t u = cfp8_f32_bits(x);
  return encode_generic(u >> 31, (u >> 23) & 0xFF, u & 0x7FFFFF, 8, 23, format, rounding, preset, random);
}
uint8_t cfp8_encode_f16_reference(uint16_t u, int32_t format, int32_t rounding, int32_t preset, uint32_t random) {
  return encode_generic(u >> 15, (u >> 10) & 0x1F, u & 0x3FF, 5, 10, format, rounding, preset, random);
}
uint8_t cfp8_encode_bf16_reference(uint16_t u, int32_t format, int32_t rounding, int32_t preset, uint32_t random) {
  return encode_generic(u >> 15, (u >> 7) & 0xFF, u & 0x7F, 8, 7, format, rounding, preset, random);
}

/* E8M0 from a generic binary source (see cfp8_convert.h for the rules). */
static uint8_t e8m0_generic(uint32_t sign_bit, uint32_t field, uint64_t mant, int eb, int mb, int32_t rounding) {
  const uint32_t all_ones = (1u << eb) - 1u;
  if (field == all_ones) return 0xFF;
  const uint64_t sig = field ? (mant | (1ull << mb)) : mant;
  if (sig == 0 || sign_bit) return 0xFF;
  const int bias_src = (1 << (eb - 1)) - 1;
  const int e = (field ? (int)field : 1) - bias_src;
  const int lead = msb64(sig);
  const int te = e - mb + lead;
  const uint64_t below = sig & ((1ull << lead) - 1ull); /* bits under the leading one */
  int up = 0;
  /* One rule at every magnitude, as ml_dtypes 0.7.0: below 2^-126 too (2^-127·1.f → 0x01 iff
   * f >= 0.5; anything smaller clamps to 0x00, 2^-127). */
  if (rounding == CFP8_ROUND_NEAREST_EVEN) up = lead > 0 && ((below >> (lead - 1)) & 1u);
  else if (rounding == CFP8_ROUND_UP) up = below != 0;
  else if (rounding != CFP8_ROUND_TOWARD_ZERO) return 0xFF;
  const int code = te + up + 127;
  if (code > 254) return 0xFF;
  if (code < 0) return 0x00;
  return (uint8_t)code;
}

uint8_t cfp8_encode_e8m0_reference(float x, int32_t rounding) {
  const uint32_t u = cfp8_f32_bits(x);
  return e8m0_generic(u >> 31, (u >> 23) & 0xFF, u & 0x7FFFFF, 8, 23, rounding);
}

uint8_t cfp8_encode_f64_reference(double x, int32_t format, int32_t rounding, int32_t preset, uint32_t random) {
  uint64_t u;
  memcpy(&u, &x, 8);
  const uint32_t sign = (uint32_t)(u >> 63), field = (uint32_t)(u >> 52) & 0x7FF;
  const uint64_t mant = u & 0xFFFFFFFFFFFFFull;
  if (format == CFP8_FORMAT_E8M0) return e8m0_generic(sign, field, mant, 11, 52, rounding);
  return encode_generic(sign, field, mant, 11, 52, format, rounding, preset, random);
}

uint32_t cfp8_stochastic_bits(uint64_t seed, uint64_t index) { return cfp8_sr_bits(cfp8_seed_key(seed), index); }

int cfp8_enc_plan_init(cfp8_enc_plan *p, int32_t dst_format, int32_t rounding, int32_t preset, uint64_t seed,
                       const uint32_t *random_bits) {
  fmt_params f;
  if (!params(dst_format, &f) || preset < 0 || preset > 3) return 0;
  *p = (cfp8_enc_plan){
      .dst_format = dst_format, .m_bits = f.m_bits, .bias = f.bias, .max_enc = f.max_enc, .fnuz = f.fnuz,
      .nan_pos = nan_code(dst_format, preset, 0), .nan_neg = nan_code(dst_format, preset, 0x80),
      .ovf_pos = overflow_code(dst_format, preset, 0), .ovf_neg = overflow_code(dst_format, preset, 0x80),
      .rounding = rounding, .seed_key = cfp8_seed_key(seed), .random_bits = random_bits};
  return 1;
}

/* The scalar path: the reference, element by element (format and preset resolved once). */
void cfp8_enc_scalar(const void *src, int32_t src_format, uint8_t *dst, size_t n, size_t index0, int32_t preset,
                     const cfp8_enc_plan *p) {
  const int32_t fmt = p->dst_format, rnd = p->rounding;
  if (fmt == CFP8_FORMAT_E8M0) {
    for (size_t i = 0; i < n; i++) {
      if (src_format == CFP8_FORMAT_F16) {
        const uint16_t h = ((const uint16_t *)src)[i];
        dst[i] = e8m0_generic(h >> 15, (h >> 10) & 0x1F, h & 0x3FF, 5, 10, rnd);
      } else {
        const uint32_t u = src_format == CFP8_FORMAT_F32 ? ((const uint32_t *)src)[i]
                                                         : (uint32_t)((const uint16_t *)src)[i] << 16;
        dst[i] = e8m0_generic(u >> 31, (u >> 23) & 0xFF, u & 0x7FFFFF, 8, 23, rnd);
      }
    }
    return;
  }
  fmt_params fp;
  if (!params(fmt, &fp) || preset < 0 || preset > 3 || rnd < 0 || rnd > 2) return;
  const specials sp = specials_of(fmt, preset);
#define CFP8_RBITS(i) (rnd != CFP8_ROUND_STOCHASTIC ? 0u \
                       : p->random_bits ? p->random_bits[index0 + (i)] : cfp8_sr_bits(p->seed_key, index0 + (i)))
  if (src_format == CFP8_FORMAT_F32) {
    /* One loop per (format, rounding), so that both are constants inside it. */
    const uint32_t *x = (const uint32_t *)src;
#define CFP8_F32_LOOP(F, R)                                                                          \
  do {                                                                                              \
    fmt_params fc;                                                                                  \
    params(F, &fc);                                                                                 \
    for (size_t i = 0; i < n; i++) dst[i] = encode_f32_core(x[i], &fc, &sp, R, CFP8_RBITS(i));     \
  } while (0)
#define CFP8_F32_ROUNDINGS(F)                                                                        \
  do {                                                                                              \
    if (rnd == CFP8_ROUND_NEAREST_EVEN) CFP8_F32_LOOP(F, CFP8_ROUND_NEAREST_EVEN);                  \
    else if (rnd == CFP8_ROUND_TOWARD_ZERO) CFP8_F32_LOOP(F, CFP8_ROUND_TOWARD_ZERO);               \
    else CFP8_F32_LOOP(F, CFP8_ROUND_STOCHASTIC);                                                   \
  } while (0)
    switch (fmt) {
    case CFP8_FORMAT_E4M3: CFP8_F32_ROUNDINGS(CFP8_FORMAT_E4M3); break;
    case CFP8_FORMAT_E5M2: CFP8_F32_ROUNDINGS(CFP8_FORMAT_E5M2); break;
    case CFP8_FORMAT_E4M3FNUZ: CFP8_F32_ROUNDINGS(CFP8_FORMAT_E4M3FNUZ); break;
    default: CFP8_F32_ROUNDINGS(CFP8_FORMAT_E5M2FNUZ); break;
    }
#undef CFP8_F32_ROUNDINGS
#undef CFP8_F32_LOOP
  } else if (src_format == CFP8_FORMAT_F16) {
    const uint16_t *x = (const uint16_t *)src;
    for (size_t i = 0; i < n; i++)
      dst[i] = encode_core(x[i] >> 15, (x[i] >> 10) & 0x1F, x[i] & 0x3FF, 5, 10, &fp, &sp, rnd, CFP8_RBITS(i));
  } else {
    const uint16_t *x = (const uint16_t *)src;
    for (size_t i = 0; i < n; i++)
      dst[i] = encode_core(x[i] >> 15, (x[i] >> 7) & 0xFF, x[i] & 0x7F, 8, 7, &fp, &sp, rnd, CFP8_RBITS(i));
  }
#undef CFP8_RBITS
}

/* The sweep's reference (cfp8_sweep_compare): the FP32 loop above, the same C source, in a
 * function that may be compiled with a wider target so that the compiler can vectorise it (its
 * semantics are the C source's; the hand-written SIMD paths compared against it use different
 * algorithms). `random` (stochastic rounding) is filled with cfp8_sr_bits(key, index0 + i). */
#define CFP8_SWEEP_REF_BODY                                                                         \
  fmt_params fp;                                                                                    \
  if (!params(fmt, &fp) || preset < 0 || preset > 3 || rnd < 0 || rnd > 2) return;                \
  const specials sp = specials_of(fmt, preset);                                                     \
  if (rnd == CFP8_ROUND_STOCHASTIC)                                                                 \
    for (size_t i = 0; i < n; i++) random[i] = cfp8_sr_bits(key, index0 + i);                      \
  if (rnd == CFP8_ROUND_NEAREST_EVEN)                                                               \
    for (size_t i = 0; i < n; i++) dst[i] = encode_f32_core(x[i], &fp, &sp, CFP8_ROUND_NEAREST_EVEN, 0); \
  else if (rnd == CFP8_ROUND_TOWARD_ZERO)                                                           \
    for (size_t i = 0; i < n; i++) dst[i] = encode_f32_core(x[i], &fp, &sp, CFP8_ROUND_TOWARD_ZERO, 0); \
  else                                                                                              \
    for (size_t i = 0; i < n; i++) dst[i] = encode_f32_core(x[i], &fp, &sp, CFP8_ROUND_STOCHASTIC, random[i]);

static void sweep_ref_plain(const uint32_t *x, uint8_t *dst, size_t n, size_t index0, int32_t fmt, int32_t rnd,
                            int32_t preset, uint32_t key, uint32_t *random) {
  CFP8_SWEEP_REF_BODY
}
#if defined(CFP8_X86)
static CFP8_TARGET_AVX512 void sweep_ref_avx512(const uint32_t *x, uint8_t *dst, size_t n, size_t index0, int32_t fmt,
                                                int32_t rnd, int32_t preset, uint32_t key, uint32_t *random) {
  CFP8_SWEEP_REF_BODY
}
#endif
#undef CFP8_SWEEP_REF_BODY

void cfp8_sweep_reference_f32(const uint32_t *x, uint8_t *dst, size_t n, size_t index0, int32_t fmt, int32_t rnd,
                              int32_t preset, uint32_t key, uint32_t *random) {
#if defined(CFP8_X86)
  if (cfp8_isa_supported(CFP8_ISA_AVX512)) {
    sweep_ref_avx512(x, dst, n, index0, fmt, rnd, preset, key, random);
    return;
  }
#endif
  sweep_ref_plain(x, dst, n, index0, fmt, rnd, preset, key, random);
}

/* ---- Decode tables ------------------------------------------------------------------------ */

/* FP32 -> F16 bits, round to nearest even, integer only (used to build tables). */
static uint16_t f32_to_f16_rne(uint32_t u) {
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
  const uint32_t a = u & 0x7FFFFFFF;
  if (a > 0x7F800000) return sign | 0x7E00;
  if (a >= 0x477FF000) return sign | 0x7C00; /* >= 65520 rounds to Inf (and Inf) */
  const int e = (int)(a >> 23) - 127;
  if (e < -25 || a == 0) return sign; /* < 2^-25: below half the smallest subnormal 2^-24 */
  const uint32_t sig = (a & 0x7FFFFF) | 0x800000;
  const int E = e > -14 ? e : -14;
  const int s = 23 + (E - 10) - e; /* >= 13 */
  uint32_t q = s >= 32 ? 0 : sig >> s;
  if (s < 32) {
    const uint32_t rem = sig & ((1u << s) - 1u), half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
  }
  return (uint16_t)(sign | ((uint32_t)(E + 14) << 10) + q);
}

static uint32_t t32[5][256];
static uint16_t t16[5][256], tb16[5][256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
  for (int f = 0; f < 5; f++) {
    const float *t = cfp8_decode_table_f32(f);
    for (int b = 0; b < 256; b++) {
      const uint32_t u = cfp8_f32_bits(t[b]);
      t32[f][b] = u;
      t16[f][b] = f32_to_f16_rne(u);
      tb16[f][b] = (uint16_t)(u >> 16); /* exact: every FP8 value has <= 8 significant bits */
    }
  }
}

const uint32_t *cfp8_dec_table_u32(int32_t src_format) {
  if (!cfp8_format_is_fp8(src_format)) return NULL;
  pthread_once(&once, build);
  return t32[src_format];
}

const uint16_t *cfp8_dec_table_u16(int32_t src_format, int32_t dst_format) {
  if (!cfp8_format_is_fp8(src_format)) return NULL;
  pthread_once(&once, build);
  if (dst_format == CFP8_FORMAT_F16) return t16[src_format];
  if (dst_format == CFP8_FORMAT_BF16) return tb16[src_format];
  return NULL;
}
