/* The architecture of this build, in one place: the platform (CFP8_X86, CFP8_ARM64) and the
 * target attributes that let one file hold one ISA's functions while the rest of the library is
 * compiled for the baseline. Every C file includes it (through internal.h or its family's header);
 * the per-ISA kernel files include simd.h, which adds the intrinsics. Free of libc headers, so
 * that the NEON files also compile freestanding for AArch64.
 *
 * CFP8_AVX512_VIA_SIMDE: a test build (scripts/avx512_simde.sh) that runs the AVX-512 kernels on
 * a CPU without AVX-512 (see simd.h). The whole build is compiled for AVX2/FMA/F16C/BMI2, so the
 * target attributes are empty, and dispatch reports AVX-512, VBMI and VNNI as present. */
#ifndef CFP8_ARCH_H
#define CFP8_ARCH_H

#if defined(__x86_64__) || defined(_M_X64)
#define CFP8_X86 1
#endif
#if defined(__aarch64__)
#define CFP8_ARM64 1
#endif

#if defined(CFP8_X86) && defined(CFP8_AVX512_VIA_SIMDE)
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__) || !defined(__BMI2__)
#error "CFP8_AVX512_VIA_SIMDE needs -mavx2 -mfma -mf16c -mbmi2"
#endif
#define CFP8_TARGET_AVX2
#define CFP8_TARGET_AVX512
#define CFP8_TARGET_AVX512VBMI
#define CFP8_TARGET_AVX512VNNI
#elif defined(CFP8_X86)
#define CFP8_TARGET_AVX2 __attribute__((target("avx2,fma,f16c,bmi2")))
#define CFP8_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,bmi2,fma,f16c")))
#define CFP8_TARGET_AVX512VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,bmi2,fma,f16c")))
#define CFP8_TARGET_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,bmi2,fma,f16c")))
#endif

#endif
