/* Accuracy of the layer kernels' transcendentals against FP64, over every FP32 input, and the
 * same bits on every ISA path. Built and run by scripts/nn_accuracy.sh (docs/nn-kernels.md).
 *
 * For each of exp, GELU (tanh form) and its derivative, every FP32 bit pattern (or every
 * stride-th with --stride) goes through each ISA's kernel: the outputs must be identical bit for
 * bit, and the scalar output is compared with a FP64 oracle written from the definition:
 *   exp     libm exp in double;
 *   GELU    x·σ(2u), u = sqrt(2/pi)·(x + 0.044715·x³), σ(t) = 1/(1 + e^-t) in double with the
 *           exact constants (computed as e^t/(1 + e^t) for t < 0, so that neither tail cancels);
 *   GELU'   σ + 2·x·u'·σ·(1 - σ), u' = sqrt(2/pi)·(1 + 3·0.044715·x²), 1 - σ = σ(-2u);
 *   log     libm log in double (positive inputs; the cross-entropy's logarithm, scalar only).
 * The error of a finite output is |y - ref| in units of the FP32 spacing at ref (2^-149 below
 * 2^-126). An output whose reference is beyond the FP32 range must be ±Inf; a NaN input must give
 * the quiet NaN 0x7FC00000. The FP16 and BF16 rounding of the precision schedule is checked the
 * same way against _Float16 conversion (FP16) and a nearest-even search in double (BF16), all
 * inputs. GELU' crosses zero at x0 = -0.75179 (GELU's minimum); there the result is a sum that
 * cancels, so its error is reported apart, as an absolute error, for x in [-1, -0.5].
 * Exit status 1 on any mismatch between ISAs or any special-value failure. */
#include "internal.h"
#include "nn_internal.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FN_EXP, FN_GELU, FN_GELU_GRAD, FN_LOG, FN_F16, FN_BF16, NFN };
static const char *fn_name[NFN] = {"exp", "gelu", "gelu'", "log", "round f16", "round bf16"};

typedef struct stats {
  double max_ulp;
  uint32_t worst_input;
  double sum_ulp;
  uint64_t finite, specials_bad, isa_mismatch, over_half; /* outputs with error > 0.5 ulp */
  uint32_t first_special_bad, first_isa_mismatch;
  double window_abs; /* GELU': max |y - ref| for x in the window around its zero */
} stats;

static const double C = 0.79788456080286535588; /* sqrt(2/pi) */
static const double K = 0.044715;

static double sigma(double t) {
  if (t >= 0) return 1.0 / (1.0 + exp(-t));
  const double e = exp(t);
  return e / (1.0 + e);
}
static double ref_value(int fn, float xf) {
  const double x = xf;
  switch (fn) {
  case FN_EXP: return exp(x);
  case FN_GELU: {
    if (isinf(x)) return x > 0 ? x : -0.0;
    const double u = C * (x + K * x * x * x);
    return x * sigma(2 * u);
  }
  case FN_GELU_GRAD: {
    if (isinf(x)) return x > 0 ? 1.0 : -0.0;
    const double u = C * (x + K * x * x * x), du = C * (1 + 3 * K * x * x);
    const double s = sigma(2 * u), s1 = sigma(-2 * u);
    return s + 2 * x * du * s * s1;
  }
  case FN_LOG: return log(x);
  default: return 0;
  }
}

static double ulp_at(double r) {
  const double a = fabs(r);
  if (a < 0x1p-126) return 0x1p-149;
  int e;
  frexp(a, &e); /* a = m·2^e, m in [0.5, 1) */
  return ldexp(1.0, e - 24);
}

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static float ref_bf16(float x) { /* nearest BF16 by search in double, ties to the even pattern */
  const uint32_t u = f2u(x);
  const uint32_t lo = u & 0xFFFF0000u, hi = lo + 0x10000u;
  /* the pattern after the largest finite one stands for 2^128 (rounding there overflows) */
  const double vhi = (hi & 0x7FFFFFFFu) == 0x7F800000u ? copysign(0x1p128, x) : (double)u2f(hi);
  const double dl = fabs((double)x - (double)u2f(lo)), dh = fabs(vhi - (double)x);
  if (dl < dh) return u2f(lo);
  if (dh < dl) return u2f(hi);
  return ((lo >> 16) & 1) ? u2f(hi) : u2f(lo);
}

