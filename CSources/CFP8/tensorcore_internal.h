/* Internal helpers of the tensor-core model shared by tensorcore_*.c. */
#ifndef CFP8_TENSORCORE_INTERNAL_H
#define CFP8_TENSORCORE_INTERNAL_H

#include "cfp8_tensorcore.h"
#include "arch.h"

#define CFP8_TC_MAX_BLOCK 64
#define CFP8_TC_ZERO_EXP (-1000000) /* exponent of a zero term: takes no part in the alignment */

int cfp8_tc_format_ok(int32_t format);
int cfp8_tc_format_emin(int32_t format);
int cfp8_tc_representable(float x, int32_t format);
int cfp8_tc_exponent(float x, int32_t format);
double cfp8_tc_round_f16(double x);
float cfp8_tc_round_f32_rz(double x);
/* One block from exact products p (double) with exponents pe; `special` when some product is
 * NaN or infinite. */
float cfp8_tc_block_terms(const double *p, const int *pe, int n, float c, const cfp8_tc_model *m, int special);


/* A packed matrix product for the kernels: A as decoded values and model exponents (M×K,
 * row-major), B in panels of 16 columns (panel p: K rows of 16, zero padded). */
#define CFP8_TC_PANEL 16
#define CFP8_TC_EXP_ZERO (-10000) /* packed exponent of a zero operand */

typedef struct cfp8_tc_job {
  int64_t m, n, k, npanels;
  const float *av;
  const float *av_pre; /* FP8 inputs: av · 2^-64 (exact), for the FP32-lane SIMD paths; else NULL */
  const int32_t *ae;
  const int8_t *ae8; /* FP8 inputs: ae as int8, -64 for a zero operand (tensorcore_avx2.c); else NULL */
  const float *bv;
  const int32_t *be;
  const int8_t *be8; /* FP8 inputs: be likewise, k in pairs: byte 2j + (k & 1) of pair k/2 */
  const uint8_t *a_special; /* per row: NaN or Inf present */
  const uint8_t *b_special; /* per panel */
  const int16_t *a_mx;      /* MX: unbiased E8M0 exponents M×ceil(K/32) (NaN: INT16_MIN) */
  const int16_t *b_mx;      /* MX: ceil(K/32)×N */
  int64_t kb32;
  const float *blk_a;       /* block scaling: M×ceil(K/128) */
  const float *blk_b;       /* ceil(K/128)×ceil(N/128) */
  int64_t kb128, nb128;
  int32_t scaling;
  int32_t fp8_inputs; /* both operands E4M3/E5M2 */
  int32_t exact_e4m3; /* EXACT on E4M3 x E4M3, 1 <= K <= 2^16, no block/MX scales: see cfp8_tc_exact_init_ok */
  const cfp8_tc_model *model;
  int32_t accumulation;
  int32_t interval;
  const float *acc_init; /* M×N or NULL */
  float *acc; /* M × npanels*16 FP32 accumulators */
  int64_t ldacc;
} cfp8_tc_job;

/* The scalar reference for one block of element (i, j): products k0..k0+nb-1, accumulator c
 * (tensorcore_job.c). */
float cfp8_tc_job_block(const cfp8_tc_job *job, int64_t i, int64_t j, int64_t k0, int nb, float c);
/* The scalar reference for the task (row i, panel p) (tensorcore_scalar.c). */
void cfp8_tc_task_scalar(const cfp8_tc_job *job, int64_t i, int64_t p);
/* SIMD tasks: return 0 when they do not take this job (the scalar task runs instead). */
/* AVX-512: rows i0..i0+3 (those below m) of panel p. */
int cfp8_tc_task_avx512(const cfp8_tc_job *job, int64_t i0, int64_t p);
int cfp8_tc_task_avx2(const cfp8_tc_job *job, int64_t i, int64_t p);
/* AVX2, rows i0..i0+3 of panel p: FP8 inputs on an FP32-lane model (FAST or PROMOTED, no MX), or IDEAL. */
int cfp8_tc_task_avx2_rows(const cfp8_tc_job *job, int64_t i0, int64_t p);
int cfp8_tc_task_neon(const cfp8_tc_job *job, int64_t i, int64_t p);

/* One ISA's tasks (NULL: none). The driver offers each task of four rows to task_rows, and when it
 * declines, each row to task_row, and when that declines, to the scalar task. */
