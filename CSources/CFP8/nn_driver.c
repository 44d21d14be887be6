/* The layer kernels' driver (cfp8_nn.h): argument checks, ISA dispatch, and OpenMP over
 * independent pieces only (element ranges, rows, 32-row blocks), so that the bits never depend on
 * the thread count. Sums over rows are block partials combined in a fixed pairwise tree. */
#include "internal.h"
#include "nn_internal.h"
#include <math.h>
#include <stdlib.h>

/* Work (elements) below which a call stays on the calling thread, and the element-wise chunk. */
enum { PARALLEL_MIN = 1 << 15, CHUNK = 1 << 13 };

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static cfp8_status prologue(int32_t isa, int32_t threads, cfp8_nn_kernels *k) {
  if (threads < 0) return CFP8_ERR_BAD_ARGUMENT;
  int32_t r;
  const cfp8_status st = cfp8_isa_resolve(isa, &r);
  if (st) return st;
  switch (r) {
#if defined(CFP8_X86)
  case CFP8_ISA_AVX512: cfp8_nn_kernels_avx512(k); break;
  case CFP8_ISA_AVX2: cfp8_nn_kernels_avx2(k); break;
#endif
#if defined(CFP8_ARM64)
  case CFP8_ISA_NEON: cfp8_nn_kernels_neon(k); break;
#endif
  default: cfp8_nn_kernels_scalar(k); break;
  }
  return CFP8_OK;
}

static cfp8_status round_code(int32_t format, int32_t *code) {
  switch (format) {
  case CFP8_FORMAT_F32: *code = CFP8_NN_ROUND_NONE; return CFP8_OK;
  case CFP8_FORMAT_F16: *code = CFP8_NN_ROUND_F16; return CFP8_OK;
  case CFP8_FORMAT_BF16: *code = CFP8_NN_ROUND_BF16; return CFP8_OK;
  default: return CFP8_ERR_BAD_FORMAT;
  }
}

/* rows × cols FP32 elements addressable (and a few copies of them). */
static cfp8_status shape_ok(int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0) return CFP8_ERR_BAD_SHAPE;
  int64_t n, bytes;
  if (__builtin_mul_overflow(rows, cols, &n) || __builtin_mul_overflow(n, (int64_t)16, &bytes) ||
      (uint64_t)bytes > (uint64_t)SIZE_MAX / 2)
    return CFP8_ERR_SIZE_OVERFLOW;
  return CFP8_OK;
}

static int team(int64_t work, int32_t threads) {
  const int nt = cfp8_threads(threads);
  return work < PARALLEL_MIN ? 1 : nt;
}

/* fn(ctx, i0, i1) over [0, count) cut into `pieces` ranges, on nt threads (no OpenMP when nt is 1). */
typedef void (*range_fn)(void *ctx, int64_t i0, int64_t i1);
static void for_ranges(int64_t count, int64_t per, int nt, range_fn fn, void *ctx) {
  const int64_t pieces = ceil_div(count, per);
  if (nt <= 1 || pieces <= 1) {
    if (count > 0) fn(ctx, 0, count);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int64_t p = 0; p < pieces; p++) {
    const int64_t i0 = p * per, i1 = i0 + per < count ? i0 + per : count;
    fn(ctx, i0, i1);
  }
}

/* Row ranges: about `target` elements per piece (at least one row). */
static int64_t rows_per_piece(int64_t cols, int nt, int64_t rows) {
  if (nt <= 1) return rows > 0 ? rows : 1;
  const int64_t per = CHUNK / (cols > 0 ? cols : 1);
  return per > 0 ? per : 1;
}

/* ---- element-wise ----------------------------------------------------------------------------- */
typedef struct ew_ctx {
  const cfp8_nn_kernels *k;
  const float *a, *b;
  float *y;
  int32_t round;
  const cfp8_adamw_step *adamw;
  float *m, *v;
  int op;
} ew_ctx;
enum { OP_GELU, OP_GELU_BACKWARD, OP_ADD, OP_ROUND, OP_ADAMW };

