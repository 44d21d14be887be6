// CPU stand-in for cvt_sweep.cu (selftest.sh): the same comparison and output code
// (cvt_common.hpp) with a fake "hardware" = our reference plus deliberate differences, so that the
// mismatch records, the index and read_results.py can be checked without a GPU.
//   ./cvt_selftest OUT.bin INDEX.json
// Sweeps FP32 inputs [0xFF000000, 2^32) for both formats (negative large values, -Inf, -NaN).
// Deliberate differences (what selftest.sh expects back):
//   every negative NaN gives 0xFF (the reference gives 0x7F, sign dropped)
//   input 0xFF003039 (finite, above the overflow threshold) gives 0xFD / 0xFA (reference 0xFE / 0xFB)
//   f16_e4m3_hw[0x3C00] = 0x39 (reference 0x38: 1.0), decode is exact except e5m2 code 0x3D (low bit flipped)
#include "cvt_common.hpp"

static uint16_t f32_to_f16_exact(float x) {  // for FP8 values only (exact in FP16)
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint16_t s = (uint16_t)((u >> 16) & 0x8000);
  const uint32_t a = u & 0x7FFFFFFF;
  if (a > 0x7F800000) return s | 0x7FFF;
  if (a == 0x7F800000) return s | 0x7C00;
  if (a == 0) return s;
  const int e = (int)(a >> 23) - 127;
  const uint32_t m = (a & 0x7FFFFF) | 0x800000;
  if (e >= -14) return (uint16_t)(s | ((e + 15) << 10) | ((m >> 13) & 0x3FF));
  return (uint16_t)(s | (m >> (13 + (-14 - e))));
}

int main(int argc, char **argv) {
  if (argc < 3) { std::fprintf(stderr, "usage: %s OUT.bin INDEX.json\n", argv[0]); return 1; }
  const uint64_t begin = 0xFF000000ull, end = 1ull << 32, cap = 1000;
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<uint8_t> buf(1 << 22);
  cvt::BinWriter w(argv[1]);
  for (int fmt = 0; fmt < 2; fmt++) {
    cvt::F32Provider fake = [&](uint64_t base, uint64_t n, uint8_t *out) {
      for (uint64_t i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)(base + i);
        uint8_t r = cvt::ref_f32(u, fmt);
        if ((u & 0x7FFFFFFFu) > 0x7F800000u && (u >> 31)) r = 0xFF;
        if (u == 0xFF003039u) r = (uint8_t)(r - 1);
        out[i] = r;
      }
    };
    cvt::Mismatches m = cvt::sweep_f32(fmt, begin, end, 1 << 22, threads, cap, fake, buf.data());
    cvt::write_f32_results(w, fmt, begin, end, m);
    std::printf("selftest f32 -> %s: %llu mismatches\n", cvt::fmt_name(fmt), (unsigned long long)m.total);
  }
  cvt::SmallTables t;
  t.special = cvt::special_inputs();
  for (int f = 0; f < 2; f++) {
    for (uint32_t s : t.special) {
      t.special_lo[f].push_back(cvt::ref_f32(s, f));
      t.special_hi[f].push_back(cvt::ref_f32(s, f));
    }
    t.f16_hw[f].resize(65536);
    t.bf16_hw[f].resize(65536);
    for (uint32_t u = 0; u < 65536; u++) {
      t.f16_hw[f][u] = cfp8_encode_f16_reference((uint16_t)u, cvt::cfp8_format(f), CFP8_ROUND_NEAREST_EVEN,
                                                 CFP8_PRESET_CUDA_SATFINITE, 0);
      t.bf16_hw[f][u] = cfp8_encode_bf16_reference((uint16_t)u, cvt::cfp8_format(f), CFP8_ROUND_NEAREST_EVEN,
                                                   CFP8_PRESET_CUDA_SATFINITE, 0);
    }
    for (int c = 0; c < 256; c++) t.decode_f16[f].push_back(f32_to_f16_exact(cfp8_fp8_to_f32_reference((uint8_t)c, cvt::cfp8_format(f))));
  }
  t.f16_hw[0][0x3C00] = 0x39;
  t.decode_f16[1][0x3D] ^= 1;
  const uint64_t m16 = cvt::write_small_tables(w, t);
  std::printf("selftest f16/bf16 mismatches: %llu\n", (unsigned long long)m16);
  w.finish(argv[2], "cvt.bin", "SELFTEST (fake hardware = reference with planted differences)");
  return 0;
}
