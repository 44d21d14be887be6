/* Scaled quantisation and dequantisation (see cfp8_quantize.h). The scalar code is the reference;
 * the AVX-512 paths of the amax reduction and of the dequantiser give the same bits (max and a
 * single FP32 multiply are exact operations on the same inputs). */
#include "internal.h"
#include "cfp8_quantize.h"
#include "cfp8_convert.h"
#include <math.h>
#include <stdlib.h>

#if defined(CFP8_X86)
#include <immintrin.h>
#endif

/* ---- helpers ---------------------------------------------------------------------------------- */

static float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
  if (e == 0x1F) return cfp8_bits_f32(sign | 0x7F800000u | (m << 13));
  if (e == 0) { /* zero or subnormal: m * 2^-24, exact in FP32 */
    float v = (float)m * 0x1p-24f;
    return sign ? -v : v;
  }
  return cfp8_bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

static inline float load_f32(const void *x, int32_t fmt, size_t i) {
  switch (fmt) {
  case CFP8_FORMAT_F32: return ((const float *)x)[i];
  case CFP8_FORMAT_BF16: return cfp8_bits_f32((uint32_t)((const uint16_t *)x)[i] << 16);
  default: return f16_to_f32(((const uint16_t *)x)[i]);
  }
}

uint16_t cfp8_f32_to_bf16_rne(float x) {
  uint32_t u = cfp8_f32_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)(((u >> 16) & 0x8000u) | 0x7FC0u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* RNE FP32 -> F16 (IEEE), NaN -> quiet NaN with its sign. */
static uint16_t f32_to_f16_rne(float x) {
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

static int check_shape(int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0) return CFP8_ERR_BAD_SHAPE;
  if (cols > 0 && (uint64_t)rows > (uint64_t)INT64_MAX / (uint64_t)cols) return CFP8_ERR_SIZE_OVERFLOW;
  if ((uint64_t)rows * (uint64_t)cols > SIZE_MAX / 4) return CFP8_ERR_SIZE_OVERFLOW;
  return CFP8_OK;
}

cfp8_status cfp8_scale_shape(int32_t g, int64_t rows, int64_t cols, int64_t *sr, int64_t *sc) {
  if (!sr || !sc) return CFP8_ERR_NULL_POINTER;
  cfp8_status st = check_shape(rows, cols);
  if (st) return st;
  switch (g) {
  case CFP8_GRANULARITY_TENSOR: *sr = 1; *sc = 1; return CFP8_OK;
  case CFP8_GRANULARITY_ROW: *sr = rows; *sc = 1; return CFP8_OK;
  case CFP8_GRANULARITY_BLOCK128: *sr = (rows + 127) / 128; *sc = (cols + 127) / 128; return CFP8_OK;
  case CFP8_GRANULARITY_MX32: *sr = rows; *sc = (cols + 31) / 32; return CFP8_OK;
  default: return CFP8_ERR_BAD_ARGUMENT;
  }
}

/* NaN-propagating max of |x| */
static inline float amax_step(float m, float v) {
  float a = fabsf(v);
  if (a != a || m != m) return NAN;
  return a > m ? a : m;
}

/* max |x[0..n)| of one contiguous run (scalar reference). */
static float amax_run_scalar(const void *x, int32_t fmt, size_t off, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; i++) m = amax_step(m, load_f32(x, fmt, off + i));
  return m;
}

#if defined(CFP8_X86)
CFP8_TARGET_AVX512 static float amax_run_avx512(const void *x, int32_t fmt, size_t off, size_t n) {
  if (fmt == CFP8_FORMAT_F16) return amax_run_scalar(x, fmt, off, n);
  __m512 m = _mm512_setzero_ps();
  __mmask16 nan = 0;
  const __m512i absmask = _mm512_set1_epi32(0x7FFFFFFF);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i v;
    if (fmt == CFP8_FORMAT_F32) v = _mm512_loadu_si512((const void *)((const float *)x + off + i));
    else v = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)x + off + i))), 16);
    __m512 a = _mm512_castsi512_ps(_mm512_and_si512(v, absmask));
    nan |= _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
    m = _mm512_max_ps(m, a);
  }
  if (nan) return NAN;
  float r = _mm512_reduce_max_ps(m);
  for (; i < n; i++) r = amax_step(r, load_f32(x, fmt, off + i));
  return r;
}

