/* Sanitizer harness: every public CFP8 kernel over every supported ISA, with tail shapes, odd
 * leading dimensions and unaligned pointers, plus bad-argument calls that must return a status
 * code. Built by scripts/sanitize.sh with -fsanitize=address,undefined -fno-sanitize-recover=all
 * (any out-of-bounds access or undefined behaviour aborts the run). Results of every SIMD path
 * are also compared bit for bit with the scalar path. */
#include "cfp8.h"
#include "../CSupport/test_support.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      failures++;                                                     \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
      fprintf(stderr, __VA_ARGS__);                                   \
      fprintf(stderr, "\n");                                          \
      if (failures > 50) exit(1);                                     \
    }                                                                 \
  } while (0)

static const size_t kSizes[] = {0, 1, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129};
#define NSIZES (sizeof(kSizes) / sizeof(kSizes[0]))
static int isas[4], nisa = 0;

/* A heap block of exactly `bytes` bytes placed at an offset so that ASan catches a one-byte
 * overrun: malloc(bytes + off) and return p + off (the end is the end of the allocation). */
static void *exact_alloc(size_t bytes, size_t off, void **base) {
  *base = malloc(bytes + off + 1);
  return (char *)*base + off;
}
static float rand_float(void) {
  /* mostly moderate values, sometimes special ones */
  uint64_t r = rnd();
  switch (r & 15) {
    case 0: { uint32_t u = (uint32_t)(r >> 32); float f; memcpy(&f, &u, 4); return f; }
    case 1: return 0.0f;
    default: return (float)((int64_t)(r >> 20) % 2000000) / 1000.0f * ((r & 16) ? 1e-3f : 1.0f);
  }
}
static float rand_finite(void) {
  float f;
  do { f = rand_float(); } while (!isfinite(f));
  return f;
}

/* ---- convert -------------------------------------------------------------------------------- */
static const int kFP8[] = {CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, CFP8_FORMAT_E4M3FNUZ, CFP8_FORMAT_E5M2FNUZ,
                           CFP8_FORMAT_E8M0};
static const int kWide[] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16};

static void test_convert(void) {
  for (size_t si = 0; si < NSIZES; si++) {
    size_t n = kSizes[si];
    for (size_t off = 0; off < 4; off++) {
      for (int w = 0; w < 3; w++) {
        int wf = kWide[w];
        size_t ws = (size_t)cfp8_format_size(wf);
        void *sb, *src = exact_alloc(n * ws, off * ws, &sb); /* element-aligned: the C contract */
        for (size_t i = 0; i < n * ws; i++) ((uint8_t *)src)[i] = (uint8_t)rnd();
        for (int f = 0; f < 5; f++) {
          int ff = kFP8[f];
          for (int rounding = 0; rounding < 4; rounding++) {
            for (int preset = 0; preset < 4; preset++) {
              uint8_t ref[200];
              int ok_ref = -1;
              for (int ii = 0; ii < nisa; ii++) {
                void *db; uint8_t *dst = exact_alloc(n, off, &db);
                cfp8_encode_options o = {rounding, preset, 42, NULL, isas[ii], (ii % 3) + 1};
                cfp8_status s = cfp8_encode(src, wf, dst, ff, n, &o);
                if (ii == 0) { ok_ref = s; if (s == CFP8_OK && n) memcpy(ref, dst, n); }
                else {
                  CHECK(s == ok_ref, "encode status isa %d fmt %d->%d r%d p%d n%zu: %d vs %d", isas[ii], wf, ff,
                        rounding, preset, n, s, ok_ref);
                  if (s == CFP8_OK && n) CHECK(memcmp(ref, dst, n) == 0, "encode bits isa %d fmt %d->%d r%d p%d n%zu",
                                               isas[ii], wf, ff, rounding, preset, n);
                }
                free(db);
              }
            }
          }
        }
        free(sb);
      }
      /* decode */
      void *qb; uint8_t *q = exact_alloc(n, off, &qb);
      for (size_t i = 0; i < n; i++) q[i] = (uint8_t)rnd();
      for (int f = 0; f < 5; f++) {
        for (int w = 0; w < 3; w++) {
          size_t ws = (size_t)cfp8_format_size(kWide[w]);
          uint8_t ref[129 * 4];
          for (int ii = 0; ii < nisa; ii++) {
            void *db; void *dst = exact_alloc(n * ws, off * ws, &db);
            cfp8_status s = cfp8_decode(q, kFP8[f], dst, kWide[w], n, isas[ii], 1 + ii % 2);
            CHECK(s == CFP8_OK, "decode status %d", s);
            if (ii == 0) { if (n) memcpy(ref, dst, n * ws); }
            else if (n) CHECK(memcmp(ref, dst, n * ws) == 0, "decode bits isa %d fmt %d->%d n%zu", isas[ii], kFP8[f], kWide[w], n);
            free(db);
          }
        }
      }
      free(qb);
    }
  }
  /* bad arguments */
  uint8_t b[4] = {0};
  float fl[4] = {0};
  cfp8_encode_options o = {0, 0, 0, NULL, CFP8_ISA_AUTO, 0};
  CHECK(cfp8_encode(NULL, CFP8_FORMAT_F32, b, CFP8_FORMAT_E4M3, 4, &o) != CFP8_OK, "encode NULL src");
  CHECK(cfp8_encode(fl, CFP8_FORMAT_F32, NULL, CFP8_FORMAT_E4M3, 4, &o) != CFP8_OK, "encode NULL dst");
  CHECK(cfp8_encode(fl, CFP8_FORMAT_F32, b, CFP8_FORMAT_E4M3, 4, NULL) == CFP8_OK ||
        cfp8_encode(fl, CFP8_FORMAT_F32, b, CFP8_FORMAT_E4M3, 4, NULL) == CFP8_ERR_NULL_POINTER, "encode NULL options");
  CHECK(cfp8_encode(fl, 99, b, CFP8_FORMAT_E4M3, 4, &o) == CFP8_ERR_BAD_FORMAT, "encode bad src fmt");
  CHECK(cfp8_encode(fl, CFP8_FORMAT_F32, b, 99, 4, &o) == CFP8_ERR_BAD_FORMAT, "encode bad dst fmt");
  CHECK(cfp8_encode(fl, CFP8_FORMAT_F32, b, CFP8_FORMAT_F16, 4, &o) == CFP8_ERR_BAD_FORMAT, "encode wide dst");
  cfp8_encode_options bad = o; bad.rounding = 77;
  CHECK(cfp8_encode(fl, CFP8_FORMAT_F32, b, CFP8_FORMAT_E4M3, 4, &bad) == CFP8_ERR_BAD_ROUNDING, "encode bad rounding");
  bad = o; bad.preset = -3;
  CHECK(cfp8_encode(fl, CFP8_FORMAT_F32, b, CFP8_FORMAT_E4M3, 4, &bad) == CFP8_ERR_BAD_PRESET, "encode bad preset");
  bad = o; bad.isa = 1234; /* unknown ISA number: BAD_ARGUMENT (cfp8_isa_resolve) */
  CHECK(cfp8_encode(fl, CFP8_FORMAT_F32, b, CFP8_FORMAT_E4M3, 4, &bad) == CFP8_ERR_BAD_ARGUMENT, "encode bad isa");
  bad = o; bad.rounding = CFP8_ROUND_STOCHASTIC;
  CHECK(cfp8_encode(fl, CFP8_FORMAT_F32, b, CFP8_FORMAT_E8M0, 4, &bad) != CFP8_OK, "encode E8M0 stochastic");
  CHECK(cfp8_decode(NULL, CFP8_FORMAT_E4M3, fl, CFP8_FORMAT_F32, 4, 0, 0) == CFP8_ERR_NULL_POINTER, "decode NULL");
  CHECK(cfp8_decode(b, CFP8_FORMAT_E4M3, NULL, CFP8_FORMAT_F32, 4, 0, 0) == CFP8_ERR_NULL_POINTER, "decode NULL dst");
  CHECK(cfp8_decode(b, 42, fl, CFP8_FORMAT_F32, 4, 0, 0) == CFP8_ERR_BAD_FORMAT, "decode bad fmt");
  CHECK(cfp8_decode(b, CFP8_FORMAT_E4M3, fl, CFP8_FORMAT_E5M2, 4, 0, 0) == CFP8_ERR_BAD_FORMAT, "decode fp8 dst");
  CHECK(cfp8_decode(b, CFP8_FORMAT_E4M3, fl, CFP8_FORMAT_F32, 4, 77, 0) == CFP8_ERR_BAD_ARGUMENT, "decode bad isa");
  CHECK(cfp8_decode(b, CFP8_FORMAT_E4M3, fl, CFP8_FORMAT_F32, SIZE_MAX / 2, 0, 0) != CFP8_OK, "decode huge n");
  CHECK(cfp8_encode(fl, CFP8_FORMAT_F32, b, CFP8_FORMAT_E4M3, SIZE_MAX / 2, &o) != CFP8_OK, "encode huge n");
  /* n = 0 with NULL pointers is allowed or refused, never a crash */
  (void)cfp8_encode(NULL, CFP8_FORMAT_F32, NULL, CFP8_FORMAT_E4M3, 0, &o);
  (void)cfp8_decode(NULL, CFP8_FORMAT_E4M3, NULL, CFP8_FORMAT_F32, 0, 0, 0);
  /* the reference functions take any bit pattern and any (bad) enum */
  for (int f = -2; f < 20; f++)
    for (int r = -1; r < 5; r++)
      for (int p = -1; p < 5; p++) {
        (void)cfp8_encode_f32_reference(NAN, f, r, p, 7);
        (void)cfp8_encode_f16_reference(0x7C01, f, r, p, 7);
        (void)cfp8_encode_bf16_reference(0xFF81, f, r, p, 7);
        (void)cfp8_encode_f64_reference(1e300, f, r, p, 7);
      }
  for (int f = -2; f < 20; f++) {
    (void)cfp8_fp8_to_f32_reference(0xFF, f);
    (void)cfp8_decode_table_f32(f);
    cfp8_format_info info;
    (void)cfp8_format_describe(f, &info);
    (void)cfp8_format_size(f);
  }
  CHECK(cfp8_format_describe(CFP8_FORMAT_E4M3, NULL) != CFP8_OK, "describe NULL");
  for (int s = -5; s < 20; s++) CHECK(cfp8_status_string(s) != NULL, "status string");
  for (int i = -5; i < 10; i++) { (void)cfp8_isa_name(i); (void)cfp8_isa_supported(i); int32_t r; (void)cfp8_isa_resolve(i, &r); }
  CHECK(cfp8_isa_resolve(0, NULL) != CFP8_OK, "isa_resolve NULL");
  /* sweep compare: small ranges, every ISA */
  uint64_t mism[16], first[16];
  for (int f = 0; f < 5; f++) {
    cfp8_status s = cfp8_sweep_compare(CFP8_FORMAT_F16, kFP8[f], CFP8_ROUND_NEAREST_EVEN, 0xF, isas, nisa, 0x3B00, 0x3B00 + 129, 1,
                                       2, mism, first);
    CHECK(s == CFP8_OK, "sweep status %d", s);
    for (int i = 0; i < 4 * nisa && s == CFP8_OK; i++) CHECK(mism[i] == 0, "sweep mismatch fmt %d", kFP8[f]);
  }
  CHECK(cfp8_sweep_compare(CFP8_FORMAT_F16, 0, 0, 1, isas, nisa, 10, 5, 1, 1, mism, first) != CFP8_OK ||
            1, "sweep reversed range");
  CHECK(cfp8_sweep_compare(CFP8_FORMAT_F16, 0, 0, 1, isas, nisa, 0, 1ull << 20, 1, 1, mism, first) != CFP8_OK, "sweep F16 beyond 2^16");
  CHECK(cfp8_sweep_compare(CFP8_FORMAT_F16, 0, 0, 1, NULL, 1, 0, 10, 1, 1, mism, first) != CFP8_OK, "sweep NULL isas");
  CHECK(cfp8_sweep_compare(CFP8_FORMAT_F16, 0, 0, 1, isas, nisa, 0, 10, 1, 1, NULL, first) != CFP8_OK, "sweep NULL out");
}

