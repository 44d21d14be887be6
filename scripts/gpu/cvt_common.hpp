// Host side of the conversion sweep (H200 measurement): everything except the GPU kernels, so that the
// comparison and the output format can be tested on a CPU (selftest.sh builds cvt_selftest.cc
// with g++ against this header; cvt_sweep.cu includes it under nvcc).
//
// Reference: the project's scalar encoder (CSources/CFP8/convert_scalar.c, compiled with gcc and
// linked in), preset CFP8_PRESET_CUDA_SATFINITE, rounding nearest-even.
//
// Output: one binary file of concatenated little-endian C-order arrays, plus a JSON index
// (name, dtype, shape, offset, nbytes) that make_manifest.py copies into manifest.json.
#ifndef FP8EMU_GPU_CVT_COMMON_HPP
#define FP8EMU_GPU_CVT_COMMON_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cfp8_convert.h"

namespace cvt {

// ---- binary container ------------------------------------------------------------------------
struct Entry {
  std::string name, dtype;
  std::vector<uint64_t> shape;
  uint64_t offset, nbytes;
  std::string note;
};

class BinWriter {
 public:
  explicit BinWriter(const std::string &path) : path_(path) {
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) { std::perror(path.c_str()); std::exit(2); }
  }
  ~BinWriter() { if (f_) std::fclose(f_); }
  // Every array starts at a multiple of 16 bytes (zero padding between arrays).
  void add(const std::string &name, const char *dtype, std::vector<uint64_t> shape, const void *data, uint64_t elem,
           const std::string &note = "") {
    uint64_t n = 1;
    for (uint64_t s : shape) n *= s;
    static const char zeros[16] = {0};
    const uint64_t pad = (16 - off_ % 16) % 16;
    if (pad) { fwrite_all(zeros, pad); off_ += pad; }
    const uint64_t nbytes = n * elem;
    if (nbytes) fwrite_all(data, nbytes);
    entries_.push_back({name, dtype, shape, off_, nbytes, note});
    off_ += nbytes;
  }
  template <class T> void add_vec(const std::string &name, const char *dtype, const std::vector<T> &v,
                                  const std::string &note = "") {
    add(name, dtype, {(uint64_t)v.size()}, v.data(), sizeof(T), note);
  }
  // Closes the binary and writes the index as JSON.
  void finish(const std::string &index_path, const std::string &file_name, const std::string &description) {
    std::fclose(f_);
    f_ = nullptr;
    FILE *j = std::fopen(index_path.c_str(), "w");
    if (!j) { std::perror(index_path.c_str()); std::exit(2); }
    std::fprintf(j, "{\"file\": \"%s\", \"description\": \"%s\", \"nbytes\": %llu, \"arrays\": [\n", file_name.c_str(),
                 description.c_str(), (unsigned long long)off_);
    for (size_t i = 0; i < entries_.size(); i++) {
      const Entry &e = entries_[i];
      std::fprintf(j, "  {\"name\": \"%s\", \"dtype\": \"%s\", \"shape\": [", e.name.c_str(), e.dtype.c_str());
      for (size_t k = 0; k < e.shape.size(); k++)
        std::fprintf(j, "%s%llu", k ? ", " : "", (unsigned long long)e.shape[k]);
      std::fprintf(j, "], \"offset\": %llu, \"nbytes\": %llu, \"note\": \"%s\"}%s\n", (unsigned long long)e.offset,
                   (unsigned long long)e.nbytes, e.note.c_str(), i + 1 < entries_.size() ? "," : "");
    }
    std::fprintf(j, "]}\n");
    std::fclose(j);
  }

 private:
  void fwrite_all(const void *p, uint64_t n) {
    if (std::fwrite(p, 1, n, f_) != n) { std::perror(path_.c_str()); std::exit(2); }
  }
  std::string path_;
  FILE *f_ = nullptr;
  uint64_t off_ = 0;
  std::vector<Entry> entries_;
};

// ---- formats and input categories ------------------------------------------------------------
enum { FMT_E4M3 = 0, FMT_E5M2 = 1 };
static inline const char *fmt_name(int f) { return f == FMT_E4M3 ? "e4m3" : "e5m2"; }
static inline int32_t cfp8_format(int f) { return f == FMT_E4M3 ? CFP8_FORMAT_E4M3 : CFP8_FORMAT_E5M2; }