/* The same maximum with AVX2 (max is exact, so any order gives the scalar run's value). */
CFP8_TARGET_AVX2 static float amax_run_avx2(const void *x, int32_t fmt, size_t off, size_t n) {
  if (fmt == CFP8_FORMAT_F16) return amax_run_scalar(x, fmt, off, n);
  __m256 m = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v;
    if (fmt == CFP8_FORMAT_F32) v = _mm256_loadu_ps((const float *)x + off + i);
    else v = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)x + off + i))), 16));
    const __m256 a = _mm256_and_ps(v, absmask);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    m = _mm256_max_ps(m, a);
  }
  if (_mm256_movemask_ps(nan)) return NAN;
  float lanes[8];
  _mm256_storeu_ps(lanes, m);
  float r = 0.0f;
  for (int l = 0; l < 8; l++) r = lanes[l] > r ? lanes[l] : r;
  for (; i < n; i++) r = amax_step(r, load_f32(x, fmt, off + i));
  return r;
}
#endif

typedef float (*amax_run_fn)(const void *, int32_t, size_t, size_t);

static amax_run_fn pick_amax(int32_t isa) {
#if defined(CFP8_X86)
  if (isa == CFP8_ISA_AVX512) return amax_run_avx512;
  if (isa == CFP8_ISA_AVX2) return amax_run_avx2;
#endif
  return amax_run_scalar;
}

cfp8_status cfp8_amax(const void *x, int32_t fmt, int64_t rows, int64_t cols, int64_t ld, int32_t g, float *amax,
                      int32_t isa, int32_t threads) {
  int64_t sr, sc;
  cfp8_status st = cfp8_scale_shape(g, rows, cols, &sr, &sc);
  if (st) return st;
  if (!amax || (rows * cols > 0 && !x)) return CFP8_ERR_NULL_POINTER;
  if (fmt != CFP8_FORMAT_F32 && fmt != CFP8_FORMAT_BF16 && fmt != CFP8_FORMAT_F16) return CFP8_ERR_BAD_FORMAT;
  if (ld < cols) return CFP8_ERR_BAD_STRIDE;
  if (rows > 0 && ld > 0 && (uint64_t)(rows - 1) > (uint64_t)(INT64_MAX - cols) / (uint64_t)ld) return CFP8_ERR_SIZE_OVERFLOW;
  int32_t r;
  if ((st = cfp8_isa_resolve(isa, &r))) return st;
  amax_run_fn run = pick_amax(r);
  if (g == CFP8_GRANULARITY_TENSOR) {
    /* per-row partial maxima, combined in a fixed order: same bits for any thread count */
    float *part = (float *)malloc(sizeof(float) * (size_t)(rows > 0 ? rows : 1));
    if (!part) return CFP8_ERR_NO_MEMORY;
#pragma omp parallel for num_threads(cfp8_threads(threads)) schedule(static) if (rows * cols > (1 << 16))
    for (int64_t i = 0; i < rows; i++) part[i] = run(x, fmt, (size_t)(i * ld), (size_t)cols);
    float m = 0.0f;
    for (int64_t i = 0; i < rows; i++) m = amax_step(m, part[i]);
    free(part);
    amax[0] = m;
    return CFP8_OK;
  }
  if (g == CFP8_GRANULARITY_BLOCK128) {
#pragma omp parallel for num_threads(cfp8_threads(threads)) schedule(static) if (rows * cols > (1 << 16))
    for (int64_t bi = 0; bi < sr; bi++) {
      for (int64_t bj = 0; bj < sc; bj++) amax[bi * sc + bj] = 0.0f;
      int64_t r1 = (bi + 1) * 128 < rows ? (bi + 1) * 128 : rows;
      for (int64_t i = bi * 128; i < r1; i++)
        for (int64_t bj = 0; bj < sc; bj++) {
          int64_t c0 = bj * 128, n = cols - c0 < 128 ? cols - c0 : 128;
          amax[bi * sc + bj] = amax_step(amax[bi * sc + bj], run(x, fmt, (size_t)(i * ld + c0), (size_t)n));
        }
    }
    return CFP8_OK;
  }
  int64_t span = g == CFP8_GRANULARITY_ROW ? (cols > 0 ? cols : 1) : 32;
#pragma omp parallel for num_threads(cfp8_threads(threads)) schedule(static) if (rows * cols > (1 << 16))
  for (int64_t i = 0; i < rows; i++)
    for (int64_t b = 0; b < sc; b++) {
      int64_t c0 = b * span, n = cols - c0 < span ? cols - c0 : span;
      amax[i * sc + b] = run(x, fmt, (size_t)(i * ld + c0), (size_t)(n > 0 ? n : 0));
    }
  return CFP8_OK;
}

