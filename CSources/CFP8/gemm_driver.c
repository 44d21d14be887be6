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

/* Thread tid of nthr: packs its share of each B panel set, then computes its (M block, N range)
 * units; barriers only when nthr > 1, so that a single-threaded call never enters OpenMP. */
static void blocked_thread(const blocked_args *g, float *bp, int tid, int nthr, int *failed) {
  const int mr = g->kern.mr, nr = g->kern.nr;
  const int64_t kc_max = g->k < GEMM_KC ? g->k : GEMM_KC;
  const int block = g->s->mode == CFP8_SCALING_BLOCK;
  const int mx = g->s->mode == CFP8_SCALING_MX;
  const int64_t kq = ceil_div(g->k, 32), kb_count = ceil_div(g->k, CFP8_GEMM_SCALE_BLOCK);
  const int64_t nb128 = ceil_div(g->n, 128);
  const size_t abytes = (size_t)((g->mc * kc_max * 4 + 63) / 64 * 64);
  float *ap = scratch_get(SLOT_A, abytes);
  float scales[(GEMM_KC / CFP8_GEMM_SCALE_BLOCK) * 16];
  if (!ap) __atomic_store_n(failed, 1, __ATOMIC_RELAXED);
  for (int64_t jc = 0; jc < g->n; jc += GEMM_NC) {
    const int64_t nc = g->n - jc < GEMM_NC ? g->n - jc : GEMM_NC;
    const int64_t npanels = ceil_div(nc, nr);
    for (int64_t pc = 0; pc < g->k; pc += GEMM_KC) {
      const int64_t kc = g->k - pc < GEMM_KC ? g->k - pc : GEMM_KC;
      const int64_t bper = ceil_div(npanels, nthr);
      for (int64_t p = tid * bper; p < npanels && p < (tid + 1) * bper; p++) {
        const int64_t cols = nc - p * nr < nr ? nc - p * nr : nr;
        cfp8_gemm_pack_b(g->b, pc, kc, jc + p * nr, cols, nr, mx ? g->s->b_mx : NULL, g->n, g->simd_pack,
                         bp + p * nr * kc);
      }
      if (nthr > 1) {
#pragma omp barrier
      }
      /* work units: (M block, N range); split N only when there are fewer M blocks than threads */
      const int64_t nic = ceil_div(g->m, g->mc);
      const int64_t nj = nic >= nthr ? 1 : ceil_div(nthr, nic);
      const int64_t pan_per = ceil_div(npanels, nj);
      const int64_t units = nic * nj, uper = ceil_div(units, nthr);
      for (int64_t u = tid * uper; u < units && u < (tid + 1) * uper; u++) {
        if (__atomic_load_n(failed, __ATOMIC_RELAXED)) break;
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
      if (nthr > 1) {
#pragma omp barrier
      }
    }
  }
  scratch_release(SLOT_A, ap);
}

static cfp8_status run_blocked(const blocked_args *g) {
  const int64_t nc_max = g->n < GEMM_NC ? ceil_div(g->n, g->kern.nr) * g->kern.nr : GEMM_NC;
  const int64_t kc_max = g->k < GEMM_KC ? g->k : GEMM_KC;
  float *bp = scratch_get(SLOT_B, (size_t)(nc_max * kc_max * 4));
  if (!bp) return CFP8_ERR_NO_MEMORY;
  int failed = 0;
  if (g->nt <= 1) {
    blocked_thread(g, bp, 0, 1, &failed);
  } else {
#pragma omp parallel num_threads(g->nt)
    blocked_thread(g, bp, omp_get_thread_num(), omp_get_num_threads(), &failed);
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
#pragma omp parallel num_threads(nt) if (nt > 1)
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
/* max |t| as FP32 bits over t[0..len): for non-negative floats the bit patterns order as the values
 * do and every NaN lies above +Inf (0x7F800000), so an integer maximum (which vectorises) gives
 * both the amax and whether a NaN was seen. */
static uint32_t max_abs_bits(const float *t, int64_t len) {
  uint32_t mx = 0;
  for (int64_t j = 0; j < len; j++) {
    uint32_t u;
    memcpy(&u, t + j, 4);
    u &= 0x7FFFFFFFu;
    mx = u > mx ? u : mx;
  }
  return mx;
}

/* Whether t[0..len) holds a NaN (an or of compares: vectorises without SSE4). */
static int has_nan(const float *t, int64_t len) {
  int any = 0;
  for (int64_t j = 0; j < len; j++) any |= t[j] != t[j];
  return any;
}

/* want_amax 0: *amax_bits only tells whether a NaN was seen (0x7FC00000) or not (0). */
static void epilogue_rows(int64_t i0, int64_t i1, int64_t n, float *w, int64_t ldw, const cfp8_scaling *s,
                          const cfp8_epilogue *e, int want_amax, uint32_t *amax_bits) {
  const float tensor_scale = s->mode == CFP8_SCALING_TENSOR ? s->a_scales[0] * s->b_scales[0] : 1.0f;
  const int32_t df = e->d_format;
  const int plain = (s->mode != CFP8_SCALING_TENSOR && s->mode != CFP8_SCALING_ROWWISE) && e->alpha == 1.0f &&
                    e->beta == 0.0f && !e->bias;
  uint32_t mx = 0;
  enum { CH = 256 };
  float buf[CH];
  for (int64_t i = i0; i < i1; i++) {
    for (int64_t j0 = 0; j0 < n; j0 += CH) {
      const int64_t len = n - j0 < CH ? n - j0 : CH;
      /* the accumulators need no transformation: work on them in place (w is scratch) */
      float *t = plain ? w + i * ldw + j0 : buf;
      if (!plain) {
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
      }
      const uint32_t row_mx = want_amax ? max_abs_bits(t, len) : has_nan(t, len) ? 0x7FC00000u : 0;
      mx = row_mx > mx ? row_mx : mx;
      /* NaN sign and payload depend on which NaN operand an FMA propagates, which differs between
       * the scalar and SIMD operand orders: store every NaN as the one quiet NaN +0x7FC00000. */
      if (row_mx > 0x7F800000u)
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
  *amax_bits = mx;
}

/* Everything cfp8_gemm validates, for one product. */
static cfp8_status check_product(int64_t m, int64_t n, int64_t k, const cfp8_operand *a, const cfp8_operand *b,
                                 const cfp8_scaling *s, const cfp8_epilogue *e) {
  cfp8_status st;
  if ((st = check_operand(a, m, k)) || (st = check_operand(b, k, n))) return st;
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
  return CFP8_OK;
}

/* One validated product on nt threads; with want_amax, *amax_bits receives max |D| before d_scale
 * as bits (above 0x7F800000: a NaN was seen). */
static cfp8_status gemm_core(int64_t m, int64_t n, int64_t k, const cfp8_operand *a, const cfp8_operand *b,
                             const cfp8_scaling *s, const cfp8_epilogue *e, int32_t risa, int nt, int want_amax,
                             uint32_t *amax_bits) {
  *amax_bits = 0;
  if (m == 0 || n == 0) return CFP8_OK;
  cfp8_status st = CFP8_OK;
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

  /* the epilogue in row ranges; the amax is a maximum, so any split gives the same value */
  const int ne = nt < 256 ? nt : 256;
  if (ne <= 1 || m < 2) {
    epilogue_rows(0, m, n, w, ldw, s, e, want_amax, amax_bits);
  } else {
    uint32_t amax_t[256] = {0};
#pragma omp parallel num_threads(ne)
    {
      const int64_t t = omp_get_thread_num(), nthr = omp_get_num_threads();
      const int64_t per = ceil_div(m, nthr);
      const int64_t i0 = t * per, i1 = i0 + per < m ? i0 + per : m;
      if (i0 < i1) epilogue_rows(i0, i1, n, w, ldw, s, e, want_amax, &amax_t[t]);
    }
    for (int t = 0; t < ne; t++) *amax_bits = amax_t[t] > *amax_bits ? amax_t[t] : *amax_bits;
  }
  scratch_release(SLOT_W, w);
  return CFP8_OK;
}

static float amax_value(uint32_t bits) { return bits > 0x7F800000u ? NAN : cfp8_bits_f32(bits); }

cfp8_status cfp8_gemm(int64_t m, int64_t n, int64_t k, const cfp8_operand *a, const cfp8_operand *b,
                      const cfp8_scaling *scaling, const cfp8_epilogue *e, int32_t isa, int32_t threads) {
  if (!a || !b || !e) return CFP8_ERR_NULL_POINTER;
  if (m < 0 || n < 0 || k < 0) return CFP8_ERR_BAD_SHAPE;
  if (threads < 0) return CFP8_ERR_BAD_ARGUMENT;
  const cfp8_scaling none = {CFP8_SCALING_NONE, NULL, NULL, NULL, NULL};
  const cfp8_scaling *s = scaling ? scaling : &none;
  cfp8_status st;
  if ((st = check_product(m, n, k, a, b, s, e))) return st;
  int32_t risa;
  if ((st = cfp8_isa_resolve(isa, &risa))) return st;
  uint32_t bits;
  if ((st = gemm_core(m, n, k, a, b, s, e, risa, cfp8_threads(threads), e->amax_out != NULL, &bits))) return st;
  if (e->amax_out) *e->amax_out = amax_value(bits);
  return CFP8_OK;
}

/* ---- Strided batched products ------------------------------------------------------------------ */
/* Element offset of product (o, i) for strides (so, si); 0 if it overflows (checked first). */
static int batch_offset(int64_t o, int64_t i, int64_t so, int64_t si, int64_t *off) {
  int64_t x, y;
  return !__builtin_mul_overflow(o, so, &x) && !__builtin_mul_overflow(i, si, &y) && !__builtin_add_overflow(x, y, off);
}

/* Product z of the batch: operands and epilogue moved to its offsets. */
typedef struct batch_item { cfp8_operand a, b; cfp8_epilogue e; } batch_item;
static int batch_item_at(const cfp8_gemm_batch *bt, int64_t z, const cfp8_operand *a, const cfp8_operand *b,
                         const cfp8_epilogue *e, batch_item *it) {
  const int64_t o = z / bt->inner, i = z % bt->inner;
  int64_t oa, ob, oc = 0, od;
  if (!batch_offset(o, i, bt->a_outer, bt->a_inner, &oa) || !batch_offset(o, i, bt->b_outer, bt->b_inner, &ob) ||
      !batch_offset(o, i, bt->d_outer, bt->d_inner, &od) ||
      (e->beta != 0.0f && !batch_offset(o, i, bt->c_outer, bt->c_inner, &oc)))
    return 0;
  int64_t ba, bb, bd, bc;
  if (__builtin_mul_overflow(oa, (int64_t)cfp8_format_size(a->format), &ba) ||
      __builtin_mul_overflow(ob, (int64_t)cfp8_format_size(b->format), &bb) ||
      __builtin_mul_overflow(od, (int64_t)cfp8_format_size(e->d_format), &bd) || __builtin_mul_overflow(oc, 4, &bc) ||
      (uint64_t)ba > SIZE_MAX / 4 || (uint64_t)bb > SIZE_MAX / 4 || (uint64_t)bd > SIZE_MAX / 4 ||
      (uint64_t)bc > SIZE_MAX / 4)
    return 0;
  it->a = *a;
  it->b = *b;
  it->e = *e;
  it->a.data = a->data ? (const char *)a->data + ba : NULL;
  it->b.data = b->data ? (const char *)b->data + bb : NULL;
  it->e.d = e->d ? (char *)e->d + bd : NULL;
  it->e.c = e->c ? (const float *)((const char *)e->c + bc) : NULL;
  it->e.amax_out = NULL;
  return 1;
}

cfp8_status cfp8_gemm_batched(const cfp8_gemm_batch *bt, int64_t m, int64_t n, int64_t k, const cfp8_operand *a,
                              const cfp8_operand *b, const cfp8_scaling *scaling, const cfp8_epilogue *e, int32_t isa,
                              int32_t threads) {
  if (!bt || !a || !b || !e) return CFP8_ERR_NULL_POINTER;
  if (m < 0 || n < 0 || k < 0 || bt->outer < 0 || bt->inner < 0) return CFP8_ERR_BAD_SHAPE;
  if (threads < 0) return CFP8_ERR_BAD_ARGUMENT;
  if (bt->a_outer < 0 || bt->a_inner < 0 || bt->b_outer < 0 || bt->b_inner < 0 || bt->c_outer < 0 ||
      bt->c_inner < 0 || bt->d_outer < 0 || bt->d_inner < 0)
    return CFP8_ERR_BAD_STRIDE;
  const cfp8_scaling none = {CFP8_SCALING_NONE, NULL, NULL, NULL, NULL};
  const cfp8_scaling *s = scaling ? scaling : &none;
  if (s->mode != CFP8_SCALING_NONE && s->mode != CFP8_SCALING_TENSOR) return CFP8_ERR_BAD_ARGUMENT;
  int64_t count;
  if (__builtin_mul_overflow(bt->outer, bt->inner, &count)) return CFP8_ERR_SIZE_OVERFLOW;
  int32_t risa;
  cfp8_status st;
  if ((st = cfp8_isa_resolve(isa, &risa))) return st;
  /* every product is checked as cfp8_gemm would (extents from its own offset) */
  for (int64_t z = 0; z < count; z++) {
    batch_item it;
    if (!batch_item_at(bt, z, a, b, e, &it)) return CFP8_ERR_SIZE_OVERFLOW;
    if ((st = check_product(m, n, k, &it.a, &it.b, s, &it.e))) return st;
  }
  const int nt = cfp8_threads(threads);
  uint32_t amax = 0;
  int failed = CFP8_OK;
  if (count >= nt && nt > 1) {
    /* one product per thread at a time, each single-threaded: no split of K, same bits */
#pragma omp parallel num_threads(nt) reduction(max : amax)
    {
#pragma omp for schedule(static)
      for (int64_t z = 0; z < count; z++) {
        batch_item it;
        uint32_t bits;
        batch_item_at(bt, z, a, b, e, &it);
        const cfp8_status r = gemm_core(m, n, k, &it.a, &it.b, s, &it.e, risa, 1, e->amax_out != NULL, &bits);
        if (r) __atomic_store_n(&failed, r, __ATOMIC_RELAXED);
        amax = bits > amax ? bits : amax;
      }
    }
  } else {
    for (int64_t z = 0; z < count && !failed; z++) {
      batch_item it;
      uint32_t bits;
      batch_item_at(bt, z, a, b, e, &it);
      failed = gemm_core(m, n, k, &it.a, &it.b, s, &it.e, risa, nt, e->amax_out != NULL, &bits);
      amax = bits > amax ? bits : amax;
    }
  }
  if (failed) return failed;
  if (e->amax_out) *e->amax_out = amax_value(amax);
  return CFP8_OK;
}
