/* Matrix products under the tensor-core model: argument checks, packing, the OpenMP driver over
 * tasks of the ISA's kernels (tensorcore_<isa>.c) and the epilogue (shared by every ISA, so its
 * bits never depend on it). */
#include "internal.h"
#include "kernels.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static float f16_to_f32(uint16_t h) {
  uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1F, f = h & 0x3FF;
  if (e == 0x1F) return cfp8_bits_f32(s | 0x7F800000u | (f << 13));
  if (e == 0) { float v = ldexpf((float)f, -24); return s ? -v : v; }
  return cfp8_bits_f32(s | ((e + 112) << 23) | (f << 13));
}

static uint16_t f32_to_f16_rne(float x) {
  if (isnan(x)) return (uint16_t)(0x7E00 | ((cfp8_f32_bits(x) >> 16) & 0x8000));
  double r = cfp8_tc_round_f16((double)x);
  uint16_t s = signbit(r) ? 0x8000 : 0;
  double ar = fabs(r);
  if (isinf(ar)) return s | 0x7C00;
  if (ar < ldexp(1.0, -14)) return s | (uint16_t)ldexp(ar, 24);
  int e = ilogb(ar);
  uint16_t f = (uint16_t)(ldexp(ar, 10 - e) - 1024.0);
  return s | (uint16_t)((e + 15) << 10) | f;
}

