/* GEMM and the tensor-core GEMM with fuzzed small shapes, formats, transposes, leading
 * dimensions, scaling modes and operand bytes (any bit pattern, NaN and Inf included). Every
 * ISA and thread count must give the scalar path's bits, or the same error status. */
#include "fuzz_common.h"

static const int32_t kFormats[8] = {CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2, CFP8_FORMAT_E4M3FNUZ, CFP8_FORMAT_E5M2FNUZ,
                                    CFP8_FORMAT_F16, CFP8_FORMAT_BF16, CFP8_FORMAT_F32, CFP8_FORMAT_E8M0};
static const int32_t kOut[5] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16, CFP8_FORMAT_E4M3, CFP8_FORMAT_E5M2};

/* Takes `bytes` bytes from the reader, cycling the payload when it runs short. */
static void *take(fz_reader *r, size_t bytes) {
  uint8_t *p = malloc(bytes + 1);
  for (size_t i = 0; i < bytes; i++) p[i] = r->n ? r->p[i % r->n] : (uint8_t)i;
  return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_reader r = {data, size};
  const int64_t m = fz_byte(&r) % 40, n = fz_byte(&r) % 40, k = fz_byte(&r) % 300;
  const uint8_t f = fz_byte(&r), g = fz_byte(&r), h = fz_byte(&r);
  const int32_t fa = kFormats[f & 7], fb = (f & 8) ? kFormats[(f >> 4) & 7] : fa;
  const int ta = g & 1, tb = (g >> 1) & 1, tc = (g >> 2) & 1;
  const int32_t mode = (g >> 3) % 5, dfmt = kOut[(g >> 6) % 5 == 4 ? 4 : (g >> 6)];
  const int64_t pad = h & 3, accumulation = (h >> 2) & 3;
  const int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  const int64_t lda = ac + pad > 0 ? ac + pad : 1, ldb = bc + pad > 0 ? bc + pad : 1, ldd = n + pad > 0 ? n + pad : 1;
  const int esa = cfp8_format_size(fa), esb = cfp8_format_size(fb);
  const size_t asz = ar ? (size_t)((ar - 1) * lda + ac) * (size_t)esa : 0, bsz = br ? (size_t)((br - 1) * ldb + bc) * (size_t)esb : 0;
  void *A = take(&r, asz), *B = take(&r, bsz);
  const int64_t kb = (k + 127) / 128 + 1, nb = (n + 127) / 128 + 1, kb32 = (k + 31) / 32 + 1;
  float *as = take(&r, 4 * (size_t)(m * kb + 1)), *bs = take(&r, 4 * (size_t)(kb * nb + n + 1));
  uint8_t *amx = take(&r, (size_t)(m * kb32 + 1)), *bmx = take(&r, (size_t)(kb32 * n + 1));
  float *C = take(&r, 4 * (size_t)(m * ldd + 1)), *bias = take(&r, 4 * (size_t)(n + 1));
  const size_t dsz = m ? (size_t)((m - 1) * ldd + n) * (size_t)cfp8_format_size(dfmt) : 0;
  uint8_t *d0 = calloc(1, dsz + 1), *d1 = calloc(1, dsz + 1);
  cfp8_operand oa = {A, fa, ta, lda}, ob = {B, fb, tb, ldb};
  cfp8_scaling sc = {mode, as, bs, amx, bmx};
  cfp8_tc_model model = {16 << (h >> 6 & 1), 24 + (h >> 4 & 3), -133, (h >> 7) & 1, 0};
  int32_t isas[4];
  const int nisa = fz_isas(isas);
  cfp8_status s0 = 0;
  float amax0 = 0, amax1 = 0;
  for (int i = 0; i < nisa; i++)
    for (int threads = 1; threads <= 2; threads++) {
      cfp8_epilogue ep = {1.0f, (h & 32) ? 0.5f : 0.0f, C, ldd, (h & 16) ? bias : NULL, (i || threads > 1) ? d1 : d0, dfmt, ldd, 1.0f,
                          (i || threads > 1) ? &amax1 : &amax0};
      cfp8_status s = tc ? cfp8_tc_gemm(m, n, k, &oa, &ob, NULL, &sc, &model, (int32_t)accumulation, 32, &ep, isas[i], threads)
                         : cfp8_gemm(m, n, k, &oa, &ob, &sc, &ep, isas[i], threads);
      if (i == 0 && threads == 1) { s0 = s; continue; }
      FZ_REQUIRE(s == s0, "status differs on isa %d threads %d: %d vs %d", isas[i], threads, s, s0);
      if (s == CFP8_OK) {
        FZ_REQUIRE(memcmp(d0, d1, dsz) == 0, "%s bits differ on isa %d threads %d", tc ? "tc_gemm" : "gemm", isas[i], threads);
        FZ_REQUIRE(memcmp(&amax0, &amax1, 4) == 0 || (amax0 != amax0 && amax1 != amax1), "amax differs");
      }
    }
  free(A); free(B); free(as); free(bs); free(amx); free(bmx); free(C); free(bias); free(d0); free(d1);
  return 0;
}
