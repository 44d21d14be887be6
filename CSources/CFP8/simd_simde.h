/* The AVX-512 intrinsics the kernels use that SIMDe 0.7.4 does not implement, for the
 * CFP8_AVX512_VIA_SIMDE test build only (included by simd.h). Each one follows the operation in
 * Intel's Intrinsics Guide lane by lane (masked-off lanes of a load or store are not touched, as
 * the hardware suppresses their faults), or puts together the same operation on two 256-bit halves
 * where AVX2/F16C has it per lane (the conversions to and from FP16 and FP64). Kept deliberately
 * plain: they are the reference the kernels are tested through, not a fast path. */
#ifndef CFP8_SIMD_SIMDE_H
#define CFP8_SIMD_SIMDE_H

#define CFP8_SHIM static inline __attribute__((always_inline))
#define CFP8_V(type, name, n, from) type name[n]; __builtin_memcpy(name, &(from), sizeof name)
#define CFP8_R(vtype, from) ({ vtype r_; __builtin_memcpy(&r_, from, sizeof r_); r_; })

/* ---- integer comparisons into masks --------------------------------------------------------- */
#define CFP8_CMP_MASK(name, vtype, mtype, etype, n, op)                                \
  CFP8_SHIM mtype cfp8_simde_##name(vtype a, vtype b) {                                 \
    CFP8_V(etype, x, n, a); CFP8_V(etype, y, n, b);                                     \
    mtype k = 0;                                                                        \
    for (int j = 0; j < n; j++) k |= (mtype)((mtype)(x[j] op y[j]) << j);             \
    return k;                                                                           \
  }
CFP8_CMP_MASK(mm256_cmpeq_epi32_mask, simde__m256i, simde__mmask8, int32_t, 8, ==)
CFP8_CMP_MASK(mm256_cmpgt_epi32_mask, simde__m256i, simde__mmask8, int32_t, 8, >)
CFP8_CMP_MASK(mm256_cmplt_epi32_mask, simde__m256i, simde__mmask8, int32_t, 8, <)
CFP8_CMP_MASK(mm512_cmplt_epi32_mask, simde__m512i, simde__mmask16, int32_t, 16, <)
CFP8_CMP_MASK(mm512_cmpgt_epu32_mask, simde__m512i, simde__mmask16, uint32_t, 16, >)
CFP8_CMP_MASK(mm512_cmplt_epu32_mask, simde__m512i, simde__mmask16, uint32_t, 16, <)

CFP8_SHIM simde__m256i cfp8_simde_mm256_mask_or_epi32(simde__m256i src, simde__mmask8 k, simde__m256i a, simde__m256i b) {
  CFP8_V(uint32_t, s, 8, src); CFP8_V(uint32_t, x, 8, a); CFP8_V(uint32_t, y, 8, b);
  for (int j = 0; j < 8; j++) if (k >> j & 1) s[j] = x[j] | y[j];
  return CFP8_R(simde__m256i, s);
}

/* ---- VFPCLASSPS: imm8 bits QNaN, +0, -0, +Inf, -Inf, denormal, negative finite, SNaN -------- */
CFP8_SHIM int cfp8_simde_fpclass_f32(uint32_t u, int imm8) {
  const uint32_t exp = u >> 23 & 0xFF, man = u & 0x7FFFFF;
  const int neg = u >> 31, ones = exp == 0xFF, zeros = exp == 0, mzero = man == 0;
  const int qnan = ones && (man >> 22 & 1), snan = ones && !mzero && !(man >> 22 & 1);
  const int pzero = !neg && zeros && mzero, nzero = neg && zeros && mzero;
  const int pinf = !neg && ones && mzero, ninf = neg && ones && mzero;
  const int denorm = zeros && !mzero, finneg = neg && !ones && !(zeros && mzero);
  return ((imm8 & 1) && qnan) || ((imm8 & 2) && pzero) || ((imm8 & 4) && nzero) || ((imm8 & 8) && pinf) ||
         ((imm8 & 16) && ninf) || ((imm8 & 32) && denorm) || ((imm8 & 64) && finneg) || ((imm8 & 128) && snan);
}
CFP8_SHIM simde__mmask16 cfp8_simde_mm512_fpclass_ps_mask(simde__m512 a, int imm8) {
  CFP8_V(uint32_t, x, 16, a);
  simde__mmask16 k = 0;
  for (int j = 0; j < 16; j++) k |= (simde__mmask16)(cfp8_simde_fpclass_f32(x[j], imm8) << j);
  return k;
}
CFP8_SHIM simde__mmask8 cfp8_simde_mm256_fpclass_ps_mask(simde__m256 a, int imm8) {
  CFP8_V(uint32_t, x, 8, a);
  simde__mmask8 k = 0;
  for (int j = 0; j < 8; j++) k |= (simde__mmask8)(cfp8_simde_fpclass_f32(x[j], imm8) << j);
  return k;
}