/* ---- quantise --------------------------------------------------------------------------------- */

static int mx_exponent(float amax, float maxf, int32_t emax_elem, int32_t rule) {
  if (amax == 0.0f) return 0;
  int e;
  if (rule == CFP8_MX_FLOOR) {
    e = ilogbf(amax) - emax_elem;
  } else {
    float v = amax * (1.0f / maxf);
    if (v == 0.0f) return -127;
    e = ilogbf(v);
    if (ldexpf(1.0f, e) != v) e += 1; /* not a power of two: round up */
  }
  return e < -127 ? -127 : (e > 127 ? 127 : e);
}

cfp8_status cfp8_quantize(const void *x, int32_t fmt, int64_t rows, int64_t cols, const cfp8_quantize_options *o,
                          uint8_t *q, float *scales, uint8_t *mx_scales) {
  if (!o) return CFP8_ERR_NULL_POINTER;
  if (o->format != CFP8_FORMAT_E4M3 && o->format != CFP8_FORMAT_E5M2) return CFP8_ERR_BAD_FORMAT;
  if (o->granularity == CFP8_GRANULARITY_MX32 && o->mx_rule != CFP8_MX_FLOOR && o->mx_rule != CFP8_MX_ROUND_UP)
    return CFP8_ERR_BAD_ARGUMENT;
  int64_t sr, sc;
  cfp8_status st = cfp8_scale_shape(o->granularity, rows, cols, &sr, &sc);
  if (st) return st;
  if (rows * cols > 0 && (!x || !q)) return CFP8_ERR_NULL_POINTER;
  if (o->granularity == CFP8_GRANULARITY_MX32 ? !mx_scales : !scales) return CFP8_ERR_NULL_POINTER;
  float *amax = (float *)malloc(sizeof(float) * (size_t)(sr * sc > 0 ? sr * sc : 1));
  if (!amax) return CFP8_ERR_NO_MEMORY;
  if ((st = cfp8_amax(x, fmt, rows, cols, cols, o->granularity, amax, o->isa, o->threads))) { free(amax); return st; }
  const float maxf = o->format == CFP8_FORMAT_E4M3 ? 448.0f : 57344.0f;
  const int32_t emax = o->format == CFP8_FORMAT_E4M3 ? 8 : 15;
  /* divisors per scale group */
  for (int64_t k = 0; k < sr * sc; k++) {
    if (!isfinite(amax[k])) { free(amax); return CFP8_ERR_BAD_SCALE; }
    if (o->granularity == CFP8_GRANULARITY_MX32) {
      int e = mx_exponent(amax[k], maxf, emax, o->mx_rule);
      mx_scales[k] = (uint8_t)(e + 127);
      amax[k] = ldexpf(1.0f, e);
    } else {
      float s = amax[k] == 0.0f ? 1.0f : amax[k] / maxf;
      if (s == 0.0f) s = 0x1p-149f; /* amax below 448 * 2^-150: the smallest positive scale */
      scales[k] = s;
      amax[k] = s;
    }
  }
  int64_t gspan = o->granularity == CFP8_GRANULARITY_MX32 ? 32 : 128;
  int err = 0;
#pragma omp parallel num_threads(cfp8_threads(o->threads)) if (rows * cols > (1 << 15))
  {
    float *tmp = (float *)malloc(sizeof(float) * (size_t)(cols > 0 ? cols : 1));
    if (!tmp) {
#pragma omp atomic write
      err = CFP8_ERR_NO_MEMORY;
    }
    cfp8_encode_options eo = {CFP8_ROUND_NEAREST_EVEN, CFP8_PRESET_CUDA_SATFINITE, 0, NULL, o->isa, 1};
#pragma omp for schedule(static)
    for (int64_t i = 0; i < rows; i++) {
      if (!tmp) continue;
      for (int64_t j = 0; j < cols; j++) {
        float s;
        switch (o->granularity) {
        case CFP8_GRANULARITY_TENSOR: s = amax[0]; break;
        case CFP8_GRANULARITY_ROW: s = amax[i]; break;
        case CFP8_GRANULARITY_BLOCK128: s = amax[(i / 128) * sc + j / 128]; break;
        default: s = amax[i * sc + j / gspan]; break;
        }
        tmp[j] = load_f32(x, fmt, (size_t)(i * cols + j)) / s;
      }
      cfp8_status e2 = cfp8_encode(tmp, CFP8_FORMAT_F32, q + i * cols, o->format, (size_t)cols, &eo);
      if (e2) {
#pragma omp atomic write
        err = e2;
      }
    }
    free(tmp);
  }
  free(amax);
  return err;
}

