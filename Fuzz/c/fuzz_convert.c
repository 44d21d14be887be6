/* Encode of arbitrary bit patterns (F32/F16/BF16 -> every FP8 format, every rounding and preset,
 * including invalid enum values) and decode of arbitrary bytes, on every ISA; each path must
 * agree with the scalar path and the encoder with the per-element reference. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_reader r = {data, size};
  const uint8_t sel = fz_byte(&r), mode = fz_byte(&r), seed = fz_byte(&r);
  static const int32_t wide[3] = {CFP8_FORMAT_F32, CFP8_FORMAT_F16, CFP8_FORMAT_BF16};
  const int32_t wf = wide[sel % 3];
  const int32_t ff = (int32_t)((sel / 3) % 6); /* 5 = invalid format */
  const int32_t rounding = (int32_t)(mode & 7) - 1, preset = (int32_t)((mode >> 3) & 7) - 1; /* -1..6 */
  int32_t isas[4];
  const int nisa = fz_isas(isas);
  const size_t ws = (size_t)cfp8_format_size(wf);
  const size_t n = r.n / ws;
  /* element-aligned copy of the payload (the C contract) */
  void *src = malloc(n * ws + 1);
  memcpy(src, r.p, n * ws);
  uint8_t *ref = malloc(n + 1), *out = malloc(n + 1);
  cfp8_status sref = 0;
  for (int i = 0; i < nisa; i++) {
    cfp8_encode_options o = {rounding, preset, seed, NULL, isas[i], 1 + i % 2};
    cfp8_status s = cfp8_encode(src, wf, i ? out : ref, ff, n, &o);
    if (i == 0) sref = s;
    else {
      FZ_REQUIRE(s == sref, "encode status differs on isa %d: %d vs %d", isas[i], s, sref);
      if (s == CFP8_OK) FZ_REQUIRE(memcmp(ref, out, n) == 0, "encode bits differ on isa %d", isas[i]);
    }
  }
  if (sref == CFP8_OK && rounding != CFP8_ROUND_STOCHASTIC && ff != CFP8_FORMAT_E8M0)
    for (size_t k = 0; k < n; k++) {
      uint8_t e;
      if (wf == CFP8_FORMAT_F32) { float f; memcpy(&f, (char *)src + 4 * k, 4); e = cfp8_encode_f32_reference(f, ff, rounding, preset, 0); }
      else { uint16_t h; memcpy(&h, (char *)src + 2 * k, 2);
             e = wf == CFP8_FORMAT_F16 ? cfp8_encode_f16_reference(h, ff, rounding, preset, 0) : cfp8_encode_bf16_reference(h, ff, rounding, preset, 0); }
      FZ_REQUIRE(e == ref[k], "encode element %zu differs from the reference", k);
    }
  /* decode the raw payload bytes */
  const size_t m = r.n;
  float *d0 = malloc(m * 4 + 4), *d1 = malloc(m * 4 + 4);
  for (int i = 0; i < nisa; i++) {
    cfp8_status s = cfp8_decode(r.p, ff, i ? d1 : d0, wf, m, isas[i], 1);
    FZ_REQUIRE((s == CFP8_OK) == (ff < 5), "decode status %d for format %d", s, ff);
    if (i && s == CFP8_OK) FZ_REQUIRE(memcmp(d0, d1, m * ws) == 0, "decode bits differ on isa %d", isas[i]);
  }
  free(src); free(ref); free(out); free(d0); free(d1);
  return 0;
}
