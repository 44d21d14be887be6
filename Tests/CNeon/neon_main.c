/* NEON against scalar, bit for bit, on AArch64 (run under qemu-aarch64 by scripts/neon_qemu.sh).
 *
 * Every kernel that has a NEON path (cfp8_encode, cfp8_decode, cfp8_gemm, cfp8_tc_gemm,
 * cfp8_int8_gemm, and cfp8_quantize through the encoder) is called with CFP8_ISA_SCALAR and with
 * CFP8_ISA_NEON on the same inputs, and the outputs are compared byte for byte:
 *   convert   all 2^16 FP16 and BF16 patterns, and ~8.4 M FP32 patterns (every pattern whose low
 *             12 bits are in {000, 001, 7FF, 800, 801, FFF}: all rounding decisions of the FP8
 *             formats sit in the high bits; a strided sweep with stride 2039; special values),
 *             for every FP8 format x rounding x preset (E8M0 with its three roundings), stochastic
 *             rounding with a fixed seed and with caller bits; decode of all 256 codes;
 *   gemm      FP8 / FP16 / BF16 / FP32 operands, shapes 1..70 (tails), odd leading dimensions,
 *             transposes, every scaling mode, every epilogue (alpha, beta·C, bias, F32/F16/BF16/FP8
 *             output with d_scale, amax), NaN/Inf operands, K beyond the 128 scale block and the
 *             768 packing block; threads 1 and 2;
 *   tc_gemm   the GPU presets (V100 ... B200, FP32 and FP16 accumulators, TF32), extra models in
 *             the NEON FP32-lane range, FAST / PROMOTED / IDEAL / EXACT, every scaling mode,
 *             acc_init NULL / random / adversarial (subnormal, -0, 2^±110, Inf, NaN), adversarial
 *             operands (cancelling pairs, negative zeros, extreme exponents, NaN/Inf); 200 random
 *             models in the NEON FP32-lane range with random floors and promotion intervals
 *             (a quarter with small operands under a floor of -12..0, so that the floor binds);
 *   int8      exact integers (also against an int64 reference), K up to CFP8_INT8_GEMM_MAX_K;
 *   nn        the layer kernels of cfp8_nn.h: GELU, its derivative, add and rounding to F16/BF16 on the
 *             FP32 patterns of the convert sweep; softmax (causal or not, with its backward),
 *             LayerNorm (forward, backward with dgamma/dbeta, bias gradient), cross-entropy and AdamW
 *             on rows of odd lengths and above the threading threshold; the batched attention GEMM.
 * With --vectors=DIR, every row of the real-GPU tensor-core vectors also runs on NEON against the
 * GPUs' own bits (tc_vectors.c).
 * One line per kernel: cases, mismatches. Exit status 1 on any mismatch or failed call.
 *
 * Also prints an FNV-1a digest of every scalar output per kernel. Built natively on x86-64 (where
 * NEON is absent) the program runs the scalar path only and prints the same digests, so the script
 * can check that the scalar path gives the same bits on AArch64 as on x86-64. With
 * NEON_CASE_DIGESTS=1 the nn section also prints the running digest after each case to stderr, to
 * find the first case whose scalar outputs differ between two builds. */
#include "cfp8.h"
#include "../CSupport/test_support.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The path under test: NEON by default; --isa=avx2 or --isa=avx512 runs the same comparisons of an
 * x86 path against scalar (have_neon then means: the path under test is present). */
static int32_t test_isa = CFP8_ISA_NEON;
static int have_neon = 0;
int tc_vectors_run(const char *dir, int32_t isa); /* tc_vectors.c */
static int verbose_fail = 0;

/* ---- bookkeeping --------------------------------------------------------------------------- */
typedef struct {
  const char *name;
  uint64_t cases, elements, mismatches, errors;
  uint64_t digest; /* FNV-1a over the scalar outputs */
  double seconds;
} section;

static void digest_bytes(section *s, const void *p, size_t n) {
  const uint8_t *b = p;
  uint64_t h = s->digest;
  for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001B3ull; }
  s->digest = h;
}

/* The first 40 reports go to stderr (mismatches and failed calls alike). */
static void report(const section *s, const char *what) {
  if (verbose_fail++ < 40) fprintf(stderr, "MISMATCH [%s] %s\n", s->name, what);
}
#define REPORT(sec, ...)                                                         \
  do {                                                                           \
    char msg_[700];                                                              \
    snprintf(msg_, sizeof msg_, __VA_ARGS__);                                    \
    report(sec, msg_);                                                           \
  } while (0)

/* Compare out (NEON) with ref (scalar): count differing elements of size es. */
static uint64_t diff_elems(const void *ref, const void *out, size_t n, size_t es, size_t *first) {
  if (memcmp(ref, out, n * es) == 0) return 0;
  uint64_t c = 0;
  *first = SIZE_MAX;
  for (size_t i = 0; i < n; i++)
    if (memcmp((const char *)ref + i * es, (const char *)out + i * es, es) != 0) {
      if (*first == SIZE_MAX) *first = i;
      c++;
    }
  return c;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- convert ------------------------------------------------------------------------------- */
static const int kFP8[] = {CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, CFP8_FORMAT_E4M3FNUZ, CFP8_FORMAT_E5M2FNUZ};
static const char *fmt_name(int f) {
  switch (f) {
  case CFP8_FORMAT_E4M3: return "e4m3";
  case CFP8_FORMAT_E5M2: return "e5m2";
  case CFP8_FORMAT_E4M3FNUZ: return "e4m3fnuz";
  case CFP8_FORMAT_E5M2FNUZ: return "e5m2fnuz";
  case CFP8_FORMAT_E8M0: return "e8m0";
  case CFP8_FORMAT_F16: return "f16";
  case CFP8_FORMAT_BF16: return "bf16";
  case CFP8_FORMAT_F32: return "f32";
  default: return "?";
  }
}

/* One (src, dst, rounding, preset) combination on n inputs: scalar vs NEON. Combinations run in
 * parallel (OpenMP); each keeps its own digest, folded into the section's in a fixed order. */
typedef struct {
  const void *src;
  int sf, df, rounding, preset;
  size_t n;
  const uint32_t *bits;
  uint64_t digest, mismatches, errors;
} combo;

static void encode_combo(section *s, combo *c, uint8_t *ref, uint8_t *out) {
  c->digest = 0xcbf29ce484222325ull;
  cfp8_encode_options o = {c->rounding, c->preset, 0x0123456789ABCDEFull, c->bits, CFP8_ISA_SCALAR, 1};
  cfp8_status st = cfp8_encode(c->src, c->sf, ref, c->df, c->n, &o);
  if (st != CFP8_OK) {
    c->errors++;
#pragma omp critical(neon_report)
    REPORT(s, "scalar encode %s->%s status %d", fmt_name(c->sf), fmt_name(c->df), st);
    return;
  }
  section tmp = {0};
  tmp.digest = c->digest;
  digest_bytes(&tmp, ref, c->n);
  c->digest = tmp.digest;
  if (!have_neon) return;
  o.isa = test_isa;
  /* Above CFP8_PARALLEL_THRESHOLD (the FP32 sweep) the NEON call takes the driver's split into
   * 64 Ki-element pieces, so the kernel sees index0 != 0 (the stochastic bits depend on it). */
  o.threads = 2;
  st = cfp8_encode(c->src, c->sf, out, c->df, c->n, &o);
  if (st != CFP8_OK) {
    c->errors++;
#pragma omp critical(neon_report)
    REPORT(s, "neon encode status %d", st);
    return;
  }
  size_t first = 0;
  uint64_t d = diff_elems(ref, out, c->n, 1, &first);
  if (d) {
    c->mismatches += d;
    uint32_t pat = c->sf == CFP8_FORMAT_F32 ? ((const uint32_t *)c->src)[first] : ((const uint16_t *)c->src)[first];
#pragma omp critical(neon_report)
    REPORT(s, "%s->%s rounding %d preset %d%s: %llu of %zu differ; first input 0x%08x scalar 0x%02x neon 0x%02x",
           fmt_name(c->sf), fmt_name(c->df), c->rounding, c->preset, c->bits ? " (caller bits)" : "",
           (unsigned long long)d, c->n, pat, ref[first], out[first]);
  }
}

static void run_combos(section *s, combo *cs, int nc, size_t maxn) {
#pragma omp parallel
  {
    uint8_t *ref = malloc(maxn + 8), *out = malloc(maxn + 8);
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < nc; i++) encode_combo(s, &cs[i], ref, out);
    free(ref); free(out);
  }
  for (int i = 0; i < nc; i++) {
    digest_bytes(s, &cs[i].digest, 8);
    s->cases++;
    s->elements += cs[i].n;
    s->mismatches += cs[i].mismatches;
    s->errors += cs[i].errors;
  }
}

/* Every FP8 format x rounding x preset on src[0..n), stochastic also with caller bits, E8M0 with
 * its three roundings; then the vector loop's tail: an unaligned start and a length of n_tail. */