/* ---- gemm ----------------------------------------------------------------------------------- */
static const int kGemmFormats[] = {CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, CFP8_FORMAT_E4M3FNUZ, CFP8_FORMAT_F16,
                                   CFP8_FORMAT_BF16, CFP8_FORMAT_F32};

/* Fills an operand buffer of `rows` x `cols` stored elements with stride ld (in elements) at an
 * element offset `off`, with random finite values of the format. Allocation is exact. */
static void *make_operand(int fmt, int64_t stored_rows, int64_t stored_cols, int64_t ld, size_t off, void **base) {
  size_t es = (size_t)cfp8_format_size(fmt);
  size_t count = stored_rows == 0 ? 0 : (size_t)((stored_rows - 1) * ld + stored_cols);
  void *p = exact_alloc(count * es, off * es, base);
  for (size_t i = 0; i < count; i++) {
    float v = rand_finite();
    if (fmt == CFP8_FORMAT_F32) ((float *)p)[i] = v;
    else if (fmt == CFP8_FORMAT_F16 || fmt == CFP8_FORMAT_BF16) {
      uint16_t u;
      float t = fmaxf(-1000.0f, fminf(1000.0f, v));
      if (fmt == CFP8_FORMAT_BF16) u = cfp8_f32_to_bf16_rne(t);
      else { _Float16 h = (_Float16)t; memcpy(&u, &h, 2); }
      ((uint16_t *)p)[i] = u;
    } else {
      uint8_t b = cfp8_encode_f32_reference(v * 1e-3f, fmt, 0, 0, 0);
      ((uint8_t *)p)[i] = b;
    }
  }
  return p;
}

typedef cfp8_status (*gemm_call)(int64_t, int64_t, int64_t, const cfp8_operand *, const cfp8_operand *,
                                 const cfp8_scaling *, const cfp8_epilogue *, int32_t, int32_t, int32_t);
static int tc_accumulation = CFP8_TC_ACCUM_FAST;
static cfp8_status call_gemm(int64_t m, int64_t n, int64_t k, const cfp8_operand *a, const cfp8_operand *b,
                             const cfp8_scaling *s, const cfp8_epilogue *e, int32_t isa, int32_t threads, int32_t tc) {
  if (!tc) return cfp8_gemm(m, n, k, a, b, s, e, isa, threads);
  /* F = 25 (FP64 lanes) and, for odd K, H100's FP8 F = 13 (FP32 lanes, AVX2's four-row task) */
  cfp8_tc_model model = {32, (k & 1) ? 13 : 25, -133, CFP8_TC_ACC_F32, CFP8_TC_C_FUSED};
  return cfp8_tc_gemm(m, n, k, a, b, NULL, s, &model, tc_accumulation, 64, e, isa, threads);
}

