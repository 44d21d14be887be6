/* The GEMM driver: argument checks, BLIS-style blocking (NC columns of B, KC of K, MC rows of A),
 * OpenMP over (M block, N range) units, the skinny-M path, and the epilogue. K is never split
 * between threads and every accumulator is one FMA chain in increasing k, so the bits do not
 * depend on the thread count or the ISA (see cfp8_gemm.h for the exact formulas). */
#include "internal.h"
#include "gemm_internal.h"
#include <math.h>
#include <stdlib.h>

#ifndef GEMM_KC
#define GEMM_KC 768 /* a multiple of CFP8_GEMM_SCALE_BLOCK; B micro-panel 96 KiB, A block 252 KiB: L2 */
#endif
#ifndef GEMM_NC
#define GEMM_NC 2048
#endif
#ifndef GEMM_MC_TARGET
#define GEMM_MC_TARGET 84
#endif
enum { SKINNY_MAX_M = 16 };

static int operand_format_ok(int32_t f) {
  return (f >= CFP8_FORMAT_E4M3 && f <= CFP8_FORMAT_E5M2FNUZ) || f == CFP8_FORMAT_F16 || f == CFP8_FORMAT_BF16 ||
         f == CFP8_FORMAT_F32;
}
static int64_t max1(int64_t x) { return x > 1 ? x : 1; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Per-thread scratch buffers reused across calls (packed panels, the FP32 accumulator tile), so
 * that small products do not pay for fresh pages on every call. Buffers above SCRATCH_KEEP bytes
 * are allocated for the call and freed by scratch_release. */
#define SCRATCH_KEEP ((size_t)16 << 20)
typedef struct scratch_slot { void *p; size_t cap; } scratch_slot;
static __thread scratch_slot scratch_slots[3];
static void *scratch_get(int slot, size_t bytes) {
  bytes = (bytes + 63) / 64 * 64;
  if (bytes == 0) bytes = 64;
  if (bytes > SCRATCH_KEEP) return aligned_alloc(64, bytes);
  scratch_slot *s = &scratch_slots[slot];
  if (s->cap < bytes) {
    free(s->p);
    s->p = aligned_alloc(64, bytes);
    s->cap = s->p ? bytes : 0;
  }
  return s->p;
}
static void scratch_release(int slot, void *p) {
  if (p && p != scratch_slots[slot].p) free(p);
}
enum { SLOT_W = 0, SLOT_B = 1, SLOT_A = 2 };

/* Elements spanned by a rows×cols array with leading dimension ld, times elem bytes, fits. */
static int extent_ok(int64_t rows, int64_t cols, int64_t ld, int64_t elem) {
  if (rows == 0 || cols == 0) return 1;
  int64_t span, bytes;
  if (__builtin_mul_overflow(rows - 1, ld, &span) || __builtin_add_overflow(span, cols, &span)) return 0;
  if (__builtin_mul_overflow(span, elem, &bytes)) return 0;
  return (uint64_t)bytes <= (uint64_t)SIZE_MAX / 2;
}

/* op(X) is rows×cols. */
static cfp8_status check_operand(const cfp8_operand *x, int64_t rows, int64_t cols) {
  if (!operand_format_ok(x->format)) return CFP8_ERR_BAD_FORMAT;
  const int64_t srows = x->transposed ? cols : rows, scols = x->transposed ? rows : cols;
  if (x->ld < max1(scols)) return CFP8_ERR_BAD_STRIDE;
  if (!extent_ok(srows, scols, x->ld, cfp8_format_size(x->format))) return CFP8_ERR_SIZE_OVERFLOW;
  if (rows > 0 && cols > 0 && !x->data) return CFP8_ERR_NULL_POINTER;
  return CFP8_OK;
}

static cfp8_status check_floats(const float *s, int64_t count) {
  if (count == 0) return CFP8_OK;
  if (!s) return CFP8_ERR_BAD_SCALE;
  for (int64_t i = 0; i < count; i++)
    if (!isfinite(s[i])) return CFP8_ERR_BAD_SCALE;
  return CFP8_OK;
}

static cfp8_status check_scaling(const cfp8_scaling *s, int64_t m, int64_t n, int64_t k, const cfp8_operand *a,
                                 const cfp8_operand *b) {
  int64_t na, nb, t;
  switch (s->mode) {
  case CFP8_SCALING_NONE: return CFP8_OK;
  case CFP8_SCALING_TENSOR: {
    cfp8_status st = check_floats(s->a_scales, 1);
    return st ? st : check_floats(s->b_scales, 1);
  }
  case CFP8_SCALING_ROWWISE: {
    cfp8_status st = check_floats(s->a_scales, m);
    return st ? st : check_floats(s->b_scales, n);
  }
  case CFP8_SCALING_BLOCK: {
    const int64_t kb = ceil_div(k, CFP8_GEMM_SCALE_BLOCK);
    if (__builtin_mul_overflow(m, kb, &na) || __builtin_mul_overflow(kb, ceil_div(n, 128), &nb))
      return CFP8_ERR_SIZE_OVERFLOW;
    cfp8_status st = check_floats(s->a_scales, na);
    return st ? st : check_floats(s->b_scales, nb);
  }
  case CFP8_SCALING_MX: {
    if (!cfp8_format_is_fp8(a->format) || !cfp8_format_is_fp8(b->format)) return CFP8_ERR_BAD_FORMAT;
    const int64_t kb = ceil_div(k, 32);
    if (__builtin_mul_overflow(m, kb, &na) || __builtin_mul_overflow(kb, n, &nb)) return CFP8_ERR_SIZE_OVERFLOW;
    if ((na && !s->a_mx) || (nb && !s->b_mx)) return CFP8_ERR_BAD_SCALE;
    for (t = 0; t < na; t++)
      if (s->a_mx[t] == 0xFF) return CFP8_ERR_BAD_SCALE;
    for (t = 0; t < nb; t++)
      if (s->b_mx[t] == 0xFF) return CFP8_ERR_BAD_SCALE;
    return CFP8_OK;
  }
  default: return CFP8_ERR_BAD_ARGUMENT;
  }
}

static int output_format_ok(int32_t f) {
  return (f >= CFP8_FORMAT_E4M3 && f <= CFP8_FORMAT_E5M2FNUZ) || f == CFP8_FORMAT_F16 || f == CFP8_FORMAT_BF16 ||
         f == CFP8_FORMAT_F32;
}

static void kernel_for(int32_t isa, cfp8_gemm_kernel_info *info) {
  switch (isa) {
#if defined(CFP8_X86)
  case CFP8_ISA_AVX512: cfp8_gemm_kernel_avx512(info); return;
  case CFP8_ISA_AVX2: cfp8_gemm_kernel_avx2(info); return;
#endif
#if defined(CFP8_ARM64)
  case CFP8_ISA_NEON: cfp8_gemm_kernel_neon(info); return;
#endif
  default: cfp8_gemm_kernel_scalar(info); return;
  }
}

cfp8_status cfp8_gemm_tile(int32_t isa, int32_t *mr, int32_t *nr) {
  if (!mr || !nr) return CFP8_ERR_NULL_POINTER;
  int32_t r;
  cfp8_status st = cfp8_isa_resolve(isa, &r);
  if (st) return st;
  cfp8_gemm_kernel_info info;
  kernel_for(r, &info);
  *mr = info.mr;
  *nr = info.nr;
  return CFP8_OK;
}

/* ---- Blocked path ---------------------------------------------------------------------------- */
typedef struct blocked_args {
  int64_t m, n, k;
  const cfp8_operand *a, *b;
  const cfp8_scaling *s;
  cfp8_gemm_kernel_info kern;
  int64_t mc;
  float *w;
  int64_t ldw;
  int nt;
  int simd_pack;
} blocked_args;

static cfp8_status run_blocked(const blocked_args *g) {
  const int mr = g->kern.mr, nr = g->kern.nr;
  const int64_t nc_max = g->n < GEMM_NC ? ceil_div(g->n, nr) * nr : GEMM_NC;
  const int64_t kc_max = g->k < GEMM_KC ? g->k : GEMM_KC;
  float *bp = scratch_get(SLOT_B, (size_t)(nc_max * kc_max * 4));
  if (!bp) return CFP8_ERR_NO_MEMORY;
  const int block = g->s->mode == CFP8_SCALING_BLOCK;
  const int mx = g->s->mode == CFP8_SCALING_MX;
  const int64_t kq = ceil_div(g->k, 32), kb_count = ceil_div(g->k, CFP8_GEMM_SCALE_BLOCK);
  const int64_t nb128 = ceil_div(g->n, 128);
  int failed = 0;

#pragma omp parallel num_threads(g->nt)
  {
    const size_t abytes = (size_t)((g->mc * kc_max * 4 + 63) / 64 * 64);
    float *ap = scratch_get(SLOT_A, abytes);
    float scales[(GEMM_KC / CFP8_GEMM_SCALE_BLOCK) * 16];
    if (!ap) {
#pragma omp atomic write
      failed = 1;
    }
    const int nthr = omp_get_num_threads();
    for (int64_t jc = 0; jc < g->n; jc += GEMM_NC) {
      const int64_t nc = g->n - jc < GEMM_NC ? g->n - jc : GEMM_NC;
      const int64_t npanels = ceil_div(nc, nr);
      for (int64_t pc = 0; pc < g->k; pc += GEMM_KC) {
        const int64_t kc = g->k - pc < GEMM_KC ? g->k - pc : GEMM_KC;
#pragma omp for schedule(static)
        for (int64_t p = 0; p < npanels; p++) {
          const int64_t cols = nc - p * nr < nr ? nc - p * nr : nr;
          cfp8_gemm_pack_b(g->b, pc, kc, jc + p * nr, cols, nr, mx ? g->s->b_mx : NULL, g->n, g->simd_pack,
                           bp + p * nr * kc);
        }
        /* work units: (M block, N range); split N only when there are fewer M blocks than threads */
        const int64_t nic = ceil_div(g->m, g->mc);
        const int64_t nj = nic >= nthr ? 1 : ceil_div(nthr, nic);
        const int64_t pan_per = ceil_div(npanels, nj);
#pragma omp for schedule(static)
        for (int64_t u = 0; u < nic * nj; u++) {
          if (failed) continue;
          const int64_t ic = (u / nj) * g->mc, ju = u % nj;
          const int64_t mc = g->m - ic < g->mc ? g->m - ic : g->mc;
          const int64_t p0 = ju * pan_per, p1 = p0 + pan_per < npanels ? p0 + pan_per : npanels;
          if (p0 >= p1) continue;
          cfp8_gemm_pack_a(g->a, ic, mc, pc, kc, mr, mx ? g->s->a_mx : NULL, kq, g->simd_pack, ap);
          for (int64_t p = p0; p < p1; p++) {
            const int64_t jr = p * nr;
            for (int64_t ir = 0; ir < mc; ir += mr) {
              const float *sc = NULL;
              if (block) {
                const int64_t jb = (jc + jr) / 128;
                for (int64_t q = 0; q * CFP8_GEMM_SCALE_BLOCK < kc; q++) {
                  const int64_t kb = pc / CFP8_GEMM_SCALE_BLOCK + q;
                  const float sb = g->s->b_scales[kb * nb128 + jb];
                  for (int r = 0; r < mr; r++) {
                    const int64_t i = ic + ir + r;
                    scales[q * mr + r] = i < g->m ? g->s->a_scales[i * kb_count + kb] * sb : 0.0f;
                  }
                }
                sc = scales;
              }
              g->kern.kernel(kc, ap + ir * kc, bp + p * nr * kc, g->w + (ic + ir) * g->ldw + jc + jr, g->ldw, pc > 0,
                             sc);
            }
          }
        }
      }
    }
    scratch_release(SLOT_A, ap);
  }
  scratch_release(SLOT_B, bp);
  return failed ? CFP8_ERR_NO_MEMORY : CFP8_OK;
}

/* ---- Skinny path (AVX-512 VBMI, M <= 16, FP8 B in either layout) ------------------------------ */
#if defined(CFP8_X86)
static cfp8_status run_skinny(int64_t m, int64_t n, int64_t k, const cfp8_operand *a, const cfp8_operand *b,
                              float *w, int nt) {
  float *af = malloc((size_t)(m * k) * sizeof(float));
  if (!af) return CFP8_ERR_NO_MEMORY;
  for (int64_t i = 0; i < m; i++) cfp8_gemm_decode_row(a, i, 0, k, af + i * k);
  const int64_t chunks = ceil_div(n, 128); /* thread ranges in multiples of 128 columns */
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num(), nthr = omp_get_num_threads();
    const int64_t per = ceil_div(chunks, nthr);
    const int64_t n0 = t * per * 128, n1 = (t + 1) * per * 128 < n ? (t + 1) * per * 128 : n;
    if (n0 < n1) {
      if (b->transposed) cfp8_gemm_skinny_t_avx512(m, n0, n1, k, af, k, (const uint8_t *)b->data, b->ld, b->format, w, n);
      else cfp8_gemm_skinny_avx512(m, n0, n1, k, af, k, (const uint8_t *)b->data, b->ld, b->format, w, n);
    }
  }
  free(af);
  return CFP8_OK;
}
#endif