typedef struct cfp8_tc_kernels {
  int (*task_rows)(const cfp8_tc_job *job, int64_t i0, int64_t p);
  int (*task_row)(const cfp8_tc_job *job, int64_t i, int64_t p);
  /* 1 when task_rows reads only av_pre, ae8, bv and be8 of this job (FP8 inputs): the driver then
     packs only those (av, ae and be stay NULL), offers declined rows straight to the scalar task,
     and the scalar reference reads A through cfp8_tc_a_value/cfp8_tc_a_exp. NULL: never. */
  int (*compact)(const cfp8_tc_job *job);
  /* A compact job's line of A, k contiguous E4M3/E5M2 bytes, into av_pre and ae8 (the byte tables'
     values). Returns 0 when the line holds a NaN or an infinity, or the format is not handled: the
     table loop then packs it and flags the row. NULL: the table loop always. */
  int (*pack_a_line)(const uint8_t *line, int64_t k, int32_t format, float *pre, int8_t *e8);
  /* Likewise a full panel of B (16 columns below n) from its 16 contiguous lines (B transposed)
     into bv and be8 (the driver writes the pad of an odd K). */
  int (*pack_b_panel)(const uint8_t *const *lines, int64_t k, int32_t format, float *bv, int8_t *be8);
} cfp8_tc_kernels;
/* Each ISA's registration (tensorcore_<isa>.c; defined on its platform only). */
void cfp8_tc_init_avx2(cfp8_tc_kernels *k);
void cfp8_tc_init_avx512(cfp8_tc_kernels *k);
void cfp8_tc_init_neon(cfp8_tc_kernels *k);
/* Which SIMD path is exact for this job: 0 none (scalar), CFP8_TC_SIMD_F32 (IDEAL, or FP8
 * inputs with F small enough that L+1 terms sum exactly in FP32), CFP8_TC_SIMD_F64 (F >= 23:
 * every input format; FP32 accumulator with c fused or added after, FP16 accumulator fused). */
#define CFP8_TC_SIMD_F32 1
#define CFP8_TC_SIMD_F64 2
#define CFP8_TC_SIMD_EXACT 3 /* the EXACT sum in FP64 lanes, every addition exact (exact_e4m3) */
int cfp8_tc_simd_model_ok(const cfp8_tc_job *job);
/* EXACT in FP64 lanes: 1 when acc_init of row i, panel p is NULL or on the 2^-18 grid within 2^34. */
int cfp8_tc_exact_init_ok(const cfp8_tc_job *job, int64_t i, int64_t p);
/* MX: 1 when an E8M0 NaN scale (0xFF) touches rows i0..i1-1 or panel p (the scalar task runs). */
int cfp8_tc_mx_nan(const cfp8_tc_job *job, int64_t i0, int64_t i1, int64_t p);

/* A's value and model exponent, B's model exponent, from the full arrays or, in a compact job,
 * from the FP8 copies: av_pre is av · 2^-64 exactly, and ae8/be8 hold ae/be with -64 for
 * CFP8_TC_EXP_ZERO (real FP8 exponents lie in [-14, 15]). */
static inline float cfp8_tc_a_value(const cfp8_tc_job *job, int64_t i, int64_t kk) {
  return job->av ? job->av[i * job->k + kk] : job->av_pre[i * job->k + kk] * 0x1p64f;
}
static inline int32_t cfp8_tc_exp8(int8_t e) { return e == -64 ? CFP8_TC_EXP_ZERO : e; }
static inline int32_t cfp8_tc_a_exp(const cfp8_tc_job *job, int64_t i, int64_t kk) {
  return job->ae ? job->ae[i * job->k + kk] : cfp8_tc_exp8(job->ae8[i * job->k + kk]);
}
static inline int32_t cfp8_tc_b_exp(const cfp8_tc_job *job, int64_t pnl, int64_t kk, int jj) {
  if (job->be) return job->be[(pnl * job->k + kk) * CFP8_TC_PANEL + jj];
  const int64_t kp = (job->k + 1) & ~(int64_t)1;
  return cfp8_tc_exp8(job->be8[pnl * kp * CFP8_TC_PANEL + (kk & ~(int64_t)1) * CFP8_TC_PANEL + 2 * jj + (kk & 1)]);
}

static inline float cfp8_tc_init(const cfp8_tc_job *job, int64_t i, int64_t j) {
  return job->acc_init ? job->acc_init[i * job->n + j] : 0.0f;
}
#endif
