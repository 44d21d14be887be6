/* Scaled quantisation and dequantisation (see cfp8_quantize.h): argument checks, scale groups,
 * OpenMP over rows around the ISA's kernels (quantize_<isa>.c). */
#include "internal.h"
#include "kernels.h"
#include "cfp8_quantize.h"
#include "cfp8_convert.h"
#include <math.h>
#include <stdlib.h>

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

cfp8_status cfp8_amax(const void *x, int32_t fmt, int64_t rows, int64_t cols, int64_t ld, int32_t g, float *amax,
                      int32_t isa, int32_t threads) {
  int64_t sr, sc;
  cfp8_status st = cfp8_scale_shape(g, rows, cols, &sr, &sc);
  if (st) return st;
  if (!amax || (rows * cols > 0 && !x)) return CFP8_ERR_NULL_POINTER;
  if (fmt != CFP8_FORMAT_F32 && fmt != CFP8_FORMAT_BF16 && fmt != CFP8_FORMAT_F16) return CFP8_ERR_BAD_FORMAT;
  if (ld < cols) return CFP8_ERR_BAD_STRIDE;
  if (rows > 0 && ld > 0 && (uint64_t)(rows - 1) > (uint64_t)(INT64_MAX - cols) / (uint64_t)ld) return CFP8_ERR_SIZE_OVERFLOW;
  const cfp8_kernels *kern;
  if ((st = cfp8_kernels_resolve(isa, &kern))) return st;
  const cfp8_amax_run_fn run = kern->quantize.amax_run;
  if (g == CFP8_GRANULARITY_TENSOR) {
    /* per-row partial maxima, combined in a fixed order: same bits for any thread count */
    float *part = (float *)malloc(sizeof(float) * (size_t)(rows > 0 ? rows : 1));
    if (!part) return CFP8_ERR_NO_MEMORY;
#pragma omp parallel for num_threads(cfp8_threads(threads)) schedule(static) if (rows * cols > (1 << 16))
    for (int64_t i = 0; i < rows; i++) part[i] = run(x, fmt, (size_t)(i * ld), (size_t)cols);
    float m = 0.0f;
    for (int64_t i = 0; i < rows; i++) m = cfp8_quant_amax_step(m, part[i]);
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
          amax[bi * sc + bj] = cfp8_quant_amax_step(amax[bi * sc + bj], run(x, fmt, (size_t)(i * ld + c0), (size_t)n));
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
        tmp[j] = cfp8_quant_load_f32(x, fmt, (size_t)(i * cols + j)) / s;
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

/* One table per scale of scales[0..sc), in the kernel's layout: byte planes (VBMI) or 16-bit values. */
static void build_tables16(void *tabs, int planes, const float *t, const float *scales, int64_t sc, int32_t of) {
  for (int64_t k = 0; k < sc; k++)
    for (int b = 0; b < 256; b++) {
      float v = t[b] * scales[k];
      uint16_t h = of == CFP8_FORMAT_BF16 ? cfp8_f32_to_bf16_rne(v) : cfp8_quant_f32_to_f16_rne(v);
      if (planes) {
        ((cfp8_deq_table16 *)tabs)[k].lo[b] = (uint8_t)h;
        ((cfp8_deq_table16 *)tabs)[k].hi[b] = (uint8_t)(h >> 8);
      } else {
        ((uint16_t *)tabs)[256 * k + b] = h;
      }
    }
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
  const cfp8_kernels *kern;
  if ((st = cfp8_kernels_resolve(isa, &kern))) return st;
  const cfp8_deq_run_fn run = kern->quantize.deq_run;
  const size_t osz = of == CFP8_FORMAT_F32 ? 4 : 2;
  const int64_t span = g == CFP8_GRANULARITY_TENSOR || g == CFP8_GRANULARITY_ROW ? (cols > 0 ? cols : 1)
                       : g == CFP8_GRANULARITY_BLOCK128                          ? 128
                                                                                 : 32;
  int err = 0;
  const int planes = kern->quantize.deq_row_table16 != NULL;
  if ((planes || kern->quantize.deq_row_lookup16) && of != CFP8_FORMAT_F32 &&
      (g == CFP8_GRANULARITY_TENSOR || g == CFP8_GRANULARITY_BLOCK128 || (g == CFP8_GRANULARITY_ROW && cols >= 1024))) {
    const size_t tab_bytes = (planes ? sizeof(cfp8_deq_table16) : 256 * sizeof(uint16_t)) * (size_t)(sc > 0 ? sc : 1);
#pragma omp parallel num_threads(cfp8_threads(threads)) if (rows * cols > (1 << 16))
    {
      void *tabs = malloc(tab_bytes);
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
          build_tables16(tabs, planes, t, scales + band * sc, sc, of);
          band_of_tables = band;
        }
        if (planes)
          kern->quantize.deq_row_table16(q + (size_t)(i * cols), (const cfp8_deq_table16 *)tabs, span,
                                         (uint16_t *)out + (size_t)(i * cols), cols);
        else
          kern->quantize.deq_row_lookup16(q + (size_t)(i * cols), (const uint16_t *)tabs, span,
                                          (uint16_t *)out + (size_t)(i * cols), cols);
      }
      free(tabs);
    }
    return err;
  }
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
