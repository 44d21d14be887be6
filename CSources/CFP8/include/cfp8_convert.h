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
  CFP8_PRESET_ML_DTYPES = 2,      /* ml_dtypes 0.7.0: OCP non-saturating */
  CFP8_PRESET_PYTORCH = 3,        /* torch 2.13.0 CPU casts: E4M3 saturates, E5M2 does not */
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
 * format dst_format, directly (never through an intermediate format). E8M0 takes
 * CFP8_ROUND_NEAREST_EVEN, _TOWARD_ZERO or _UP (preset ignored); the other formats take NEAREST_EVEN,
 * TOWARD_ZERO or STOCHASTIC. Stochastic bits: options->random_bits[i] if given, else
 * cfp8_stochastic_bits(options->seed, i). Parallel (OpenMP) above CFP8_PARALLEL_THRESHOLD. */
cfp8_status cfp8_encode(const void *src, int32_t src_format, uint8_t *dst, int32_t dst_format, size_t n,
                        const cfp8_encode_options *options);

/* Decodes n FP8 elements into F32, F16 or BF16 (the latter two as uint16_t bit patterns) by table
 * lookup. Every FP8 value is exact in F32 and BF16 and, except E8M0, in F16; E8M0 -> F16 rounds to
 * nearest even (2^16 and above -> Inf, 2^-25 and below -> 0). NaN -> quiet NaN (sign kept where the
 * format has one). */
cfp8_status cfp8_decode(const uint8_t *src, int32_t src_format, void *dst, int32_t dst_format, size_t n,
                        int32_t isa, int32_t threads);

/* The scalar reference encoder for one FP32 value (written from the specifications; every SIMD
 * path is tested against it). `random` is used only by CFP8_ROUND_STOCHASTIC. Invalid format,
 * rounding or preset returns 0. */
uint8_t cfp8_encode_f32_reference(float x, int32_t format, int32_t rounding, int32_t preset, uint32_t random);

/* The scalar reference for one FP16 or BF16 value (bit pattern), written directly from the
 * definition (no intermediate format). Same conventions as cfp8_encode_f32_reference. */
uint8_t cfp8_encode_f16_reference(uint16_t bits, int32_t format, int32_t rounding, int32_t preset, uint32_t random);
uint8_t cfp8_encode_bf16_reference(uint16_t bits, int32_t format, int32_t rounding, int32_t preset, uint32_t random);

/* The reference for one FP64 value, rounded once, straight to `format` (any FP8 format; for E8M0
 * the rounding modes of cfp8_encode_e8m0_reference apply and preset is ignored). */
uint8_t cfp8_encode_f64_reference(double x, int32_t format, int32_t rounding, int32_t preset, uint32_t random);

/* E8M0 (unsigned power-of-two scale) reference encode of an FP32 value. `rounding`:
 *   CFP8_ROUND_NEAREST_EVEN  as ml_dtypes 0.7.0 float8_e8m0fnu: 2^e·1.f goes to 2^(e+1) iff
 *                            f >= 0.5 (the bit below the leading one decides; ties go up), at
 *                            every magnitude: FP32 subnormals 2^-127·1.f give 0x01 iff f >= 0.5
 *   CFP8_ROUND_TOWARD_ZERO   2^floor(log2 x)
 *   CFP8_ROUND_UP            2^ceil(log2 x) (Transformer Engine MXFP8 scale)
 * Zero (either sign), negative, NaN and Inf give 0xFF (NaN); results above 2^127 give 0xFF;
 * results below 2^-127 give 0x00 (2^-127). Stochastic is not offered (returns 0xFF). */
uint8_t cfp8_encode_e8m0_reference(float x, int32_t rounding);

/* The 32 random bits that stochastic rounding uses for element `index` of a call with `seed`
 * (a counter-based hash, so the same on every SIMD path and thread count):
 *   k = (uint32)seed ^ mix32((uint32)(seed >> 32) + 0x632BE5AB)
 *   bits = mix32(((uint32)index * 0x9E3779B9) ^ ((uint32)(index >> 32) * 0x85EBCA6B) ^ k)
 * with mix32(x): x ^= x >> 16; x *= 0x7FEB352D; x ^= x >> 15; x *= 0x846CA68B; x ^= x >> 16.
 * The bits are a fraction r/2^32 of one unit in the last place of the result: the magnitude is
 * rounded up iff frac + r >= 2^32, where frac is the discarded part of |x| as a fraction of
 * that unit, truncated to 32 bits. */
uint32_t cfp8_stochastic_bits(uint64_t seed, uint64_t index);

/* Exhaustive comparison of a SIMD path against the scalar reference.
 * Inputs are the bit patterns [begin, end) of src_format (F32: up to 2^32; F16/BF16: up to 2^16).
 * For every preset in preset_mask (bit p = preset p) and every ISA in isas[0..isa_count), the
 * path's cfp8_encode output is compared with the scalar reference. The reference for the first
 * preset is computed for every input; for the other presets it is recomputed only where the input
 * is NaN, Inf or (except toward zero, which never overflows a finite input) at least the format's
 * largest finite value (the reference consults the preset only there; FP32 sources recompute the
 * whole 64 Ki-input chunk that holds such inputs). FP32 sources to E4M3/E5M2/FNUZ use the
 * reference's C source compiled for AVX-512 where the CPU has it (vectorised by the compiler). Stochastic rounding uses cfp8_stochastic_bits(seed, pattern). Runs with OpenMP over
 * chunks. Results: per (preset, isa) mismatch counts in mismatches[preset * isa_count + k], and
 * the first mismatching pattern (or UINT64_MAX) in first[...] (both arrays of 4 * isa_count). */
cfp8_status cfp8_sweep_compare(int32_t src_format, int32_t dst_format, int32_t rounding, uint32_t preset_mask,
                               const int32_t *isas, int32_t isa_count, uint64_t begin, uint64_t end, uint64_t seed,
                               int32_t threads, uint64_t *mismatches, uint64_t *first);

/* Elements above which cfp8_encode/cfp8_decode split the work over OpenMP threads. */
#define CFP8_PARALLEL_THRESHOLD ((size_t)1 << 20)

#ifdef __cplusplus
}
#endif
#endif
