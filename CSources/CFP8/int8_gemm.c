/* INT8 GEMM driver (validation, packing, OpenMP over M/N blocks around the ISA's kernel,
 * int8_gemm_<isa>.c), the requantisation epilogue and symmetric INT8 quantisation. */
#include "internal.h"
#include "kernels.h"
#include <math.h>
#include <stdlib.h>

#define I8_MB 96   /* rows per parallel block (a multiple of both MRs, 8 and 6) */
#define I8_NB 256  /* columns per parallel block (a multiple of both NRs) */
#define I8_KC 512  /* K per block: a 32-column VNNI (or 16-column AVX2) B slice is 16 KiB, in L1 */

static cfp8_status check_mul(int64_t x, int64_t y, int64_t *out) {
  if (__builtin_mul_overflow(x, y, out) || *out > (int64_t)(SIZE_MAX / 4)) return CFP8_ERR_SIZE_OVERFLOW;
  return CFP8_OK;
}

/* VNNI packing: panel of 32 columns; for each k4, column c's 4 bytes at [c*4]. Zero padding. */
static void pack_b_vnni(int64_t n, int64_t k, int64_t kp, const int8_t *b, int64_t ldb, int8_t *pb, int32_t *colsum,
                        int nt) {
  int64_t panels = (n + CFP8_I8_VNNI_NR - 1) / CFP8_I8_VNNI_NR;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t pn = 0; pn < panels; pn++) {
    int8_t *dst = pb + pn * kp * CFP8_I8_VNNI_NR;
    for (int c = 0; c < CFP8_I8_VNNI_NR; c++) {
      int64_t j = pn * CFP8_I8_VNNI_NR + c;
      int32_t s = 0;
      for (int64_t p = 0; p < kp; p++) {
        int8_t v = (j < n && p < k) ? b[j * ldb + p] : 0;
        s += v;
        dst[(p / 4) * (4 * CFP8_I8_VNNI_NR) + c * 4 + (p % 4)] = v;
      }
      if (j < n) colsum[j] = s;
    }
  }
}

static void pack_b_avx2(int64_t n, int64_t k, int64_t kp, const int8_t *b, int64_t ldb, int16_t *pb, int nt) {
  int64_t panels = (n + CFP8_I8_AVX2_NR - 1) / CFP8_I8_AVX2_NR;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t pn = 0; pn < panels; pn++) {
    int16_t *dst = pb + pn * kp * CFP8_I8_AVX2_NR;
    for (int c = 0; c < CFP8_I8_AVX2_NR; c++) {
      int64_t j = pn * CFP8_I8_AVX2_NR + c;
      for (int64_t p = 0; p < kp; p++)
        dst[(p / 2) * (2 * CFP8_I8_AVX2_NR) + c * 2 + (p % 2)] = (j < n && p < k) ? b[j * ldb + p] : 0;
    }
  }
}