// FP32 input categories (by |x|): 0 zero, 1 FP32 subnormal, 2 finite below the format's overflow
// threshold (maxnorm + ulp/2: 464 for E4M3, 61440 for E5M2), 3 finite at or above it, 4 Inf, 5 NaN.
enum { CAT_ZERO = 0, CAT_SUBNORMAL = 1, CAT_FINITE = 2, CAT_OVERFLOW = 3, CAT_INF = 4, CAT_NAN = 5, NCAT = 6 };
static const char *const kCategoryNames[NCAT] = {"zero", "f32_subnormal", "finite_in_range",
                                                  "finite_overflow", "inf", "nan"};

static inline int f32_category(uint32_t u, int fmt) {
  const uint32_t a = u & 0x7FFFFFFFu;
  const uint32_t ovf = fmt == FMT_E4M3 ? 0x43E80000u /* 464 */ : 0x47700000u /* 61440 */;
  if (a == 0) return CAT_ZERO;
  if (a < 0x00800000u) return CAT_SUBNORMAL;
  if (a < ovf) return CAT_FINITE;
  if (a < 0x7F800000u) return CAT_OVERFLOW;
  if (a == 0x7F800000u) return CAT_INF;
  return CAT_NAN;
}

static inline uint8_t ref_f32(uint32_t u, int fmt) {
  float x;
  std::memcpy(&x, &u, 4);
  return cfp8_encode_f32_reference(x, cfp8_format(fmt), CFP8_ROUND_NEAREST_EVEN, CFP8_PRESET_CUDA_SATFINITE, 0);
}

// ---- the FP32 sweep comparison ---------------------------------------------------------------
struct Mismatches {
  uint64_t total = 0;
  uint64_t by_category[NCAT] = {0};
  uint64_t inputs_by_category[NCAT] = {0};
  std::vector<uint64_t> pairs;  // 256 * 256 counts, index hw * 256 + ref (mismatches only)
  // The first `cap` mismatches of each category, in ascending input order.
  std::vector<uint32_t> input[NCAT];
  std::vector<uint8_t> hw[NCAT], ref[NCAT];
  Mismatches() : pairs(65536, 0) {}
};

// Compares hardware bytes hw[0..n) for inputs base..base+n-1 with the reference, on `threads`
// threads, and accumulates into m (first `cap` per category).
static void compare_chunk(uint64_t base, const uint8_t *hwb, uint64_t n, int fmt, unsigned threads, uint64_t cap,
                          Mismatches &m) {
  if (threads < 1) threads = 1;
  std::vector<Mismatches> part(threads);
  std::vector<std::thread> pool;
  const uint64_t per = (n + threads - 1) / threads;
  for (unsigned t = 0; t < threads; t++) {
    pool.emplace_back([&, t]() {
      Mismatches &p = part[t];
      const uint64_t lo = std::min<uint64_t>(n, t * per), hi = std::min<uint64_t>(n, lo + per);
      for (uint64_t i = lo; i < hi; i++) {
        const uint32_t u = (uint32_t)(base + i);
        const int c = f32_category(u, fmt);
        p.inputs_by_category[c]++;
        const uint8_t r = ref_f32(u, fmt), h = hwb[i];
        if (r == h) continue;
        p.total++;
        p.by_category[c]++;
        p.pairs[(size_t)h * 256 + r]++;
        if (p.input[c].size() < cap) {
          p.input[c].push_back(u);
          p.hw[c].push_back(h);
          p.ref[c].push_back(r);
        }
      }
    });
  }
  for (auto &th : pool) th.join();
  for (unsigned t = 0; t < threads; t++) {  // thread order = ascending input order
    Mismatches &p = part[t];
    m.total += p.total;
    for (int c = 0; c < NCAT; c++) {
      m.by_category[c] += p.by_category[c];
      m.inputs_by_category[c] += p.inputs_by_category[c];
      for (size_t k = 0; k < p.input[c].size() && m.input[c].size() < cap; k++) {
        m.input[c].push_back(p.input[c][k]);
        m.hw[c].push_back(p.hw[c][k]);
        m.ref[c].push_back(p.ref[c][k]);
      }
    }
    for (size_t k = 0; k < 65536; k++) m.pairs[k] += p.pairs[k];
  }
}