static uint16_t f32_to_bf16_rne(float x) {
  uint32_t u = cfp8_f32_bits(x);
  if (isnan(x)) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static int is_fp8_in(int32_t f) { return f == CFP8_FORMAT_E4M3 || f == CFP8_FORMAT_E5M2; }

/* Element (r, c) of op(X) as a value the tensor core reads. */
static float load(const cfp8_operand *x, int64_t r, int64_t c) {
  int64_t idx = x->transposed ? c * x->ld + r : r * x->ld + c;
  switch (x->format) {
  case CFP8_FORMAT_E4M3: case CFP8_FORMAT_E5M2:
    return cfp8_decode_table_f32(x->format)[((const uint8_t *)x->data)[idx]];
  case CFP8_FORMAT_F16: return f16_to_f32(((const uint16_t *)x->data)[idx]);
  case CFP8_FORMAT_BF16: return cfp8_bits_f32((uint32_t)((const uint16_t *)x->data)[idx] << 16);
  default: {
    float v = ((const float *)x->data)[idx];
    return isnan(v) ? v : cfp8_bits_f32(cfp8_f32_bits(v) & 0xFFFFE000u); /* read as TF32 */
  }
  }
}

static int32_t packed_exp(float v, int32_t format) {
  if (v == 0.0f || !isfinite(v)) return CFP8_TC_EXP_ZERO;
  return cfp8_tc_exponent(v, format);
}

/* Per-byte tables of an FP8 operand format: the value, the value times 2^-64 (the kernels'
 * pre-scaled copy, exact: FP8 values are far from underflow), the model exponent as packed_exp
 * gives it, that exponent as int8 (-64 for a zero operand; FP8 exponents lie in [-14, 15]) and
 * whether the value is NaN or infinite. Built once per format. */
typedef struct { float v[256], pre[256]; int32_t e[256]; int8_t e8[256]; uint8_t special[256]; } fp8_tables;

static fp8_tables fp8_table_set[2];
static pthread_once_t fp8_tables_once = PTHREAD_ONCE_INIT;

static void build_fp8_tables(void) {
  for (int f = 0; f < 2; f++) {
    const int32_t format = f ? CFP8_FORMAT_E5M2 : CFP8_FORMAT_E4M3;
    const float *dec = cfp8_decode_table_f32(format);
    fp8_tables *t = &fp8_table_set[f];
    for (int x = 0; x < 256; x++) {
      t->v[x] = dec[x];
      t->pre[x] = dec[x] * 0x1p-64f;
      t->e[x] = packed_exp(dec[x], format);
      t->e8[x] = (int8_t)(t->e[x] == CFP8_TC_EXP_ZERO ? -64 : t->e[x]);
      t->special[x] = !isfinite(dec[x]);
    }
  }
}

/* The tables of E4M3 or E5M2 (NULL for other formats). */
static const fp8_tables *tables_for(int32_t format) {
  if (!is_fp8_in(format)) return NULL;
  pthread_once(&fp8_tables_once, build_fp8_tables);
  return &fp8_table_set[format == CFP8_FORMAT_E5M2];
}

/* Element (r, c) of op(X) (not FP8): its value and its model exponent. */
static inline void load_packed(const cfp8_operand *x, int64_t r, int64_t c, float *v, int32_t *e) {
  float f = load(x, r, c);
  *v = f;
  uint32_t u = cfp8_f32_bits(f) & 0x7FFFFFFFu;
  if (u == 0 || u >= 0x7F800000u) { *e = CFP8_TC_EXP_ZERO; return; }
  int be = (int)(u >> 23);
  int ex = be ? be - 127 : -127; /* FP32 subnormals only occur below every input format's emin */
  int emin = cfp8_tc_format_emin(x->format);
  *e = ex < emin ? emin : ex;
}

static int16_t mx_exp(uint8_t e) { return e == 0xFF ? INT16_MIN : (int16_t)((int)e - 127); }

/* ---- argument checks ----------------------------------------------------------------------- */
static int mul_ok(int64_t a, int64_t b, int64_t *out) {
  if (a < 0 || b < 0) return 0;
  if (a != 0 && b > INT64_MAX / a) return 0;
  *out = a * b;
  return 1;
}

static cfp8_status check_operand(const cfp8_operand *x, int64_t rows, int64_t cols) {
  if (!x) return CFP8_ERR_NULL_POINTER;
  if (x->format != CFP8_FORMAT_E4M3 && x->format != CFP8_FORMAT_E5M2 && x->format != CFP8_FORMAT_F16 &&
      x->format != CFP8_FORMAT_BF16 && x->format != CFP8_FORMAT_F32) return CFP8_ERR_BAD_FORMAT;
  if (rows == 0 || cols == 0) return CFP8_OK;
  if (!x->data) return CFP8_ERR_NULL_POINTER;
  int64_t r = x->transposed ? cols : rows, c = x->transposed ? rows : cols, t;
  if (x->ld < c) return CFP8_ERR_BAD_STRIDE;
  if (!mul_ok(r - 1, x->ld, &t) || t > INT64_MAX - c) return CFP8_ERR_SIZE_OVERFLOW;
  return CFP8_OK;
}

static int finite_all(const float *s, int64_t n) {
  for (int64_t i = 0; i < n; i++) if (!isfinite(s[i])) return 0;
  return 1;
}

static int d_format_ok(int32_t f) {
  return f == CFP8_FORMAT_F32 || f == CFP8_FORMAT_F16 || f == CFP8_FORMAT_BF16 || f == CFP8_FORMAT_E4M3 ||
         f == CFP8_FORMAT_E5M2 || f == CFP8_FORMAT_E4M3FNUZ || f == CFP8_FORMAT_E5M2FNUZ;
}

/* One stored line of an FP8 operand (k bytes, `step` apart) through the byte tables: element kk
 * goes to v[kk·stride], pre[kk·stride] and e[kk·stride] (each when not NULL: a compact job
 * leaves out A's v and e and B's e), and its int8
 * exponent to e8[kk·stride] (a_layout) or, for B's pair-interleaved layout, to
 * e8[(kk & ~1)·stride + (kk & 1)]. Returns whether a value is NaN or infinite. Local restrict
 * pointers: the int8 stores would otherwise make the compiler reload every pointer per element. */
static int pack_fp8_line(const uint8_t *restrict line, int64_t step, int64_t k, const fp8_tables *restrict t,
                         float *restrict v, float *restrict pre, int32_t *restrict e, int8_t *restrict e8, int64_t stride,
                         int a_layout) {
  uint8_t special = 0;
  for (int64_t kk = 0; kk < k; kk++) {
    const uint8_t byte = line[kk * step];
    if (v) v[kk * stride] = t->v[byte];
    if (pre) pre[kk * stride] = t->pre[byte];
    if (e) e[kk * stride] = t->e[byte];
    e8[a_layout ? kk * stride : (kk & ~(int64_t)1) * stride + (kk & 1)] = t->e8[byte];
    special |= t->special[byte];
  }
  return special != 0;
}

/* Row i of D from the accumulators: v = acc (times the tensor or row-wise scale), alpha·v,
 * + beta·C, + bias, stored in d_format. Every NaN is stored as the block model's canonical NaN
 * 0x7FFFFFFF (NVIDIA's): a NaN made by an invalid FP32 operation outside the block model (Inf − Inf
 * when promoting or in the IDEAL/EXACT sums) is the CPU's default NaN, negative on x86-64 and
 * positive on AArch64, so the bits agree on every CPU and every accumulation scheme. Returns
 * whether a NaN was seen; *amax receives max |v| when none was (the caller's amax is then NaN,
 * whatever *amax holds). Written as simple loops
 * over the row so that the common F32 case vectorises. */
static int epilogue_row(const float *restrict acc, int64_t i, int64_t n, int32_t mode, const cfp8_scaling *scaling,
                        const cfp8_epilogue *ep, float *amax) {
  enum { CH = 256 };
  float t[CH];
  const float alpha = ep->alpha, beta = ep->beta;
  const float tensor_scale = mode == CFP8_SCALING_TENSOR ? scaling->a_scales[0] * scaling->b_scales[0] : 1.0f;
  const float *restrict bias = ep->bias, *restrict c = beta != 0.0f ? ep->c + i * ep->ldc : NULL;
  int nan = 0;
  float mx = 0.0f;
  for (int64_t j0 = 0; j0 < n; j0 += CH) {
    const int64_t len = n - j0 < CH ? n - j0 : CH;
    if (mode == CFP8_SCALING_TENSOR) {
      for (int64_t j = 0; j < len; j++) t[j] = acc[j0 + j] * tensor_scale;
    } else if (mode == CFP8_SCALING_ROWWISE) {
      const float sa = scaling->a_scales[i], *restrict sb = scaling->b_scales + j0;
      for (int64_t j = 0; j < len; j++) t[j] = acc[j0 + j] * (sa * sb[j]);
    } else {
      for (int64_t j = 0; j < len; j++) t[j] = acc[j0 + j];
    }
    if (alpha != 1.0f) /* alpha·v is v when alpha = 1 (a NaN's payload aside: it is replaced below) */
      for (int64_t j = 0; j < len; j++) t[j] = alpha * t[j];
    if (c)
      for (int64_t j = 0; j < len; j++) t[j] = fmaf(beta, c[j0 + j], t[j]);
    if (bias)
      for (int64_t j = 0; j < len; j++) t[j] = t[j] + bias[j0 + j];
    /* max |v| on the bits: below 0x7F800000 (Inf) their integer order is the values' order, and a
       NaN is above; with a NaN the returned amax is NaN, so the other values' maximum is not needed.
       An integer loop the compiler vectorises. */
    uint32_t top = 0;
    for (int64_t j = 0; j < len; j++) {
      uint32_t u;
      memcpy(&u, &t[j], 4);
      u &= 0x7FFFFFFFu;
      top = u > top ? u : top;
    }
    const int chunk_nan = top > 0x7F800000u;
    if (!chunk_nan && cfp8_bits_f32(top) > mx) mx = cfp8_bits_f32(top);
    if (chunk_nan) {
      nan = 1;
      for (int64_t j = 0; j < len; j++)
        if (t[j] != t[j]) t[j] = cfp8_bits_f32(0x7FFFFFFFu);
    }
    const int64_t di = i * ep->ldd + j0;
    switch (ep->d_format) {
    case CFP8_FORMAT_F32: memcpy((float *)ep->d + di, t, (size_t)len * sizeof(float)); break;
    case CFP8_FORMAT_F16:
      for (int64_t j = 0; j < len; j++) ((uint16_t *)ep->d)[di + j] = f32_to_f16_rne(t[j]);
      break;
    case CFP8_FORMAT_BF16:
      for (int64_t j = 0; j < len; j++) ((uint16_t *)ep->d)[di + j] = f32_to_bf16_rne(t[j]);
      break;
    default:
      for (int64_t j = 0; j < len; j++)
        ((uint8_t *)ep->d)[di + j] = cfp8_encode_f32_reference(t[j] * ep->d_scale, ep->d_format, CFP8_ROUND_NEAREST_EVEN,
                                                               CFP8_PRESET_CUDA_SATFINITE, 0);
    }
  }
  *amax = mx;
  return nan;
}

cfp8_status cfp8_tc_gemm(int64_t m, int64_t n, int64_t k, const cfp8_operand *a, const cfp8_operand *b,
                         const float *acc_init, const cfp8_scaling *scaling, const cfp8_tc_model *model, int32_t accumulation,
                         int32_t promotion_interval, const cfp8_epilogue *ep, int32_t isa, int32_t threads) {
  if (m < 0 || n < 0 || k < 0) return CFP8_ERR_BAD_SHAPE;
  if (!a || !b || !ep) return CFP8_ERR_NULL_POINTER;
  cfp8_status st;
  if ((st = check_operand(a, m, k)) || (st = check_operand(b, k, n))) return st;
  if (is_fp8_in(a->format) != is_fp8_in(b->format) || (!is_fp8_in(a->format) && a->format != b->format))
    return CFP8_ERR_BAD_FORMAT;
  if (accumulation < CFP8_TC_ACCUM_FAST || accumulation > CFP8_TC_ACCUM_EXACT) return CFP8_ERR_BAD_ARGUMENT;
  if (accumulation <= CFP8_TC_ACCUM_PROMOTED && (st = cfp8_tc_model_check(model))) return st;
  if (promotion_interval <= 0) promotion_interval = 128;
  const cfp8_kernels *kern;
  if ((st = cfp8_kernels_resolve(isa, &kern))) return st;
  const cfp8_tc_kernels *tk = &kern->tc;
  const int32_t mode = scaling ? scaling->mode : CFP8_SCALING_NONE;
  int64_t kb128 = (k + 127) / 128, nb128 = (n + 127) / 128, kb32 = (k + 31) / 32, t;
  switch (mode) {
  case CFP8_SCALING_NONE: break;
  case CFP8_SCALING_TENSOR:
    if (!scaling->a_scales || !scaling->b_scales) return CFP8_ERR_BAD_SCALE;
    if (!isfinite(scaling->a_scales[0]) || !isfinite(scaling->b_scales[0])) return CFP8_ERR_BAD_SCALE;
    break;
  case CFP8_SCALING_ROWWISE:
    if (!scaling->a_scales || !scaling->b_scales) return CFP8_ERR_BAD_SCALE;
    if (!finite_all(scaling->a_scales, m) || !finite_all(scaling->b_scales, n)) return CFP8_ERR_BAD_SCALE;
    break;
  case CFP8_SCALING_BLOCK:
    if (!scaling->a_scales || !scaling->b_scales) return CFP8_ERR_BAD_SCALE;
    if (!mul_ok(m, kb128, &t) || !finite_all(scaling->a_scales, t)) return CFP8_ERR_BAD_SCALE;
    if (!mul_ok(kb128, nb128, &t) || !finite_all(scaling->b_scales, t)) return CFP8_ERR_BAD_SCALE;
    if (accumulation == CFP8_TC_ACCUM_FAST) return CFP8_ERR_BAD_ARGUMENT;
    if (accumulation == CFP8_TC_ACCUM_PROMOTED && 128 % promotion_interval != 0) return CFP8_ERR_BAD_ARGUMENT;
    break;
  case CFP8_SCALING_MX:
    if (!is_fp8_in(a->format)) return CFP8_ERR_BAD_FORMAT;
    if (!scaling->a_mx || !scaling->b_mx) return CFP8_ERR_BAD_SCALE;
    break;
  default: return CFP8_ERR_BAD_SCALE;
  }
  if (!d_format_ok(ep->d_format)) return CFP8_ERR_BAD_FORMAT;
  if (m > 0 && n > 0) {
    if (!ep->d) return CFP8_ERR_NULL_POINTER;
    if (ep->ldd < n) return CFP8_ERR_BAD_STRIDE;
    if (ep->beta != 0.0f) {
      if (!ep->c) return CFP8_ERR_NULL_POINTER;
      if (ep->ldc < n) return CFP8_ERR_BAD_STRIDE;
    }
    if (!mul_ok(m - 1, ep->ldd, &t) || !mul_ok(m - 1, ep->ldc < 0 ? 0 : ep->ldc, &t)) return CFP8_ERR_SIZE_OVERFLOW;
    if (cfp8_format_is_fp8(ep->d_format) && !isfinite(ep->d_scale)) return CFP8_ERR_BAD_SCALE;
    if (!isfinite(ep->alpha) || !isfinite(ep->beta)) return CFP8_ERR_BAD_ARGUMENT;
  }
  if (m == 0 || n == 0) { if (ep->amax_out) *ep->amax_out = 0.0f; return CFP8_OK; }

  /* ---- packing ---- */
  const int64_t npanels = (n + CFP8_TC_PANEL - 1) / CFP8_TC_PANEL, ldacc = npanels * CFP8_TC_PANEL;
  int64_t na, nbp, nacc;
  if (!mul_ok(m, k, &na) || !mul_ok(ldacc, k, &nbp) || !mul_ok(m, ldacc, &nacc) || na > INT64_MAX / 8 ||
      nbp > INT64_MAX / 8 || nacc > INT64_MAX / 8) return CFP8_ERR_SIZE_OVERFLOW;
  int64_t nmx_a = 0, nmx_b = 0;
  if (mode == CFP8_SCALING_MX && (!mul_ok(m, kb32, &nmx_a) || !mul_ok(kb32, n, &nmx_b))) return CFP8_ERR_SIZE_OVERFLOW;
  /* What decides the kernels' path, for the ISA's compact test before anything is packed */
  const cfp8_tc_job probe = {
    .m = m, .n = n, .k = k, .scaling = mode, .fp8_inputs = is_fp8_in(a->format), .model = model,
    .accumulation = accumulation, .interval = promotion_interval,
  };
  const int compact = is_fp8_in(a->format) && tk->compact && tk->compact(&probe);
  float *av = compact ? NULL : malloc((size_t)(na ? na : 1) * 4), *av_pre = is_fp8_in(a->format) ? malloc((size_t)(na ? na : 1) * 4) : NULL, *bv = malloc((size_t)(nbp ? nbp : 1) * 4), *acc = malloc((size_t)nacc * 4);
  int32_t *ae = compact ? NULL : malloc((size_t)(na ? na : 1) * 4), *be = compact ? NULL : malloc((size_t)(nbp ? nbp : 1) * 4);
  int8_t *ae8 = is_fp8_in(a->format) ? malloc((size_t)(na ? na : 1)) : NULL;
  /* be8: per panel, K rounded up to even, each pair of k interleaved byte by byte (see
     tensorcore_avx2.c); the pad is a zero operand's -64 */
  const int64_t kp = (k + 1) & ~(int64_t)1;
  int8_t *be8 = is_fp8_in(a->format) ? malloc((size_t)(npanels * kp * CFP8_TC_PANEL + 1)) : NULL;
  uint8_t *asp = calloc((size_t)m, 1), *bsp = calloc((size_t)npanels, 1);
  int16_t *amx = nmx_a ? malloc((size_t)nmx_a * 2) : NULL, *bmx = nmx_b ? malloc((size_t)nmx_b * 2) : NULL;
  if ((!compact && (!av || !ae || !be)) || !bv || !acc || !asp || !bsp || (nmx_a && !amx) || (nmx_b && !bmx) ||
      (is_fp8_in(a->format) && (!av_pre || !ae8 || !be8))) {
    free(av); free(av_pre); free(bv); free(acc); free(ae); free(be); free(ae8); free(be8); free(asp); free(bsp); free(amx); free(bmx);
    return CFP8_ERR_NO_MEMORY;
  }
  const int nt = cfp8_threads(threads);
  const fp8_tables *ta = tables_for(a->format), *tb = tables_for(b->format);
  /* FP8 operands (the training products) go through the byte tables along each stored line;
   * other formats element by element. Both fill the same arrays with the same values. */
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (int64_t i = 0; i < m; i++) {
    if (ta) {
      const uint8_t *line = (const uint8_t *)a->data + (a->transposed ? i : i * a->ld);
      if (compact && !a->transposed && tk->pack_a_line && tk->pack_a_line(line, k, a->format, av_pre + i * k, ae8 + i * k))
        continue;
      if (pack_fp8_line(line, a->transposed ? a->ld : 1, k, ta, compact ? NULL : av + i * k, av_pre + i * k,
                        compact ? NULL : ae + i * k, ae8 + i * k, 1, 1))
        asp[i] = 1;
      continue;
    }
    for (int64_t kk = 0; kk < k; kk++) {
      float v;
      int32_t e;
      load_packed(a, i, kk, &v, &e);
      av[i * k + kk] = v;
      ae[i * k + kk] = e;
      if (!isfinite(v)) asp[i] = 1;
    }
  }
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (int64_t p = 0; p < npanels; p++) {
    int packed = 0;
    if (compact && b->transposed && tk->pack_b_panel && (p + 1) * CFP8_TC_PANEL <= n) {
      const uint8_t *lines[CFP8_TC_PANEL];
      for (int jj = 0; jj < CFP8_TC_PANEL; jj++) lines[jj] = (const uint8_t *)b->data + (p * CFP8_TC_PANEL + jj) * b->ld;
      packed = tk->pack_b_panel(lines, k, b->format, bv + p * k * CFP8_TC_PANEL, be8 + p * kp * CFP8_TC_PANEL);
    }
    for (int jj = 0; !packed && jj < CFP8_TC_PANEL; jj++) {
      const int64_t j = p * CFP8_TC_PANEL + jj;
      /* be8: per panel, pairs of k interleaved byte by byte (see tensorcore_avx2.c) */
      int8_t *pairs = be8 ? be8 + p * kp * CFP8_TC_PANEL + 2 * jj : NULL;
      if (j >= n) {
        for (int64_t kk = 0; kk < k; kk++) {
          bv[(p * k + kk) * CFP8_TC_PANEL + jj] = 0.0f;
          if (be) be[(p * k + kk) * CFP8_TC_PANEL + jj] = CFP8_TC_EXP_ZERO;
        }
      } else if (tb) {
        const uint8_t *line = (const uint8_t *)b->data + (b->transposed ? j * b->ld : j);
        const int64_t at = p * k * CFP8_TC_PANEL + jj;
        if (pack_fp8_line(line, b->transposed ? 1 : b->ld, k, tb, bv + at, NULL, compact ? NULL : be + at, pairs, CFP8_TC_PANEL, 0))
          bsp[p] = 1;
      } else {
        for (int64_t kk = 0; kk < k; kk++) {
          float v;
          int32_t e;
          load_packed(b, kk, j, &v, &e);
          bv[(p * k + kk) * CFP8_TC_PANEL + jj] = v;
          be[(p * k + kk) * CFP8_TC_PANEL + jj] = e;
          if (!isfinite(v)) bsp[p] = 1;
        }
      }
      if (pairs && j >= n)
        for (int64_t kk = 0; kk < kp; kk++) pairs[(kk & ~(int64_t)1) * CFP8_TC_PANEL + (kk & 1)] = -64;
    }
    if (be8 && (k & 1)) /* the pad of an odd K, whichever way the panel was packed */
      for (int jj = 0; jj < CFP8_TC_PANEL; jj++) be8[p * kp * CFP8_TC_PANEL + (k - 1) * CFP8_TC_PANEL + 2 * jj + 1] = -64;
  }
  for (int64_t x = 0; x < nmx_a; x++) amx[x] = mx_exp(scaling->a_mx[x]);
  for (int64_t x = 0; x < nmx_b; x++) bmx[x] = mx_exp(scaling->b_mx[x]);

  cfp8_tc_job job = {
    .m = m, .n = n, .k = k, .npanels = npanels, .av = av, .av_pre = av_pre, .ae = ae, .ae8 = ae8, .bv = bv, .be = be, .be8 = be8,
    .a_special = asp, .b_special = bsp, .a_mx = amx, .b_mx = bmx, .kb32 = kb32,
    .blk_a = mode == CFP8_SCALING_BLOCK ? scaling->a_scales : NULL,
    .blk_b = mode == CFP8_SCALING_BLOCK ? scaling->b_scales : NULL,
    .kb128 = kb128, .nb128 = nb128, .scaling = mode, .fp8_inputs = is_fp8_in(a->format),
    .exact_e4m3 = a->format == CFP8_FORMAT_E4M3 && b->format == CFP8_FORMAT_E4M3 && k >= 1 && k <= 65536 &&
                  mode != CFP8_SCALING_BLOCK && mode != CFP8_SCALING_MX, .model = model, .accumulation = accumulation,
    .interval = promotion_interval, .acc_init = acc_init, .acc = acc, .ldacc = ldacc,
  };
  /* tasks: 4 rows × one 16-column panel; a K chain never leaves its task */
  const int64_t rblocks = (m + 3) / 4, tasks = rblocks * npanels;
#pragma omp parallel for schedule(static, 1) num_threads(nt) if (nt > 1)
  for (int64_t tsk = 0; tsk < tasks; tsk++) {
    int64_t p = tsk / rblocks, i0 = (tsk % rblocks) * 4; /* a B panel stays in cache across row blocks */
    const int done = tk->task_rows && tk->task_rows(&job, i0, p);
    for (int64_t i = i0; !done && i < i0 + 4 && i < m; i++)
      if (!(!compact && tk->task_row && tk->task_row(&job, i, p))) cfp8_tc_task_scalar(&job, i, p);
  }

  /* ---- epilogue ---- */
  float amax = 0.0f;
  int any_nan = 0;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1) reduction(max : amax) reduction(| : any_nan)
  for (int64_t i = 0; i < m; i++) {
    float row_amax = 0.0f;
    any_nan |= epilogue_row(acc + i * ldacc, i, n, mode, scaling, ep, &row_amax);
    amax = row_amax > amax ? row_amax : amax;
  }
  if (ep->amax_out) *ep->amax_out = any_nan ? NAN : amax;
  free(av); free(av_pre); free(bv); free(acc); free(ae); free(be); free(ae8); free(be8); free(asp); free(bsp); free(amx); free(bmx);
  return CFP8_OK;
}