cfp8_status cfp8_int8_gemm(int64_t m, int64_t n, int64_t k, const int8_t *a, int64_t lda, const int8_t *b,
                           int64_t ldb, int32_t *c, int64_t ldc, int32_t isa, int32_t threads) {
  if (m < 0 || n < 0 || k < 0 || k > CFP8_INT8_GEMM_MAX_K) return CFP8_ERR_BAD_SHAPE;
  if (m == 0 || n == 0) return CFP8_OK;
  if (!c || (k > 0 && (!a || !b))) return CFP8_ERR_NULL_POINTER;
  if (ldc < n || (k > 0 && (lda < k || ldb < k))) return CFP8_ERR_BAD_STRIDE;
  int64_t tmp;
  cfp8_status st = check_mul(m, ldc, &tmp);
  if (st) return st;
  if (k > 0 && ((st = check_mul(m, lda, &tmp)) || (st = check_mul(n, ldb, &tmp)))) return st;
  const cfp8_kernels *kern;
  if ((st = cfp8_kernels_resolve(isa, &kern))) return st;
  const cfp8_int8_kernels *ik = &kern->int8;
  int nt = cfp8_threads(threads);
  if (k == 0) {
    for (int64_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * 4);
    return CFP8_OK;
  }
  int64_t mblocks = (m + I8_MB - 1) / I8_MB, nblocks = (n + I8_NB - 1) / I8_NB;
  if (ik->rows) {
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int64_t bi = 0; bi < mblocks; bi++) {
      int64_t i1 = (bi + 1) * I8_MB < m ? (bi + 1) * I8_MB : m;
      ik->rows(bi * I8_MB, i1, n, k, a, lda, b, ldb, c, ldc);
    }
    return CFP8_OK;
  }
  const int vnni = ik->vnni != NULL;
  int mr = vnni ? CFP8_I8_VNNI_MR : CFP8_I8_AVX2_MR, nr = vnni ? CFP8_I8_VNNI_NR : CFP8_I8_AVX2_NR;
  int64_t kp = (k + 3) & ~(int64_t)3;
  int64_t npad = (n + nr - 1) / nr * nr, mpad = (m + mr - 1) / mr * mr;
  int64_t esize = vnni ? 1 : 2, bbytes, abytes;
  if ((st = check_mul(npad, kp * esize, &bbytes)) || (st = check_mul(mpad, kp * esize, &abytes))) return st;
  void *pb = aligned_alloc(64, (size_t)((bbytes + 63) & ~63));
  void *pa = aligned_alloc(64, (size_t)((abytes + 63) & ~63));
  int32_t *colsum = malloc((size_t)npad * 4);
  if (!pb || !pa || !colsum) { free(pb); free(pa); free(colsum); return CFP8_ERR_NO_MEMORY; }
  if (vnni) pack_b_vnni(n, k, kp, b, ldb, pb, colsum, nt);
  else pack_b_avx2(n, k, kp, b, ldb, pb, nt);
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < mpad; i++) {
    if (vnni) {
      uint8_t *dst = (uint8_t *)pa + i * kp;
      for (int64_t p = 0; p < kp; p++) dst[p] = (i < m && p < k) ? (uint8_t)(a[i * lda + p] ^ 0x80) : 0x80;
    } else {
      int16_t *dst = (int16_t *)pa + i * kp;
      for (int64_t p = 0; p < kp; p++) dst[p] = (i < m && p < k) ? a[i * lda + p] : 0;
    }
  }
#pragma omp parallel for collapse(2) num_threads(nt) schedule(static, 1)
  for (int64_t bi = 0; bi < mblocks; bi++)
    for (int64_t bj = 0; bj < nblocks; bj++) {
      /* Accumulators of the block's I8_MB rows × one NR-wide panel, kept across the K blocks. */
      int32_t acc[I8_MB * CFP8_I8_VNNI_NR] __attribute__((aligned(64)));
      int64_t i1 = (bi + 1) * I8_MB < m ? (bi + 1) * I8_MB : m;
      int64_t j1 = (bj + 1) * I8_NB < n ? (bj + 1) * I8_NB : n;
      for (int64_t j0 = bj * I8_NB; j0 < j1; j0 += nr) {
        for (int64_t k0 = 0; k0 < kp; k0 += I8_KC) {
          int64_t kc = kp - k0 < I8_KC ? kp - k0 : I8_KC;
          for (int64_t i0 = bi * I8_MB; i0 < i1; i0 += mr) {
            int32_t *tile = acc + (i0 - bi * I8_MB) * nr;
            if (vnni)
              ik->vnni(kc, (const uint8_t *)pa + i0 * kp + k0, kp, (const int8_t *)pb + (j0 / nr) * kp * nr + k0 * nr,
                       tile, k0 > 0);
            else
              ik->avx2(kc, (const int16_t *)pa + i0 * kp + k0, kp, (const int16_t *)pb + (j0 / nr) * kp * nr + k0 * nr,
                       tile, k0 > 0);
          }
        }
        int64_t cj = j1 - j0 < nr ? j1 - j0 : nr;
        for (int64_t i = bi * I8_MB; i < i1; i++) {
          int32_t *dst = c + i * ldc + j0;
          const int32_t *src = acc + (i - bi * I8_MB) * nr;
          /* VNNI: Σ (a+128)·b − 128·Σ b, in wrapping int32 arithmetic; the true value fits. */
          if (vnni)
            for (int64_t q = 0; q < cj; q++) dst[q] = (int32_t)((uint32_t)src[q] - 128u * (uint32_t)colsum[j0 + q]);
          else
            for (int64_t q = 0; q < cj; q++) dst[q] = src[q];
        }
      }
    }
  free(pb); free(pa); free(colsum);
  return CFP8_OK;
}