/* ---- dequantise ------------------------------------------------------------------------------- */

/* One row of n elements; element j uses scale rs[j / span]. */
typedef void (*deq_run_fn)(const uint8_t *q, const float *table, const float *rs, int64_t span, void *out,
                           int32_t out_format, size_t n);

static void deq_run_scalar(const uint8_t *q, const float *t, const float *rs, int64_t span, void *out, int32_t of,
                           size_t n) {
  for (size_t i0 = 0, b = 0; i0 < n; i0 += (size_t)span, b++) {
    const size_t i1 = n - i0 > (size_t)span ? i0 + (size_t)span : n;
    const float s = rs[b];
    if (of == CFP8_FORMAT_F32)
      for (size_t i = i0; i < i1; i++) ((float *)out)[i] = t[q[i]] * s;
    else if (of == CFP8_FORMAT_BF16)
      for (size_t i = i0; i < i1; i++) ((uint16_t *)out)[i] = cfp8_f32_to_bf16_rne(t[q[i]] * s);
    else
      for (size_t i = i0; i < i1; i++) ((uint16_t *)out)[i] = f32_to_f16_rne(t[q[i]] * s);
  }
}

#if defined(CFP8_X86)
/* 128-entry table lookup for 16 indices (bits 0..6): four 32-entry two-register permutes, then
 * blends on bits 5 and 6. */
CFP8_TARGET_AVX512 static inline __m512 lookup128(__m512i idx, const __m512 *T) {
  __m512 r0 = _mm512_permutex2var_ps(T[0], idx, T[1]);
  __m512 r1 = _mm512_permutex2var_ps(T[2], idx, T[3]);
  __m512 r2 = _mm512_permutex2var_ps(T[4], idx, T[5]);
  __m512 r3 = _mm512_permutex2var_ps(T[6], idx, T[7]);
  __mmask16 b5 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(32));
  __mmask16 b6 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(64));
  r0 = _mm512_mask_blend_ps(b5, r0, r1);
  r2 = _mm512_mask_blend_ps(b5, r2, r3);
  return _mm512_mask_blend_ps(b6, r0, r2);
}

CFP8_TARGET_AVX512 static inline __m256i bf16_rne16(__m512 v) {
  __m512i u = _mm512_castps_si512(v);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  __m512i qn = _mm512_or_si512(_mm512_and_si512(u, _mm512_set1_epi32((int)0x80000000u)), _mm512_set1_epi32(0x7FC00000));
  r = _mm512_mask_blend_epi32(nan, r, qn);
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

/* 1 when table[i | 0x80] is table[i] with the sign bit flipped for every i < 128 (OCP E4M3 and
 * E5M2; not the FNUZ formats, whose 0x80 is NaN). */
static int sign_symmetric(const float *t) {
  for (int i = 0; i < 128; i++)
    if (cfp8_f32_bits(t[i | 0x80]) != (cfp8_f32_bits(t[i]) ^ 0x80000000u)) return 0;
  return 1;
}

CFP8_TARGET_AVX512 static void deq_run_avx512(const uint8_t *q, const float *t, const float *rs, int64_t span,
                                              void *out, int32_t of, size_t n) {
  if (of == CFP8_FORMAT_F16) { deq_run_scalar(q, t, rs, span, out, of, n); return; }
  __m512 T[16];
  for (int k = 0; k < 16; k++) T[k] = _mm512_loadu_ps(t + 16 * k);
  const int sym = sign_symmetric(t);
  const __m512i low7 = _mm512_set1_epi32(0x7F), sbit = _mm512_set1_epi32(0x80);
  size_t i = 0;
  while (i < n) {
    size_t end = (i / (size_t)span + 1) * (size_t)span;
    if (end > n) end = n;
    const __m512 vs = _mm512_set1_ps(rs[i / (size_t)span]);
    for (; i + 16 <= end; i += 16) {
      __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + i)));
      __m512 d;
      if (sym) {
        __m512 m = lookup128(_mm512_and_si512(idx, low7), T);
        __m512i sign = _mm512_slli_epi32(_mm512_and_si512(idx, sbit), 24);
        d = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(m), sign));
      } else {
        __m512 lo = lookup128(idx, T), hi = lookup128(idx, T + 8);
        d = _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, sbit), lo, hi);
      }
      __m512 v = _mm512_mul_ps(d, vs);
      if (of == CFP8_FORMAT_F32) _mm512_storeu_ps((float *)out + i, v);
      else _mm256_storeu_si256((__m256i *)((uint16_t *)out + i), bf16_rne16(v));
    }
    if (i < end) { /* tail of a span: scalar, same arithmetic */
      float s = rs[i / (size_t)span];
      size_t bytes = of == CFP8_FORMAT_F32 ? 4 : 2;
      deq_run_scalar(q + i, t, &s, (int64_t)(end - i), (char *)out + i * bytes, of, end - i);
      i = end;
    }
  }
}
#endif

