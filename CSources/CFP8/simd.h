/* The intrinsics of this platform, for the per-ISA kernel files (the only ones that include it).
 *
 * CFP8_AVX512_VIA_SIMDE (scripts/avx512_simde.sh): the AVX-512 intrinsics come from SIMDe's
 * portable implementations (Debian's libsimde-dev) instead of the compiler, under their Intel
 * names (native aliases), so that the AVX-512 kernels run unchanged on a CPU with AVX2 only.
 * SIMDe builds each 512-bit operation from this CPU's native 256-bit ones where it can (a fused
 * multiply-add stays fused); the intrinsics SIMDe 0.7.4 lacks are in simd_simde.h. */
#ifndef CFP8_SIMD_H
#define CFP8_SIMD_H

#include "arch.h"

#if defined(CFP8_X86) && defined(CFP8_AVX512_VIA_SIMDE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include "simd_simde.h"
#elif defined(CFP8_X86)
#include <immintrin.h>
#elif defined(CFP8_ARM64)
#include <arm_neon.h>
#endif

#endif