static void ew_range(void *p, int64_t i0, int64_t i1) {
  const ew_ctx *c = p;
  const int64_t n = i1 - i0;
  switch (c->op) {
  case OP_GELU: c->k->gelu(c->a + i0, c->y + i0, n); break;
  case OP_GELU_BACKWARD: c->k->gelu_backward(c->a + i0, c->b + i0, c->y + i0, n); break;
  case OP_ADD: c->k->add(c->a + i0, c->b + i0, c->y + i0, n, c->round); break;
  case OP_ROUND: c->k->round(c->y + i0, n, c->round); break;
  case OP_ADAMW: c->k->adamw(c->y + i0, c->m + i0, c->v + i0, c->a + i0, n, c->adamw); break;
  }
}

static cfp8_status elementwise(ew_ctx *c, int64_t n, int32_t isa, int32_t threads) {
  cfp8_nn_kernels k;
  cfp8_status st;
  if ((st = prologue(isa, threads, &k)) || (st = shape_ok(n, 1))) return st;
  c->k = &k;
  for_ranges(n, CHUNK, team(n, threads), ew_range, c);
  return CFP8_OK;
}

cfp8_status cfp8_gelu(const float *x, float *y, int64_t n, int32_t isa, int32_t threads) {
  if (n > 0 && (!x || !y)) return CFP8_ERR_NULL_POINTER;
  ew_ctx c = {.a = x, .y = y, .op = OP_GELU};
  return elementwise(&c, n, isa, threads);
}

cfp8_status cfp8_gelu_backward(const float *dy, const float *x, float *dx, int64_t n, int32_t isa, int32_t threads) {
  if (n > 0 && (!dy || !x || !dx)) return CFP8_ERR_NULL_POINTER;
  ew_ctx c = {.a = dy, .b = x, .y = dx, .op = OP_GELU_BACKWARD};
  return elementwise(&c, n, isa, threads);
}

cfp8_status cfp8_add(const float *a, const float *b, float *y, int64_t n, int32_t round_format, int32_t isa,
                     int32_t threads) {
  if (n > 0 && (!a || !b || !y)) return CFP8_ERR_NULL_POINTER;
  ew_ctx c = {.a = a, .b = b, .y = y, .op = OP_ADD};
  const cfp8_status st = round_code(round_format, &c.round);
  return st ? st : elementwise(&c, n, isa, threads);
}

cfp8_status cfp8_round_to_format(float *x, int64_t n, int32_t round_format, int32_t isa, int32_t threads) {
  if (n > 0 && !x) return CFP8_ERR_NULL_POINTER;
  ew_ctx c = {.y = x, .op = OP_ROUND};
  const cfp8_status st = round_code(round_format, &c.round);
  return st ? st : elementwise(&c, n, isa, threads);
}

cfp8_status cfp8_adamw(float *param, float *m, float *v, const float *grad, int64_t n, const cfp8_adamw_step *step,
                       int32_t isa, int32_t threads) {
  if (!step || (n > 0 && (!param || !m || !v || !grad))) return CFP8_ERR_NULL_POINTER;
  const float f[7] = {step->lr, step->beta1, step->beta2, step->epsilon, step->weight_decay, step->bias_correction1,
                      step->bias_correction2};
  for (int i = 0; i < 7; i++)
    if (!isfinite(f[i])) return CFP8_ERR_BAD_ARGUMENT;
  ew_ctx c = {.a = grad, .y = param, .m = m, .v = v, .adamw = step, .op = OP_ADAMW};
  return elementwise(&c, n, isa, threads);
}

/* ---- softmax ---------------------------------------------------------------------------------- */
typedef struct softmax_ctx {
  const cfp8_nn_kernels *k;
  const float *x, *dp;
  float *y;
  int64_t cols;
  float scale;
  int32_t causal, round, backward;
} softmax_ctx;

static void softmax_rows(void *p, int64_t r0, int64_t r1) {
  const softmax_ctx *c = p;
  for (int64_t r = r0; r < r1; r++) {
    const int64_t len = c->causal ? r % c->cols + 1 : c->cols, o = r * c->cols;
    if (c->backward) c->k->softmax_backward_row(c->x + o, c->dp + o, c->y + o, len, c->cols, c->scale);
    else c->k->softmax_row(c->x + o, c->y + o, len, c->cols, c->scale, c->round);
  }
}