/* ---- VGETEXPPS/PD: floor(log2|x|) (denormals normalised, MXCSR.DAZ clear); ±0 → -Inf, ±Inf →
 * +Inf, NaN → the quiet NaN of x ---------------------------------------------------------------- */
CFP8_SHIM double cfp8_simde_getexp_f64(double x) {
  uint64_t u; __builtin_memcpy(&u, &x, 8);
  if ((u & 0x7FF0000000000000ull) == 0x7FF0000000000000ull) {
    if (u & 0xFFFFFFFFFFFFFull) { u |= 0x8000000000000ull; __builtin_memcpy(&x, &u, 8); return x; }
    return __builtin_inf();
  }
  if (!(u & 0x7FFFFFFFFFFFFFFFull)) return -__builtin_inf();
  int e; (void)__builtin_frexp(x, &e);
  return (double)(e - 1);
}
/* FP32 through FP64: exact, denormals become normal, and a NaN keeps its payload (quieted) both ways */
CFP8_SHIM simde__m512 cfp8_simde_mm512_getexp_ps(simde__m512 a) {
  CFP8_V(float, x, 16, a);
  for (int j = 0; j < 16; j++) x[j] = (float)cfp8_simde_getexp_f64((double)x[j]);
  return CFP8_R(simde__m512, x);
}
CFP8_SHIM simde__m512d cfp8_simde_mm512_getexp_pd(simde__m512d a) {
  CFP8_V(double, x, 8, a);
  for (int j = 0; j < 8; j++) x[j] = cfp8_simde_getexp_f64(x[j]);
  return CFP8_R(simde__m512d, x);
}

/* ---- truncating conversions with a merge mask: NaN or out of int32 range → 0x80000000 -------- */
CFP8_SHIM simde__m512i cfp8_simde_mm512_mask_cvttps_epi32(simde__m512i src, simde__mmask16 k, simde__m512 a) {
  CFP8_V(int32_t, s, 16, src); CFP8_V(float, x, 16, a);
  for (int j = 0; j < 16; j++)
    if (k >> j & 1) s[j] = (x[j] >= -2147483648.0f && x[j] < 2147483648.0f) ? (int32_t)x[j] : INT32_MIN;
  return CFP8_R(simde__m512i, s);
}
CFP8_SHIM simde__m256i cfp8_simde_mm512_mask_cvttpd_epi32(simde__m256i src, simde__mmask8 k, simde__m512d a) {
  CFP8_V(int32_t, s, 8, src); CFP8_V(double, x, 8, a);
  for (int j = 0; j < 8; j++)
    if (k >> j & 1) s[j] = (x[j] > -2147483649.0 && x[j] < 2147483648.0) ? (int32_t)x[j] : INT32_MIN;
  return CFP8_R(simde__m256i, s);
}

/* ---- FP64 → FP32 with an explicit rounding: round to nearest, then step one unit toward the
 * direction asked for when that went the wrong way (the two are neighbours on the FP32 grid,
 * subnormals and overflow included); NaN converts as without rounding control. ----------------- */
