/* Scaled quantisation of fuzzed tensors: shape, source format, target format, granularity and MX
 * rule from the first bytes, the elements from the rest. Every ISA must agree with scalar; with
 * finite input the call succeeds and (satfinite) never produces a NaN byte; dequantisation of
 * the result succeeds and agrees across ISAs. */
#include "fuzz_common.h"
#include <math.h>

static int is_nan_byte(uint8_t b, int32_t f) {
  return f == CFP8_FORMAT_E4M3 ? (b & 0x7F) == 0x7F : (b & 0x7F) > 0x7C;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_reader r = {data, size};
  const uint8_t a = fz_byte(&r), b = fz_byte(&r);
  static const int32_t wide[3] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16};
  const int32_t wf = wide[a % 3], fmt = (a >> 2) & 1 ? CFP8_FORMAT_E5M2 : CFP8_FORMAT_E4M3;
  const int32_t gran = (a >> 3) & 3, rule = (a >> 5) & 1;
  const size_t ws = (size_t)cfp8_format_size(wf);
  const int64_t cols = 1 + b % 150;
  const int64_t rows = (int64_t)(r.n / ws) / cols;
  const size_t count = (size_t)(rows * cols);
  void *x = malloc(count * ws + 1);
  memcpy(x, r.p, count * ws);
  int finite = 1;
  for (size_t k = 0; k < count && finite; k++) {
    float f;
    if (wf == CFP8_FORMAT_F32) memcpy(&f, (char *)x + 4 * k, 4);
    else { uint16_t h; memcpy(&h, (char *)x + 2 * k, 2);
           finite = wf == CFP8_FORMAT_F16 ? (h & 0x7C00) != 0x7C00 : (h & 0x7F80) != 0x7F80; continue; }
    finite = isfinite(f);
  }
  int64_t sr, sc;
  FZ_REQUIRE(cfp8_scale_shape(gran, rows, cols, &sr, &sc) == CFP8_OK, "scale_shape");
  const size_t ns = (size_t)(sr * sc);
  int32_t isas[4];
  const int nisa = fz_isas(isas);
  uint8_t *q0 = malloc(count + 1), *q1 = malloc(count + 1), *m0 = malloc(ns + 1), *m1 = malloc(ns + 1);
  float *s0 = malloc(4 * ns + 4), *s1 = malloc(4 * ns + 4), *o0 = malloc(4 * count + 4), *o1 = malloc(4 * count + 4);
  cfp8_status st0 = 0;
  for (int i = 0; i < nisa; i++) {
    cfp8_quantize_options o = {fmt, gran, rule, isas[i], 1 + i % 2};
    cfp8_status st = cfp8_quantize(x, wf, rows, cols, &o, i ? q1 : q0, i ? s1 : s0, i ? m1 : m0);
    if (i == 0) {
      st0 = st;
      FZ_REQUIRE((st == CFP8_OK) == (finite != 0), "quantize status %d with finite=%d", st, finite);
      if (st == CFP8_OK)
        for (size_t k = 0; k < count; k++) FZ_REQUIRE(!is_nan_byte(q0[k], fmt), "NaN from finite input at %zu", k);
    } else {
      FZ_REQUIRE(st == st0, "quantize status differs on isa %d", isas[i]);
      if (st == CFP8_OK) {
        FZ_REQUIRE(memcmp(q0, q1, count) == 0, "quantized bytes differ on isa %d", isas[i]);
        if (gran == CFP8_GRANULARITY_MX32) FZ_REQUIRE(memcmp(m0, m1, ns) == 0, "mx scales differ on isa %d", isas[i]);
        else FZ_REQUIRE(memcmp(s0, s1, 4 * ns) == 0, "scales differ on isa %d", isas[i]);
      }
    }
    if (st0 == CFP8_OK) {
      cfp8_status sd = cfp8_dequantize(q0, fmt, rows, cols, gran, s0, m0, i ? o1 : o0, CFP8_FORMAT_F32, isas[i], 1);
      FZ_REQUIRE(sd == CFP8_OK, "dequantize status %d", sd);
      if (i) FZ_REQUIRE(memcmp(o0, o1, 4 * count) == 0, "dequantized values differ on isa %d", isas[i]);
    }
  }
  free(x); free(q0); free(q1); free(m0); free(m1); free(s0); free(s1); free(o0); free(o1);
  return 0;
}