static void encode_all_combos(section *s, const void *src, int sf, size_t n, uint32_t *bits, size_t n_tail) {
  combo cs[128];
  int nc = 0;
  const size_t es = (size_t)cfp8_format_size(sf);
  for (int f = 0; f < 4; f++)
    for (int r = 0; r < 3; r++)
      for (int p = 0; p < 4; p++) cs[nc++] = (combo){src, sf, kFP8[f], r, p, n, NULL, 0, 0, 0};
  for (size_t i = 0; i < n; i++) bits[i] = (uint32_t)rnd(); /* caller-supplied random bits */
  for (int f = 0; f < 4; f++) cs[nc++] = (combo){src, sf, kFP8[f], CFP8_ROUND_STOCHASTIC, (f + 1) & 3, n, bits, 0, 0, 0};
  static const int e8r[] = {CFP8_ROUND_NEAREST_EVEN, CFP8_ROUND_TOWARD_ZERO, CFP8_ROUND_UP};
  for (int r = 0; r < 3; r++) cs[nc++] = (combo){src, sf, CFP8_FORMAT_E8M0, e8r[r], 0, n, NULL, 0, 0, 0}; /* scalar fallback */
  for (int f = 0; f < 4; f++)
    for (int r = 0; r < 3; r++) cs[nc++] = (combo){(const char *)src + 3 * es, sf, kFP8[f], r, 3 - r, n_tail, NULL, 0, 0, 0};
  run_combos(s, cs, nc, n);
}

static void test_convert_16(section *s) {
  const size_t n = 1 << 16;
  uint16_t *src = malloc((n + 8) * 2);
  uint32_t *bits = malloc((n + 8) * 4);
  for (int w = 0; w < 2; w++) {
    for (size_t i = 0; i < n + 8; i++) src[i] = (uint16_t)i;
    encode_all_combos(s, src, w ? CFP8_FORMAT_BF16 : CFP8_FORMAT_F16, n, bits, n - 7);
  }
  free(src); free(bits);
}

/* FP32 inputs: structured + strided + special patterns. */
static size_t f32_patterns(uint32_t **out_p, uint32_t stride) {
  static const uint32_t low[] = {0x000, 0x001, 0x7FF, 0x800, 0x801, 0xFFF};
  const size_t nlow = sizeof low / sizeof low[0];
  const size_t nstrided = (size_t)((1ull << 32) / stride) + 1;
  size_t cap = ((size_t)1 << 20) * nlow + nstrided + 4096;
  uint32_t *p = malloc(cap * 4);
  size_t n = 0;
  for (uint32_t hi = 0; hi < (1u << 20); hi++)
    for (size_t l = 0; l < nlow; l++) p[n++] = (hi << 12) | low[l];
  for (uint64_t v = 7; v < (1ull << 32); v += stride) p[n++] = (uint32_t)v;
  /* specials: zeros, subnormal edges, Inf, NaNs (quiet, signalling, payloads), and every FP8
   * format's largest finite value, overflow thresholds and their neighbours, both signs */
  static const uint32_t sp[] = {0x00000000, 0x00000001, 0x007FFFFF, 0x00800000, 0x00800001, 0x3F800000, 0x7F7FFFFF,
                                0x7F800000, 0x7F800001, 0x7FBFFFFF, 0x7FC00000, 0x7FC00001, 0x7FFFFFFF};
  for (size_t i = 0; i < sizeof sp / 4; i++) { p[n++] = sp[i]; p[n++] = sp[i] | 0x80000000u; }
  static const float edges[] = {448.0f, 464.0f, 480.0f, 240.0f, 248.0f, 256.0f, 57344.0f, 61440.0f, 65536.0f,
                                0x1p-9f, 0x1p-10f, 0x1p-16f, 0x1p-17f, 0x1p-6f, 0x1p-7f, 0x1p-14f, 0x1p-15f,
                                0x1p-127f, 0x1p-126f, 0x1p127f};
  for (size_t i = 0; i < sizeof edges / 4; i++)
    for (int d = -3; d <= 3; d++) {
      uint32_t u = f32_bits(edges[i]) + (uint32_t)d;
      p[n++] = u; p[n++] = u | 0x80000000u;
    }
  *out_p = p;
  return n;
}

static void test_convert_32(section *s, uint32_t stride) {
  uint32_t *src;
  const size_t n = f32_patterns(&src, stride);
  uint32_t *bits = malloc(n * 4);
  encode_all_combos(s, src, CFP8_FORMAT_F32, n, bits, 100001);
  free(src); free(bits);
}

static void test_decode(section *s) {
  uint8_t codes[256 + 7];
  for (int i = 0; i < 256 + 7; i++) codes[i] = (uint8_t)(i * 37 + 11);
  for (int i = 0; i < 256; i++) codes[i] = (uint8_t)i;
  static const int fmts[] = {CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, CFP8_FORMAT_E4M3FNUZ, CFP8_FORMAT_E5M2FNUZ, CFP8_FORMAT_E8M0};
  static const int wides[] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16};
  uint8_t ref[263 * 4], out[263 * 4];
  for (int f = 0; f < 5; f++)
    for (int w = 0; w < 3; w++)
      for (int part = 0; part < 2; part++) {
        const size_t n = part ? 259 : 256, es = (size_t)cfp8_format_size(wides[w]);
        const uint8_t *src = part ? codes + 3 : codes;
        if (cfp8_decode(src, fmts[f], ref, wides[w], n, CFP8_ISA_SCALAR, 1) != CFP8_OK) { s->errors++; continue; }
        digest_bytes(s, ref, n * es);
        s->cases++;
        s->elements += n;
        if (!have_neon) continue;
        if (cfp8_decode(src, fmts[f], out, wides[w], n, test_isa, 1) != CFP8_OK) { s->errors++; continue; }
        size_t first;
        uint64_t d = diff_elems(ref, out, n, es, &first);
        if (d) { s->mismatches += d; REPORT(s, "decode %s->%s: %llu differ (code 0x%02x)", fmt_name(fmts[f]), fmt_name(wides[w]), (unsigned long long)d, src[first]); }
      }
}

/* ---- operands ------------------------------------------------------------------------------ */
static int small_fp8 = 0; /* FP8 operands of small magnitude only (so that a model's floor binds) */

/* A random value for an operand of format `fmt`, stored at p[i]. `special` permille of NaN/Inf. */
static void put_value(void *p, size_t i, int fmt, int special_pm) {
  const int special = special_pm && (int)(rnd() % 1000) < special_pm;
  switch (fmt) {
  case CFP8_FORMAT_F32: {
    float v = special ? ((rnd() & 1) ? INFINITY : NAN) : (float)((int64_t)(rnd() % 2000001) - 1000000) * 1e-4f;
    const uint64_t r = rnd(); /* one draw per expression: argument order is unspecified in C */
    if (!special && (r & 7) == 0) v = bits_f32((uint32_t)(r & 0x80000000u) | (uint32_t)((((r >> 8) & 0xFFFF) % 60 + 97) << 23) | (uint32_t)((r >> 32) & 0x7FFFFF));
    ((float *)p)[i] = v;
    break;
  }
  case CFP8_FORMAT_F16: {
    uint16_t h = (uint16_t)rnd();
    if (!special) { while ((h & 0x7C00) == 0x7C00) h = (uint16_t)rnd(); if ((h & 0x7C00) > 0x5C00) h &= 0xBFFF; }
    else h = (rnd() & 1) ? 0x7C00 : 0xFE01;
    ((uint16_t *)p)[i] = h;
    break;
  }
  case CFP8_FORMAT_BF16: {
    const uint64_t r = rnd();
    uint16_t h = (uint16_t)(((r & 1) << 15) | ((((r >> 8) & 0xFFFF) % 40 + 107) << 7) | ((r >> 32) & 0x7F));
    if ((rnd() & 15) == 0) h = (uint16_t)rnd() & 0x807F; /* zeros and subnormals */
    if (special) h = (rnd() & 1) ? 0xFF80 : 0x7FC1;
    ((uint16_t *)p)[i] = h;
    break;
  }
  default: {
    uint8_t b = (uint8_t)rnd();
    int is_nan_inf;
    do {
      b = (uint8_t)rnd();
      if (fmt == CFP8_FORMAT_E4M3) is_nan_inf = (b & 0x7F) == 0x7F;
      else if (fmt == CFP8_FORMAT_E5M2) is_nan_inf = (b & 0x7C) == 0x7C;
      else is_nan_inf = b == 0x80;
    } while (is_nan_inf && !special);
    if (small_fp8 && !special) b &= 0x9F; /* |value| < 2^-3 (E4M3), < 2^-7 (E5M2) */
    if (special) b = fmt == CFP8_FORMAT_E4M3 ? 0x7F : fmt == CFP8_FORMAT_E5M2 ? ((rnd() & 1) ? 0x7C : 0xFD) : 0x80;
    ((uint8_t *)p)[i] = b;
  }
  }
}