#if defined(CFP8_X86)
/* 16-bit output (BF16 / F16) through per-scale tables: for a scale s, out = round(t[b] * s) is a
 * function of the byte b only, so a 256-entry table (built with the scalar formula, hence the
 * same bits) split into low and high byte planes turns 64 elements into four VBMI byte permutes,
 * two blends and two interleaving permutes. Used when one scale covers >= 128 elements. */
typedef struct { uint8_t lo[256], hi[256]; } deq_table16;

static void build_table16(deq_table16 *tb, const float *t, float s, int32_t of) {
  for (int b = 0; b < 256; b++) {
    float v = t[b] * s;
    uint16_t h = of == CFP8_FORMAT_BF16 ? cfp8_f32_to_bf16_rne(v) : f32_to_f16_rne(v);
    tb->lo[b] = (uint8_t)h;
    tb->hi[b] = (uint8_t)(h >> 8);
  }
}

CFP8_TARGET_AVX512VBMI static void deq_row_table16(const uint8_t *q, const deq_table16 *tabs, int64_t span,
                                                   uint16_t *out, int64_t n) {
  uint8_t il[64], ih[64];
  for (int k = 0; k < 32; k++) {
    il[2 * k] = (uint8_t)k;
    il[2 * k + 1] = (uint8_t)(64 + k);
    ih[2 * k] = (uint8_t)(32 + k);
    ih[2 * k + 1] = (uint8_t)(96 + k);
  }
  const __m512i I0 = _mm512_loadu_si512(il), I1 = _mm512_loadu_si512(ih);
  for (int64_t c0 = 0, b = 0; c0 < n; c0 += span, b++) {
    const deq_table16 *tb = tabs + b;
    const __m512i L0 = _mm512_loadu_si512(tb->lo), L1 = _mm512_loadu_si512(tb->lo + 64);
    const __m512i L2 = _mm512_loadu_si512(tb->lo + 128), L3 = _mm512_loadu_si512(tb->lo + 192);
    const __m512i H0 = _mm512_loadu_si512(tb->hi), H1 = _mm512_loadu_si512(tb->hi + 64);
    const __m512i H2 = _mm512_loadu_si512(tb->hi + 128), H3 = _mm512_loadu_si512(tb->hi + 192);
    int64_t end = c0 + span < n ? c0 + span : n;
    for (int64_t c = c0; c < end; c += 64) {
      int64_t m = end - c < 64 ? end - c : 64;
      __mmask64 lm = m == 64 ? ~(__mmask64)0 : (((__mmask64)1 << m) - 1);
      __m512i x = _mm512_maskz_loadu_epi8(lm, q + c);
      __mmask64 top = _mm512_movepi8_mask(x);
      __m512i lo = _mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(L0, x, L1), _mm512_permutex2var_epi8(L2, x, L3));
      __m512i hi = _mm512_mask_blend_epi8(top, _mm512_permutex2var_epi8(H0, x, H1), _mm512_permutex2var_epi8(H2, x, H3));
      __m512i o0 = _mm512_permutex2var_epi8(lo, I0, hi), o1 = _mm512_permutex2var_epi8(lo, I1, hi);
      if (m == 64) {
        _mm512_storeu_si512((void *)(out + c), o0);
        _mm512_storeu_si512((void *)(out + c + 32), o1);
      } else {
        __mmask32 m0 = m >= 32 ? 0xFFFFFFFFu : (((__mmask32)1 << m) - 1);
        __mmask32 m1 = m > 32 ? (((__mmask32)1 << (m - 32)) - 1) : 0;
        _mm512_mask_storeu_epi16(out + c, m0, o0);
        _mm512_mask_storeu_epi16(out + c + 32, m1, o1);
      }
    }
  }
}
#endif

static deq_run_fn pick_deq(int32_t isa) {
#if defined(CFP8_X86)
  if (isa == CFP8_ISA_AVX512) return deq_run_avx512;
#endif
  return deq_run_scalar;
}

