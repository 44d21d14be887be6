/* Scaled quantisation to FP8 and dequantisation from FP8, for 2-D tensors (rows x cols, dense
 * row-major). A 1-D tensor is one row; higher ranks are flattened to rows = product of all but
 * the last dimension by the caller.
 *
 * Scales are *dequantisation* multipliers everywhere (x ~ decode(q) * s), which is what FP8
 * checkpoints store ("weight_scale", and DeepSeek-V3's misleadingly named "weight_scale_inv").
 *
 * Granularities and the shape of their scale array:
 *   TENSOR    one scale                            s = amax / max_finite(format)
 *   ROW       rows scales (per output channel)     s[i] = amax(row i) / max_finite
 *   BLOCK128  ceil(rows/128) x ceil(cols/128)      s[bi][bj] = amax(128x128 block) / max_finite
 *   MX32      rows x ceil(cols/32), E8M0 bytes     s[i][b] = 2^e for the 32 elements along the row
 *
 * Quantisation: q = satfinite_RNE(x / s), computed as an FP32 division (not x * (1/s), which
 * differs in the last bit for about a third of the inputs; DeepSeek-V3's reference divides).
 * A group whose amax is 0 gets s = 1 (MX: e = 0, i.e. 2^0). An input that is NaN or infinite
 * makes the amax non-finite and the call fails with CFP8_ERR_BAD_SCALE (nothing sensible can
 * be chosen as a scale).
 *
 * MX scale rule (CFP8_MX_FLOOR, OCP MX v1.0 section 6.3): e = floor(log2(amax)) - emax_elem,
 * emax_elem = 8 for E4M3, 15 for E5M2; elements above max_finite after the division saturate.
 * CFP8_MX_ROUND_UP (Transformer Engine / cuBLAS): e = ceil(log2(amax / max_finite)), the
 * smallest power of two with amax / 2^e <= max_finite, so nothing saturates. Both clamp e to
 * the E8M0 range [-127, 127].
 */
#ifndef CFP8_QUANTIZE_H
#define CFP8_QUANTIZE_H

#include "cfp8_base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  CFP8_GRANULARITY_TENSOR = 0,
  CFP8_GRANULARITY_ROW = 1,
  CFP8_GRANULARITY_BLOCK128 = 2,
  CFP8_GRANULARITY_MX32 = 3,
};

enum {
  CFP8_MX_FLOOR = 0,     /* OCP MX: floor(log2(amax)) - emax_elem */
  CFP8_MX_ROUND_UP = 1,  /* Transformer Engine: ceil(log2(amax / max_finite)) */
};

/* Shape of the scale array of a granularity for a rows x cols tensor. */
cfp8_status cfp8_scale_shape(int32_t granularity, int64_t rows, int64_t cols, int64_t *scale_rows,
                             int64_t *scale_cols);

/* max |x| over each scale group of x (src_format F32, F16 or BF16; rows x cols, row stride
 * `ld` elements). amax has the scale array's shape (MX32 included). NaN propagates: a group
 * with a NaN has amax NaN. */
cfp8_status cfp8_amax(const void *x, int32_t src_format, int64_t rows, int64_t cols, int64_t ld,
                      int32_t granularity, float *amax, int32_t isa, int32_t threads);

typedef struct cfp8_quantize_options {
  int32_t format;       /* CFP8_FORMAT_E4M3 or CFP8_FORMAT_E5M2 */
  int32_t granularity;  /* CFP8_GRANULARITY_* */
  int32_t mx_rule;      /* CFP8_MX_* (MX32 only) */
  int32_t isa;
  int32_t threads;
} cfp8_quantize_options;

/* Quantises x (rows x cols, src_format F32/F16/BF16, dense) into q (rows x cols FP8 bytes).
 * scales receives the FP32 dequantisation scales (TENSOR, ROW, BLOCK128), mx_scales the E8M0
 * bytes (MX32); the other pointer may be NULL. */
cfp8_status cfp8_quantize(const void *x, int32_t src_format, int64_t rows, int64_t cols,
                          const cfp8_quantize_options *options, uint8_t *q, float *scales, uint8_t *mx_scales);

/* out = decode(q) * s (one FP32 multiply), stored as F32, or as BF16 / F16 with RNE (NaN stays a
 * quiet NaN with its sign: BF16 0x7FC0 | sign). This is DeepSeek-V3's weight_dequant for
 * BLOCK128 and BF16. Scales: FP32 (TENSOR/ROW/BLOCK128, must be finite) or E8M0 (MX32). */
cfp8_status cfp8_dequantize(const uint8_t *q, int32_t format, int64_t rows, int64_t cols, int32_t granularity,
                            const float *scales, const uint8_t *mx_scales, void *out, int32_t out_format,
                            int32_t isa, int32_t threads);

/* RNE FP32 -> BF16 (NaN -> quiet NaN with its sign), the rounding the dequantiser uses. */
uint16_t cfp8_f32_to_bf16_rne(float x);

#ifdef __cplusplus
}
#endif
#endif
