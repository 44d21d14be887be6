/* Status codes, element formats, instruction-set selection and threading. */
#ifndef CFP8_BASE_H
#define CFP8_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t cfp8_status;
enum {
  CFP8_OK = 0,
  CFP8_ERR_NULL_POINTER = 1,     /* a required pointer was NULL */
  CFP8_ERR_BAD_FORMAT = 2,       /* unknown element format, or one the operation does not take */
  CFP8_ERR_BAD_ROUNDING = 3,     /* unknown rounding mode */
  CFP8_ERR_BAD_PRESET = 4,       /* unknown overflow/NaN preset */
  CFP8_ERR_BAD_SHAPE = 5,        /* negative or inconsistent dimensions */
  CFP8_ERR_BAD_STRIDE = 6,       /* leading dimension smaller than the row/column it strides */
  CFP8_ERR_BAD_SCALE = 7,        /* scale array missing, of the wrong shape, or not finite */
  CFP8_ERR_SIZE_OVERFLOW = 8,    /* a size computation would overflow size_t */
  CFP8_ERR_NO_MEMORY = 9,        /* an allocation failed */
  CFP8_ERR_UNSUPPORTED_ISA = 10, /* the requested instruction set is not available on this CPU/build */
  CFP8_ERR_BAD_ARGUMENT = 11,    /* any other invalid argument */
};

/* A short English description of a status code (static storage, never NULL). */
const char *cfp8_status_string(cfp8_status status);

/* ---- Instruction sets ---------------------------------------------------------------------- */
enum {
  CFP8_ISA_AUTO = -1,   /* FP8EMU_ISA if set (and supported), else the best the CPU has */
  CFP8_ISA_SCALAR = 0,  /* the portable reference every other path is tested against */
  CFP8_ISA_AVX2 = 1,    /* AVX2 + FMA + F16C */
  CFP8_ISA_AVX512 = 2,  /* AVX-512 F/BW/VL (+VBMI, VNNI where present) */
  CFP8_ISA_NEON = 3,    /* AArch64 Advanced SIMD */
};

/* 1 when this CPU and build can run `isa`, else 0. */
int32_t cfp8_isa_supported(int32_t isa);
/* The ISA that CFP8_ISA_AUTO resolves to. If FP8EMU_ISA names an unsupported or unknown ISA,
 * AUTO falls back to the best supported one and cfp8_isa_env_error() reports why. */
int32_t cfp8_isa_default(void);
/* Resolves `isa` (AUTO or explicit) to a concrete supported ISA in *out. */
cfp8_status cfp8_isa_resolve(int32_t isa, int32_t *out);
/* "scalar", "avx2", "avx512", "neon", or "unknown". */
const char *cfp8_isa_name(int32_t isa);
/* Non-NULL message when FP8EMU_ISA was set to something unusable, else NULL. */
const char *cfp8_isa_env_error(void);

/* CPU extras that some kernels use when present. */
int32_t cfp8_cpu_has_avx512vbmi(void);
int32_t cfp8_cpu_has_avx512vnni(void);

/* ---- Threads ------------------------------------------------------------------------------- */
/* The OpenMP thread count used by parallel kernels when a call passes threads = 0. */
int32_t cfp8_max_threads(void);

/* ---- Element formats ----------------------------------------------------------------------- */
enum {
  CFP8_FORMAT_E4M3 = 0,      /* OCP E4M3 (e4m3fn): bias 7, max 448, no Inf, NaN S.1111.111 */
  CFP8_FORMAT_E5M2 = 1,      /* OCP E5M2: bias 15, max 57344, Inf and NaN as IEEE */
  CFP8_FORMAT_E4M3FNUZ = 2,  /* AMD/Graphcore: bias 8, max 240, one NaN 0x80, no -0 */
  CFP8_FORMAT_E5M2FNUZ = 3,  /* AMD/Graphcore: bias 16, max 57344, one NaN 0x80, no -0 */
  CFP8_FORMAT_E8M0 = 4,      /* OCP MX scale: unsigned 2^(e-127), 0xFF NaN, no zero */
  CFP8_FORMAT_F16 = 16,      /* IEEE binary16 (wide format) */
  CFP8_FORMAT_BF16 = 17,     /* bfloat16 (wide format) */
  CFP8_FORMAT_F32 = 18,      /* IEEE binary32 (wide format) */
};

/* 1 for the five 8-bit formats. */
int32_t cfp8_format_is_fp8(int32_t format);
/* Bytes per element (1, 2 or 4), or 0 for an unknown format. */
int32_t cfp8_format_size(int32_t format);

typedef struct cfp8_format_info {
  int32_t exponent_bits;
  int32_t mantissa_bits;
  int32_t bias;
  int32_t has_sign;      /* 0 only for E8M0 */
  int32_t has_infinity;  /* E5M2 only among the FP8 formats */
  int32_t has_negative_zero;
  float max_finite;
  float min_normal;
  float min_subnormal;   /* equals min_normal when the format has no subnormals (E8M0) */
} cfp8_format_info;

/* Describes an FP8 format. */
cfp8_status cfp8_format_describe(int32_t format, cfp8_format_info *out);

/* Exact value of one FP8 bit pattern as FP32, computed from the format's definition (the
 * reference; the bulk decoders use tables built from it). NaN encodings give a quiet NaN with
 * the input's sign where the format has one; E8M0 0x00 gives 2^-127 (an FP32 subnormal). */
float cfp8_fp8_to_f32_reference(uint8_t bits, int32_t format);

/* 256-entry FP32 table of cfp8_fp8_to_f32_reference for an FP8 format (static storage, built
 * once, thread-safe), or NULL for a format that is not FP8. */
const float *cfp8_decode_table_f32(int32_t format);

#ifdef __cplusplus
}
#endif
#endif