/* One block of inputs through every ISA; the scalar output is scored. */
static void run_block(int fn, const uint32_t *in, size_t n, const cfp8_nn_kernels *ks, int nk, float *out[4],
                      stats *s) {
  const float *x = (const float *)in;
  for (int i = 0; i < nk; i++) {
    switch (fn) {
    case FN_EXP: ks[i].exp(x, out[i], (int64_t)n); break;
    case FN_GELU: ks[i].gelu(x, out[i], (int64_t)n); break;
    case FN_GELU_GRAD: {
      for (size_t j = 0; j < n; j++) out[i][j] = 1.0f;
      ks[i].gelu_backward(out[i], x, out[i], (int64_t)n);
      break;
    }
    case FN_LOG:
      if (i == 0)
        for (size_t j = 0; j < n; j++) out[0][j] = cfp8_nn_logf(x[j]);
      break;
    case FN_F16:
    case FN_BF16:
      memcpy(out[i], x, n * 4);
      ks[i].round(out[i], (int64_t)n, fn == FN_F16 ? CFP8_NN_ROUND_F16 : CFP8_NN_ROUND_BF16);
      break;
    }
    if (i > 0 && fn != FN_LOG && memcmp(out[0], out[i], n * 4) != 0)
      for (size_t j = 0; j < n; j++)
        if (f2u(out[0][j]) != f2u(out[i][j])) {
          if (!s->isa_mismatch) s->first_isa_mismatch = in[j];
          s->isa_mismatch++;
        }
  }
  for (size_t j = 0; j < n; j++) {
    const float xf = x[j], y = out[0][j];
    if (xf != xf || (fn == FN_LOG && xf < 0)) {
      if (f2u(y) != CFP8_NN_NAN_BITS) {
        if (!s->specials_bad) s->first_special_bad = in[j];
        s->specials_bad++;
      }
      continue;
    }
    double r;
    if (fn == FN_F16) r = (double)(float)(_Float16)xf;
    else if (fn == FN_BF16) r = (double)ref_bf16(xf);
    else r = ref_value(fn, xf);
    if (fabs(r) > (double)FLT_MAX || isinf(r)) { /* beyond FP32: Inf expected (log(0) = -Inf) */
      const double expect = isinf(r) ? r : copysign(INFINITY, r);
      if (!(isinf(y) && (y > 0) == (expect > 0))) {
        if (!s->specials_bad) s->first_special_bad = in[j];
        s->specials_bad++;
      }
      continue;
    }
    if (fn == FN_F16 || fn == FN_BF16) { /* rounding: exact */
      if (f2u(y) != f2u((float)r)) {
        if (!s->specials_bad) s->first_special_bad = in[j];
        s->specials_bad++;
      }
      continue;
    }
    if (!isfinite(y)) {
      if (!s->specials_bad) s->first_special_bad = in[j];
      s->specials_bad++;
      continue;
    }
    if (fn == FN_GELU_GRAD && xf >= -1.0f && xf <= -0.5f) {
      const double a = fabs((double)y - r);
      if (a > s->window_abs) s->window_abs = a;
      continue;
    }
    const double e = fabs((double)y - r) / ulp_at(r);
    s->finite++;
    s->sum_ulp += e;
    if (e > 0.5) s->over_half++;
    if (e > s->max_ulp) { s->max_ulp = e; s->worst_input = in[j]; }
  }
}

static void merge(stats *a, const stats *b) {
  if (b->max_ulp > a->max_ulp) { a->max_ulp = b->max_ulp; a->worst_input = b->worst_input; }
  a->sum_ulp += b->sum_ulp;
  a->finite += b->finite;
  a->over_half += b->over_half;
  if (!a->specials_bad && b->specials_bad) a->first_special_bad = b->first_special_bad;
  a->specials_bad += b->specials_bad;
  if (!a->isa_mismatch && b->isa_mismatch) a->first_isa_mismatch = b->first_isa_mismatch;
  a->isa_mismatch += b->isa_mismatch;
  if (b->window_abs > a->window_abs) a->window_abs = b->window_abs;
}

