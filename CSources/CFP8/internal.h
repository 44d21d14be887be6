/* Internal declarations shared by the kernel files; never included by the public headers. */
#ifndef CFP8_INTERNAL_H
#define CFP8_INTERNAL_H

#include "cfp8.h"
#include "arch.h"
#include <string.h>

/* Swift's clang accepts -fopenmp but ships no omp.h; these are the OpenMP runtime entry points
 * the kernels use (libomp from Debian's libomp-dev). */
int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
void omp_set_num_threads(int);
int omp_in_parallel(void);


static inline uint32_t cfp8_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float cfp8_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* Thread count for a parallel region: `threads` if positive, else the OpenMP default. */
static inline int cfp8_threads(int32_t threads) { return threads > 0 ? (int)threads : omp_get_max_threads(); }

#endif