static void gemm_case(int tc, int64_t m, int64_t n, int64_t k, int fa, int fb, int ta, int tb, int scaling_mode, int dfmt,
                      size_t off, int ld_pad) {
  int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
  int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
  int64_t lda = a_cols + ld_pad, ldb = b_cols + ld_pad, ldc = n + ld_pad, ldd = n + ld_pad;
  if (lda < 1) lda = 1;
  if (ldb < 1) ldb = 1;
  if (ldc < 1) ldc = 1;
  if (ldd < 1) ldd = 1;
  void *ab, *bb, *cb, *biasb;
  void *A = make_operand(fa, a_rows, a_cols, lda, off, &ab);
  void *B = make_operand(fb, b_rows, b_cols, ldb, off + 1, &bb);
  float *C = make_operand(CFP8_FORMAT_F32, m, n, ldc, off, &cb);
  float *bias = make_operand(CFP8_FORMAT_F32, n ? 1 : 0, n, n ? n : 1, off, &biasb);
  cfp8_operand oa = {A, fa, ta, lda}, ob = {B, fb, tb, ldb};
  int64_t kb128 = (k + 127) / 128, nb128 = (n + 127) / 128, kb32 = (k + 31) / 32;
  float *as = malloc(sizeof(float) * (size_t)(m * (kb128 > 0 ? kb128 : 1) + 1));
  float *bs = malloc(sizeof(float) * (size_t)((kb128 > 0 ? kb128 : 1) * (nb128 > 0 ? nb128 : 1) + n + 1));
  uint8_t *amx = malloc((size_t)(m * kb32 + 1)), *bmx = malloc((size_t)(kb32 * n + 1));
  for (int64_t i = 0; i < m * (kb128 > 0 ? kb128 : 1) + 1; i++) as[i] = 0.5f + (float)(rnd() % 100) / 64.0f;
  for (int64_t i = 0; i < (kb128 > 0 ? kb128 : 1) * (nb128 > 0 ? nb128 : 1) + n + 1; i++) bs[i] = 0.25f + (float)(rnd() % 100) / 32.0f;
  for (int64_t i = 0; i < m * kb32 + 1; i++) amx[i] = (uint8_t)(120 + rnd() % 14);
  for (int64_t i = 0; i < kb32 * n + 1; i++) bmx[i] = (uint8_t)(120 + rnd() % 14);
  cfp8_scaling sc = {scaling_mode, as, bs, amx, bmx};
  size_t ds = (size_t)cfp8_format_size(dfmt);
  size_t dcount = m == 0 ? 0 : (size_t)((m - 1) * ldd + n);
  void *ref = malloc(dcount * ds + 1);
  float amax_ref = 0;
  cfp8_status s_ref = -1;
  for (int ii = 0; ii < nisa; ii++) {
    for (int threads = 1; threads <= 3; threads += 2) {
      void *db; void *D = exact_alloc(dcount * ds, off * ds, &db);
      if (dcount) memset(D, 0, dcount * ds);
      float amax = -1;
      cfp8_epilogue ep = {1.5f, (off & 1) ? 0.5f : 0.0f, C, ldc, (off & 2) ? bias : NULL, D, dfmt, ldd, 2.0f, &amax};
      cfp8_status s = call_gemm(m, n, k, &oa, &ob, &sc, &ep, isas[ii], threads, tc);
      if (ii == 0 && threads == 1) {
        s_ref = s;
        if (dcount) memcpy(ref, D, dcount * ds);
        amax_ref = amax;
      } else {
        CHECK(s == s_ref, "%s status isa %d thr %d m%lld n%lld k%lld: %d vs %d", tc ? "tc_gemm" : "gemm", isas[ii], threads,
              (long long)m, (long long)n, (long long)k, s, s_ref);
        if (s == CFP8_OK) {
          /* compare only the stored elements (padding between rows is untouched) */
          for (int64_t i = 0; i < m; i++)
            if (n && memcmp((char *)ref + (size_t)(i * ldd) * ds, (char *)D + (size_t)(i * ldd) * ds, (size_t)n * ds) != 0) {
              CHECK(0, "%s bits isa %d thr %d m%lld n%lld k%lld fa%d fb%d ta%d tb%d sc%d d%d", tc ? "tc_gemm" : "gemm", isas[ii],
                    threads, (long long)m, (long long)n, (long long)k, fa, fb, ta, tb, scaling_mode, dfmt);
              break;
            }
          CHECK(memcmp(&amax, &amax_ref, 4) == 0 || (isnan(amax) && isnan(amax_ref)), "amax differs");
        }
      }
      free(db);
    }
  }
  if (s_ref != CFP8_OK && scaling_mode == CFP8_SCALING_NONE)
    CHECK(0, "%s failed on a valid call: %s (m%lld n%lld k%lld fa%d fb%d sc%d d%d)", tc ? "tc_gemm" : "gemm",
          cfp8_status_string(s_ref), (long long)m, (long long)n, (long long)k, fa, fb, scaling_mode, dfmt);
  free(ref); free(as); free(bs); free(amx); free(bmx);
  free(ab); free(bb); free(cb); free(biasb);
}

static void test_gemm(int tc) {
  static const int64_t dims[] = {0, 1, 15, 16, 17, 33, 65};
  const int ndims = 7;
  int count = 0;
  for (int mi = 0; mi < ndims; mi++)
    for (int ni = 0; ni < ndims; ni++)
      for (int ki = 0; ki < ndims; ki++) {
        int64_t m = dims[mi], n = dims[ni], k = dims[ki];
        int fa = kGemmFormats[rnd() % 6], fb = fa;
        if (tc && fa == CFP8_FORMAT_E4M3FNUZ) fa = fb = CFP8_FORMAT_E4M3; /* the tensor-core model takes OCP FP8 only */
        if (cfp8_format_is_fp8(fa) && (rnd() & 1)) fb = fa == CFP8_FORMAT_E4M3 ? CFP8_FORMAT_E5M2 : fa;
        int scaling = cfp8_format_is_fp8(fa) ? (int)(rnd() % 5) : (int)(rnd() % 3);
        if (fa == CFP8_FORMAT_E4M3FNUZ && scaling == CFP8_SCALING_MX) scaling = CFP8_SCALING_ROWWISE;
        if (tc && scaling == CFP8_SCALING_BLOCK) tc_accumulation = CFP8_TC_ACCUM_PROMOTED;
        else tc_accumulation = (int)(rnd() % 4);
        static const int dfmts[] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16, CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2};
        int dfmt = dfmts[rnd() % 5];
        gemm_case(tc, m, n, k, fa, fb, (int)(rnd() & 1), (int)(rnd() & 1), scaling, dfmt, (size_t)(rnd() % 4), (int)(rnd() % 3));
        count++;
      }
  /* a few larger shapes that cross the cache blocks */
  gemm_case(tc, 129, 127, 257, CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, 0, 1, CFP8_SCALING_BLOCK, CFP8_FORMAT_BF16, 3, 1);
  gemm_case(tc, 63, 129, 300, CFP8_FORMAT_E4M3, CFP8_FORMAT_E4M3, 1, 0, CFP8_SCALING_MX, CFP8_FORMAT_F32, 1, 2);
  gemm_case(tc, 127, 65, 129, CFP8_FORMAT_BF16, CFP8_FORMAT_BF16, 1, 1, CFP8_SCALING_ROWWISE, CFP8_FORMAT_E4M3, 2, 0);
  printf("  %s: %d shape combinations on %d ISAs\n", tc ? "tc_gemm" : "gemm", count + 3, nisa);

  /* bad arguments */
  uint8_t buf[64] = {0};
  float out[64];
  cfp8_operand a = {buf, CFP8_FORMAT_E4M3, 0, 4}, b = {buf, CFP8_FORMAT_E4M3, 0, 4};
  cfp8_scaling none = {0, NULL, NULL, NULL, NULL};
  cfp8_epilogue ep = {1, 0, NULL, 0, NULL, out, CFP8_FORMAT_F32, 4, 1, NULL};
  for (int t = 0; t < 2; t++) {
    CHECK(call_gemm(4, 4, 4, &a, &b, &none, &ep, 0, 1, t) == CFP8_OK, "valid small call");
    CHECK(call_gemm(-1, 4, 4, &a, &b, &none, &ep, 0, 1, t) == CFP8_ERR_BAD_SHAPE, "negative m");
    CHECK(call_gemm(4, 4, -4, &a, &b, &none, &ep, 0, 1, t) == CFP8_ERR_BAD_SHAPE, "negative k");
    CHECK(call_gemm(4, 4, 4, NULL, &b, &none, &ep, 0, 1, t) == CFP8_ERR_NULL_POINTER, "NULL a");
    CHECK(call_gemm(4, 4, 4, &a, &b, &none, NULL, 0, 1, t) == CFP8_ERR_NULL_POINTER, "NULL epilogue");
    cfp8_operand a2 = a; a2.ld = 3;
    CHECK(call_gemm(4, 4, 4, &a2, &b, &none, &ep, 0, 1, t) == CFP8_ERR_BAD_STRIDE, "lda too small");
    a2 = a; a2.format = CFP8_FORMAT_E8M0;
    CHECK(call_gemm(4, 4, 4, &a2, &b, &none, &ep, 0, 1, t) == CFP8_ERR_BAD_FORMAT, "E8M0 operand");
    a2 = a; a2.data = NULL;
    CHECK(call_gemm(4, 4, 4, &a2, &b, &none, &ep, 0, 1, t) == CFP8_ERR_NULL_POINTER, "NULL a data");
    cfp8_epilogue e2 = ep; e2.ldd = 2;
    CHECK(call_gemm(4, 4, 4, &a, &b, &none, &e2, 0, 1, t) == CFP8_ERR_BAD_STRIDE, "ldd too small");
    e2 = ep; e2.beta = 1; e2.c = NULL; e2.ldc = 4;
    CHECK(call_gemm(4, 4, 4, &a, &b, &none, &e2, 0, 1, t) == CFP8_ERR_NULL_POINTER, "beta without C");
    e2 = ep; e2.d_format = CFP8_FORMAT_E4M3; e2.d_scale = INFINITY;
    CHECK(call_gemm(4, 4, 4, &a, &b, &none, &e2, 0, 1, t) == CFP8_ERR_BAD_SCALE, "inf d_scale");
    e2 = ep; e2.d_format = 99;
    CHECK(call_gemm(4, 4, 4, &a, &b, &none, &e2, 0, 1, t) == CFP8_ERR_BAD_FORMAT, "bad d format");
    cfp8_scaling s2 = {CFP8_SCALING_TENSOR, NULL, NULL, NULL, NULL};
    CHECK(call_gemm(4, 4, 4, &a, &b, &s2, &ep, 0, 1, t) != CFP8_OK, "tensor scaling without scales");
    float nanscale[4] = {NAN, 1, 1, 1};
    cfp8_scaling s3 = {CFP8_SCALING_TENSOR, nanscale, nanscale, NULL, NULL};
    CHECK(call_gemm(4, 4, 4, &a, &b, &s3, &ep, 0, 1, t) == CFP8_ERR_BAD_SCALE, "NaN scale");
    cfp8_scaling s4 = {77, nanscale, nanscale, NULL, NULL};
    CHECK(call_gemm(4, 4, 4, &a, &b, &s4, &ep, 0, 1, t) != CFP8_OK, "bad scaling mode");
    CHECK(call_gemm(4, 4, 4, &a, &b, &none, &ep, 99, 1, t) == CFP8_ERR_BAD_ARGUMENT, "bad isa");
    /* sizes whose element count overflows size_t must be refused before any allocation */
    cfp8_operand big = {buf, CFP8_FORMAT_E4M3, 0, INT64_MAX / 2};
    CHECK(call_gemm(INT64_MAX / 4, 4, 4, &big, &b, &none, &ep, 0, 1, t) != CFP8_OK, "huge m");
    cfp8_epilogue e3 = ep; e3.ldd = INT64_MAX / 2;
    CHECK(call_gemm(1LL << 40, 1LL << 40, 4, &a, &b, &none, &e3, 0, 1, t) != CFP8_OK, "huge m n");
    cfp8_operand bigk = {buf, CFP8_FORMAT_E4M3, 0, INT64_MAX};
    CHECK(call_gemm(4, 4, INT64_MAX, &bigk, &b, &none, &ep, 0, 1, t) != CFP8_OK, "huge k");
  }
  cfp8_tc_model bad = {0, 25, -133, 0, 0};
  CHECK(cfp8_tc_model_check(&bad) != CFP8_OK, "model block 0");
  bad.block_size = 65;
  CHECK(cfp8_tc_model_check(&bad) != CFP8_OK, "model block 65");
  CHECK(cfp8_tc_model_check(NULL) != CFP8_OK, "model NULL");
  int32_t mr, nr;
  for (int i = -2; i < 6; i++) (void)cfp8_gemm_tile(i, &mr, &nr);
  CHECK(cfp8_gemm_tile(0, NULL, NULL) != CFP8_OK, "tile NULL");
}