/* ---- Epilogue -------------------------------------------------------------------------------- */
static void epilogue_rows(int64_t i0, int64_t i1, int64_t n, const float *w, int64_t ldw, const cfp8_scaling *s,
                          const cfp8_epilogue *e, float *amax, int *nan) {
  const float tensor_scale = s->mode == CFP8_SCALING_TENSOR ? s->a_scales[0] * s->b_scales[0] : 1.0f;
  const int32_t df = e->d_format;
  float mx = 0.0f;
  int seen_nan = 0;
  enum { CH = 256 };
  float t[CH];
  for (int64_t i = i0; i < i1; i++) {
    for (int64_t j0 = 0; j0 < n; j0 += CH) {
      const int64_t len = n - j0 < CH ? n - j0 : CH;
      const float *wr = w + i * ldw + j0;
      /* simple loops, one operation each, so that the compiler vectorises them */
      if (s->mode == CFP8_SCALING_TENSOR) {
        for (int64_t j = 0; j < len; j++) t[j] = wr[j] * tensor_scale;
      } else if (s->mode == CFP8_SCALING_ROWWISE) {
        const float sa = s->a_scales[i];
        const float *sb = s->b_scales + j0;
        for (int64_t j = 0; j < len; j++) {
          const float sc = sa * sb[j];
          t[j] = wr[j] * sc;
        }
      } else {
        memcpy(t, wr, (size_t)len * sizeof(float));
      }
      if (e->alpha != 1.0f) /* alpha·v is exact when alpha = 1 */
        for (int64_t j = 0; j < len; j++) t[j] = e->alpha * t[j];
      if (e->beta != 0.0f) {
        const float *cr = e->c + i * e->ldc + j0;
        for (int64_t j = 0; j < len; j++) t[j] = fmaf(e->beta, cr[j], t[j]);
      }
      if (e->bias)
        for (int64_t j = 0; j < len; j++) t[j] = t[j] + e->bias[j0 + j];
      int row_nan = 0;
      for (int64_t j = 0; j < len; j++) {
        const float at = fabsf(t[j]);
        row_nan |= at != at;
        mx = at > mx ? at : mx;
      }
      seen_nan |= row_nan;
      /* NaN sign and payload depend on which NaN operand an FMA propagates, which differs between
       * the scalar and SIMD operand orders: store every NaN as the one quiet NaN +0x7FC00000. */
      if (row_nan)
        for (int64_t j = 0; j < len; j++)
          if (t[j] != t[j]) t[j] = __builtin_nanf("");
      const int64_t o = i * e->ldd + j0;
      switch (df) {
      case CFP8_FORMAT_F32: memcpy((float *)e->d + o, t, (size_t)len * sizeof(float)); break;
      case CFP8_FORMAT_F16:
        for (int64_t j = 0; j < len; j++) ((uint16_t *)e->d)[o + j] = cfp8_gemm_f32_to_f16(t[j]);
        break;
      case CFP8_FORMAT_BF16:
        for (int64_t j = 0; j < len; j++) ((uint16_t *)e->d)[o + j] = cfp8_gemm_f32_to_bf16(t[j]);
        break;
      default:
        for (int64_t j = 0; j < len; j++) {
          const float ts = t[j] * e->d_scale;
          ((uint8_t *)e->d)[o + j] =
              cfp8_encode_f32_reference(ts, df, CFP8_ROUND_NEAREST_EVEN, CFP8_PRESET_CUDA_SATFINITE, 0);
        }
      }
    }
  }
  *amax = mx;
  *nan = seen_nan;
}