static cfp8_status softmax_common(softmax_ctx *c, int64_t rows, int32_t isa, int32_t threads) {
  cfp8_nn_kernels k;
  cfp8_status st;
  if ((st = prologue(isa, threads, &k)) || (st = shape_ok(rows, c->cols))) return st;
  if (rows > 0 && c->cols < 1) return CFP8_ERR_BAD_SHAPE;
  if (c->causal != 0 && c->causal != 1) return CFP8_ERR_BAD_ARGUMENT;
  if (!isfinite(c->scale)) return CFP8_ERR_BAD_ARGUMENT;
  c->k = &k;
  const int nt = team(rows * c->cols, threads);
  for_ranges(rows, rows_per_piece(c->cols, nt, rows), nt, softmax_rows, c);
  return CFP8_OK;
}

cfp8_status cfp8_softmax(const float *x, float *y, int64_t rows, int64_t cols, float scale, int32_t causal,
                         int32_t round_format, int32_t isa, int32_t threads) {
  if (rows > 0 && cols > 0 && (!x || !y)) return CFP8_ERR_NULL_POINTER;
  softmax_ctx c = {.x = x, .y = y, .cols = cols, .scale = scale, .causal = causal};
  const cfp8_status st = round_code(round_format, &c.round);
  return st ? st : softmax_common(&c, rows, isa, threads);
}

cfp8_status cfp8_softmax_backward(const float *p, const float *dp, float *dx, int64_t rows, int64_t cols, float scale,
                                  int32_t causal, int32_t isa, int32_t threads) {
  if (rows > 0 && cols > 0 && (!p || !dp || !dx)) return CFP8_ERR_NULL_POINTER;
  softmax_ctx c = {.x = p, .dp = dp, .y = dx, .cols = cols, .scale = scale, .causal = causal, .backward = 1};
  return softmax_common(&c, rows, isa, threads);
}

/* ---- LayerNorm -------------------------------------------------------------------------------- */
typedef struct ln_ctx {
  const cfp8_nn_kernels *k;
  const float *x, *gamma, *beta, *dy, *mean, *rstd;
  float *y, *mean_out, *rstd_out, *partials;
  int64_t d, rows;
  float eps;
  int32_t round;
} ln_ctx;

static void ln_rows(void *p, int64_t r0, int64_t r1) {
  const ln_ctx *c = p;
  for (int64_t r = r0; r < r1; r++) {
    float mean, rstd;
    c->k->layernorm_row(c->x + r * c->d, c->gamma, c->beta, c->d, c->eps, c->round, c->y + r * c->d, &mean, &rstd);
    if (c->mean_out) c->mean_out[r] = mean;
    if (c->rstd_out) c->rstd_out[r] = rstd;
  }
}

cfp8_status cfp8_layernorm(const float *x, const float *gamma, const float *beta, int64_t rows, int64_t d, float eps,
                           float *y, float *mean, float *rstd, int32_t round_format, int32_t isa, int32_t threads) {
  cfp8_nn_kernels k;
  cfp8_status st;
  ln_ctx c = {.x = x, .gamma = gamma, .beta = beta, .y = y, .mean_out = mean, .rstd_out = rstd, .d = d, .eps = eps};
  if ((st = prologue(isa, threads, &k)) || (st = round_code(round_format, &c.round)) || (st = shape_ok(rows, d)))
    return st;
  if (rows > 0 && d < 1) return CFP8_ERR_BAD_SHAPE;
  if (rows > 0 && (!x || !gamma || !beta || !y)) return CFP8_ERR_NULL_POINTER;
  if (!isfinite(eps)) return CFP8_ERR_BAD_ARGUMENT;
  c.k = &k;
  const int nt = team(rows * d, threads);
  for_ranges(rows, rows_per_piece(d, nt, rows), nt, ln_rows, &c);
  return CFP8_OK;
}