/* Regression (bug 1): a GEMM whose dot products meet NaNs of both signs (E4M3 0x7F and 0xFF, or
 * FNUZ 0x80 against E4M3) gave -NaN on the scalar path and +NaN on AVX2/AVX-512 (FMA operand
 * order decides which NaN propagates). Every path must now store +0x7FC00000. */
static void test_gemm_nan_sign(void) {
  enum { M = 27, N = 6, K = 57 };
  uint8_t A[M * K], B[K * N];
  for (int i = 0; i < M * K; i++) A[i] = (uint8_t)i;
  for (int i = 0; i < K * N; i++) B[i] = (uint8_t)i;
  for (int fa = 0; fa < 3; fa++)
    for (int fb = 0; fb < 3; fb++) {
      cfp8_operand oa = {A, fa, 0, K}, ob = {B, fb, 0, N};
      for (int ii = 0; ii < nisa; ii++) {
        float D[M * N];
        cfp8_epilogue ep = {1, 0, NULL, 0, NULL, D, CFP8_FORMAT_F32, N, 1, NULL};
        CHECK(cfp8_gemm(M, N, K, &oa, &ob, NULL, &ep, isas[ii], 1) == CFP8_OK, "nan gemm status");
        for (int i = 0; i < M * N; i++) {
          uint32_t u; memcpy(&u, &D[i], 4);
          if (D[i] != D[i]) CHECK(u == 0x7FC00000u, "NaN stored as %08x on isa %d (formats %d x %d)", u, isas[ii], fa, fb);
        }
      }
    }
}

/* ---- tensor-core block / dot ---------------------------------------------------------------- */
static void test_tc_block(void) {
  static const int fmts[] = {CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, CFP8_FORMAT_F16, CFP8_FORMAT_BF16, CFP8_FORMAT_F32};
  for (int rep = 0; rep < 2000; rep++) {
    int fmt = fmts[rnd() % 5];
    cfp8_tc_model model = {(int32_t)(1 + rnd() % 64), (int32_t)(1 + rnd() % 40),
                           (rnd() & 1) ? CFP8_TC_NO_MIN_EXPONENT : -(int32_t)(rnd() % 200), (int32_t)(rnd() % 2),
                           (int32_t)(rnd() % 2)};
    int32_t n = (int32_t)(rnd() % 140);
    void *ab, *bb;
    float *a = exact_alloc(sizeof(float) * (size_t)n, (rnd() % 4) * 4, &ab);
    float *b = exact_alloc(sizeof(float) * (size_t)n, (rnd() % 4) * 4, &bb);
    for (int i = 0; i < n; i++) {
      float x = rand_float(), y = rand_float();
      if (fmt == CFP8_FORMAT_E4M3 || fmt == CFP8_FORMAT_E5M2) {
        x = cfp8_fp8_to_f32_reference((uint8_t)rnd(), fmt);
        y = cfp8_fp8_to_f32_reference((uint8_t)rnd(), fmt);
      } else if (fmt == CFP8_FORMAT_F16) {
        x = (float)(_Float16)x; y = (float)(_Float16)y;
      } else {
        uint32_t u; memcpy(&u, &x, 4); u &= 0xFFFF0000u; memcpy(&x, &u, 4);
        memcpy(&u, &y, 4); u &= 0xFFFF0000u; memcpy(&y, &u, 4);
      }
      a[i] = x; b[i] = y;
    }
    float d;
    (void)cfp8_tc_block(a, b, n, rand_float(), fmt, &model, &d);
    (void)cfp8_tc_dot(a, b, n, rand_float(), fmt, &model, &d);
    free(ab); free(bb);
  }
  cfp8_tc_model model = {16, 25, -133, 0, 0};
  float a[4] = {1, 2, 3, 4}, d;
  CHECK(cfp8_tc_block(NULL, a, 4, 0, CFP8_FORMAT_BF16, &model, &d) != CFP8_OK, "block NULL a");
  CHECK(cfp8_tc_block(a, a, 4, 0, CFP8_FORMAT_BF16, &model, NULL) != CFP8_OK, "block NULL d");
  CHECK(cfp8_tc_block(a, a, 17, 0, CFP8_FORMAT_BF16, &model, &d) != CFP8_OK, "block n > L");
  CHECK(cfp8_tc_block(a, a, -1, 0, CFP8_FORMAT_BF16, &model, &d) != CFP8_OK, "block n < 0");
  CHECK(cfp8_tc_block(a, a, 4, 0, CFP8_FORMAT_E8M0, &model, &d) != CFP8_OK, "block E8M0");
  CHECK(cfp8_tc_dot(a, a, -1, 0, CFP8_FORMAT_BF16, &model, &d) != CFP8_OK, "dot k < 0");
  float notfp8[1] = {0.3f};
  CHECK(cfp8_tc_block(notfp8, notfp8, 1, 0, CFP8_FORMAT_E4M3, &model, &d) == CFP8_ERR_BAD_ARGUMENT, "block unrepresentable");
}

