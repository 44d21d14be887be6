/* Interface between the layer-kernel driver (nn_driver.c) and its per-ISA kernels
 * (nn_{scalar,avx2,avx512,neon}.c). Never included by public headers.
 *
 * Self-contained (public headers and compiler builtins only) so that nn_neon.c compiles
 * freestanding for AArch64.
 *
 * Every kernel here computes the same bits on every ISA: the SIMD files perform, lane by lane,
 * exactly the operations of the scalar file, in the same order (fmaf exactly where they use FMA),
 * and every row reduction follows the one order defined below. */
#ifndef CFP8_NN_INTERNAL_H
#define CFP8_NN_INTERNAL_H

#include "cfp8.h"

#if defined(__x86_64__) || defined(_M_X64)
#ifndef CFP8_X86
#define CFP8_X86 1
#endif
#endif
#if defined(__aarch64__) && !defined(CFP8_ARM64)
#define CFP8_ARM64 1
#endif

/* Row reductions (sums, sums of products, maxima) use 16 lanes: element j of the row goes to lane
 * j mod 16, each lane accumulates its elements in increasing j starting from +0 (from -Inf for a
 * maximum); the lanes are then combined as l[i] = op(l[i], l[i+8]) for i < 8, then l[i+4], then
 * l[i+2], then l[0] op l[1]. AVX-512 holds the 16 lanes in one register, AVX2 in two, NEON in four.
 * The maximum is max(a, b) = a > b ? a : b (x86 MAXPS semantics: NaN and equal values give b), so a
 * row's NaNs never become its maximum, as in `if s > mx { mx = s }`. */
enum { CFP8_NN_LANES = 16 };

/* Rows per block of the cross-row reductions (dgamma, dbeta, dbias): each block sums its rows in
 * order from +0, then the block partials are combined pairwise (block i += block i + s for
 * s = 1, 2, 4, ..., i a multiple of 2s), independently of the thread count. */
enum { CFP8_NN_BLOCK_ROWS = 32 };

/* Rounding applied to an FP32 result (the precision schedule). */
enum { CFP8_NN_ROUND_NONE = 0, CFP8_NN_ROUND_F16 = 1, CFP8_NN_ROUND_BF16 = 2 };

/* The one quiet NaN every kernel stores (which NaN an operation propagates differs between x86
 * and ARM, so payloads are not kept). */
#define CFP8_NN_NAN_BITS 0x7FC00000u

/* Constants of the exponential: exp(t) = p(r) · 2^n, n = round(t · log2 e), r = t - n · ln 2 with
 * ln 2 split in two (LN2_HI has 15 significant bits, so n · LN2_HI and the first reduction step are
 * exact for |n| < 2^9); p is a degree-6 minimax polynomial of e^r on |r| <= ln2/2 (relative error
 * 4.4e-9 with these FP32 coefficients), evaluated by Horner's rule with FMA. The argument is first
 * clamped to [-200, 200]; 2^n is applied as two exact power-of-two factors 2^n1 · 2^n2,
 * n1 = clamp(n, -120, 127), n2 = clamp(n - n1, -126, 127), so that a result in the subnormal range is
 * rounded once and one beyond the FP32 range overflows to Inf. */
#define CFP8_NN_LOG2E 0x1.715476p+0f
#define CFP8_NN_ROUND_MAGIC 0x1.8p+23f /* its bits are 0x4B400000 */
#define CFP8_NN_LN2_HI 0x1.62e4p-1f
#define CFP8_NN_LN2_LO 0x1.7f7d1cp-20f
#define CFP8_NN_EXP_C2 0x1.fffffcp-2f
#define CFP8_NN_EXP_C3 0x1.555490p-3f
#define CFP8_NN_EXP_C4 0x1.5558f4p-5f
#define CFP8_NN_EXP_C5 0x1.123a6cp-7f
#define CFP8_NN_EXP_C6 0x1.6a2352p-10f
#define CFP8_NN_EXP_MIN -200.0f
#define CFP8_NN_EXP_MAX 200.0f

/* GELU, tanh form: u = c · (x + k·x³) with c = sqrt(2/pi), k = 0.044715, as GPT-2 and the Swift
 * layers; 0.5·(1 + tanh u) = σ(2u) = 1/(1 + e^(-2u)), evaluated from e = exp(-2|u|) <= 1 so that
 * neither tail cancels (see cfp8_nn.h). |x| is clamped to 16 first: beyond it GELU rounds to x or
 * -0, and its derivative to 1 or -0, in FP32.
 * In the negative tail GELU ~ x·e^(2u), so a relative error δ in u becomes 2|u|·δ in the result:
 * the exponent -2|u| is therefore evaluated as an unevaluated sum hi + lo of two floats (exact
 * products by FMA, k and 2c split in two), and lo enters the reduced argument of exp. */