cfp8_status cfp8_gemm(int64_t m, int64_t n, int64_t k, const cfp8_operand *a, const cfp8_operand *b,
                      const cfp8_scaling *scaling, const cfp8_epilogue *e, int32_t isa, int32_t threads) {
  if (!a || !b || !e) return CFP8_ERR_NULL_POINTER;
  if (m < 0 || n < 0 || k < 0) return CFP8_ERR_BAD_SHAPE;
  if (threads < 0) return CFP8_ERR_BAD_ARGUMENT;
  cfp8_status st;
  if ((st = check_operand(a, m, k)) || (st = check_operand(b, k, n))) return st;
  const cfp8_scaling none = {CFP8_SCALING_NONE, NULL, NULL, NULL, NULL};
  const cfp8_scaling *s = scaling ? scaling : &none;
  if ((st = check_scaling(s, m, n, k, a, b))) return st;
  if (!output_format_ok(e->d_format)) return CFP8_ERR_BAD_FORMAT;
  if (e->ldd < max1(n)) return CFP8_ERR_BAD_STRIDE;
  if (!extent_ok(m, n, e->ldd, cfp8_format_size(e->d_format))) return CFP8_ERR_SIZE_OVERFLOW;
  if (m > 0 && n > 0 && !e->d) return CFP8_ERR_NULL_POINTER;
  if (e->beta != 0.0f) {
    if (e->ldc < max1(n)) return CFP8_ERR_BAD_STRIDE;
    if (!extent_ok(m, n, e->ldc, 4)) return CFP8_ERR_SIZE_OVERFLOW;
    if (m > 0 && n > 0 && !e->c) return CFP8_ERR_NULL_POINTER;
  }
  if (cfp8_format_is_fp8(e->d_format) && !isfinite(e->d_scale)) return CFP8_ERR_BAD_SCALE;
  int32_t risa;
  if ((st = cfp8_isa_resolve(isa, &risa))) return st;
  if (m == 0 || n == 0) {
    if (e->amax_out) *e->amax_out = 0.0f;
    return CFP8_OK;
  }
  const int nt = cfp8_threads(threads);

  cfp8_gemm_kernel_info kern;
  kernel_for(risa, &kern);
  int skinny = 0;
#if defined(CFP8_X86)
  skinny = risa == CFP8_ISA_AVX512 && cfp8_cpu_has_avx512vbmi() && m <= SKINNY_MAX_M && k > 0 &&
           cfp8_format_is_fp8(b->format) && (s->mode == CFP8_SCALING_NONE || s->mode == CFP8_SCALING_TENSOR ||
                                             s->mode == CFP8_SCALING_ROWWISE);
#endif
  const int64_t mp = skinny ? m : ceil_div(m, kern.mr) * kern.mr;
  const int64_t ldw = skinny ? n : ceil_div(n, kern.nr) * kern.nr;
  int64_t wcount, wbytes;
  if (__builtin_mul_overflow(mp, ldw, &wcount) || __builtin_mul_overflow(wcount, (int64_t)sizeof(float), &wbytes) ||
      (uint64_t)wbytes > (uint64_t)SIZE_MAX / 2)
    return CFP8_ERR_SIZE_OVERFLOW;
  float *w = scratch_get(SLOT_W, (size_t)wbytes);
  if (!w) return CFP8_ERR_NO_MEMORY;
  if (k == 0) memset(w, 0, (size_t)wbytes);

  if (k > 0) {
#if defined(CFP8_X86)
    if (skinny) st = run_skinny(m, n, k, a, b, w, nt);
    else
#endif
    {
      const int simd_pack = risa == CFP8_ISA_AVX512 && cfp8_cpu_has_avx512vbmi();
      blocked_args g = {m, n, k, a, b, s, kern, ceil_div(GEMM_MC_TARGET, kern.mr) * kern.mr, w, ldw, nt, simd_pack};
      st = run_blocked(&g);
    }
    if (st) {
      scratch_release(SLOT_W, w);
      return st;
    }
  }

  float amax_t[256];
  int nan_t[256];
  const int ne = nt < 256 ? nt : 256;
  for (int t = 0; t < ne; t++) amax_t[t] = 0.0f, nan_t[t] = 0;
#pragma omp parallel num_threads(ne)
  {
    const int64_t t = omp_get_thread_num(), nthr = omp_get_num_threads();
    const int64_t per = ceil_div(m, nthr);
    const int64_t i0 = t * per, i1 = i0 + per < m ? i0 + per : m;
    if (i0 < i1) epilogue_rows(i0, i1, n, w, ldw, s, e, &amax_t[t], &nan_t[t]);
  }
  scratch_release(SLOT_W, w);
  if (e->amax_out) {
    float mx = 0.0f;
    int nan = 0;
    for (int t = 0; t < ne; t++) {
      nan |= nan_t[t];
      if (amax_t[t] > mx) mx = amax_t[t];
    }
    *e->amax_out = nan ? NAN : mx;
  }
  return CFP8_OK;
}