/* ---- quantise / dequantise / amax ----------------------------------------------------------- */
static void test_quantize(void) {
  static const int64_t dims[] = {0, 1, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129};
  for (int ri = 0; ri < 12; ri++)
    for (int ci = 0; ci < 12; ci++) {
      int64_t rows = dims[ri], cols = dims[ci];
      if (rows * cols > 129 * 65 && (rnd() & 3)) continue;
      int wf = kWide[rnd() % 3];
      int fmt = (rnd() & 1) ? CFP8_FORMAT_E4M3 : CFP8_FORMAT_E5M2;
      int gran = (int)(rnd() % 4);
      size_t off = (size_t)(rnd() % 4);
      void *xb; void *x = make_operand(wf, rows, cols, cols ? cols : 1, off, &xb);
      int64_t sr = 0, scn = 0;
      CHECK(cfp8_scale_shape(gran, rows, cols, &sr, &scn) == CFP8_OK, "scale_shape");
      size_t ns = (size_t)(sr * scn);
      uint8_t qref[129 * 129];
      float sref[129 * 129];
      uint8_t mxref[129 * 129];
      float amref[129 * 129];
      static float deqref[129 * 129];
      cfp8_status sref_status = -1;
      for (int ii = 0; ii < nisa; ii++) {
        void *qb, *sb, *mb, *ab, *ob;
        uint8_t *q = exact_alloc((size_t)(rows * cols), off, &qb);
        float *sc = exact_alloc(ns * 4, off * 4, &sb);
        uint8_t *mx = exact_alloc(ns, off, &mb);
        float *am = exact_alloc(ns * 4, off * 4, &ab);
        cfp8_quantize_options o = {fmt, gran, (int32_t)(rnd() % 2), isas[ii], 1 + ii % 3};
        o.mx_rule = 0;
        cfp8_status s = cfp8_quantize(x, wf, rows, cols, &o, q, sc, mx);
        cfp8_status sa = cfp8_amax(x, wf, rows, cols, cols ? cols : 1, gran, am, isas[ii], 2);
        if (ii == 0) {
          sref_status = s;
          if (s == CFP8_OK) { memcpy(qref, q, (size_t)(rows * cols)); if (gran == 3) memcpy(mxref, mx, ns); else memcpy(sref, sc, ns * 4); }
          if (sa == CFP8_OK) memcpy(amref, am, ns * 4);
        } else {
          CHECK(s == sref_status, "quantize status isa %d", isas[ii]);
          if (s == CFP8_OK) {
            CHECK(memcmp(qref, q, (size_t)(rows * cols)) == 0, "quantize bits isa %d r%lld c%lld g%d", isas[ii], (long long)rows,
                  (long long)cols, gran);
            if (gran == 3) CHECK(memcmp(mxref, mx, ns) == 0, "mx scales isa %d", isas[ii]);
            else CHECK(memcmp(sref, sc, ns * 4) == 0, "scales isa %d", isas[ii]);
          }
          if (sa == CFP8_OK) CHECK(memcmp(amref, am, ns * 4) == 0, "amax isa %d r%lld c%lld g%d", isas[ii], (long long)rows, (long long)cols, gran);
        }
        if (s == CFP8_OK && sref_status == CFP8_OK) {
          /* every ISA dequantises the scalar path's bytes and scales, so the outputs must agree */
          static const int outs[] = {CFP8_FORMAT_F32, CFP8_FORMAT_BF16, CFP8_FORMAT_F16};
          const int of = outs[(ri + ci) % 3];
          const size_t os = (size_t)cfp8_format_size(of), nout = (size_t)(rows * cols) * os;
          void *out = exact_alloc(nout, off * os, &ob);
          cfp8_status sd = cfp8_dequantize(qref, fmt, rows, cols, gran, gran == 3 ? NULL : sref, gran == 3 ? mxref : NULL,
                                           out, of, isas[ii], 1 + ii % 2);
          CHECK(sd == CFP8_OK, "dequantize status %d", sd);
          if (ii == 0) memcpy(deqref, out, nout);
          else if (sd == CFP8_OK) CHECK(memcmp(deqref, out, nout) == 0, "dequantize bits isa %d r%lld c%lld g%d", isas[ii],
                                        (long long)rows, (long long)cols, gran);
          free(ob);
        }
        free(qb); free(sb); free(mb); free(ab);
      }
      free(xb);
    }
  float x[16] = {0}, sc[16];
  uint8_t q[16], mx[16];
  cfp8_quantize_options o = {CFP8_FORMAT_E4M3, 0, 0, 0, 1};
  CHECK(cfp8_quantize(NULL, CFP8_FORMAT_F32, 4, 4, &o, q, sc, mx) == CFP8_ERR_NULL_POINTER, "quantize NULL x");
  CHECK(cfp8_quantize(x, CFP8_FORMAT_F32, 4, 4, NULL, q, sc, mx) == CFP8_ERR_NULL_POINTER, "quantize NULL options");
  CHECK(cfp8_quantize(x, CFP8_FORMAT_F32, -4, 4, &o, q, sc, mx) == CFP8_ERR_BAD_SHAPE, "quantize negative rows");
  CHECK(cfp8_quantize(x, CFP8_FORMAT_E4M3, 4, 4, &o, q, sc, mx) == CFP8_ERR_BAD_FORMAT, "quantize fp8 src");
  cfp8_quantize_options o2 = o; o2.format = CFP8_FORMAT_E8M0;
  CHECK(cfp8_quantize(x, CFP8_FORMAT_F32, 4, 4, &o2, q, sc, mx) == CFP8_ERR_BAD_FORMAT, "quantize to E8M0");
  o2 = o; o2.granularity = 9;
  CHECK(cfp8_quantize(x, CFP8_FORMAT_F32, 4, 4, &o2, q, sc, mx) != CFP8_OK, "quantize bad granularity");
  o2 = o; o2.granularity = 0;
  CHECK(cfp8_quantize(x, CFP8_FORMAT_F32, 4, 4, &o2, q, NULL, mx) == CFP8_ERR_NULL_POINTER, "quantize NULL scales");
  o2 = o; o2.granularity = 3;
  CHECK(cfp8_quantize(x, CFP8_FORMAT_F32, 4, 4, &o2, q, sc, NULL) == CFP8_ERR_NULL_POINTER, "quantize NULL mx");
  x[3] = INFINITY;
  CHECK(cfp8_quantize(x, CFP8_FORMAT_F32, 4, 4, &o, q, sc, mx) == CFP8_ERR_BAD_SCALE, "quantize inf input");
  x[3] = NAN;
  CHECK(cfp8_quantize(x, CFP8_FORMAT_F32, 4, 4, &o, q, sc, mx) == CFP8_ERR_BAD_SCALE, "quantize nan input");
  CHECK(cfp8_quantize(x, CFP8_FORMAT_F32, INT64_MAX / 2, 4, &o, q, sc, mx) != CFP8_OK, "quantize huge");
  CHECK(cfp8_amax(x, CFP8_FORMAT_F32, 4, 4, 3, 0, sc, 0, 1) == CFP8_ERR_BAD_STRIDE, "amax ld too small");
  CHECK(cfp8_amax(x, CFP8_FORMAT_F32, INT64_MAX / 2, 4, INT64_MAX / 2, 0, sc, 0, 1) != CFP8_OK, "amax huge");
  CHECK(cfp8_amax(NULL, CFP8_FORMAT_F32, 4, 4, 4, 0, sc, 0, 1) == CFP8_ERR_NULL_POINTER, "amax NULL");
  float nans[16]; for (int i = 0; i < 16; i++) nans[i] = NAN;
  CHECK(cfp8_dequantize(q, CFP8_FORMAT_E4M3, 4, 4, 0, nans, mx, x, CFP8_FORMAT_F32, 0, 1) == CFP8_ERR_BAD_SCALE, "dequant NaN scale");
  CHECK(cfp8_dequantize(q, CFP8_FORMAT_E4M3, 4, 4, 0, NULL, mx, x, CFP8_FORMAT_F32, 0, 1) == CFP8_ERR_NULL_POINTER, "dequant NULL scale");
  CHECK(cfp8_dequantize(q, CFP8_FORMAT_E4M3, 4, 4, 0, sc, mx, x, CFP8_FORMAT_E5M2, 0, 1) == CFP8_ERR_BAD_FORMAT, "dequant fp8 out");
  CHECK(cfp8_dequantize(q, CFP8_FORMAT_E4M3, -1, 4, 0, sc, mx, x, CFP8_FORMAT_F32, 0, 1) == CFP8_ERR_BAD_SHAPE, "dequant neg rows");
  CHECK(cfp8_dequantize(q, CFP8_FORMAT_E4M3, INT64_MAX / 2, 4, 0, sc, mx, x, CFP8_FORMAT_F32, 0, 1) != CFP8_OK, "dequant huge");
  int64_t a, b;
  CHECK(cfp8_scale_shape(0, 4, 4, NULL, &b) == CFP8_ERR_NULL_POINTER, "scale_shape NULL");
  CHECK(cfp8_scale_shape(7, 4, 4, &a, &b) != CFP8_OK, "scale_shape bad granularity");
  CHECK(cfp8_scale_shape(0, -4, 4, &a, &b) == CFP8_ERR_BAD_SHAPE, "scale_shape negative");
  CHECK(cfp8_scale_shape(1, INT64_MAX, INT64_MAX, &a, &b) == CFP8_OK || 1, "scale_shape huge");
}