#define CFP8_NN_GELU_C 0x1.988454p-1f /* sqrt(2/pi), for u' */
#define CFP8_NN_GELU_K3 (3.0f * 0.044715f)
#define CFP8_NN_GELU_K_HI 0x1.6e4e26p-5f /* 0.044715 = K_HI + K_LO */
#define CFP8_NN_GELU_K_LO 0x1.a9003ep-30f
#define CFP8_NN_GELU_2C_HI 0x1.988454p+0f /* 2·sqrt(2/pi) = 2C_HI + 2C_LO */
#define CFP8_NN_GELU_2C_LO -0x1.857936p-25f
#define CFP8_NN_GELU_CLAMP 16.0f

/* One ISA's kernels. Lengths are element counts >= 0; rows are dense. */
typedef struct cfp8_nn_kernels {
  /* y[i] = exp(x[i]) (the polynomial above). */
  void (*exp)(const float *x, float *y, int64_t n);
  /* y[i] = GELU(x[i]); dx[i] = dy[i] · GELU'(x[i]). */
  void (*gelu)(const float *x, float *y, int64_t n);
  void (*gelu_backward)(const float *dy, const float *x, float *dx, int64_t n);
  /* One softmax row: the first len of cols entries are live, the rest are stored as +0. */
  void (*softmax_row)(const float *x, float *y, int64_t len, int64_t cols, float scale, int32_t round);
  void (*softmax_backward_row)(const float *p, const float *dp, float *dx, int64_t len, int64_t cols, float scale);
  /* One LayerNorm row; *mean and *rstd receive the row's statistics. */
  void (*layernorm_row)(const float *x, const float *gamma, const float *beta, int64_t d, float eps, int32_t round,
                        float *y, float *mean, float *rstd);
  /* One LayerNorm backward row; adds dy·x̂ into pg and dy into pb (the block partials). */
  void (*layernorm_backward_row)(const float *dy, const float *x, float mean, float rstd, const float *gamma, int64_t d,
                                 float *dx, float *pg, float *pb);
  /* y[i] = round(a[i] + b[i]); x[i] = round(x[i]). */
  void (*add)(const float *a, const float *b, float *y, int64_t n, int32_t round);
  void (*round)(float *x, int64_t n, int32_t round);
  /* Row maximum m (the max above) and Σ exp(x[j] - m) (the 16-lane sum). */
  void (*logsumexp_row)(const float *x, int64_t n, float *max, float *sum);
  /* dl[j] = ((f · exp(x[j] - logz)) - (j == target ? f : 0)) · grad_scale. */
  void (*cross_entropy_row)(const float *x, int64_t n, float logz, float f, int64_t target, float grad_scale, float *dl);
  void (*adamw)(float *param, float *m, float *v, const float *grad, int64_t n, const cfp8_adamw_step *step);
} cfp8_nn_kernels;

/* Each ISA file defines its kernels as static functions k_<field> and fills its table with this. */
#define CFP8_NN_FILL_TABLE(k)                                                                        \
  do {                                                                                               \
    (k)->exp = k_exp;                                                                                \
    (k)->gelu = k_gelu;                                                                              \
    (k)->gelu_backward = k_gelu_backward;                                                            \
    (k)->softmax_row = k_softmax_row;                                                                \
    (k)->softmax_backward_row = k_softmax_backward_row;                                              \
    (k)->layernorm_row = k_layernorm_row;                                                            \
    (k)->layernorm_backward_row = k_layernorm_backward_row;                                          \
    (k)->add = k_add;                                                                                \
    (k)->round = k_round;                                                                            \
    (k)->logsumexp_row = k_logsumexp_row;                                                            \
    (k)->cross_entropy_row = k_cross_entropy_row;                                                    \
    (k)->adamw = k_adamw;                                                                            \
  } while (0)

void cfp8_nn_kernels_scalar(cfp8_nn_kernels *k);
#if defined(CFP8_X86)
void cfp8_nn_kernels_avx2(cfp8_nn_kernels *k);
void cfp8_nn_kernels_avx512(cfp8_nn_kernels *k);
#endif
#if defined(CFP8_ARM64)
void cfp8_nn_kernels_neon(cfp8_nn_kernels *k);
#endif

/* The natural logarithm of the cross-entropy (one call per row, the same scalar code for every
 * ISA): x = m · 2^k with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1), by an odd
 * series in s to s^11; log x = k·ln2_hi + (k·ln2_lo + log m). */
float cfp8_nn_logf(float x);

/* NaN -> the quiet NaN above. */
static inline float cfp8_nn_canon1(float x) {
  if (x != x) {
    const uint32_t u = CFP8_NN_NAN_BITS;
    __builtin_memcpy(&x, &u, 4);
  }
  return x;
}

/* 2^e as FP32 for e in [-126, 127] (exact; a normal number). */
static inline float cfp8_nn_pow2(int32_t e) {
  const uint32_t u = (uint32_t)(e + 127) << 23;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

#endif
