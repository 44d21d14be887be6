/* NVIDIA tensor-core numerics: the block-FMA model of Khattak & Mikaitis (arXiv:2512.07004) and
 * MMA-Sim (arXiv:2511.10909), and matrix products that chain such blocks along K.
 *
 * One block computes d = c + sum_{i<n} a_i*b_i (n <= L) as one fused operation:
 *  1. specials first: any NaN, Inf*0, or +Inf and -Inf together give NaN (0x7FFFFFFF);
 *     otherwise any Inf gives that Inf;
 *  2. products are exact and not renormalised; their exponent is e_a + e_b, where a subnormal
 *     input keeps its format's minimum exponent (zeros take no part in the alignment);
 *     a non-zero c is one more term with exponent floor(log2|c|) (with an FP16 accumulator, c is
 *     first rounded to FP16 with round-to-nearest-even);
 *  3. the alignment point E is the largest term exponent, floored at min_exponent;
 *  4. each term is truncated toward zero to a multiple of 2^(E-F); the truncated terms are summed
 *     exactly;
 *  5. the exact sum is rounded to the accumulator: toward zero to FP32 after keeping F + 1
 *     significant bits (truncated) when F < 23, or once to nearest even to FP16.
 * With c_added (B200 FP8) the block aligns the products only, rounds their sum toward zero to
 * FP32, and adds c with one round-to-nearest-even FP32 addition.
 * With c_added_halves (H100 and B200 FP8 with an FP16 accumulator) the block's products run as
 * two chained FP16-accumulator blocks of the model, the first from +0 over the products at
 * positions t with t mod 4 in {0, 1}, the second over those with t mod 4 in {2, 3}; c, rounded
 * to FP16, is added last with one round-to-nearest-even FP16 addition.
 * An exact zero sum is +0, or -0 when every term is a negative zero (IEEE rule).
 *
 * Inputs in the block function are FP32 values that the input format represents exactly; F32
 * operands of the matrix product are read as TF32 (the low 13 significand bits are dropped, as the
 * hardware does with unconverted FP32 data). */
#ifndef CFP8_TENSORCORE_H
#define CFP8_TENSORCORE_H

#include "cfp8_gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  CFP8_TC_ACC_F32 = 0, /* FP32 accumulator, result rounded toward zero */
  CFP8_TC_ACC_F16 = 1, /* FP16 accumulator, c rounded to FP16, result to nearest even */
};

enum {
  CFP8_TC_C_FUSED = 0, /* c is one more term of the aligned sum (all GPUs except B200 FP8) */
  CFP8_TC_C_ADDED = 1, /* products aligned and summed, then c added with one RNE FP32 add */
  CFP8_TC_C_ADDED_HALVES = 2, /* two FP16 half-blocks of interleaved pairs from zero, then c added
                                 with one RNE FP16 add; needs CFP8_TC_ACC_F16 */
};

/* No floor on the alignment point (V100). */
#define CFP8_TC_NO_MIN_EXPONENT (-100000)

typedef struct cfp8_tc_model {
  int32_t block_size;    /* L: products per block, 1..64 */
  int32_t fraction_bits; /* F: bits kept below the alignment point, 1..40 */
  int32_t min_exponent;  /* floor of the alignment point, or CFP8_TC_NO_MIN_EXPONENT */
  int32_t accumulator;   /* CFP8_TC_ACC_* */
  int32_t c_mode;        /* CFP8_TC_C_* */
} cfp8_tc_model;

enum {
  CFP8_TC_ACCUM_FAST = 0,     /* the running accumulator is the c of the next block */
  CFP8_TC_ACCUM_PROMOTED = 1, /* partials of `promotion_interval` K elements, started from zero,
                                 added to an FP32 accumulator with an RNE FP32 add (with block
                                 scales: acc = fmaf(sa*sb, partial, acc)) */
  CFP8_TC_ACCUM_IDEAL = 2,    /* plain FP32 FMA in k order (no tensor-core model) */
  CFP8_TC_ACCUM_EXACT = 3,    /* FP64 sum of the exact products, rounded once to FP32 (RNE) */
};

/* Checks a model's fields (CFP8_ERR_BAD_ARGUMENT when out of range). */
cfp8_status cfp8_tc_model_check(const cfp8_tc_model *model);

/* One block: d = c + sum_{i<n} a[i]*b[i] with the model. a and b hold n values of `in_format`
 * (E4M3, E5M2, F16, BF16, or F32 as TF32) as FP32; n <= L. For an FP16 accumulator, *d is the
 * FP16 result widened to FP32. Values the format cannot represent give CFP8_ERR_BAD_ARGUMENT. */
cfp8_status cfp8_tc_block(const float *a, const float *b, int32_t n, float c, int32_t in_format,
                          const cfp8_tc_model *model, float *d);

/* A chain of blocks over k products (k may exceed L): blocks of L in k order, each block's result
 * the c of the next (fast accumulation), starting from c; k = 0 gives c. */
cfp8_status cfp8_tc_dot(const float *a, const float *b, int32_t k, float c, int32_t in_format,
                        const cfp8_tc_model *model, float *d);

/* D = epilogue(scaling(op(A)·op(B))) with the product accumulated as `accumulation` says.
 * a and b must have the same format (E4M3 and E5M2 may be mixed). Scaling: per-tensor and
 * row-wise scales multiply the FP32 accumulator (acc * (sa*sb)); block scales need
 * CFP8_TC_ACCUM_PROMOTED with an interval that divides 128 or IDEAL/EXACT; MX scales (FP8 only)
 * are powers of two folded exactly into the product exponents. The model applies to FAST and
 * PROMOTED. Parallel over rows and 16-column panels; a K chain is never split, so the bits do
 * not depend on `threads` or `isa`. promotion_interval <= 0 means 128.
 * acc_init (dense M×N FP32, or NULL for zeros) is the accumulator's starting value, as wgmma's
 * D = A·B + D: the c of the first block (FAST), the FP32 accumulator's start (PROMOTED, IDEAL),
 * or a term of the FP64 sum (EXACT); scales and the epilogue apply to the whole accumulator. */
cfp8_status cfp8_tc_gemm(int64_t m, int64_t n, int64_t k, const cfp8_operand *a, const cfp8_operand *b,
                         const float *acc_init, const cfp8_scaling *scaling, const cfp8_tc_model *model, int32_t accumulation,
                         int32_t promotion_interval, const cfp8_epilogue *epilogue, int32_t isa,
                         int32_t threads);

#ifdef __cplusplus
}
#endif
#endif