int main(int argc, char **argv) {
  uint64_t stride = 1;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--stride=", 9)) stride = strtoull(argv[i] + 9, NULL, 0);
    else if (!strncmp(argv[i], "--only=", 7)) only = argv[i] + 7;
    else { fprintf(stderr, "usage: %s [--stride=N] [--only=exp|gelu|gelu'|log|f16|bf16]\n", argv[0]); return 2; }
  }
  if (stride < 1) stride = 1;
  cfp8_nn_kernels ks[4];
  const char *names[4];
  int nk = 0;
  for (int isa = 0; isa <= CFP8_ISA_NEON; isa++) {
    if (!cfp8_isa_supported(isa)) continue;
    if (isa == CFP8_ISA_SCALAR) cfp8_nn_kernels_scalar(&ks[nk]);
#if defined(CFP8_X86)
    else if (isa == CFP8_ISA_AVX2) cfp8_nn_kernels_avx2(&ks[nk]);
    else if (isa == CFP8_ISA_AVX512) cfp8_nn_kernels_avx512(&ks[nk]);
#endif
#if defined(CFP8_ARM64)
    else if (isa == CFP8_ISA_NEON) cfp8_nn_kernels_neon(&ks[nk]);
#endif
    names[nk++] = cfp8_isa_name(isa);
  }
  printf("layer-kernel accuracy: every %llu-th FP32 input; ISAs:", (unsigned long long)stride);
  for (int i = 0; i < nk; i++) printf(" %s", names[i]);
  printf("\n%-11s %12s %10s %12s %10s %8s %6s\n", "function", "max ulp", "at input", "mean ulp", ">0.5 ulp",
         "special", "ISA≠");
  int bad = 0;
  const uint64_t total = (1ull << 32);
  enum { BLOCK = 1 << 16 };
  for (int fn = 0; fn < NFN; fn++) {
    if (only && !strstr(fn_name[fn], only)) continue;
    stats all = {0};
#pragma omp parallel
    {
      stats s = {0};
      uint32_t *in = malloc(BLOCK * 4);
      float *out[4];
      for (int i = 0; i < 4; i++) out[i] = malloc(BLOCK * 4);
      const uint64_t blocks = (total / stride + BLOCK - 1) / BLOCK;
#pragma omp for schedule(static, 16)
      for (uint64_t b = 0; b < blocks; b++) {
        size_t n = 0;
        for (uint64_t q = b * BLOCK; q < (b + 1) * BLOCK && q * stride < total; q++) in[n++] = (uint32_t)(q * stride);
        run_block(fn, in, n, ks, nk, out, &s);
      }
#pragma omp critical
      merge(&all, &s);
      free(in);
      for (int i = 0; i < 4; i++) free(out[i]);
    }
    printf("%-11s %12.4f 0x%08x %12.3g %10llu %8llu %6llu\n", fn_name[fn], all.max_ulp, all.worst_input,
           all.finite ? all.sum_ulp / (double)all.finite : 0.0, (unsigned long long)all.over_half,
           (unsigned long long)all.specials_bad, (unsigned long long)all.isa_mismatch);
    if (fn == FN_GELU_GRAD)
      printf("  (x in [-1, -0.5], around GELU'(x) = 0 at x = -0.75179: max |error| %.3g = %.2f·2^-24)\n",
             all.window_abs, all.window_abs / 0x1p-24);
    if (all.specials_bad) printf("  first special-value failure: input 0x%08x\n", all.first_special_bad);
    if (all.isa_mismatch) printf("  first ISA mismatch: input 0x%08x\n", all.first_isa_mismatch);
    fflush(stdout);
    if (all.specials_bad || all.isa_mismatch) bad = 1;
  }
  printf(bad ? "FAIL\n" : "OK\n");
  return bad;
}
