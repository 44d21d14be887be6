/* The element-wise and row kernels of a transformer's layers, forward and backward: GELU (tanh
 * form), softmax with the causal mask and the attention scale, LayerNorm, residual adds, rounding
 * to FP16/BF16 (the precision schedule), softmax cross-entropy and AdamW. FP32 in, FP32 out;
 * matrices are dense row-major (row r of a rows × cols matrix starts at element r·cols).
 *
 * Bits: every function gives the same bits on every ISA path and for every thread count.
 * - exp is this library's own polynomial (no libm), the same operations on every path; GELU and
 *   its derivative are built on it. Accuracy against FP64 is in docs/nn-kernels.md.
 * - A row reduction (sum, sum of products, maximum) has one order: element j goes to lane j mod 16,
 *   lanes accumulate in increasing j from +0 (sums, products with FMA) or -Inf (maxima), then are
 *   combined pairwise (lane i with i+8, then i+4, i+2, i+1). Threads split rows, never a row.
 * - Sums over rows (dgamma, dbeta, dbias) are taken in blocks of 32 rows, each in row order from +0,
 *   and the block sums are combined pairwise (block i += block i+s for s = 1, 2, 4, ...), then
 *   added to the caller's accumulator: an order that does not depend on the thread count.
 * - Other arithmetic is the formula as written, one IEEE operation at a time (no contraction).
 * - Every NaN result is stored as the quiet NaN 0x7FC00000.
 * These orders differ from a sequential loop, so results differ from one in the last bits.
 *
 * Rounding (`round_format`): CFP8_FORMAT_F32 leaves results as computed; CFP8_FORMAT_F16 and
 * CFP8_FORMAT_BF16 round each result to the nearest FP16/BF16 value (ties to even; FP16 overflow
 * gives ±Inf as IEEE does) and store it back as FP32.
 *
 * Outputs may be the same array as an input of the same shape (in place); partial overlap is not
 * allowed. `threads` 0 means the OpenMP default. Bad arguments return: CFP8_ERR_NULL_POINTER (a
 * required pointer is NULL while the size is not 0), CFP8_ERR_BAD_SHAPE (a negative size, or a
 * row length of 0 where a row needs one element), CFP8_ERR_SIZE_OVERFLOW, CFP8_ERR_BAD_FORMAT (a
 * round_format other than F32/F16/BF16), CFP8_ERR_BAD_ARGUMENT (threads < 0, a target outside the
 * vocabulary, a non-finite scale or hyper-parameter), CFP8_ERR_UNSUPPORTED_ISA, CFP8_ERR_NO_MEMORY. */
#ifndef CFP8_NN_H
#define CFP8_NN_H

