/* nn_avx512.c compiled against SIMDe's portable AVX-512 (no AVX-512 hardware needed), with the few
 * intrinsics SIMDe 0.7.4 lacks written out lane by lane. SIMDe computes an FMA as a*b + c in one
 * expression: scripts/avx512_simde.sh compiles this file with -mfma -ffp-contract=on so that it is
 * one fused operation, as on the hardware. */
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <string.h>
typedef simde__mmask16 __mmask16;
#define _MM_FROUND_NO_EXC 0x08
static inline __m512 _mm512_maskz_loadu_ps(__mmask16 k, const float *p) {
  float t[16] = {0};
  for (int i = 0; i < 16; i++) if (k >> i & 1) t[i] = p[i];
  return simde_mm512_loadu_ps(t);
}
static inline void _mm512_mask_storeu_ps(float *p, __mmask16 k, __m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  for (int i = 0; i < 16; i++) if (k >> i & 1) p[i] = t[i];
}
static inline __m256 _mm512_extractf32x8_ps(__m512 v, int hi) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  return simde_mm256_loadu_ps(t + 8 * hi);
}
static inline __m256i _mm512_cvtps_ph(__m512 v, int imm) {
  float t[16];
  _Float16 h[16];
  simde_mm512_storeu_ps(t, v);
  for (int i = 0; i < 16; i++) h[i] = (_Float16)t[i];
  return simde_mm256_loadu_si256((const void *)h);
}
static inline __m512 _mm512_cvtph_ps(__m256i v) {
  _Float16 h[16];
  float t[16];
  simde_mm256_storeu_si256((void *)h, v);
  for (int i = 0; i < 16; i++) t[i] = (float)h[i];
  return simde_mm512_loadu_ps(t);
}
#include "internal.h"
#undef CFP8_TARGET_AVX512
#define CFP8_TARGET_AVX512
#define cfp8_nn_kernels_avx512 cfp8_nn_kernels_avx512_simde
#include "../../CSources/CFP8/nn_avx512.c"