CFP8_SHIM float cfp8_simde_f64_f32_round(double d, int rounding) {
  float f = (float)d;
  if (d != d) return f;
  const double g = (double)f;
  int toward; /* -1: one step toward -Inf, +1: toward +Inf */
  switch (rounding & 7) {
  case _MM_FROUND_TO_NEG_INF: toward = g > d ? -1 : 0; break;
  case _MM_FROUND_TO_POS_INF: toward = g < d ? 1 : 0; break;
  case _MM_FROUND_TO_ZERO: toward = (g > d && d >= 0) ? -1 : (g < d && d < 0) ? 1 : 0; break;
  default: toward = 0; /* to nearest, or MXCSR's mode (to nearest here) */
  }
  if (toward) {
    uint32_t u; __builtin_memcpy(&u, &f, 4);
    const int up_in_magnitude = (toward > 0) == !(u >> 31);
    if (!(u & 0x7FFFFFFFu)) u = (toward > 0 ? 0x00000001u : 0x80000001u); /* from ±0 (not reached from a zero d) */
    else u = up_in_magnitude ? u + 1 : u - 1;
    __builtin_memcpy(&f, &u, 4);
  }
  return f;
}
CFP8_SHIM simde__m256 cfp8_simde_mm512_cvt_roundpd_ps(simde__m512d a, int rounding) {
  CFP8_V(double, x, 8, a);
  float r[8];
  for (int j = 0; j < 8; j++) r[j] = cfp8_simde_f64_f32_round(x[j], rounding);
  return CFP8_R(simde__m256, r);
}

/* ---- conversions that AVX/F16C has per lane, on the two halves -------------------------------- */
CFP8_SHIM simde__m256 cfp8_simde_mm512_cvtpd_ps(simde__m512d a) {
  CFP8_V(__m256d, x, 2, a);
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(x[0])), _mm256_cvtpd_ps(x[1]), 1);
}
CFP8_SHIM simde__m512d cfp8_simde_mm512_cvtps_pd(simde__m256 a) {
  __m256d r[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(a)), _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1))};
  return CFP8_R(simde__m512d, r);
}
CFP8_SHIM simde__m512 cfp8_simde_mm512_cvtph_ps(simde__m256i a) {
  __m256 r[2] = {_mm256_cvtph_ps(_mm256_castsi256_si128(a)), _mm256_cvtph_ps(_mm256_extracti128_si256(a, 1))};
  return CFP8_R(simde__m512, r);
}
/* imm8 must be a constant (it is an immediate of VCVTPS2PH) */
#define cfp8_simde_mm512_cvtps_ph(a, imm8)                                                           \
  ({ CFP8_V(__m256, x_, 2, a);                                                                      \
     _mm256_inserti128_si256(_mm256_castsi128_si256(_mm256_cvtps_ph(x_[0], imm8)), _mm256_cvtps_ph(x_[1], imm8), 1); })

/* ---- widening and narrowing moves ----------------------------------------------------------- */
#define CFP8_MOVE(name, rtype, stype, from_t, to_t, n)                 \
  CFP8_SHIM rtype cfp8_simde_##name(stype a) {                         \
    from_t x[n]; __builtin_memcpy(x, &a, sizeof x);                    \
    to_t r[n];                                                         \
    for (int j = 0; j < n; j++) r[j] = (to_t)x[j];                     \
    return CFP8_R(rtype, r);                                           \
  }
CFP8_MOVE(mm512_cvtepi16_epi32, simde__m512i, simde__m256i, int16_t, int32_t, 16)
CFP8_MOVE(mm512_cvtepu16_epi32, simde__m512i, simde__m256i, uint16_t, int32_t, 16)
CFP8_MOVE(mm512_cvtepu8_epi32, simde__m512i, simde__m128i, uint8_t, int32_t, 16)
CFP8_MOVE(mm512_cvtepi32_epi64, simde__m512i, simde__m256i, int32_t, int64_t, 8)
CFP8_MOVE(mm512_cvtepi32_epi16, simde__m256i, simde__m512i, uint32_t, uint16_t, 16) /* truncates */
CFP8_MOVE(mm512_cvtepi32_epi8, simde__m128i, simde__m512i, uint32_t, uint8_t, 16)   /* truncates */

CFP8_SHIM simde__m256 cfp8_simde_mm512_extractf32x8_ps(simde__m512 a, int imm8) {
  CFP8_V(simde__m256, x, 2, a);
  return x[imm8 & 1];
}
CFP8_SHIM simde__m256i cfp8_simde_mm512_extracti32x8_epi32(simde__m512i a, int imm8) {
  CFP8_V(simde__m256i, x, 2, a);
  return x[imm8 & 1];
}