cfp8_status cfp8_dequantize(const uint8_t *q, int32_t format, int64_t rows, int64_t cols, int32_t g, const float *scales,
                            const uint8_t *mx, void *out, int32_t of, int32_t isa, int32_t threads) {
  int64_t sr, sc;
  cfp8_status st = cfp8_scale_shape(g, rows, cols, &sr, &sc);
  if (st) return st;
  const float *t = cfp8_decode_table_f32(format);
  if (!t || format == CFP8_FORMAT_E8M0) return CFP8_ERR_BAD_FORMAT;
  if (of != CFP8_FORMAT_F32 && of != CFP8_FORMAT_BF16 && of != CFP8_FORMAT_F16) return CFP8_ERR_BAD_FORMAT;
  if (rows * cols > 0 && (!q || !out)) return CFP8_ERR_NULL_POINTER;
  if (g == CFP8_GRANULARITY_MX32 ? !mx : !scales) return CFP8_ERR_NULL_POINTER;
  if (g != CFP8_GRANULARITY_MX32)
    for (int64_t k = 0; k < sr * sc; k++)
      if (!isfinite(scales[k])) return CFP8_ERR_BAD_SCALE;
  int32_t r;
  if ((st = cfp8_isa_resolve(isa, &r))) return st;
  deq_run_fn run = pick_deq(r);
  const size_t osz = of == CFP8_FORMAT_F32 ? 4 : 2;
  const int64_t span = g == CFP8_GRANULARITY_TENSOR || g == CFP8_GRANULARITY_ROW ? (cols > 0 ? cols : 1)
                       : g == CFP8_GRANULARITY_BLOCK128                          ? 128
                                                                                 : 32;
  int err = 0;
#if defined(CFP8_X86)
  if (r == CFP8_ISA_AVX512 && cfp8_cpu_has_avx512vbmi() && of != CFP8_FORMAT_F32 &&
      (g == CFP8_GRANULARITY_TENSOR || g == CFP8_GRANULARITY_BLOCK128 || (g == CFP8_GRANULARITY_ROW && cols >= 1024))) {
#pragma omp parallel num_threads(cfp8_threads(threads)) if (rows * cols > (1 << 16))
    {
      deq_table16 *tabs = (deq_table16 *)malloc(sizeof(deq_table16) * (size_t)(sc > 0 ? sc : 1));
      if (!tabs) {
#pragma omp atomic write
        err = CFP8_ERR_NO_MEMORY;
      }
      int64_t band_of_tables = -1;
#pragma omp for schedule(static)
      for (int64_t i = 0; i < rows; i++) {
        if (!tabs) continue;
        int64_t band = g == CFP8_GRANULARITY_BLOCK128 ? i / 128 : (g == CFP8_GRANULARITY_ROW ? i : 0);
        if (band != band_of_tables) {
          for (int64_t b = 0; b < sc; b++)
            build_table16(&tabs[b], t, g == CFP8_GRANULARITY_TENSOR ? scales[0] : scales[band * sc + b], of);
          band_of_tables = band;
        }
        deq_row_table16(q + (size_t)(i * cols), tabs, span, (uint16_t *)out + (size_t)(i * cols), cols);
      }
      free(tabs);
    }
    return err;
  }
#endif
#pragma omp parallel num_threads(cfp8_threads(threads)) if (rows * cols > (1 << 16))
  {
    float *rs = (float *)malloc(sizeof(float) * (size_t)(sc > 0 ? sc : 1));
    if (!rs) {
#pragma omp atomic write
      err = CFP8_ERR_NO_MEMORY;
    }
#pragma omp for schedule(static)
    for (int64_t i = 0; i < rows; i++) {
      if (!rs) continue;
      for (int64_t b = 0; b < sc; b++) {
        switch (g) {
        case CFP8_GRANULARITY_TENSOR: rs[b] = scales[0]; break;
        case CFP8_GRANULARITY_ROW: rs[b] = scales[i]; break;
        case CFP8_GRANULARITY_BLOCK128: rs[b] = scales[(i / 128) * sc + b]; break;
        default: rs[b] = cfp8_fp8_to_f32_reference(mx[i * sc + b], CFP8_FORMAT_E8M0); break;
        }
      }
      size_t off = (size_t)(i * cols);
      run(q + off, t, rs, span, (char *)out + off * osz, of, (size_t)cols);
    }
    free(rs);
  }
  return err;
}