#include "cfp8_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GELU, tanh form ------------------------------------------------------------------------
 * GELU(x) = 0.5·x·(1 + tanh u), u = sqrt(2/pi)·(x + 0.044715·x³) (GPT-2's), computed as
 *   x ≥ 0: x / (1 + e),  x < 0: x·e / (1 + e),  e = exp(-2|u|)
 * (0.5·(1 + tanh u) = 1/(1 + e^(-2u)); this form has no cancellation in either tail).
 * GELU'(x) = σ + 2·x·u'·σ·(1 - σ), σ = 0.5·(1 + tanh u), u' = sqrt(2/pi)·(1 + 3·0.044715·x²).
 * u and u' are evaluated in the order written in the Swift layers. GELU(-Inf) = -0,
 * GELU(+Inf) = +Inf, GELU'(-Inf) = -0, GELU'(+Inf) = 1. */
cfp8_status cfp8_gelu(const float *x, float *y, int64_t n, int32_t isa, int32_t threads);
/* dx[i] = dy[i] · GELU'(x[i]). */
cfp8_status cfp8_gelu_backward(const float *dy, const float *x, float *dx, int64_t n, int32_t isa, int32_t threads);

/* ---- Softmax over rows ---------------------------------------------------------------------
 * For each row r of x (rows × cols): s_j = x[r][j]·scale for the live columns j, m = max_j s_j,
 * e_j = exp(s_j - m), y[r][j] = round(e_j / Σ e) (a division, as the Swift layers). With
 * causal = 1 the matrix is a stack of cols × cols blocks (the attention scores of batch × heads
 * sequences): row r sees columns j <= r mod cols, and the others are stored as +0. With causal = 0
 * every column is live. A NaN score makes its row NaN; a row of -Inf scores is NaN. */
cfp8_status cfp8_softmax(const float *x, float *y, int64_t rows, int64_t cols, float scale, int32_t causal,
                         int32_t round_format, int32_t isa, int32_t threads);
/* The gradient of the scores: dx[r][j] = (p_j·(dp_j - Σ_k p_k·dp_k))·scale for live j, +0
 * elsewhere (p: the forward's y, dp: the gradient of y). */
cfp8_status cfp8_softmax_backward(const float *p, const float *dp, float *dx, int64_t rows, int64_t cols, float scale,
                                  int32_t causal, int32_t isa, int32_t threads);

/* ---- LayerNorm over the last dimension ------------------------------------------------------
 * Per row of x (rows × d): mean = Σx / d, var = Σ(x - mean)² / d, rstd = 1 / sqrt(var + eps),
 * x̂ = (x - mean)·rstd, y = round(x̂·gamma + beta) (a multiply, then an add). mean and rstd
 * (rows each) are saved for the backward pass; either may be NULL. d >= 1. */
cfp8_status cfp8_layernorm(const float *x, const float *gamma, const float *beta, int64_t rows, int64_t d, float eps,
                           float *y, float *mean, float *rstd, int32_t round_format, int32_t isa, int32_t threads);
/* With x̂ recomputed from x, mean and rstd exactly as the forward pass did, and dx̂ = dy·gamma:
 *   dx = rstd·((dx̂ - Σdx̂/d) - x̂·(Σ dx̂·x̂)/d),
 *   dgamma[j] += Σ_r dy[r][j]·x̂[r][j],  dbeta[j] += Σ_r dy[r][j]   (the block order above). */
cfp8_status cfp8_layernorm_backward(const float *dy, const float *x, const float *mean, const float *rstd,
                                    const float *gamma, int64_t rows, int64_t d, float *dx, float *dgamma, float *dbeta,
                                    int32_t isa, int32_t threads);

/* dbias[j] += Σ_r dy[r][j] over the rows of dy (rows × cols): a linear layer's bias gradient. */
cfp8_status cfp8_bias_backward(const float *dy, int64_t rows, int64_t cols, float *dbias, int32_t isa, int32_t threads);

/* ---- Element-wise ---------------------------------------------------------------------------- */
/* y[i] = round(a[i] + b[i]) (residual adds; y may be a or b). */
cfp8_status cfp8_add(const float *a, const float *b, float *y, int64_t n, int32_t round_format, int32_t isa,
                     int32_t threads);
/* x[i] = round(x[i]) in place (FP16 or BF16 and back; F32 only canonicalises NaNs). */
cfp8_status cfp8_round_to_format(float *x, int64_t n, int32_t round_format, int32_t isa, int32_t threads);

/* ---- Softmax cross-entropy ------------------------------------------------------------------
 * logits: rows × vocab; targets[r] in [0, vocab) for every row of nonzero weight; weights NULL
 * means 1 for every row. With W = Σ_r weights[r] (in row order):
 *   logZ_r = log(Σ_v exp(l_v - m)) + m,  m = max_v l_v  (this library's exp and log),
 *   *loss = (Σ_{r: w_r != 0} w_r·(logZ_r - l_{r,target}), in row order) / W,
 *   dlogits[r][v] = ((f·exp(l_v - logZ_r)) - [v = target]·f)·grad_scale, f = w_r / W,
 * and rows of weight 0 get dlogits 0. If W is not > 0, *loss = 0 and dlogits is all 0 (the Swift
 * layers' rule). dlogits may be NULL (loss only). */
cfp8_status cfp8_cross_entropy(const float *logits, int64_t rows, int64_t vocab, const int32_t *targets,
                               const float *weights, float grad_scale, float *loss, float *dlogits, int32_t isa,
                               int32_t threads);

/* ---- AdamW ----------------------------------------------------------------------------------
 * One step over a flat buffer, element by element, the Swift optimiser's formula as written:
 *   m = β1·m + (1-β1)·g;  v = β2·v + ((1-β2)·g)·g;  m̂ = m / bias_correction1;
 *   v̂ = v / bias_correction2;  p = p - lr·(m̂ / (sqrt(v̂) + ε) + weight_decay·p)
 * (bias_correction_i = 1 - β_i^t, computed by the caller; weight_decay 0 for tensors without
 * decay). All fields must be finite. */
typedef struct cfp8_adamw_step {
  float lr;
  float beta1;
  float beta2;
  float epsilon;
  float weight_decay;
  float bias_correction1;
  float bias_correction2;
} cfp8_adamw_step;

cfp8_status cfp8_adamw(float *param, float *m, float *v, const float *grad, int64_t n, const cfp8_adamw_step *step,
                       int32_t isa, int32_t threads);

#ifdef __cplusplus
}
#endif
#endif