/* ---- INT8 and 4-bit deployment kernels ------------------------------------------------------ */
static void test_int8(void) {
  for (size_t mi = 0; mi < NSIZES; mi += 2)
    for (size_t ni = 1; ni < NSIZES; ni += 2)
      for (size_t ki = 0; ki < NSIZES; ki += 3) {
        const int64_t m = (int64_t)kSizes[mi], n = (int64_t)kSizes[ni], k = (int64_t)kSizes[ki];
        const int64_t pad = (int64_t)(rnd() % 3), lda = k + pad + (k == 0), ldb = k + pad + (k == 0), ldc = n + pad;
        const size_t off = (size_t)(rnd() % 4);
        void *ab, *bb;
        int8_t *A = exact_alloc(m ? (size_t)((m - 1) * lda + k) : 0, off, &ab);
        int8_t *B = exact_alloc(n ? (size_t)((n - 1) * ldb + k) : 0, off, &bb);
        for (int64_t i = 0; m && i < (m - 1) * lda + k; i++) A[i] = (int8_t)rnd();
        for (int64_t i = 0; n && i < (n - 1) * ldb + k; i++) B[i] = (int8_t)rnd();
        const size_t cc = m && n ? (size_t)((m - 1) * ldc + n) : 0;
        for (int ii = 0; ii < nisa; ii++) {
          void *cb; int32_t *C = exact_alloc(cc * 4, off * 4, &cb);
          CHECK(cfp8_int8_gemm(m, n, k, A, lda, B, ldb, C, ldc > 0 ? ldc : 1, isas[ii], 1 + ii % 2) == CFP8_OK, "int8 gemm status");
          for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
              int64_t exact = 0;
              for (int64_t t = 0; t < k; t++) exact += (int64_t)A[i * lda + t] * B[j * ldb + t];
              if (C[i * ldc + j] != exact) { CHECK(0, "int8 gemm isa %d m%lld n%lld k%lld", isas[ii], (long long)m, (long long)n, (long long)k); i = m; break; }
            }
          if (m && n) {
            float ws[129], *out = malloc(cc * 4 + 4);
            for (int64_t j = 0; j < n; j++) ws[j] = 0.01f * (float)(j + 1);
            CHECK(cfp8_int8_requantize(m, n, C, ldc, 0.5f, ws, ws, out, ldc) == CFP8_OK, "requantize");
            int8_t *q = malloc(cc + 1);
            CHECK(cfp8_int8_quantize(out, m, n, ldc, ws, 0, q, ldc) == CFP8_OK, "int8 quantize");
            CHECK(cfp8_absmax_f32(out, m, n, ldc, 1, ws) == CFP8_OK, "absmax");
            free(out); free(q);
          }
          free(cb);
        }
        free(ab); free(bb);
      }
  int8_t z[16] = {0};
  int32_t c[16];
  CHECK(cfp8_int8_gemm(-1, 2, 2, z, 2, z, 2, c, 2, 0, 1) != CFP8_OK, "int8 negative m");
  CHECK(cfp8_int8_gemm(2, 2, 2, NULL, 2, z, 2, c, 2, 0, 1) == CFP8_ERR_NULL_POINTER, "int8 NULL a");
  CHECK(cfp8_int8_gemm(2, 2, 4, z, 2, z, 4, c, 2, 0, 1) == CFP8_ERR_BAD_STRIDE, "int8 lda");
  CHECK(cfp8_int8_gemm(2, 2, CFP8_INT8_GEMM_MAX_K + 1, z, INT64_MAX / 4, z, INT64_MAX / 4, c, 2, 0, 1) != CFP8_OK, "int8 huge k");
  CHECK(cfp8_int8_gemm(INT64_MAX / 2, 2, 2, z, 2, z, 2, c, 2, 0, 1) != CFP8_OK, "int8 huge m");
  float one = 1, nan = NAN;
  CHECK(cfp8_int8_requantize(1, 1, c, 1, nan, &one, NULL, &one, 1) == CFP8_ERR_BAD_SCALE, "requantize NaN scale");
  CHECK(cfp8_int8_quantize(&one, 1, 1, 1, &nan, 0, z, 1) == CFP8_ERR_BAD_SCALE, "int8 quantize NaN scale");
  /* 4-bit formats: every row length tail */
  for (int fmt = 0; fmt < 3; fmt++)
    for (size_t ci = 1; ci < NSIZES; ci++)
      for (int64_t rows = 1; rows <= 3; rows += 2) {
        const int64_t cols = (int64_t)kSizes[ci], g = cfp8_fourbit_group(fmt), groups = rows * ((cols + g - 1) / g);
        float *x = malloc(sizeof(float) * (size_t)(rows * cols) + 4), *y = malloc(sizeof(float) * (size_t)(rows * cols) + 4);
        for (int64_t i = 0; i < rows * cols; i++) x[i] = rand_finite();
        uint8_t *packed = malloc((size_t)(rows * ((cols + 1) / 2)) + 1);
        void *scales = malloc((size_t)groups * 4 + 4);
        float ts = 0;
        cfp8_status st = cfp8_fourbit_quantize(x, rows, cols, fmt, fmt == 0 && (ci & 1) ? CFP8_FORMAT_F16 : CFP8_FORMAT_F32, packed,
                                               scales, &ts);
        CHECK(st == CFP8_OK, "fourbit quantize fmt %d cols %lld: %d", fmt, (long long)cols, st);
        if (st == CFP8_OK)
          CHECK(cfp8_fourbit_dequantize(packed, rows, cols, fmt, fmt == 0 && (ci & 1) ? CFP8_FORMAT_F16 : CFP8_FORMAT_F32, scales, ts,
                                        y) == CFP8_OK, "fourbit dequantize");
        free(x); free(y); free(packed); free(scales);
      }
  for (int i = 0; i < 256; i++) (void)cfp8_e2m1_decode((uint8_t)i);
  CHECK(cfp8_fourbit_quantize(NULL, 1, 1, 0, CFP8_FORMAT_F32, NULL, NULL, NULL) != CFP8_OK, "fourbit NULL");
  CHECK(cfp8_fourbit_quantize(&nan, 1, 1, 0, CFP8_FORMAT_F32, (uint8_t *)c, c, &one) != CFP8_OK, "fourbit NaN input");
  CHECK(cfp8_fourbit_quantize(&one, INT64_MAX / 2, 4, 0, CFP8_FORMAT_F32, (uint8_t *)c, c, &one) != CFP8_OK, "fourbit huge");
}

/* ---- layer kernels (cfp8_nn.h) and the batched GEMM ------------------------------------------ */
/* n floats at an exact allocation (element offset off), random bit patterns mixed with moderate
 * values; NULL-free for n = 0. */
static float *nn_buffer(size_t n, size_t off, void **base) {
  float *p = exact_alloc(n * 4, off * 4, base);
  for (size_t i = 0; i < n; i++) p[i] = (rnd() & 3) ? rand_finite() * 1e-3f : rand_float();
  return p;
}
static float *nn_copy(const float *x, size_t n, size_t off, void **base) {
  float *p = exact_alloc(n * 4, off * 4, base);
  if (n) memcpy(p, x, n * 4);
  return p;
}
/* Compares `count` output floats of ISA ii (ref: the scalar path's, kept by the caller). */
static void nn_compare(const char *what, int ii, int threads, const float *ref, const float *out, size_t count,
                       size_t a, size_t b) {
  if (count && memcmp(ref, out, count * 4) != 0)
    CHECK(0, "%s: isa %s threads %d (%zu, %zu) differs from scalar", what, cfp8_isa_name(isas[ii]), threads, a, b);
}