cfp8_status cfp8_int8_requantize(int64_t m, int64_t n, const int32_t *c, int64_t ldc, float a_scale,
                                 const float *w_scales, const float *bias, float *out, int64_t ldo) {
  if (m < 0 || n < 0) return CFP8_ERR_BAD_SHAPE;
  if (m == 0 || n == 0) return CFP8_OK;
  if (!c || !w_scales || !out) return CFP8_ERR_NULL_POINTER;
  if (ldc < n || ldo < n) return CFP8_ERR_BAD_STRIDE;
  if (!isfinite(a_scale)) return CFP8_ERR_BAD_SCALE;
  for (int64_t j = 0; j < n; j++) if (!isfinite(w_scales[j])) return CFP8_ERR_BAD_SCALE;
  for (int64_t i = 0; i < m; i++) {
    const int32_t *cr = c + i * ldc;
    float *o = out + i * ldo;
    for (int64_t j = 0; j < n; j++) {
      float s = a_scale * w_scales[j];
      float t = (float)cr[j] * s;
      o[j] = t;
    }
    if (bias)
      for (int64_t j = 0; j < n; j++) o[j] = o[j] + bias[j];
  }
  return CFP8_OK;
}

cfp8_status cfp8_int8_quantize(const float *x, int64_t rows, int64_t cols, int64_t ldx, const float *scales,
                               int32_t per_row, int8_t *q, int64_t ldq) {
  if (rows < 0 || cols < 0) return CFP8_ERR_BAD_SHAPE;
  if (rows == 0 || cols == 0) return CFP8_OK;
  if (!x || !scales || !q) return CFP8_ERR_NULL_POINTER;
  if (ldx < cols || ldq < cols) return CFP8_ERR_BAD_STRIDE;
  if (per_row != 0 && per_row != 1) return CFP8_ERR_BAD_ARGUMENT;
  int64_t ns = per_row ? rows : 1;
  for (int64_t r = 0; r < ns; r++)
    if (!isfinite(scales[r]) || !(scales[r] > 0)) return CFP8_ERR_BAD_SCALE;
  for (int64_t r = 0; r < rows; r++) {
    float s = scales[per_row ? r : 0];
    const float *xr = x + r * ldx;
    int8_t *qr = q + r * ldq;
    for (int64_t j = 0; j < cols; j++) {
      float v = xr[j] / s;
      v = v != v ? 0.0f : v;
      v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
      qr[j] = (int8_t)rintf(v);
    }
  }
  return CFP8_OK;
}

cfp8_status cfp8_absmax_f32(const float *x, int64_t rows, int64_t cols, int64_t ldx, int32_t per_row, float *amax) {
  if (rows < 0 || cols < 0) return CFP8_ERR_BAD_SHAPE;
  if (!amax) return CFP8_ERR_NULL_POINTER;
  if (per_row != 0 && per_row != 1) return CFP8_ERR_BAD_ARGUMENT;
  if (rows > 0 && cols > 0 && !x) return CFP8_ERR_NULL_POINTER;
  if (rows > 0 && ldx < cols) return CFP8_ERR_BAD_STRIDE;
  float total = 0;
  for (int64_t r = 0; r < rows; r++) {
    float mr = 0;
    for (int64_t j = 0; j < cols; j++) {
      float v = fabsf(x[r * ldx + j]);
      mr = v > mr ? v : mr;  /* NaN compares false: skipped */
    }
    if (per_row) amax[r] = mr;
    total = mr > total ? mr : total;
  }
  if (!per_row) amax[0] = total;
  return CFP8_OK;
}