static void *make_operand(int fmt, int64_t rows, int64_t cols, int64_t ld, int special_pm) {
  const size_t es = (size_t)cfp8_format_size(fmt);
  const size_t count = rows ? (size_t)((rows - 1) * ld + cols) : 0;
  void *p = malloc(count * es + 16);
  for (size_t i = 0; i < count; i++) put_value(p, i, fmt, special_pm);
  return p;
}

/* ---- FP8 GEMM (the FP32-accumulating engine) and the tensor-core model ---------------------- */
typedef struct {
  int tc;                 /* 0: cfp8_gemm, 1: cfp8_tc_gemm */
  const cfp8_tc_model *model;
  int accumulation, interval;
  int acc_init_kind;      /* tc: 0 NULL, 1 random, 2 adversarial */
  int adversarial;        /* tc: cancelling pairs, negative zeros, extremes */
} gemm_opts;

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static void gemm_case(section *s, const gemm_opts *g, int64_t m, int64_t n, int64_t k, int fa, int fb, int ta, int tb,
                      int scaling, int dfmt, int pad, int special_pm, int epi) {
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int64_t lda = a_cols + pad + (a_cols == 0), ldb = b_cols + pad + (b_cols == 0), ldc = n + pad + 1, ldd = n + pad;
  void *A = make_operand(fa, a_rows, a_cols, lda, special_pm);
  void *B = make_operand(fb, b_rows, b_cols, ldb, special_pm);
  if (g->adversarial && k > 1) {
    /* op(B)[k][j] = -op(B)[k-1][j] for odd k: cancelling products where op(A) repeats; a column of
     * negative zeros; a row of op(A) with the extremes of the format */
    const size_t es = (size_t)cfp8_format_size(fb);
    for (int64_t kk = 1; kk < k; kk += 2)
      for (int64_t j = 0; j < n; j++) {
        size_t d = (size_t)(tb ? j * ldb + kk : kk * ldb + j), src = (size_t)(tb ? j * ldb + kk - 1 : (kk - 1) * ldb + j);
        memcpy((char *)B + d * es, (char *)B + src * es, es);
        ((uint8_t *)B)[d * es + es - 1] ^= 0x80; /* sign bit (little endian: highest byte) */
        if (cfp8_format_is_fp8(fb) && fb >= CFP8_FORMAT_E4M3FNUZ && ((uint8_t *)B)[d] == 0x80) ((uint8_t *)B)[d] = 0;
      }
    const size_t ea = (size_t)cfp8_format_size(fa);
    for (int64_t kk = 1; kk < k; kk += 2)
      for (int64_t i = 0; i < m; i++) {
        size_t d = (size_t)(ta ? kk * lda + i : i * lda + kk), src = (size_t)(ta ? (kk - 1) * lda + i : i * lda + kk - 1);
        if (rnd() % 3) memcpy((char *)A + d * ea, (char *)A + src * ea, ea);
      }
    if (n > 1)
      for (int64_t kk = 0; kk < k; kk++) {
        size_t d = (size_t)(tb ? 1 * ldb + kk : kk * ldb + 1);
        memset((char *)B + d * es, 0, es);
        ((uint8_t *)B)[d * es + es - 1] = fb >= CFP8_FORMAT_E4M3FNUZ && fb <= CFP8_FORMAT_E5M2FNUZ ? 0 : 0x80;
      }
    /* row 0 of op(A) non-negative: against the negative-zero column every product is -0, and
     * with acc_init(0,1) = -0 the exact sum is -0 (the IEEE rule) */
    for (int64_t kk = 0; kk < k && m > 0; kk++) {
      size_t d = (size_t)(ta ? kk * lda : kk);
      ((uint8_t *)A)[d * ea + ea - 1] &= 0x7F;
    }
    if (m > 2 && cfp8_format_is_fp8(fa))
      for (int64_t kk = 0; kk < k; kk++) {
        size_t d = (size_t)(ta ? kk * lda + 2 : 2 * lda + kk);
        static const uint8_t ext[] = {0x7E, 0xFE, 0x01, 0x81, 0x7B, 0x00, 0x80, 0x08};
        uint8_t b = ext[rnd() % 8];
        if (fa == CFP8_FORMAT_E5M2 && (b & 0x7F) == 0x7E) b = (uint8_t)(b & 0x80) | 0x7B;
        if (fa >= CFP8_FORMAT_E4M3FNUZ && b == 0x80) b = 0;
        ((uint8_t *)A)[d] = b;
      }
  }
  float *C = malloc(sizeof(float) * (size_t)(m * ldc + 1));
  for (int64_t i = 0; i < m * ldc + 1; i++) C[i] = (float)((int64_t)(rnd() % 20001) - 10000) * 1e-3f;
  float *bias = malloc(sizeof(float) * (size_t)(n + 1));
  for (int64_t j = 0; j < n + 1; j++) bias[j] = (float)((int64_t)(rnd() % 2001) - 1000) * 1e-2f;
  const int64_t kb128 = ceil_div(k, 128), nb128 = ceil_div(n, 128), kb32 = ceil_div(k, 32);
  const size_t nas = (size_t)(m * (kb128 > 1 ? kb128 : 1) + 1), nbs = (size_t)((kb128 > 1 ? kb128 : 1) * (nb128 > 1 ? nb128 : 1) + n + 1);
  float *as = malloc(sizeof(float) * nas), *bs = malloc(sizeof(float) * nbs);
  for (size_t i = 0; i < nas; i++) as[i] = 0.5f + (float)(rnd() % 100) / 64.0f;
  for (size_t i = 0; i < nbs; i++) bs[i] = 0.25f + (float)(rnd() % 100) / 32.0f;
  uint8_t *amx = malloc((size_t)(m * kb32 + 1)), *bmx = malloc((size_t)(kb32 * n + 1));
  for (int64_t i = 0; i < m * kb32 + 1; i++) amx[i] = (uint8_t)(110 + rnd() % 34);
  for (int64_t i = 0; i < kb32 * n + 1; i++) bmx[i] = (uint8_t)(110 + rnd() % 34);
  cfp8_scaling sc = {scaling, as, bs, amx, bmx};
  float *init = NULL;
  if (g->tc && g->acc_init_kind) {
    init = malloc(sizeof(float) * (size_t)(m * n + 1));
    for (int64_t i = 0; i < m * n; i++) {
      float v = (float)((int64_t)(rnd() % 20001) - 10000) * 1e-2f;
      if (g->acc_init_kind == 2) switch (rnd() % 12) {
        case 0: v = bits_f32((uint32_t)(rnd() % 0x7FFFFF + 1)); break;     /* subnormal */
        case 1: v = -0.0f; break;
        case 2: v = 0x1p110f * (1.0f + (float)(rnd() % 8) / 8); break;
        case 3: v = -0x1p-110f; break;
        case 4: v = 0x1p-120f; break;
        case 5: if (rnd() % 4 == 0) v = (rnd() & 1) ? INFINITY : NAN; break;
        case 6: v = 0x1p20f + 1.0f; break;
        case 7: v = -0x1p26f; break;
        default: break;
      }
      init[i] = v;
    }
    if (g->acc_init_kind == 2 && n > 1) init[1] = -0.0f;
  }
  const size_t ds = (size_t)cfp8_format_size(dfmt);
  const size_t dcount = m ? (size_t)((m - 1) * ldd + n) : 0;
  uint8_t *ref = malloc(dcount * ds + 8), *D = malloc(dcount * ds + 8);
  float amax_ref = 0, amax = 0;
  cfp8_operand oa = {A, fa, ta, lda}, ob = {B, fb, tb, ldb};
  const float alpha = (epi & 1) ? 1.5f : 1.0f, beta = (epi & 2) ? 0.75f : 0.0f;
  cfp8_status st_ref = -1;
  for (int run = 0; run < (have_neon ? 3 : 1); run++) {
    const int isa = run == 0 ? CFP8_ISA_SCALAR : test_isa, threads = run == 2 ? 2 : 1;
    uint8_t *dst = run == 0 ? ref : D;
    memset(dst, 0x5A, dcount * ds + 8);
    float *am = run == 0 ? &amax_ref : &amax;
    *am = -1.0f;
    cfp8_epilogue ep = {alpha, beta, C, ldc, (epi & 4) ? bias : NULL, dst, dfmt, ldd, (epi & 8) ? 0.125f : 2.0f, am};
    cfp8_status st = g->tc ? cfp8_tc_gemm(m, n, k, &oa, &ob, init, &sc, g->model, g->accumulation, g->interval, &ep, isa, threads)
                           : cfp8_gemm(m, n, k, &oa, &ob, &sc, &ep, isa, threads);
    if (run == 0) {
      st_ref = st;
      if (st != CFP8_OK) {
        s->errors++;
        REPORT(s, "scalar call failed %s: m%lld n%lld k%lld fa %s fb %s sc%d", cfp8_status_string(st), (long long)m,
               (long long)n, (long long)k, fmt_name(fa), fmt_name(fb), scaling);
        break;
      }
      /* The digest (compared across architectures) treats every NaN as one value: a NaN that an
       * invalid operation creates (Inf - Inf in an FP32 accumulation) is -0x7FC00000 on x86-64
       * and +0x7FC00000 on AArch64, and cfp8_tc_gemm stores it as it is (cfp8_gemm canonicalises). */
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
          uint32_t v = 0;
          memcpy(&v, ref + (size_t)(i * ldd + j) * ds, ds);
          if (dfmt == CFP8_FORMAT_F32 && (v & 0x7FFFFFFFu) > 0x7F800000u) v = 0x7FC00000u;
          if (dfmt == CFP8_FORMAT_F16 && (v & 0x7FFFu) > 0x7C00u) v = 0x7E00u;
          if (dfmt == CFP8_FORMAT_BF16 && (v & 0x7FFFu) > 0x7F80u) v = 0x7FC0u;
          digest_bytes(s, &v, ds);
        }
      const float amax_canon = isnan(amax_ref) ? NAN : amax_ref;
      digest_bytes(s, &amax_canon, 4);
      if (getenv("NEON_TRACE"))
        printf("trace %s case %llu m%lld n%lld k%lld fa %s fb %s ta%d tb%d sc%d d %s epi %d L%d F%d emin %d acc%d c%d accum %d iv %d init %d adv %d digest %016llx\n",
               s->name, (unsigned long long)s->cases, (long long)m, (long long)n, (long long)k, fmt_name(fa), fmt_name(fb), ta, tb, scaling,
               fmt_name(dfmt), epi, g->model ? g->model->block_size : 0, g->model ? g->model->fraction_bits : 0,
               g->model ? g->model->min_exponent : 0, g->model ? g->model->accumulator : 0, g->model ? g->model->c_mode : 0,
               g->accumulation, g->interval, g->acc_init_kind, g->adversarial, (unsigned long long)s->digest);
      if (getenv("NEON_DUMP") && strtoull(getenv("NEON_DUMP"), NULL, 0) == s->cases)
        for (int64_t i = 0; i < m; i++)
          for (int64_t j = 0; j < n; j++) {
            uint32_t v = 0;
            memcpy(&v, ref + (size_t)(i * ldd + j) * ds, ds);
            printf("dump %lld %lld 0x%x init %a\n", (long long)i, (long long)j, v, init ? (double)init[i * n + j] : 0.0);
          }
      s->cases++;
      s->elements += (uint64_t)(m * n);
      continue;
    }
    if (st != st_ref) { s->errors++; REPORT(s, "neon status %d vs scalar %d", st, st_ref); continue; }
    uint64_t bad = 0;
    int64_t fi = -1, fj = -1;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        if (memcmp(ref + (size_t)(i * ldd + j) * ds, D + (size_t)(i * ldd + j) * ds, ds) != 0) {
          if (!bad) { fi = i; fj = j; }
          bad++;
        }
    const int amax_bad = memcmp(&amax, &amax_ref, 4) != 0;
    if (bad || amax_bad) {
      s->mismatches += bad + (uint64_t)amax_bad;
      uint32_t rv = 0, nv = 0;
      if (bad) {
        memcpy(&rv, ref + (size_t)(fi * ldd + fj) * ds, ds);
        memcpy(&nv, D + (size_t)(fi * ldd + fj) * ds, ds);
      }
      REPORT(s, "threads %d m%lld n%lld k%lld fa %s fb %s ta%d tb%d scaling %d d %s epi %d%s%s L%d F%d emin %d acc%d c%d accum %d interval %d init %d adv %d: "
             "%llu elements differ, first (%lld,%lld) scalar 0x%x neon 0x%x; amax %a vs %a",
             threads, (long long)m, (long long)n, (long long)k, fmt_name(fa), fmt_name(fb), ta, tb, scaling, fmt_name(dfmt), epi,
             g->tc ? " tc" : "", special_pm ? " specials" : "", g->model ? g->model->block_size : 0,
             g->model ? g->model->fraction_bits : 0, g->model ? g->model->min_exponent : 0, g->model ? g->model->accumulator : 0,
             g->model ? g->model->c_mode : 0, g->accumulation, g->interval, g->acc_init_kind, g->adversarial,
             (unsigned long long)bad, (long long)fi, (long long)fj, rv, nv, amax_ref, amax);
    }
  }
  free(A); free(B); free(C); free(bias); free(as); free(bs); free(amx); free(bmx); free(init); free(ref); free(D);
}