/* ---- masked loads (zero-masked) and stores: only the selected lanes touch memory ------------- */
#define CFP8_MASKZ_LOAD(name, rtype, mtype, etype, n)                                                     \
  CFP8_SHIM rtype cfp8_simde_##name(mtype k, const void *p) {                                              \
    etype r[n];                                                                                            \
    for (int j = 0; j < n; j++) {                                                                          \
      r[j] = 0;                                                                                            \
      if (k >> j & 1) __builtin_memcpy(&r[j], (const char *)p + j * sizeof(etype), sizeof(etype));         \
    }                                                                                                      \
    return CFP8_R(rtype, r);                                                                               \
  }
#define CFP8_MASK_STORE(name, vtype, mtype, etype, n)                                                     \
  CFP8_SHIM void cfp8_simde_##name(void *p, mtype k, vtype a) {                                            \
    CFP8_V(etype, x, n, a);                                                                                \
    for (int j = 0; j < n; j++)                                                                            \
      if (k >> j & 1) __builtin_memcpy((char *)p + j * sizeof(etype), &x[j], sizeof(etype));               \
  }
CFP8_MASKZ_LOAD(mm512_maskz_loadu_epi8, simde__m512i, simde__mmask64, uint8_t, 64)
CFP8_MASKZ_LOAD(mm512_maskz_loadu_epi32, simde__m512i, simde__mmask16, uint32_t, 16)
CFP8_MASKZ_LOAD(mm512_maskz_loadu_ps, simde__m512, simde__mmask16, float, 16)
CFP8_MASKZ_LOAD(mm256_maskz_loadu_epi16, simde__m256i, simde__mmask16, uint16_t, 16)
CFP8_MASK_STORE(mm_mask_storeu_epi8, simde__m128i, simde__mmask16, uint8_t, 16)
CFP8_MASK_STORE(mm512_mask_storeu_epi16, simde__m512i, simde__mmask32, uint16_t, 32)
CFP8_MASK_STORE(mm512_mask_storeu_ps, simde__m512, simde__mmask16, float, 16)

/* ---- VPGATHERDD without a mask: lane j reads 4 bytes at base + index[j] * scale -------------- */
CFP8_SHIM simde__m512i cfp8_simde_mm512_i32gather_epi32(simde__m512i index, const void *base, int scale) {
  CFP8_V(int32_t, idx, 16, index);
  int32_t r[16];
  for (int j = 0; j < 16; j++) __builtin_memcpy(&r[j], (const char *)base + (int64_t)idx[j] * scale, 4);
  return CFP8_R(simde__m512i, r);
}

/* ---- _mm512_reduce_max_ps: Intel's halving tree, each step (a > b ? a : b) ------------------- */
CFP8_SHIM float cfp8_simde_mm512_reduce_max_ps(simde__m512 a) {
  CFP8_V(float, x, 16, a);
  for (int len = 8; len >= 1; len /= 2)
    for (int j = 0; j < len; j++) x[j] = x[j] > x[j + len] ? x[j] : x[j + len];
  return x[0];
}

#undef CFP8_CMP_MASK
#undef CFP8_MOVE
#undef CFP8_MASKZ_LOAD
#undef CFP8_MASK_STORE