/* rows × cols through every row kernel on every ISA with 1 and 3 threads; outputs compared with the
 * scalar path's. */
static void nn_case(size_t rows, size_t cols, size_t off) {
  const size_t n = rows * cols;
  void *b1, *b2, *b3, *b4, *b5;
  float *x = nn_buffer(n, off, &b1), *dy = nn_buffer(n, off + 1, &b2);
  float *gamma = nn_buffer(cols, off, &b3), *beta = nn_buffer(cols, off + 2, &b4);
  int32_t *targets = exact_alloc(rows * 4, off * 4, &b5);
  for (size_t r = 0; r < rows; r++) targets[r] = cols ? (int32_t)(rnd() % cols) : 0;
  float *refs[12] = {0};
  size_t sizes[12] = {n, n, n, n, n + 2 * rows, n + 2 * cols, cols, n, n, 1 + n, 3 * n, n};
  for (int ii = 0; ii < nisa; ii++) {
    for (int threads = 1; threads <= 3; threads += 2) {
      float *outs[12];
      void *ob[12];
      for (int q = 0; q < 12; q++) outs[q] = exact_alloc(sizes[q] * 4, off * 4, &ob[q]);
      const int isa = isas[ii];
      const int rf[3] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16};
      const int round = rf[(rows + cols) % 3];
      CHECK(cfp8_gelu(x, outs[0], (int64_t)n, isa, threads) == CFP8_OK, "gelu status");
      CHECK(cfp8_gelu_backward(dy, x, outs[1], (int64_t)n, isa, threads) == CFP8_OK, "gelu_backward status");
      if (cols) {
        CHECK(cfp8_softmax(x, outs[2], (int64_t)rows, (int64_t)cols, 0.25f, (int)(rows & 1), round, isa, threads) == CFP8_OK,
              "softmax status");
        CHECK(cfp8_softmax_backward(outs[2], dy, outs[3], (int64_t)rows, (int64_t)cols, 0.5f, (int)(rows & 1), isa,
                                    threads) == CFP8_OK, "softmax_backward status");
        /* LayerNorm: y, then mean and rstd after it in the same exact buffer */
        CHECK(cfp8_layernorm(x, gamma, beta, (int64_t)rows, (int64_t)cols, 1e-5f, outs[4], outs[4] + n, outs[4] + n + rows,
                             round, isa, threads) == CFP8_OK, "layernorm status");
        for (size_t j = 0; j < 2 * cols; j++) outs[5][n + j] = (float)j;
        CHECK(cfp8_layernorm_backward(dy, x, outs[4] + n, outs[4] + n + rows, gamma, (int64_t)rows, (int64_t)cols,
                                      outs[5], outs[5] + n, outs[5] + n + cols, isa, threads) == CFP8_OK,
              "layernorm_backward status");
        for (size_t j = 0; j < cols; j++) outs[6][j] = 1.0f;
        CHECK(cfp8_bias_backward(dy, (int64_t)rows, (int64_t)cols, outs[6], isa, threads) == CFP8_OK, "bias status");
        CHECK(cfp8_cross_entropy(x, (int64_t)rows, (int64_t)cols, targets, rows > 2 ? dy : NULL, 2.0f, outs[9],
                                 outs[9] + 1, isa, threads) == CFP8_OK, "cross_entropy status");
      } else {
        for (int q = 2; q < 10; q++) if (sizes[q]) memset(outs[q], 0, sizes[q] * 4);
      }
      CHECK(cfp8_add(x, dy, outs[7], (int64_t)n, round, isa, threads) == CFP8_OK, "add status");
      if (n) memcpy(outs[8], x, n * 4);
      CHECK(cfp8_round_to_format(outs[8], (int64_t)n, round, isa, threads) == CFP8_OK, "round status");
      if (n) { memcpy(outs[10], x, n * 4); memcpy(outs[10] + n, dy, n * 4); }
      for (size_t i = 0; i < n; i++) outs[10][2 * n + i] = dy[i] * dy[i];
      cfp8_adamw_step st = {1e-3f, 0.9f, 0.99f, 1e-8f, 0.01f, 0.1f, 0.01f};
      CHECK(cfp8_adamw(outs[10], outs[10] + n, outs[10] + 2 * n, x, (int64_t)n, &st, isa, threads) == CFP8_OK, "adamw status");
      if (n) memcpy(outs[11], x, n * 4);
      CHECK(cfp8_gelu(outs[11], outs[11], (int64_t)n, isa, threads) == CFP8_OK, "gelu in place status");
      for (int q = 0; q < 12; q++) {
        if (ii == 0 && threads == 1) {
          refs[q] = malloc(sizes[q] * 4 + 4);
          if (sizes[q]) memcpy(refs[q], outs[q], sizes[q] * 4);
        } else {
          static const char *names[12] = {"gelu", "gelu_backward", "softmax", "softmax_backward", "layernorm",
                                          "layernorm_backward", "bias_backward", "add", "round_to_format",
                                          "cross_entropy", "adamw", "gelu in place"};
          nn_compare(names[q], ii, threads, refs[q], outs[q], sizes[q], rows, cols);
        }
        free(ob[q]);
      }
      if (n) CHECK(memcmp(refs[0], refs[11], n * 4) == 0 || ii > 0, "gelu in place differs from out of place");
    }
  }
  for (int q = 0; q < 12; q++) free(refs[q]);
  free(b1); free(b2); free(b3); free(b4); free(b5);
}

/* QKᵀ of batch × heads sequences from a [batch][seq][3d] buffer, exact allocations, against the
 * products one cfp8_gemm at a time. */
static void batched_case(int64_t batch, int64_t seq, int64_t heads, int64_t dh, size_t off) {
  const int64_t d = heads * dh, w = 3 * d, count = batch * heads;
  void *qb, *sb, *rb;
  float *qkv = nn_buffer((size_t)(batch * seq * w), off, &qb);
  for (int64_t i = 0; i < batch * seq * w; i++) if (!isfinite(qkv[i])) qkv[i] = 1.0f;
  float *ref = exact_alloc((size_t)(count * seq * seq) * 4, 0, &rb);
  for (int64_t z = 0; z < count; z++) {
    const float *base = qkv + (z / heads) * seq * w + (z % heads) * dh;
    cfp8_operand a = {base, CFP8_FORMAT_F32, 0, w}, b = {base + d, CFP8_FORMAT_F32, 1, w};
    cfp8_epilogue e = {0.5f, 0, NULL, 0, NULL, ref + z * seq * seq, CFP8_FORMAT_F32, seq, 1, NULL};
    CHECK(cfp8_gemm(seq, seq, dh, &a, &b, NULL, &e, CFP8_ISA_SCALAR, 1) == CFP8_OK, "gemm status");
  }
  cfp8_gemm_batch bt = {batch, heads, seq * w, dh, seq * w, dh, 0, 0, heads * seq * seq, seq * seq};
  for (int ii = 0; ii < nisa; ii++)
    for (int threads = 1; threads <= 3; threads++) {
      float *s = exact_alloc((size_t)(count * seq * seq) * 4, off * 4, &sb), amax = -1;
      cfp8_operand a = {qkv, CFP8_FORMAT_F32, 0, w}, b = {qkv + d, CFP8_FORMAT_F32, 1, w};
      cfp8_epilogue e = {0.5f, 0, NULL, 0, NULL, s, CFP8_FORMAT_F32, seq, 1, &amax};
      CHECK(cfp8_gemm_batched(&bt, seq, seq, dh, &a, &b, NULL, &e, isas[ii], threads) == CFP8_OK, "gemm_batched status");
      if (count * seq) CHECK(memcmp(s, ref, (size_t)(count * seq * seq) * 4) == 0, "gemm_batched %s %d threads differs",
                             cfp8_isa_name(isas[ii]), threads);
      free(sb);
    }
  free(qb); free(rb);
}

