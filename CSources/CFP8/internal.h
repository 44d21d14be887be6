/* Internal declarations shared by the kernel files; never included by the public headers. */
#ifndef CFP8_INTERNAL_H
#define CFP8_INTERNAL_H

#include "cfp8.h"
#include <string.h>

/* Swift's clang accepts -fopenmp but ships no omp.h; these are the OpenMP runtime entry points
 * the kernels use (libomp from Debian's libomp-dev). */
int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
void omp_set_num_threads(int);
int omp_in_parallel(void);

#if defined(__x86_64__) || defined(_M_X64)
#define CFP8_X86 1
#define CFP8_TARGET_AVX2 __attribute__((target("avx2,fma,f16c,bmi2")))
#define CFP8_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,bmi2,fma,f16c")))
#define CFP8_TARGET_AVX512VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,bmi2,fma,f16c")))
#define CFP8_TARGET_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,bmi2,fma,f16c")))
#endif
#if defined(__aarch64__)
#define CFP8_ARM64 1
#endif

static inline uint32_t cfp8_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float cfp8_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* Thread count for a parallel region: `threads` if positive, else the OpenMP default. */
static inline int cfp8_threads(int32_t threads) { return threads > 0 ? (int)threads : omp_get_max_threads(); }

#endif