static const int64_t kTail[] = {1, 2, 3, 4, 5, 6, 7, 8, 12, 15, 16, 17, 23, 31, 32, 33, 47, 63, 64, 65, 70};
#define NTAIL ((int)(sizeof kTail / sizeof kTail[0]))
static int64_t rdim(void) { return (rnd() & 1) ? kTail[rnd() % NTAIL] : (int64_t)(1 + rnd() % 70); }
static const int kDFmt[] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16, CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2,
                            CFP8_FORMAT_E4M3FNUZ, CFP8_FORMAT_E5M2FNUZ};

static void test_gemm(section *s) {
  static const int opf[] = {CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, CFP8_FORMAT_E4M3FNUZ, CFP8_FORMAT_E5M2FNUZ,
                            CFP8_FORMAT_F16, CFP8_FORMAT_BF16, CFP8_FORMAT_F32};
  const gemm_opts g = {0};
  /* every scaling mode x every operand format x every output format, random tail shapes */
  for (int scaling = 0; scaling <= CFP8_SCALING_MX; scaling++)
    for (int f = 0; f < 7; f++)
      for (int d = 0; d < 7; d++) {
        int fa = opf[f], fb = fa;
        if (scaling == CFP8_SCALING_MX && !cfp8_format_is_fp8(fa)) continue;
        if (cfp8_format_is_fp8(fa) && (rnd() & 1)) fb = opf[rnd() % 4]; /* mixed FP8 formats */
        int64_t k = rdim();
        if (scaling == CFP8_SCALING_BLOCK && (rnd() & 1)) k = 129 + (int64_t)(rnd() % 200); /* several 128-blocks */
        const int64_t m = rdim(), n = rdim();
        const int ta = (int)(rnd() & 1), tb = (int)(rnd() & 1), pad = (int)(rnd() % 4), epi = (int)(rnd() % 16);
        gemm_case(s, &g, m, n, k, fa, fb, ta, tb, scaling, kDFmt[d], pad, 0, epi);
      }
  /* every M and N tail around the 6x16 register tile, small K */
  for (int64_t m = 1; m <= 13; m++)
    for (int64_t n = 1; n <= 35; n += 2)
    {
      const int64_t k = 1 + (int64_t)(rnd() % 9);
      const int scaling = (int)(rnd() % 5), pad = (int)(rnd() % 3), epi = (int)(rnd() % 16);
      gemm_case(s, &g, m, n, k, CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, (int)(m & 1), (int)(n & 2) >> 1, scaling, CFP8_FORMAT_F32,
                pad, 0, epi);
    }
  /* NaN / Inf operands (NaN canonicalisation, Inf*0) */
  for (int t = 0; t < 24; t++) {
    int fa = opf[t % 7];
    const int64_t m = rdim(), n = rdim(), k = rdim();
    const int ta = (int)(rnd() & 1), tb = (int)(rnd() & 1), scaling = (int)(rnd() % 3), d = (int)(rnd() % 7);
    const int pad = (int)(rnd() % 3), epi = (int)(rnd() % 16);
    gemm_case(s, &g, m, n, k, fa, fa, ta, tb, scaling, kDFmt[d], pad, 30, epi);
  }
  /* large K: beyond the 768 packing block (the kernel's `load` path), with block scales */
  gemm_case(s, &g, 13, 37, 1000, CFP8_FORMAT_E4M3, CFP8_FORMAT_E4M3, 0, 1, CFP8_SCALING_BLOCK, CFP8_FORMAT_F32, 1, 0, 7);
  gemm_case(s, &g, 19, 21, 800, CFP8_FORMAT_E5M2, CFP8_FORMAT_E4M3, 1, 0, CFP8_SCALING_NONE, CFP8_FORMAT_BF16, 3, 0, 6);
  gemm_case(s, &g, 7, 33, 900, CFP8_FORMAT_E4M3, CFP8_FORMAT_E4M3, 0, 0, CFP8_SCALING_MX, CFP8_FORMAT_F32, 0, 0, 1);
  gemm_case(s, &g, 90, 140, 300, CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, 1, 1, CFP8_SCALING_BLOCK, CFP8_FORMAT_E4M3, 2, 0, 15);
  gemm_case(s, &g, 100, 70, 200, CFP8_FORMAT_BF16, CFP8_FORMAT_BF16, 0, 1, CFP8_SCALING_ROWWISE, CFP8_FORMAT_F16, 1, 0, 5);
  /* K = 0 and K = 1 */
  gemm_case(s, &g, 5, 9, 0, CFP8_FORMAT_E4M3, CFP8_FORMAT_E4M3, 0, 0, CFP8_SCALING_NONE, CFP8_FORMAT_F32, 1, 0, 7);
  gemm_case(s, &g, 9, 5, 1, CFP8_FORMAT_E4M3, CFP8_FORMAT_E4M3, 0, 0, CFP8_SCALING_TENSOR, CFP8_FORMAT_F32, 1, 0, 7);
  /* A wide A against an FP8 B with few rows (AVX-512's skinny path, B row- or column-major), N
   * past the 64-column blocks, K past the 256-long K blocks. With an F32 A the products are
   * inexact (F16 and BF16 times FP8 are exact in FP32), so a chain that did not fuse its
   * multiply-adds would show: every fourth case has an F32 A and an F32 output. */
  static const int wide[] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16};
  for (int t = 0; t < 24; t++) {
    const int64_t m = 1 + (int64_t)(rnd() % 16), n = 1 + (int64_t)(rnd() % 300), k = 1 + (int64_t)(rnd() % 600);
    const int scaling = (int)(rnd() % 3), pad = (int)(rnd() % 3), epi = (int)(rnd() % 16);
    const int fa = t % 4 == 0 ? CFP8_FORMAT_F32 : wide[rnd() % 3], d = t % 4 == 0 ? CFP8_FORMAT_F32 : kDFmt[rnd() % 3];
    gemm_case(s, &g, m, n, k, fa, opf[rnd() % 4], (int)(rnd() & 1), (t / 4) & 1, scaling, d, pad, 0, epi);
  }
}

