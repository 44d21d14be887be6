/* Stands in for the compiler's immintrin.h when nn_avx512.c is built on SIMDe (nn_avx512_simde.c):
 * SIMDe provides every intrinsic, portably. */