/* Block b's partials: gamma at partials + b·2d, beta after it (both start at +0). */
static void ln_backward_blocks(void *p, int64_t b0, int64_t b1) {
  const ln_ctx *c = p;
  for (int64_t b = b0; b < b1; b++) {
    float *pg = c->partials + b * 2 * c->d, *pb = pg + c->d;
    memset(pg, 0, (size_t)(2 * c->d) * sizeof(float));
    const int64_t r1 = (b + 1) * CFP8_NN_BLOCK_ROWS < c->rows ? (b + 1) * CFP8_NN_BLOCK_ROWS : c->rows;
    for (int64_t r = b * CFP8_NN_BLOCK_ROWS; r < r1; r++) {
      const int64_t o = r * c->d;
      c->k->layernorm_backward_row(c->dy + o, c->x + o, c->mean[r], c->rstd[r], c->gamma, c->d, c->y + o, pg, pb);
    }
  }
}

static void bias_blocks(void *p, int64_t b0, int64_t b1) {
  const ln_ctx *c = p;
  for (int64_t b = b0; b < b1; b++) {
    float *pb = c->partials + b * c->d;
    memset(pb, 0, (size_t)c->d * sizeof(float));
    const int64_t r1 = (b + 1) * CFP8_NN_BLOCK_ROWS < c->rows ? (b + 1) * CFP8_NN_BLOCK_ROWS : c->rows;
    for (int64_t r = b * CFP8_NN_BLOCK_ROWS; r < r1; r++) c->k->add(pb, c->dy + r * c->d, pb, c->d, CFP8_NN_ROUND_NONE);
  }
}

/* partials[i] (width floats each, nb of them) summed pairwise into partials[0]. */
static void tree_sum(const cfp8_nn_kernels *k, float *partials, int64_t nb, int64_t width) {
  for (int64_t s = 1; s < nb; s *= 2)
    for (int64_t i = 0; i + s < nb; i += 2 * s)
      k->add(partials + i * width, partials + (i + s) * width, partials + i * width, width, CFP8_NN_ROUND_NONE);
}

static float *alloc_partials(int64_t nb, int64_t width) {
  int64_t n;
  if (__builtin_mul_overflow(nb, width, &n) || (uint64_t)n > (uint64_t)SIZE_MAX / 8) return NULL;
  return malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
}

cfp8_status cfp8_layernorm_backward(const float *dy, const float *x, const float *mean, const float *rstd,
                                    const float *gamma, int64_t rows, int64_t d, float *dx, float *dgamma, float *dbeta,
                                    int32_t isa, int32_t threads) {
  cfp8_nn_kernels k;
  cfp8_status st;
  if ((st = prologue(isa, threads, &k)) || (st = shape_ok(rows, d))) return st;
  if (rows > 0 && d < 1) return CFP8_ERR_BAD_SHAPE;
  if (rows == 0 || d == 0) return CFP8_OK;
  if (!dy || !x || !mean || !rstd || !gamma || !dx || !dgamma || !dbeta) return CFP8_ERR_NULL_POINTER;
  const int64_t nb = ceil_div(rows, CFP8_NN_BLOCK_ROWS);
  float *partials = alloc_partials(nb, 2 * d);
  if (!partials) return CFP8_ERR_NO_MEMORY;
  ln_ctx c = {.k = &k, .dy = dy, .x = x, .mean = mean, .rstd = rstd, .gamma = gamma, .y = dx, .partials = partials,
              .d = d, .rows = rows};
  const int nt = team(rows * d, threads);
  for_ranges(nb, 1, nt, ln_backward_blocks, &c);
  tree_sum(&k, partials, nb, 2 * d); /* a block's gamma and beta partials are adjacent */
  k.add(dgamma, partials, dgamma, d, CFP8_NN_ROUND_NONE);
  k.add(dbeta, partials + d, dbeta, d, CFP8_NN_ROUND_NONE);
  free(partials);
  return CFP8_OK;
}

