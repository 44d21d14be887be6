// H200 measurement, stage 1: the hardware FP8 conversion of an H200 (sm_90) against our scalar reference.
//
//   nvcc -O2 -std=c++17 -gencode arch=compute_90,code=sm_90 -I CSources/CFP8/include
//        scripts/gpu/cvt_sweep.cu <gcc objects of convert_scalar.c formats.c dispatch.c stub> -o cvt_sweep
//   ./cvt_sweep OUT.bin INDEX.json [--begin HEX] [--end HEX] [--threads N] [--cap N]
//
// Runs __nv_cvt_float2_to_fp8x2(..., __NV_SATFINITE, __NV_E4M3 / __NV_E5M2) (on sm_89+ this is the
// PTX instruction cvt.rn.satfinite.{e4m3x2,e5m2x2}.f32; run.sh checks the SASS for F2FP) over all
// 2^32 FP32 patterns (even input in the low lane x.x, odd in the high lane x.y), copies the bytes
// back chunk by chunk and compares them on the host (std::thread over all cores) with
// cfp8_encode_f32_reference(x, fmt, RNE, CUDA_SATFINITE). Keeps the mismatches (see cvt_common.hpp)
// plus, in full: the special inputs in both lanes, every FP16 and BF16 pattern through
// __nv_cvt_halfraw2_to_fp8x2 / __nv_cvt_bfloat16raw2_to_fp8x2, and the hardware FP8 -> FP16
// decode of all 256 codes.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <chrono>

#include "cvt_common.hpp"

#define CK(x)                                                                                   \
  do {                                                                                          \
    cudaError_t e_ = (x);                                                                       \
    if (e_ != cudaSuccess) {                                                                    \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__, \
                   cudaGetErrorString(e_));                                                     \
      std::exit(3);                                                                             \
    }                                                                                           \
  } while (0)

static __device__ __forceinline__ __nv_fp8x2_storage_t cvt2(float lo, float hi, int fmt) {
  const float2 v = make_float2(lo, hi);
  return fmt == 0 ? __nv_cvt_float2_to_fp8x2(v, __NV_SATFINITE, __NV_E4M3)
                  : __nv_cvt_float2_to_fp8x2(v, __NV_SATFINITE, __NV_E5M2);
}

// out[i] (16 bits) = cvt of inputs base + 2i (low byte) and base + 2i + 1 (high byte).
__global__ void k_f32(uint64_t base, uint64_t npairs, int fmt, __nv_fp8x2_storage_t *out) {
  for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < npairs; i += (uint64_t)gridDim.x * blockDim.x) {
    const uint32_t u = (uint32_t)(base + 2 * i);
    out[i] = cvt2(__uint_as_float(u), __uint_as_float(u + 1), fmt);
  }
}

// Specials: each input once in the low lane (high lane 1.0f) and once in the high lane (low lane 1.0f).
__global__ void k_special(const uint32_t *in, int n, int fmt, uint8_t *lo, uint8_t *hi) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = __uint_as_float(in[i]);
  const __nv_fp8x2_storage_t a = cvt2(x, 1.0f, fmt), b = cvt2(1.0f, x, fmt);
  lo[i] = (uint8_t)(a & 0xFF);
  hi[i] = (uint8_t)(b >> 8);
}

// Every FP16 / BF16 pattern (u in the low lane, u ^ 1 in the high lane; both stored).
__global__ void k_16(int fmt, uint8_t *f16, uint8_t *bf16) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;  // pair index, 0..32767
  if (i >= 32768) return;
  const unsigned short u0 = (unsigned short)(2 * i), u1 = (unsigned short)(2 * i + 1);
  __half2_raw h;
  h.x = u0;
  h.y = u1;
  __nv_bfloat162_raw b;
  b.x = u0;
  b.y = u1;
  const __nv_fp8_interpretation_t k = fmt == 0 ? __NV_E4M3 : __NV_E5M2;
  const __nv_fp8x2_storage_t rh = __nv_cvt_halfraw2_to_fp8x2(h, __NV_SATFINITE, k);
  const __nv_fp8x2_storage_t rb = __nv_cvt_bfloat16raw2_to_fp8x2(b, __NV_SATFINITE, k);
  f16[u0] = (uint8_t)(rh & 0xFF);
  f16[u1] = (uint8_t)(rh >> 8);
  bf16[u0] = (uint8_t)(rb & 0xFF);
  bf16[u1] = (uint8_t)(rb >> 8);
}