// Writes one format's FP32 sweep results. Arrays (prefix f32_<fmt>_):
//   range          uint64[2]  first input, one past the last input swept
//   total          uint64[1]  mismatches over the whole range
//   category_inputs  uint64[6]  inputs per category (zero, f32_subnormal, finite_in_range,
//                               finite_overflow, inf, nan)
//   category_mismatches uint64[6]
//   pairs          uint64[P,3] (hw byte, our byte, count) for every pair that occurred
//   mm_input/mm_hw/mm_ref  uint32[n] / uint8[n] / uint8[n]  the first `cap` mismatches of each
//                  category, categories in order, ascending inputs within a category
//   mm_category_count  uint64[6]  how many records of each category are stored (in that order)
static void write_f32_results(BinWriter &w, int fmt, uint64_t begin, uint64_t end, const Mismatches &m) {
  const std::string p = std::string("f32_") + fmt_name(fmt) + "_";
  const uint64_t range[2] = {begin, end};
  w.add(p + "range", "uint64", {2}, range, 8, "inputs [begin, end) swept (FP32 bit patterns)");
  w.add(p + "total", "uint64", {1}, &m.total, 8, "mismatches hardware vs reference");
  w.add(p + "category_inputs", "uint64", {NCAT}, m.inputs_by_category, 8,
        "inputs per category: zero, f32_subnormal, finite_in_range, finite_overflow, inf, nan");
  w.add(p + "category_mismatches", "uint64", {NCAT}, m.by_category, 8, "mismatches per category (same order)");
  std::vector<uint64_t> pairs;
  for (size_t k = 0; k < 65536; k++)
    if (m.pairs[k]) { pairs.push_back(k / 256); pairs.push_back(k % 256); pairs.push_back(m.pairs[k]); }
  w.add(p + "pairs", "uint64", {(uint64_t)pairs.size() / 3, 3}, pairs.data(), 8,
        "rows (hardware byte, reference byte, count) over all mismatches");
  std::vector<uint32_t> in;
  std::vector<uint8_t> hw, rf;
  std::vector<uint64_t> counts;
  for (int c = 0; c < NCAT; c++) {
    in.insert(in.end(), m.input[c].begin(), m.input[c].end());
    hw.insert(hw.end(), m.hw[c].begin(), m.hw[c].end());
    rf.insert(rf.end(), m.ref[c].begin(), m.ref[c].end());
    counts.push_back(m.input[c].size());
  }
  w.add_vec(p + "mm_category_count", "uint64", counts, "stored mismatch records per category, in category order");
  w.add_vec(p + "mm_input", "uint32", in, "mismatching inputs (FP32 bits), capped per category");
  w.add_vec(p + "mm_hw", "uint8", hw, "hardware byte for mm_input");
  w.add_vec(p + "mm_ref", "uint8", rf, "reference byte (cuda-satfinite, RNE) for mm_input");
}

// A hardware provider fills out[0..n) with the hardware bytes of FP32 inputs base..base+n-1.
typedef std::function<void(uint64_t base, uint64_t n, uint8_t *out)> F32Provider;

static Mismatches sweep_f32(int fmt, uint64_t begin, uint64_t end, uint64_t chunk, unsigned threads, uint64_t cap,
                            const F32Provider &hw, uint8_t *buffer) {
  Mismatches m;
  for (uint64_t base = begin; base < end; base += chunk) {
    const uint64_t n = std::min(chunk, end - base);
    hw(base, n, buffer);
    compare_chunk(base, buffer, n, fmt, threads, cap, m);
  }
  return m;
}

// ---- the special inputs ----------------------------------------------------------------------
// Boundaries and special values for both formats, recorded in full (both lanes of the x2 cvt).
static std::vector<uint32_t> special_inputs() {
  std::vector<uint32_t> s;
  auto f = [&](float x) { uint32_t u; std::memcpy(&u, &x, 4); s.push_back(u); s.push_back(u ^ 0x80000000u); };
  auto u = [&](uint32_t v) { s.push_back(v); s.push_back(v ^ 0x80000000u); };
  u(0x00000000u);                                            // +-0
  u(0x7F800000u);                                            // +-Inf
  u(0x7FC00000u); u(0x7F800001u); u(0x7FFFFFFFu);           // canonical qNaN, smallest sNaN, all ones
  u(0x7FA00000u); u(0x7FBFFFFFu); u(0x7FC00001u); u(0x7FE00000u); u(0x7F800100u); // other payloads
  u(0x7F7FFFFFu); u(0x00000001u); u(0x007FFFFFu); u(0x00800000u);  // FLT_MAX, FP32 denormals, min normal
  // E4M3: max 448, boundaries 464 (tie to 448, even), 464+, 480, 496, 512
  f(448.0f); f(464.0f); f(std::nextafter(464.0f, 0.0f)); f(std::nextafter(464.0f, 1e9f)); f(480.0f); f(496.0f);
  f(512.0f); f(1.0e9f);
  // E5M2: max 57344, 61440 (tie), 65536
  f(57344.0f); f(61440.0f); f(std::nextafter(61440.0f, 0.0f)); f(std::nextafter(61440.0f, 1e9f)); f(65536.0f);
  f(65520.0f);
  // subnormal boundaries: E4M3 min subnormal 2^-9, half of it (tie to 0), min normal 2^-6;
  // E5M2 min subnormal 2^-16, half 2^-17, min normal 2^-14
  const float p2[] = {0x1p-6f, 0x1p-7f, 0x1p-9f, 0x1p-10f, 0x1.8p-10f, 0x1.000002p-10f, 0x1.fffffep-11f,
                      0x1p-14f, 0x1p-15f, 0x1p-16f, 0x1p-17f, 0x1.8p-17f, 0x1.000002p-17f, 0x1.fffffep-18f,
                      0x1.ep-7f, 0x1.fp-7f, 0x1.cp-15f, 0x1.ep-15f, 0x1p-20f, 0x1p-30f};
  for (float x : p2) f(x);
  // ordinary values and ties
  const float v[] = {1.0f, 1.0625f, 1.125f, 1.1875f, 1.25f, 1.375f, 3.0f, 0.1f, 240.0f, 256.0f, 288.0f, 320.0f};
  for (float x : v) f(x);
  return s;
}