cfp8_status cfp8_bias_backward(const float *dy, int64_t rows, int64_t cols, float *dbias, int32_t isa, int32_t threads) {
  cfp8_nn_kernels k;
  cfp8_status st;
  if ((st = prologue(isa, threads, &k)) || (st = shape_ok(rows, cols))) return st;
  if (rows == 0 || cols == 0) return CFP8_OK;
  if (!dy || !dbias) return CFP8_ERR_NULL_POINTER;
  const int64_t nb = ceil_div(rows, CFP8_NN_BLOCK_ROWS);
  float *partials = alloc_partials(nb, cols);
  if (!partials) return CFP8_ERR_NO_MEMORY;
  ln_ctx c = {.k = &k, .dy = dy, .partials = partials, .d = cols, .rows = rows};
  for_ranges(nb, 1, team(rows * cols, threads), bias_blocks, &c);
  tree_sum(&k, partials, nb, cols);
  k.add(dbias, partials, dbias, cols, CFP8_NN_ROUND_NONE);
  free(partials);
  return CFP8_OK;
}

/* ---- cross-entropy ---------------------------------------------------------------------------- */
typedef struct ce_ctx {
  const cfp8_nn_kernels *k;
  const float *logits, *weights;
  const int32_t *targets;
  float *dlogits, *row_loss;
  int64_t vocab;
  float total, grad_scale;
} ce_ctx;

static void ce_rows(void *p, int64_t r0, int64_t r1) {
  const ce_ctx *c = p;
  for (int64_t r = r0; r < r1; r++) {
    const float w = c->weights ? c->weights[r] : 1.0f;
    const float *l = c->logits + r * c->vocab;
    float *dl = c->dlogits ? c->dlogits + r * c->vocab : NULL;
    if (w == 0.0f) {
      if (dl) memset(dl, 0, (size_t)c->vocab * sizeof(float));
      continue;
    }
    float mx, z;
    c->k->logsumexp_row(l, c->vocab, &mx, &z);
    const float logz = cfp8_nn_logf(z) + mx;
    const int64_t t = c->targets[r];
    c->row_loss[r] = w * (logz - l[t]);
    if (dl) c->k->cross_entropy_row(l, c->vocab, logz, w / c->total, t, c->grad_scale, dl);
  }
}

cfp8_status cfp8_cross_entropy(const float *logits, int64_t rows, int64_t vocab, const int32_t *targets,
                               const float *weights, float grad_scale, float *loss, float *dlogits, int32_t isa,
                               int32_t threads) {
  cfp8_nn_kernels k;
  cfp8_status st;
  if ((st = prologue(isa, threads, &k)) || (st = shape_ok(rows, vocab))) return st;
  if (!loss) return CFP8_ERR_NULL_POINTER;
  if (rows > 0 && vocab < 1) return CFP8_ERR_BAD_SHAPE;
  if (rows > 0 && (!logits || !targets)) return CFP8_ERR_NULL_POINTER;
  if (!isfinite(grad_scale)) return CFP8_ERR_BAD_ARGUMENT;
  float total = 0.0f;
  for (int64_t r = 0; r < rows; r++) {
    const float w = weights ? weights[r] : 1.0f;
    if (w != 0.0f && (targets[r] < 0 || targets[r] >= vocab)) return CFP8_ERR_BAD_ARGUMENT;
    total = total + w;
  }
  if (!(total > 0.0f)) {
    *loss = 0.0f;
    if (dlogits && rows > 0) memset(dlogits, 0, (size_t)(rows * vocab) * sizeof(float));
    return CFP8_OK;
  }
  float *row_loss = alloc_partials(rows, 1);
  if (!row_loss) return CFP8_ERR_NO_MEMORY;
  ce_ctx c = {&k, logits, weights, targets, dlogits, row_loss, vocab, total, grad_scale};
  const int nt = team(rows * vocab, threads);
  for_ranges(rows, rows_per_piece(vocab, nt, rows), nt, ce_rows, &c);
  float sum = 0.0f;
  for (int64_t r = 0; r < rows; r++)
    if ((weights ? weights[r] : 1.0f) != 0.0f) sum = sum + row_loss[r];
  *loss = cfp8_nn_canon1(sum / total);
  free(row_loss);
  return CFP8_OK;
}
