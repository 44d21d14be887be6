/* Encoding to and decoding from the FP8 formats. */
#ifndef CFP8_CONVERT_H
#define CFP8_CONVERT_H

#include "cfp8_base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  CFP8_ROUND_NEAREST_EVEN = 0,
  CFP8_ROUND_TOWARD_ZERO = 1,
  CFP8_ROUND_STOCHASTIC = 2,   /* add random bits below the kept precision, then truncate */
  CFP8_ROUND_UP = 3,           /* E8M0 only: toward +Inf (Transformer Engine MXFP8 scales) */
};

/* Overflow / NaN conventions of real implementations (see README for the table). */
enum {
  CFP8_PRESET_CUDA_SATFINITE = 0, /* PTX cvt.rn.satfinite, Transformer Engine */
  CFP8_PRESET_CUDA_NOSAT = 1,     /* cuda_fp8.hpp __NV_NOSAT */
  CFP8_PRESET_ML_DTYPES = 2,      /* ml_dtypes: OCP non-saturating */
  CFP8_PRESET_PYTORCH = 3,        /* PyTorch CPU float8 casts */
};

typedef struct cfp8_encode_options {
  int32_t rounding;             /* CFP8_ROUND_* */
  int32_t preset;               /* CFP8_PRESET_* */
  uint64_t seed;                /* stochastic rounding: random bits are a pure function of (seed, index) */
  const uint32_t *random_bits;  /* stochastic rounding: optional caller bits, one word per element */
  int32_t isa;                  /* CFP8_ISA_* (CFP8_ISA_AUTO) */
  int32_t threads;              /* 0: OpenMP default; used only above a size threshold */
} cfp8_encode_options;

/* Encodes n elements of src (format F32, F16 or BF16: float / uint16_t bit patterns) into the FP8
 * format dst_format, directly (never through an intermediate format). */
cfp8_status cfp8_encode(const void *src, int32_t src_format, uint8_t *dst, int32_t dst_format, size_t n,
                        const cfp8_encode_options *options);

/* Decodes n FP8 elements into F32, F16 or BF16 (the latter two as uint16_t bit patterns). */
cfp8_status cfp8_decode(const uint8_t *src, int32_t src_format, void *dst, int32_t dst_format, size_t n,
                        int32_t isa, int32_t threads);

/* The scalar reference encoder for one FP32 value (written from the specifications; every SIMD
 * path is tested against it). `random` is used only by CFP8_ROUND_STOCHASTIC. Invalid format,
 * rounding or preset returns 0. */
uint8_t cfp8_encode_f32_reference(float x, int32_t format, int32_t rounding, int32_t preset, uint32_t random);

#ifdef __cplusplus
}
#endif
#endif