typedef struct { const char *name; cfp8_tc_model m; int input; } tc_preset;

static void test_tc(section *s) {
  const tc_preset presets[] = {
    {"V100 fp16", {4, 23, CFP8_TC_NO_MIN_EXPONENT, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_F16},
    {"V100 fp16 acc16", {4, 23, -19, CFP8_TC_ACC_F16, CFP8_TC_C_FUSED}, CFP8_FORMAT_F16},
    {"A100 fp16", {8, 24, -132, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_F16},
    {"A100 bf16", {8, 24, -132, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_BF16},
    {"A100 tf32", {4, 24, -132, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_F32},
    {"A100 fp16 acc16", {8, 24, -20, CFP8_TC_ACC_F16, CFP8_TC_C_FUSED}, CFP8_FORMAT_F16},
    {"Ada fp8", {16, 13, -132, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_E4M3},
    {"Ada fp8 acc16", {16, 13, -20, CFP8_TC_ACC_F16, CFP8_TC_C_FUSED}, CFP8_FORMAT_E4M3},
    {"H100 fp8", {32, 13, -133, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_E4M3},
    {"H100 fp8 e5m2", {32, 13, -133, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_E5M2},
    {"H100 fp8 acc16", {32, 25, -21, CFP8_TC_ACC_F16, CFP8_TC_C_ADDED_HALVES}, CFP8_FORMAT_E4M3},
    {"H100 bf16", {16, 25, -133, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_BF16},
    {"H100 fp16", {16, 25, -133, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_F16},
    {"H100 tf32", {8, 25, -133, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_F32},
    {"B200 fp8", {32, 24, -133, CFP8_TC_ACC_F32, CFP8_TC_C_ADDED}, CFP8_FORMAT_E4M3},
    {"B200 bf16", {16, 25, -133, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_BF16},
    /* models inside the NEON FP32-lane range ((L+1)·2^(F+2) <= 2^24, F <= 20), edge cases */
    {"L2 F20", {2, 20, -133, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_E4M3},
    {"L64 F15", {64, 15, -133, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_E5M2},
    {"L32 F13 no-floor", {32, 13, CFP8_TC_NO_MIN_EXPONENT, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_E4M3},
    {"L16 F13 floor0", {16, 13, 0, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_E4M3},
    {"L3 F1", {3, 1, -20, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_E5M2},
    {"L5 F7", {5, 7, -140, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED}, CFP8_FORMAT_E4M3},
    {"Ada fp8 e5m2 acc16", {16, 13, -20, CFP8_TC_ACC_F16, CFP8_TC_C_FUSED}, CFP8_FORMAT_E5M2},
    {"B200 fp8 acc16", {32, 25, -21, CFP8_TC_ACC_F16, CFP8_TC_C_ADDED_HALVES}, CFP8_FORMAT_E5M2},
  };
  const int np = (int)(sizeof presets / sizeof presets[0]);
  for (int pi = 0; pi < np; pi++) {
    const tc_preset *p = &presets[pi];
    for (int accum = 0; accum < 4; accum++)
      for (int rep = 0; rep < 3; rep++) {
        gemm_opts g = {1, &p->m, accum, 0, (int)(rnd() % 3), rep == 2};
        if (accum == CFP8_TC_ACCUM_PROMOTED) { static const int iv[] = {32, 64, 128, 0}; g.interval = iv[rnd() % 4]; }
        int fa = p->input, fb = fa;
        if (cfp8_format_is_fp8(fa) && (rnd() & 1)) fb = fa == CFP8_FORMAT_E4M3 ? CFP8_FORMAT_E5M2 : CFP8_FORMAT_E4M3;
        int scaling = (int)(rnd() % (cfp8_format_is_fp8(fa) ? 5 : 4));
        if (scaling == CFP8_SCALING_BLOCK && accum == CFP8_TC_ACCUM_FAST) scaling = CFP8_SCALING_ROWWISE;
        if (scaling == CFP8_SCALING_BLOCK && accum == CFP8_TC_ACCUM_PROMOTED && g.interval == 0) g.interval = 64;
        int64_t k = rdim();
        if (rep == 1) k = 100 + (int64_t)(rnd() % 200);
        const int64_t m = rdim(), n = rdim();
        const int ta = (int)(rnd() & 1), tb = (int)(rnd() & 1), d = (int)(rnd() % 7), pad = (int)(rnd() % 3);
        const int epi = (int)(rnd() % 16);
        gemm_case(s, &g, m, n, k, fa, fb, ta, tb, scaling, kDFmt[d], pad, (rep == 0 && accum == 0) ? 20 : 0, epi);
      }
  }
  /* the NEON FP32-lane path in depth: H100 / Ada FP8 (FP32 and FP16 accumulators), FAST and
     PROMOTED, adversarial data */
  for (int t = 0; t < 160; t++) {
    const tc_preset *p = &presets[(t % 4 == 0) ? 6 : (t % 4 == 1) ? 8 : (t % 8 == 3) ? 7 : (t % 8 == 7) ? 22 : 16 + (int)(rnd() % 6)];
    const int accum = (int)(rnd() % 2), init_kind = t % 3 == 2 ? 2 : (int)(rnd() % 3), adv = t % 3 == 2 || (rnd() & 1);
    gemm_opts g = {1, &p->m, accum, 128, init_kind, adv};
    if (t % 5 == 0) g.accumulation = CFP8_TC_ACCUM_IDEAL;
    int fa = (rnd() & 1) ? CFP8_FORMAT_E4M3 : CFP8_FORMAT_E5M2, fb = (rnd() & 1) ? CFP8_FORMAT_E4M3 : CFP8_FORMAT_E5M2;
    int scaling = (int)(rnd() % 4);
    if (scaling == CFP8_SCALING_BLOCK) g.accumulation = CFP8_TC_ACCUM_PROMOTED;
    const int64_t m = rdim(), n = rdim();
    const int64_t k = (t & 1) ? rdim() : 100 + (int64_t)(rnd() % 200);
    const int ta = (int)(rnd() & 1), tb = (int)(rnd() & 1), d = (int)(rnd() % 7), pad = (int)(rnd() % 3);
    const int epi = (int)(rnd() % 16);
    gemm_case(s, &g, m, n, k, fa, fb, ta, tb, scaling, kDFmt[d], pad, (t % 7 == 0) ? 10 : 0, epi);
  }
}

/* Random models inside the NEON FP32-lane range (FP8 inputs, FP32 accumulator, c fused, F <= 20,
 * (L+1)·2^(F+2) <= 2^24), random floors, any promotion interval (block scales: a divisor of 128). */
static void test_tc_models(section *s) {
  for (int t = 0; t < 200; t++) {
    cfp8_tc_model model;
    do {
      model.block_size = (int32_t)(1 + rnd() % 64);
      model.fraction_bits = (int32_t)(1 + rnd() % 20);
    } while (((int64_t)(model.block_size + 1) << (model.fraction_bits + 2)) > (1 << 24));
    const uint64_t r = rnd();
    model.min_exponent = (r & 3) == 0 ? CFP8_TC_NO_MIN_EXPONENT : -(int32_t)((r >> 8) % 160);
    model.accumulator = CFP8_TC_ACC_F32;
    model.c_mode = CFP8_TC_C_FUSED;
    small_fp8 = t % 4 == 1; /* small operands under a floor of -12..0: the floor decides E */
    if (small_fp8) model.min_exponent = -(int32_t)(rnd() % 13);
    const int accum = (t % 8 == 7) ? CFP8_TC_ACCUM_IDEAL : (int)(rnd() % 2);
    const int init_kind = (int)(rnd() % 3), adv = (int)(rnd() % 3 == 0);
    int scaling = (int)(rnd() % 4);
    if (scaling == CFP8_SCALING_BLOCK && accum == CFP8_TC_ACCUM_FAST) scaling = CFP8_SCALING_TENSOR;
    int interval = (int)(1 + rnd() % 150);
    if (scaling == CFP8_SCALING_BLOCK) interval = 1 << (rnd() % 8);
    gemm_opts g = {1, &model, accum, interval, init_kind, adv};
    const int fa = (rnd() & 1) ? CFP8_FORMAT_E4M3 : CFP8_FORMAT_E5M2, fb = (rnd() & 1) ? CFP8_FORMAT_E4M3 : CFP8_FORMAT_E5M2;
    const int64_t m = 1 + (int64_t)(rnd() % 24), n = rdim();
    const int64_t k = (t & 1) ? rdim() : 1 + (int64_t)(rnd() % 260);
    const int ta = (int)(rnd() & 1), tb = (int)(rnd() & 1), d = (int)(rnd() % 7), pad = (int)(rnd() % 3);
    const int epi = (int)(rnd() % 16);
    gemm_case(s, &g, m, n, k, fa, fb, ta, tb, scaling, kDFmt[d], pad, (t % 11 == 0) ? 10 : 0, epi);
  }
  small_fp8 = 0;
}

/* ---- INT8 ---------------------------------------------------------------------------------- */
static void int8_case(section *s, int64_t m, int64_t n, int64_t k, int64_t pad, int extreme) {
  const int64_t lda = k + pad, ldb = k + (pad ? pad + 1 : 0), ldc = n + pad;
  int8_t *A = malloc((size_t)(m * lda + 1)), *B = malloc((size_t)(n * ldb + 1));
  for (int64_t i = 0; i < m * lda; i++) A[i] = extreme ? (int8_t)((rnd() & 1) ? -128 : 127) : (int8_t)rnd();
  for (int64_t i = 0; i < n * ldb; i++) B[i] = extreme ? (int8_t)((rnd() & 3) ? -128 : 127) : (int8_t)rnd();
  if (extreme == 2) { memset(A, 0x80, (size_t)(m * lda)); memset(B, 0x80, (size_t)(n * ldb)); }
  const size_t cc = (size_t)((m - 1) * ldc + n);
  int32_t *ref = malloc(cc * 4), *C = malloc(cc * 4);
  for (int run = 0; run < (have_neon ? 3 : 1); run++) {
    int32_t *dst = run ? C : ref;
    memset(dst, 0x5A, cc * 4);
    cfp8_status st = cfp8_int8_gemm(m, n, k, A, lda, B, ldb, dst, ldc, run ? test_isa : CFP8_ISA_SCALAR, run == 2 ? 2 : 1);
    if (st != CFP8_OK) { s->errors++; REPORT(s, "int8 status %d", st); break; }
    if (run == 0) {
      /* the scalar path against an int64 reference (every sum is exact) */
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
          int64_t e = 0;
          for (int64_t t = 0; t < k; t++) e += (int64_t)A[i * lda + t] * B[j * ldb + t];
          if (e != ref[i * ldc + j]) { s->errors++; REPORT(s, "scalar int8 wrong at m%lld n%lld k%lld", (long long)m, (long long)n, (long long)k); i = m; break; }
        }
      for (int64_t i = 0; i < m; i++) digest_bytes(s, ref + i * ldc, (size_t)n * 4);
      s->cases++;
      s->elements += (uint64_t)(m * n);
      continue;
    }
    uint64_t bad = 0;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) bad += ref[i * ldc + j] != C[i * ldc + j];
    if (bad) { s->mismatches += bad; REPORT(s, "int8 threads %d m%lld n%lld k%lld: %llu differ", run == 2 ? 2 : 1, (long long)m, (long long)n, (long long)k, (unsigned long long)bad); }
  }
  free(A); free(B); free(ref); free(C);
}

static void test_int8(section *s) {
  for (int t = 0; t < 300; t++) {
    int64_t k = (t % 3 == 0) ? (int64_t)(1 + rnd() % 40) : rdim();
    if (t % 10 == 0) k = 100 + (int64_t)(rnd() % 400);
    const int64_t m = rdim(), n = rdim(), pad = (int64_t)(rnd() % 4);
    int8_case(s, m, n, k, pad, t % 17 == 0);
  }
  for (int64_t k = 1; k <= 48; k++) int8_case(s, 3, 5, k, k & 1, 0); /* every tail of the 16-wide loop */
  int8_case(s, 200, 30, 77, 1, 0);                      /* more than one 96-row parallel block */
  int8_case(s, 2, 3, CFP8_INT8_GEMM_MAX_K, 0, 2);       /* the largest sum: (-128)^2 * 131071 */
  int8_case(s, 2, 2, CFP8_INT8_GEMM_MAX_K, 5, 1);
}

/* ---- quantize (encodes through the NEON converter), amax and dequantize --------------------- */
static void test_amax_dequantize(section *s);
static void test_quantize(section *s) {
  static const int64_t dims[] = {1, 3, 17, 33, 64, 129, 200};
  for (int t = 0; t < 80; t++) {
    const int64_t rows = dims[rnd() % 7], cols = dims[rnd() % 7];
    static const int wides[] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16};
    const int wf = wides[t % 3], fmt = (t & 4) ? CFP8_FORMAT_E5M2 : CFP8_FORMAT_E4M3, gran = (t / 3) % 4;
    void *x = make_operand(wf, rows, cols, cols, 0);
    int64_t sr, scn;
    cfp8_scale_shape(gran, rows, cols, &sr, &scn);
    const size_t ns = (size_t)(sr * scn), nq = (size_t)(rows * cols);
    uint8_t *q[2], *mx[2];
    float *sc[2];
    cfp8_status st[2];
    for (int r = 0; r < (have_neon ? 2 : 1); r++) {
      q[r] = malloc(nq); mx[r] = malloc(ns + 1); sc[r] = malloc(ns * 4 + 4);
      memset(mx[r], 0, ns + 1); memset(sc[r], 0, ns * 4 + 4);
      cfp8_quantize_options o = {fmt, gran, (int32_t)(t & 1), r ? test_isa : CFP8_ISA_SCALAR, 1};
      st[r] = cfp8_quantize(x, wf, rows, cols, &o, q[r], sc[r], mx[r]);
    }
    if (st[0] != CFP8_OK) { s->errors++; REPORT(s, "scalar quantize %d", st[0]); }
    else {
      digest_bytes(s, q[0], nq); digest_bytes(s, sc[0], ns * 4); digest_bytes(s, mx[0], ns);
      s->cases++;
      s->elements += nq;
      if (have_neon) {
        uint64_t bad = 0;
        if (st[1] != CFP8_OK) bad = 1;
        else {
          for (size_t i = 0; i < nq; i++) bad += q[0][i] != q[1][i];
          bad += memcmp(sc[0], sc[1], ns * 4) != 0;
          bad += memcmp(mx[0], mx[1], ns) != 0;
        }
        if (bad) { s->mismatches += bad; REPORT(s, "quantize %s->%s gran %d r%lld c%lld: %llu differ", fmt_name(wf), fmt_name(fmt), gran, (long long)rows, (long long)cols, (unsigned long long)bad); }
      }
    }
    for (int r = 0; r < (have_neon ? 2 : 1); r++) { free(q[r]); free(mx[r]); free(sc[r]); }
    free(x);
  }
  test_amax_dequantize(s);
}

/* Compares n bytes of the scalar result ref with the path's out; returns the differing elements. */
static uint64_t compare_run(section *s, const void *ref, const void *out, size_t n, size_t es, const char *what) {
  size_t first = 0;
  const uint64_t bad = diff_elems(ref, out, n, es, &first);
  if (bad) { s->mismatches += bad; REPORT(s, "%s: %llu differ, first at %zu", what, (unsigned long long)bad, first); }
  return bad;
}

/* cfp8_amax on every granularity (a row stride past the columns, NaN in some inputs) and
 * cfp8_dequantize of every FP8 byte, every granularity (random finite scales over a wide range,
 * E8M0 bytes for MX), to F32, BF16 and F16 (overflow, subnormal and NaN results included). */
static void test_amax_dequantize(section *s) {
  static const int64_t dims[] = {1, 15, 16, 17, 64, 129, 300, 1100};
  static const int wides[] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16};
  static const int fp8[] = {CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, CFP8_FORMAT_E4M3FNUZ, CFP8_FORMAT_E5M2FNUZ};
  const int runs = have_neon ? 2 : 1;
  for (int t = 0; t < 96; t++) {
    int64_t rows = dims[rnd() % 8], cols = dims[rnd() % 8];
    while (rows * cols > 200000) rows = rows / 2 + 1;
    const int gran = t % 4, wf = wides[(t / 4) % 3], pad = (int)(rnd() % 3);
    char what[160];
    snprintf(what, sizeof what, "case %d rows %lld cols %lld gran %d", t, (long long)rows, (long long)cols, gran);
    int64_t sr, scn;
    cfp8_scale_shape(gran, rows, cols, &sr, &scn);
    const size_t ns = (size_t)(sr * scn), nq = (size_t)(rows * cols);
    /* amax */
    const int64_t ld = cols + pad;
    void *x = make_operand(wf, rows, cols, ld, (t % 8 == 5) ? 30 : 0);
    float *am[2];
    for (int r = 0; r < runs; r++) {
      am[r] = malloc(ns * 4 + 4);
      if (cfp8_amax(x, wf, rows, cols, ld, gran, am[r], r ? test_isa : CFP8_ISA_SCALAR, 1 + r) != CFP8_OK) {
        s->errors++; REPORT(s, "amax %s failed", what);
      }
    }
    digest_bytes(s, am[0], ns * 4);
    if (runs == 2) compare_run(s, am[0], am[1], ns, 4, what);
    for (int r = 0; r < runs; r++) free(am[r]);
    free(x);
    /* dequantize: random bytes, scales with exponents over [-40, 40] */
    const int fmt = fp8[rnd() % 4];
    uint8_t *q = malloc(nq + 1), *mx = malloc(ns + 1);
    float *sc = malloc(ns * 4 + 4);
    for (size_t i = 0; i < nq; i++) q[i] = (uint8_t)rnd();
    for (size_t i = 0; i < ns; i++) {
      sc[i] = ldexpf(1.0f + (float)(rnd() % 4096) / 4096.0f, (int)(rnd() % 81) - 40) * ((rnd() & 7) ? 1.0f : -1.0f);
      mx[i] = (uint8_t)(87 + rnd() % 81); /* 2^-40 .. 2^40 */
    }
    for (int o = 0; o < 3; o++) {
      const int of = wides[o];
      const size_t es = (size_t)cfp8_format_size(of);
      uint8_t *out[2];
      for (int r = 0; r < runs; r++) {
        out[r] = malloc(nq * es + 4);
        memset(out[r], 0x5A, nq * es + 4);
        if (cfp8_dequantize(q, fmt, rows, cols, gran, sc, mx, out[r], of, r ? test_isa : CFP8_ISA_SCALAR, 1 + r) != CFP8_OK) {
          s->errors++; REPORT(s, "dequantize %s failed", what);
        }
      }
      digest_bytes(s, out[0], nq * es);
      s->cases++;
      s->elements += nq;
      if (runs == 2) {
        char w2[200];
        snprintf(w2, sizeof w2, "dequantize %s -> %s %s", fmt_name(fmt), fmt_name(of), what);
        compare_run(s, out[0], out[1], nq, es, w2);
      }
      for (int r = 0; r < runs; r++) free(out[r]);
    }
    free(q); free(mx); free(sc);
  }
}

/* ---- layer kernels (cfp8_nn.h) and the batched GEMM --------------------------------------------- */
/* One kernel call on the scalar path and on the tested ISA (threads 1 and 2): `run` fills out[0..count). */
typedef cfp8_status (*nn_run)(int32_t isa, int32_t threads, void *ctx, float *out);
static void nn_compare(section *s, const char *what, nn_run run, void *ctx, size_t count) {
  float *ref = malloc(count * 4 + 4), *out = malloc(count * 4 + 4);
  cfp8_status st = run(CFP8_ISA_SCALAR, 1, ctx, ref);
  if (st != CFP8_OK) { s->errors++; REPORT(s, "scalar %s status %d", what, st); free(ref); free(out); return; }
  digest_bytes(s, ref, count * 4);
  if (getenv("NEON_CASE_DIGESTS")) fprintf(stderr, "%s %zu %016llx\n", what, count, (unsigned long long)s->digest);
  s->cases++;
  s->elements += count;
  for (int t = 1; have_neon && t <= 2; t++) {
    st = run(test_isa, t, ctx, out);
    if (st != CFP8_OK) { s->errors++; REPORT(s, "neon %s status %d", what, st); continue; }
    size_t first = 0;
    uint64_t d = diff_elems(ref, out, count, 4, &first);
    if (d) {
      s->mismatches += d;
      REPORT(s, "%s threads %d: %llu of %zu differ; first at %zu: scalar 0x%08x neon 0x%08x", what, t,
             (unsigned long long)d, count, first, f32_bits(ref[first]), f32_bits(out[first]));
    }
  }
  free(ref); free(out);
}

typedef struct nn_ctx {
  const float *x, *y, *g, *b;
  const int32_t *targets;
  size_t rows, cols;
  int round, causal;
} nn_ctx;

static cfp8_status run_gelu(int32_t isa, int32_t t, void *p, float *o) {
  nn_ctx *c = p;
  return cfp8_gelu(c->x, o, (int64_t)(c->rows * c->cols), isa, t);
}
static cfp8_status run_gelu_backward(int32_t isa, int32_t t, void *p, float *o) {
  nn_ctx *c = p;
  return cfp8_gelu_backward(c->y, c->x, o, (int64_t)(c->rows * c->cols), isa, t);
}
static cfp8_status run_add(int32_t isa, int32_t t, void *p, float *o) {
  nn_ctx *c = p;
  return cfp8_add(c->x, c->y, o, (int64_t)(c->rows * c->cols), c->round, isa, t);
}
static cfp8_status run_round(int32_t isa, int32_t t, void *p, float *o) {
  nn_ctx *c = p;
  memcpy(o, c->x, c->rows * c->cols * 4);
  return cfp8_round_to_format(o, (int64_t)(c->rows * c->cols), c->round, isa, t);
}
static cfp8_status run_softmax(int32_t isa, int32_t t, void *p, float *o) {
  nn_ctx *c = p;
  cfp8_status st = cfp8_softmax(c->x, o, (int64_t)c->rows, (int64_t)c->cols, 0.125f, c->causal, c->round, isa, t);
  if (st) return st;
  return cfp8_softmax_backward(o, c->y, o + c->rows * c->cols, (int64_t)c->rows, (int64_t)c->cols, 0.25f, c->causal, isa, t);
}
static cfp8_status run_layernorm(int32_t isa, int32_t t, void *p, float *o) {
  nn_ctx *c = p;
  const size_t n = c->rows * c->cols;
  float *mean = o + n, *rstd = mean + c->rows, *dx = rstd + c->rows, *dg = dx + n, *db = dg + c->cols;
  cfp8_status st = cfp8_layernorm(c->x, c->g, c->b, (int64_t)c->rows, (int64_t)c->cols, 1e-5f, o, mean, rstd, c->round, isa, t);
  if (st) return st;
  for (size_t j = 0; j < c->cols; j++) dg[j] = db[j] = (float)j * 0.5f;
  st = cfp8_layernorm_backward(c->y, c->x, mean, rstd, c->g, (int64_t)c->rows, (int64_t)c->cols, dx, dg, db, isa, t);
  if (st) return st;
  float *bias = db + c->cols;
  for (size_t j = 0; j < c->cols; j++) bias[j] = 1.0f;
  return cfp8_bias_backward(c->y, (int64_t)c->rows, (int64_t)c->cols, bias, isa, t);
}
static cfp8_status run_cross_entropy(int32_t isa, int32_t t, void *p, float *o) {
  nn_ctx *c = p;
  return cfp8_cross_entropy(c->x, (int64_t)c->rows, (int64_t)c->cols, c->targets, c->causal ? c->b : NULL, 4.0f, o, o + 1,
                            isa, t);
}
static cfp8_status run_adamw(int32_t isa, int32_t t, void *p, float *o) {
  nn_ctx *c = p;
  const size_t n = c->rows * c->cols;
  memcpy(o, c->x, n * 4);
  memcpy(o + n, c->y, n * 4);
  for (size_t i = 0; i < n; i++) o[2 * n + i] = c->y[i] * c->y[i];
  cfp8_adamw_step st = {1e-3f, 0.9f, 0.95f, 1e-8f, c->causal ? 0.1f : 0.0f, 0.19f, 0.0975f};
  return cfp8_adamw(o, o + n, o + 2 * n, c->x, (int64_t)n, &st, isa, t); /* gradient: the x values */
}

static float nn_value(void) {
  uint64_t r = rnd();
  static const float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-40f, -3e38f, 65520.0f, -16.0f, -10.3f, 88.7f};
  if ((r & 7) == 0) return sp[(r >> 8) % (sizeof sp / sizeof sp[0])];
  if ((r & 7) == 1) return bits_f32((uint32_t)(r >> 32));
  return (float)((int64_t)(r >> 20) % 2000000) / 250000.0f;
}

static void batched_attention(section *s, int64_t batch, int64_t seq, int64_t heads, int64_t dh) {
  const int64_t d = heads * dh, w = 3 * d, count = batch * heads, nout = count * seq * seq;
  float *qkv = malloc((size_t)(batch * seq * w) * 4), *ref = malloc((size_t)nout * 4 + 4), *out = malloc((size_t)nout * 4 + 4);
  for (int64_t i = 0; i < batch * seq * w; i++) qkv[i] = nn_value();
  cfp8_gemm_batch bt = {batch, heads, seq * w, dh, seq * w, dh, 0, 0, heads * seq * seq, seq * seq};
  cfp8_operand a = {qkv, CFP8_FORMAT_F32, 0, w}, b = {qkv + d, CFP8_FORMAT_F32, 1, w};
  for (int r = 0; r < 3; r++) {
    const int isa = r ? test_isa : CFP8_ISA_SCALAR;
    if (r && !have_neon) break;
    cfp8_epilogue e = {0.25f, 0, NULL, 0, NULL, r ? out : ref, CFP8_FORMAT_F32, seq, 1, NULL};
    cfp8_status st = cfp8_gemm_batched(&bt, seq, seq, dh, &a, &b, NULL, &e, isa, r ? r : 1);
    if (st) { s->errors++; REPORT(s, "gemm_batched status %d", st); break; }
    if (!r) { digest_bytes(s, ref, (size_t)nout * 4); s->cases++; s->elements += (uint64_t)nout; continue; }
    size_t first = 0;
    uint64_t dd = diff_elems(ref, out, (size_t)nout, 4, &first);
    if (dd) { s->mismatches += dd; REPORT(s, "gemm_batched %lldx%lldx%lldx%lld threads %d: %llu differ", (long long)batch,
                                          (long long)heads, (long long)seq, (long long)dh, r, (unsigned long long)dd); }
  }
  free(qkv); free(ref); free(out);
}

static void test_nn(section *s, uint32_t stride) {
  /* element-wise kernels on the FP32 patterns of the convert sweep */
  uint32_t *pat;
  const size_t np = f32_patterns(&pat, stride);
  float *other = malloc(np * 4);
  for (size_t i = 0; i < np; i++) other[i] = nn_value();
  nn_ctx e = {(const float *)pat, other, NULL, NULL, NULL, np, 1, CFP8_FORMAT_F32, 0};
  nn_compare(s, "gelu", run_gelu, &e, np);
  nn_compare(s, "gelu_backward", run_gelu_backward, &e, np);
  static const int rounds[3] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16};
  for (int r = 0; r < 3; r++) {
    e.round = rounds[r];
    nn_compare(s, "add", run_add, &e, np);
    nn_compare(s, "round_to_format", run_round, &e, np);
  }
  free(pat); free(other);
  /* row kernels: odd row lengths (tails), rows above the threading threshold */
  static const size_t shapes[][2] = {{1, 1}, {5, 3}, {17, 17}, {33, 16}, {40, 31}, {64, 64}, {70, 70}, {300, 131}, {20, 384}};
  for (size_t q = 0; q < sizeof shapes / sizeof shapes[0]; q++) {
    const size_t rows = shapes[q][0], cols = shapes[q][1], n = rows * cols;
    float *x = malloc(n * 4), *y = malloc(n * 4), *g = malloc(cols * 4), *b = malloc((rows > cols ? rows : cols) * 4);
    int32_t *targets = malloc(rows * 4);
    for (size_t i = 0; i < n; i++) { x[i] = nn_value(); y[i] = nn_value(); }
    for (size_t j = 0; j < cols; j++) g[j] = nn_value();
    for (size_t j = 0; j < (rows > cols ? rows : cols); j++) b[j] = (rnd() % 3) ? (float)(rnd() % 4) : nn_value();
    for (size_t r = 0; r < rows; r++) targets[r] = (int32_t)(rnd() % cols);
    for (int r = 0; r < 3; r++) {
      nn_ctx c = {x, y, g, b, targets, rows, cols, rounds[r], r != 1};
      nn_compare(s, "softmax (+ backward)", run_softmax, &c, 2 * n);
      nn_compare(s, "layernorm (+ backward, bias)", run_layernorm, &c, 2 * n + 2 * rows + 3 * cols);
      if (r < 2) nn_compare(s, "cross_entropy", run_cross_entropy, &c, n + 1);
      if (r < 2) nn_compare(s, "adamw", run_adamw, &c, 3 * n);
    }
    free(x); free(y); free(g); free(b); free(targets);
  }
  batched_attention(s, 3, 5, 2, 3);
  batched_attention(s, 24, 32, 4, 16);
  batched_attention(s, 1, 40, 1, 17);
}

/* ---- main ---------------------------------------------------------------------------------- */
int main(int argc, char **argv) {
  uint32_t stride = 2039;
  const char *only = NULL, *vectors = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--stride=", 9)) stride = (uint32_t)strtoul(argv[i] + 9, NULL, 0);
    else if (!strncmp(argv[i], "--only=", 7)) only = argv[i] + 7;
    else if (!strncmp(argv[i], "--vectors=", 10)) vectors = argv[i] + 10;
    else if (!strcmp(argv[i], "--isa=avx2")) test_isa = CFP8_ISA_AVX2;
    else if (!strcmp(argv[i], "--isa=avx512")) test_isa = CFP8_ISA_AVX512;
    else { fprintf(stderr, "usage: %s [--stride=N] [--only=SECTION] [--vectors=DIR] [--isa=avx2|avx512]\n", argv[0]); return 2; }
  }
  have_neon = cfp8_isa_supported(test_isa);
#if defined(__aarch64__)
  if (!have_neon) { fprintf(stderr, "FAIL: NEON not reported as supported on AArch64\n"); return 1; }
#endif
  if (test_isa != CFP8_ISA_NEON && !have_neon) { fprintf(stderr, "FAIL: %s not supported on this CPU\n", cfp8_isa_name(test_isa)); return 1; }
  printf("CFP8 %s vs scalar (bit for bit): %s, default ISA %s, %d OpenMP threads max\n", cfp8_isa_name(test_isa),
         have_neon ? "present" : "absent: scalar digests only", cfp8_isa_name(cfp8_isa_default()), cfp8_max_threads());
  section secs[] = {{"convert f16/bf16", 0, 0, 0, 0, 0xcbf29ce484222325ull, 0},
                    {"convert f32", 0, 0, 0, 0, 0xcbf29ce484222325ull, 0},
                    {"decode", 0, 0, 0, 0, 0xcbf29ce484222325ull, 0},
                    {"gemm", 0, 0, 0, 0, 0xcbf29ce484222325ull, 0},
                    {"tc_gemm", 0, 0, 0, 0, 0xcbf29ce484222325ull, 0},
                    {"int8_gemm", 0, 0, 0, 0, 0xcbf29ce484222325ull, 0},
                    {"quantize", 0, 0, 0, 0, 0xcbf29ce484222325ull, 0},
                    {"nn, gemm_batched", 0, 0, 0, 0, 0xcbf29ce484222325ull, 0}};
  const int ns = (int)(sizeof secs / sizeof secs[0]);
  int bad = 0;
  int only_exact = 0; /* --only=NAME: that section when NAME is a section's whole name, else every name containing it */
  for (int i = 0; i < ns && only; i++) only_exact |= !strcmp(secs[i].name, only);
  for (int i = 0; i < ns; i++) {
    section *s = &secs[i];
    if (only && (only_exact ? strcmp(s->name, only) != 0 : !strstr(s->name, only))) continue;
    rng_state = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1); /* each section's data independent of the others */
    const double t0 = now();
    switch (i) {
    case 0: test_convert_16(s); break;
    case 1: test_convert_32(s, stride); break;
    case 2: test_decode(s); break;
    case 3: test_gemm(s); break;
    case 4: test_tc(s); test_tc_models(s); break;
    case 5: test_int8(s); break;
    case 6: test_quantize(s); break;
    case 7: test_nn(s, stride); break;
    }
    s->seconds = now() - t0;
    printf("%-17s cases %6llu  elements %11llu  mismatches %llu  errors %llu  digest %016llx  %.1f s\n", s->name,
           (unsigned long long)s->cases, (unsigned long long)s->elements, (unsigned long long)s->mismatches,
           (unsigned long long)s->errors, (unsigned long long)s->digest, s->seconds);
    fflush(stdout);
    if (s->mismatches || s->errors || !s->cases) bad = 1;
  }
  printf(bad ? "FAIL: %s and scalar differ (or a call failed)\n" : "OK: %s equals scalar bit for bit\n", cfp8_isa_name(test_isa));
  /* the real-GPU rows on the NEON path (scalar where NEON is absent), against the GPUs' bits */
  if (vectors && tc_vectors_run(vectors, have_neon ? test_isa : CFP8_ISA_SCALAR)) bad = 1;
  return bad;
}
