/* Shared by the INT8 GEMM files. */
#ifndef CFP8_INT8_INTERNAL_H
#define CFP8_INT8_INTERNAL_H

/* Only the public headers (so that the NEON file can be syntax-checked freestanding); int8_gemm.c
 * includes internal.h first. */
#include "cfp8.h"
#include "arch.h"

/* VNNI: 8 rows × 32 columns, K in steps of 4. Packed B panel: for each k4, 32 columns × 4 bytes.
 * Packed A: (a ^ 0x80) as unsigned bytes, rows of kp bytes. */
#define CFP8_I8_VNNI_MR 8
#define CFP8_I8_VNNI_NR 32
/* AVX2: 6 rows × 16 columns, K in steps of 2. Packed B panel: for each k2, 16 columns × 2 int16.
 * Packed A: int16 rows of kp elements. */
#define CFP8_I8_AVX2_MR 6
#define CFP8_I8_AVX2_NR 16

/* tile[MR][NR] (+)= Σ over kp of the packed panels (raw accumulators, before any correction);
 * load = 0 starts from zero, 1 adds to the tile (K blocks after the first). */
typedef void (*cfp8_i8_kernel_u8)(int64_t kp, const uint8_t *a, int64_t lda, const int8_t *b, int32_t *tile, int load);
typedef void (*cfp8_i8_kernel_i16)(int64_t kp, const int16_t *a, int64_t lda, const int16_t *b, int32_t *tile, int load);
/* C rows [i0, i1) of A·Bᵀ on unpacked operands. */
typedef void (*cfp8_i8_rows)(int64_t i0, int64_t i1, int64_t n, int64_t k, const int8_t *a, int64_t lda,
                             const int8_t *b, int64_t ldb, int32_t *c, int64_t ldc);

/* One ISA's INT8 GEMM: exactly one of the three is set. rows works on the operands as they are
 * (scalar, NEON); vnni and avx2 on the packed panels above. */
typedef struct cfp8_int8_kernels {
  cfp8_i8_rows rows;
  cfp8_i8_kernel_u8 vnni;
  cfp8_i8_kernel_i16 avx2;
} cfp8_int8_kernels;

/* Each ISA's registration (int8_gemm_<isa>.c; defined on its platform only). */
void cfp8_int8_init_scalar(cfp8_int8_kernels *k);
void cfp8_int8_init_avx2(cfp8_int8_kernels *k);
void cfp8_int8_init_vnni(cfp8_int8_kernels *k);
void cfp8_int8_init_neon(cfp8_int8_kernels *k);

#endif