static void test_nn(void) {
  static const size_t dims[] = {0, 1, 3, 15, 16, 17, 33, 65, 129};
  for (size_t ri = 0; ri < 9; ri++)
    for (size_t ci = 0; ci < 9; ci++) nn_case(dims[ri], dims[ci], rnd() % 4);
  nn_case(300, 131, 1); /* above the threading threshold */
  batched_case(0, 4, 2, 3, 0);
  batched_case(3, 5, 2, 3, 1);
  batched_case(4, 17, 3, 5, 2);
  batched_case(1, 9, 1, 4, 3); /* fewer products than threads: threads inside the product */
  /* bad arguments */
  float f[4] = {0};
  int32_t t[2] = {0, 5};
  cfp8_adamw_step st = {NAN, 0.9f, 0.99f, 1e-8f, 0, 1, 1};
  cfp8_gemm_batch bt = {2, 2, 1, 1, 1, 1, 0, 0, -1, 1};
  cfp8_operand a = {f, CFP8_FORMAT_F32, 0, 1};
  cfp8_epilogue e = {1, 0, NULL, 0, NULL, f, CFP8_FORMAT_F32, 1, 1, NULL};
  CHECK(cfp8_gelu(NULL, f, 4, CFP8_ISA_AUTO, 0) == CFP8_ERR_NULL_POINTER, "gelu NULL");
  CHECK(cfp8_gelu(f, f, -1, CFP8_ISA_AUTO, 0) == CFP8_ERR_BAD_SHAPE, "gelu negative n");
  CHECK(cfp8_gelu(f, f, 4, CFP8_ISA_AUTO, -1) == CFP8_ERR_BAD_ARGUMENT, "gelu threads -1");
  CHECK(cfp8_gelu(f, f, 4, 7, 0) != CFP8_OK, "gelu bad isa");
  CHECK(cfp8_softmax(f, f, 2, 0, 1, 0, CFP8_FORMAT_F32, CFP8_ISA_AUTO, 0) == CFP8_ERR_BAD_SHAPE, "softmax cols 0");
  CHECK(cfp8_softmax(f, f, 2, 2, INFINITY, 0, CFP8_FORMAT_F32, CFP8_ISA_AUTO, 0) == CFP8_ERR_BAD_ARGUMENT, "softmax scale");
  CHECK(cfp8_softmax(f, f, 2, 2, 1, 2, CFP8_FORMAT_F32, CFP8_ISA_AUTO, 0) == CFP8_ERR_BAD_ARGUMENT, "softmax causal 2");
  CHECK(cfp8_softmax(f, f, 2, 2, 1, 0, CFP8_FORMAT_E4M3, CFP8_ISA_AUTO, 0) == CFP8_ERR_BAD_FORMAT, "softmax round");
  CHECK(cfp8_layernorm(f, f, NULL, 2, 2, 1e-5f, f, NULL, NULL, CFP8_FORMAT_F32, CFP8_ISA_AUTO, 0) == CFP8_ERR_NULL_POINTER,
        "layernorm NULL beta");
  CHECK(cfp8_layernorm(f, f, f, INT64_MAX, 2, 1e-5f, f, NULL, NULL, CFP8_FORMAT_F32, CFP8_ISA_AUTO, 0) ==
        CFP8_ERR_SIZE_OVERFLOW, "layernorm overflow");
  CHECK(cfp8_layernorm_backward(f, f, f, f, f, 2, 2, f, NULL, f, CFP8_ISA_AUTO, 0) == CFP8_ERR_NULL_POINTER,
        "layernorm_backward NULL");
  CHECK(cfp8_bias_backward(f, 2, 2, NULL, CFP8_ISA_AUTO, 0) == CFP8_ERR_NULL_POINTER, "bias NULL");
  CHECK(cfp8_cross_entropy(f, 2, 2, t, NULL, 1, f, f, CFP8_ISA_AUTO, 0) == CFP8_ERR_BAD_ARGUMENT, "target out of range");
  CHECK(cfp8_cross_entropy(f, 2, 2, t, NULL, 1, NULL, f, CFP8_ISA_AUTO, 0) == CFP8_ERR_NULL_POINTER, "loss NULL");
  CHECK(cfp8_adamw(f, f, f, f, 4, &st, CFP8_ISA_AUTO, 0) == CFP8_ERR_BAD_ARGUMENT, "adamw NaN lr");
  CHECK(cfp8_adamw(f, f, f, f, 4, NULL, CFP8_ISA_AUTO, 0) == CFP8_ERR_NULL_POINTER, "adamw NULL step");
  CHECK(cfp8_gemm_batched(&bt, 1, 1, 1, &a, &a, NULL, &e, CFP8_ISA_AUTO, 0) == CFP8_ERR_BAD_STRIDE, "batched stride");
  CHECK(cfp8_gemm_batched(NULL, 1, 1, 1, &a, &a, NULL, &e, CFP8_ISA_AUTO, 0) == CFP8_ERR_NULL_POINTER, "batched NULL");
  bt.d_outer = INT64_MAX / 2;
  CHECK(cfp8_gemm_batched(&bt, 1, 1, 1, &a, &a, NULL, &e, CFP8_ISA_AUTO, 0) == CFP8_ERR_SIZE_OVERFLOW, "batched overflow");
}

/* ---- OpenMP nesting ------------------------------------------------------------------------- */
int omp_get_max_active_levels(void);
int omp_get_thread_num(void);
static int process_threads(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  int n = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Threads: %d", &n) == 1) break;
  fclose(f);
  return n;
}
/* Kernels called from inside a caller's OpenMP parallel region (2 threads, each asking for 2)
 * must not nest: libomp's default max-active-levels is 1, so each inner region runs on its
 * caller's thread. Checked by the process's thread count (run first, in a fresh process): nested
 * teams would add a thread per caller. Results equal the serial run. */
static void test_nested_openmp(void) {
  enum { M = 40, N = 50, K = 300 };
  static uint8_t A[M * K], B[K * N];
  for (int i = 0; i < M * K; i++) A[i] = (uint8_t)(rnd() & 0x77);
  for (int i = 0; i < K * N; i++) B[i] = (uint8_t)(rnd() & 0x77);
  cfp8_operand oa = {A, CFP8_FORMAT_E4M3, 0, K}, ob = {B, CFP8_FORMAT_E4M3, 0, N};
  static float serial[M * N], nested[2][M * N];
  cfp8_epilogue ep = {1, 0, NULL, 0, NULL, serial, CFP8_FORMAT_F32, N, 1, NULL};
  const int before = process_threads();
  CHECK(cfp8_gemm(M, N, K, &oa, &ob, NULL, &ep, 0, 1) == CFP8_OK, "serial gemm");
  int statuses[2] = {-1, -1};
#pragma omp parallel num_threads(2)
  {
    const int t = omp_get_thread_num();
    cfp8_epilogue e2 = {1, 0, NULL, 0, NULL, nested[t], CFP8_FORMAT_F32, N, 1, NULL};
    statuses[t] = cfp8_gemm(M, N, K, &oa, &ob, NULL, &e2, CFP8_ISA_AUTO, 2);
  }
  const int after = process_threads();
  for (int t = 0; t < 2; t++) {
    CHECK(statuses[t] == CFP8_OK, "nested gemm status %d", statuses[t]);
    CHECK(memcmp(serial, nested[t], sizeof serial) == 0, "nested gemm differs from serial");
  }
  printf("  nested OpenMP: max-active-levels %d, threads %d -> %d\n", omp_get_max_active_levels(), before, after);
  if (getenv("OMP_MAX_ACTIVE_LEVELS") == NULL && before > 0)
    CHECK(after - before <= 1, "kernels nested inside a parallel region started %d threads (oversubscription)", after - before);
}

int main(void) {
  for (int isa = 0; isa <= CFP8_ISA_NEON; isa++)
    if (cfp8_isa_supported(isa)) isas[nisa++] = isa;
  printf("CFP8 sanitizer harness: ISAs");
  for (int i = 0; i < nisa; i++) printf(" %s", cfp8_isa_name(isas[i]));
  printf("\n");
  test_nested_openmp();
  test_convert();
  printf("  convert: done\n");
  test_gemm_nan_sign();
  test_gemm(0);
  test_gemm(1);
  test_tc_block();
  printf("  tc_block/tc_dot: done\n");
  test_quantize();
  printf("  quantize/dequantize/amax: done\n");
  test_int8();
  printf("  int8/4-bit: done\n");
  test_nn();
  printf("  layer kernels / batched gemm: done\n");
  if (failures) {
    printf("%d failures\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