// ---- the small tables: specials, FP16/BF16 sweeps, decode -------------------------------------
struct SmallTables {
  std::vector<uint32_t> special;              // FP32 bits
  std::vector<uint8_t> special_lo[2], special_hi[2];  // hardware byte with the input in x.x (low) / x.y (high)
  std::vector<uint8_t> f16_hw[2], bf16_hw[2];  // 65536 each: hardware byte for every FP16 / BF16 pattern
  std::vector<uint16_t> decode_f16[2];         // 256 each: hardware FP8 -> FP16 bits of every code
};

// Writes the small tables with the reference beside them. Arrays:
//   special_input uint32[S]; special_<fmt>_hw_lo / _hw_hi / _ref uint8[S]
//   f16_<fmt>_hw, f16_<fmt>_ref, bf16_<fmt>_hw, bf16_<fmt>_ref  uint8[65536] (index = input bits)
//   decode_<fmt>_f16  uint16[256] (index = FP8 code)
// and returns the number of FP16/BF16 mismatches (printed by the caller).
static uint64_t write_small_tables(BinWriter &w, const SmallTables &t) {
  uint64_t mism = 0;
  w.add_vec("special_input", "uint32", t.special, "special FP32 inputs (bits)");
  for (int f = 0; f < 2; f++) {
    const std::string n = fmt_name(f);
    std::vector<uint8_t> ref(t.special.size());
    for (size_t i = 0; i < t.special.size(); i++) ref[i] = ref_f32(t.special[i], f);
    w.add_vec("special_" + n + "_hw_lo", "uint8", t.special_lo[f], "hardware byte, input in the low lane (x.x)");
    w.add_vec("special_" + n + "_hw_hi", "uint8", t.special_hi[f], "hardware byte, input in the high lane (x.y)");
    w.add_vec("special_" + n + "_ref", "uint8", ref, "reference byte (cuda-satfinite, RNE)");
  }
  for (int f = 0; f < 2; f++) {
    const std::string n = fmt_name(f);
    std::vector<uint8_t> r16(65536), rb16(65536);
    for (uint32_t u = 0; u < 65536; u++) {
      r16[u] = cfp8_encode_f16_reference((uint16_t)u, cfp8_format(f), CFP8_ROUND_NEAREST_EVEN,
                                         CFP8_PRESET_CUDA_SATFINITE, 0);
      rb16[u] = cfp8_encode_bf16_reference((uint16_t)u, cfp8_format(f), CFP8_ROUND_NEAREST_EVEN,
                                           CFP8_PRESET_CUDA_SATFINITE, 0);
      mism += (r16[u] != t.f16_hw[f][u]) + (rb16[u] != t.bf16_hw[f][u]);
    }
    w.add_vec("f16_" + n + "_hw", "uint8", t.f16_hw[f], "hardware cvt of every FP16 pattern (__nv_cvt_halfraw2_to_fp8x2)");
    w.add_vec("f16_" + n + "_ref", "uint8", r16, "reference (cfp8_encode_f16_reference)");
    w.add_vec("bf16_" + n + "_hw", "uint8", t.bf16_hw[f], "hardware cvt of every BF16 pattern (__nv_cvt_bfloat16raw2_to_fp8x2)");
    w.add_vec("bf16_" + n + "_ref", "uint8", rb16, "reference (cfp8_encode_bf16_reference)");
    w.add_vec("decode_" + n + "_f16", "uint16", t.decode_f16[f], "hardware FP8 -> FP16 bits of every code (__nv_cvt_fp8x2_to_halfraw2, low lane)");
  }
  return mism;
}

}  // namespace cvt
#endif