// Decode of all 256 codes (code in the low lane, 0 in the high lane).
__global__ void k_decode(int fmt, uint16_t *out) {
  const int c = threadIdx.x;
  const __half2_raw r = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)c, fmt == 0 ? __NV_E4M3 : __NV_E5M2);
  out[c] = r.x;
}

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT.bin INDEX.json [--begin HEX] [--end HEX] [--threads N] [--cap N]\n", argv[0]);
    return 1;
  }
  uint64_t begin = 0, end = 1ull << 32, cap = 1ull << 17;
  unsigned threads = std::thread::hardware_concurrency();
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--begin")) begin = std::strtoull(argv[i + 1], nullptr, 16);
    else if (!std::strcmp(argv[i], "--end")) end = std::strtoull(argv[i + 1], nullptr, 16);
    else if (!std::strcmp(argv[i], "--threads")) threads = (unsigned)std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--cap")) cap = std::strtoull(argv[i + 1], nullptr, 10);
  }
  if (threads == 0) threads = 1;
  begin &= ~1ull;
  end = (end + 1) & ~1ull;
  if (end > (1ull << 32)) end = 1ull << 32;

  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("cvt_sweep: device %s sm_%d%d, %d SMs; host threads %u; inputs [0x%llx, 0x%llx)\n", prop.name,
              prop.major, prop.minor, prop.multiProcessorCount, threads, (unsigned long long)begin,
              (unsigned long long)end);
  if (prop.major < 9) std::printf("cvt_sweep: WARNING: not sm_90+; the measured path is not Hopper's\n");

  const uint64_t chunk = 1ull << 28;  // inputs per chunk (256 MiB of bytes)
  __nv_fp8x2_storage_t *d_out = nullptr;
  uint8_t *h_buf = nullptr;
  CK(cudaMalloc(&d_out, chunk));
  CK(cudaMallocHost(&h_buf, chunk));

  cvt::BinWriter w(argv[1]);
  for (int fmt = 0; fmt < 2; fmt++) {
    const double t0 = now_s();
    double gpu_s = 0;
    cvt::F32Provider hw = [&](uint64_t base, uint64_t n, uint8_t *out) {
      const double g0 = now_s();
      const uint64_t npairs = n / 2;
      k_f32<<<prop.multiProcessorCount * 16, 256>>>(base, npairs, fmt, d_out);
      CK(cudaGetLastError());
      CK(cudaMemcpy(out, d_out, n, cudaMemcpyDeviceToHost));
      gpu_s += now_s() - g0;
    };
    cvt::Mismatches m = cvt::sweep_f32(fmt, begin, end, chunk, threads, cap, hw, h_buf);
    cvt::write_f32_results(w, fmt, begin, end, m);
    std::printf("cvt_sweep: f32 -> %s: %llu mismatches in %.1f s (GPU + copy %.1f s)", cvt::fmt_name(fmt),
                (unsigned long long)m.total, now_s() - t0, gpu_s);
    for (int c = 0; c < cvt::NCAT; c++)
      std::printf(" %s=%llu", cvt::kCategoryNames[c], (unsigned long long)m.by_category[c]);
    std::printf("\n");
    std::fflush(stdout);
  }

  cvt::SmallTables t;
  t.special = cvt::special_inputs();
  const int ns = (int)t.special.size();
  uint32_t *d_sp = nullptr;
  uint8_t *d_lo = nullptr, *d_hi = nullptr, *d_f16 = nullptr, *d_bf16 = nullptr;
  uint16_t *d_dec = nullptr;
  CK(cudaMalloc(&d_sp, ns * 4));
  CK(cudaMalloc(&d_lo, ns));
  CK(cudaMalloc(&d_hi, ns));
  CK(cudaMalloc(&d_f16, 65536));
  CK(cudaMalloc(&d_bf16, 65536));
  CK(cudaMalloc(&d_dec, 512));
  CK(cudaMemcpy(d_sp, t.special.data(), ns * 4, cudaMemcpyHostToDevice));
  for (int fmt = 0; fmt < 2; fmt++) {
    t.special_lo[fmt].resize(ns);
    t.special_hi[fmt].resize(ns);
    t.f16_hw[fmt].resize(65536);
    t.bf16_hw[fmt].resize(65536);
    t.decode_f16[fmt].resize(256);
    k_special<<<(ns + 127) / 128, 128>>>(d_sp, ns, fmt, d_lo, d_hi);
    k_16<<<128, 256>>>(fmt, d_f16, d_bf16);
    k_decode<<<1, 256>>>(fmt, d_dec);
    CK(cudaGetLastError());
    CK(cudaMemcpy(t.special_lo[fmt].data(), d_lo, ns, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(t.special_hi[fmt].data(), d_hi, ns, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(t.f16_hw[fmt].data(), d_f16, 65536, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(t.bf16_hw[fmt].data(), d_bf16, 65536, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(t.decode_f16[fmt].data(), d_dec, 512, cudaMemcpyDeviceToHost));
  }
  const uint64_t m16 = cvt::write_small_tables(w, t);
  std::printf("cvt_sweep: FP16/BF16 -> FP8 (both formats, 4 x 65536 inputs): %llu mismatches\n",
              (unsigned long long)m16);
  std::printf("cvt_sweep: specials (input, e4m3 lo/hi, e5m2 lo/hi):\n");
  for (int i = 0; i < ns; i++)
    std::printf("  0x%08x  %02x/%02x  %02x/%02x\n", t.special[i], t.special_lo[0][i], t.special_hi[0][i],
                t.special_lo[1][i], t.special_hi[1][i]);
  w.finish(argv[2], "cvt.bin",
           "FP32/FP16/BF16 -> E4M3/E5M2 hardware cvt (satfinite, RNE) vs cfp8 scalar reference; FP8 -> FP16 decode");
  CK(cudaFree(d_out));
  CK(cudaFreeHost(h_buf));
  std::printf("cvt_sweep: done\n");
  return 0;
}