/* The kernels' names for them (overriding the native declarations that <immintrin.h> makes). */
#undef _mm256_cmpeq_epi32_mask
#define _mm256_cmpeq_epi32_mask cfp8_simde_mm256_cmpeq_epi32_mask
#undef _mm256_cmpgt_epi32_mask
#define _mm256_cmpgt_epi32_mask cfp8_simde_mm256_cmpgt_epi32_mask
#undef _mm256_cmplt_epi32_mask
#define _mm256_cmplt_epi32_mask cfp8_simde_mm256_cmplt_epi32_mask
#undef _mm512_cmplt_epi32_mask
#define _mm512_cmplt_epi32_mask cfp8_simde_mm512_cmplt_epi32_mask
#undef _mm512_cmpgt_epu32_mask
#define _mm512_cmpgt_epu32_mask cfp8_simde_mm512_cmpgt_epu32_mask
#undef _mm512_cmplt_epu32_mask
#define _mm512_cmplt_epu32_mask cfp8_simde_mm512_cmplt_epu32_mask
#undef _mm256_mask_or_epi32
#define _mm256_mask_or_epi32 cfp8_simde_mm256_mask_or_epi32
#undef _mm512_fpclass_ps_mask
#define _mm512_fpclass_ps_mask cfp8_simde_mm512_fpclass_ps_mask
#undef _mm256_fpclass_ps_mask
#define _mm256_fpclass_ps_mask cfp8_simde_mm256_fpclass_ps_mask
#undef _mm512_getexp_ps
#define _mm512_getexp_ps cfp8_simde_mm512_getexp_ps
#undef _mm512_getexp_pd
#define _mm512_getexp_pd cfp8_simde_mm512_getexp_pd
#undef _mm512_mask_cvttps_epi32
#define _mm512_mask_cvttps_epi32 cfp8_simde_mm512_mask_cvttps_epi32
#undef _mm512_mask_cvttpd_epi32
#define _mm512_mask_cvttpd_epi32 cfp8_simde_mm512_mask_cvttpd_epi32
#undef _mm512_cvt_roundpd_ps
#define _mm512_cvt_roundpd_ps cfp8_simde_mm512_cvt_roundpd_ps
#undef _mm512_cvtpd_ps
#define _mm512_cvtpd_ps cfp8_simde_mm512_cvtpd_ps
#undef _mm512_cvtps_pd
#define _mm512_cvtps_pd cfp8_simde_mm512_cvtps_pd
#undef _mm512_cvtph_ps
#define _mm512_cvtph_ps cfp8_simde_mm512_cvtph_ps
#undef _mm512_cvtps_ph
#define _mm512_cvtps_ph cfp8_simde_mm512_cvtps_ph
#undef _mm512_cvtepi16_epi32
#define _mm512_cvtepi16_epi32 cfp8_simde_mm512_cvtepi16_epi32
#undef _mm512_cvtepu16_epi32
#define _mm512_cvtepu16_epi32 cfp8_simde_mm512_cvtepu16_epi32
#undef _mm512_cvtepu8_epi32
#define _mm512_cvtepu8_epi32 cfp8_simde_mm512_cvtepu8_epi32
#undef _mm512_cvtepi32_epi64
#define _mm512_cvtepi32_epi64 cfp8_simde_mm512_cvtepi32_epi64
#undef _mm512_cvtepi32_epi16
#define _mm512_cvtepi32_epi16 cfp8_simde_mm512_cvtepi32_epi16
#undef _mm512_cvtepi32_epi8
#define _mm512_cvtepi32_epi8 cfp8_simde_mm512_cvtepi32_epi8
#undef _mm512_extractf32x8_ps
#define _mm512_extractf32x8_ps cfp8_simde_mm512_extractf32x8_ps
#undef _mm512_extracti32x8_epi32
#define _mm512_extracti32x8_epi32 cfp8_simde_mm512_extracti32x8_epi32
#undef _mm512_maskz_loadu_epi8
#define _mm512_maskz_loadu_epi8 cfp8_simde_mm512_maskz_loadu_epi8
#undef _mm512_maskz_loadu_epi32
#define _mm512_maskz_loadu_epi32 cfp8_simde_mm512_maskz_loadu_epi32
#undef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps cfp8_simde_mm512_maskz_loadu_ps
#undef _mm256_maskz_loadu_epi16
#define _mm256_maskz_loadu_epi16 cfp8_simde_mm256_maskz_loadu_epi16
#undef _mm_mask_storeu_epi8
#define _mm_mask_storeu_epi8 cfp8_simde_mm_mask_storeu_epi8
#undef _mm512_mask_storeu_epi16
#define _mm512_mask_storeu_epi16 cfp8_simde_mm512_mask_storeu_epi16
#undef _mm512_mask_storeu_ps
#define _mm512_mask_storeu_ps cfp8_simde_mm512_mask_storeu_ps
#undef _mm512_i32gather_epi32
#define _mm512_i32gather_epi32 cfp8_simde_mm512_i32gather_epi32
#undef _mm512_reduce_max_ps
#define _mm512_reduce_max_ps cfp8_simde_mm512_reduce_max_ps

#endif
