/* Shared helpers of the C fuzz targets: a byte reader over the fuzzer's input and the list of
 * ISAs this CPU runs. Every target compares each SIMD path with the scalar path bit for bit and
 * aborts on a difference (libFuzzer then keeps the input as a crash). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H
#include "cfp8.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const uint8_t *p; size_t n; } fz_reader;
static inline uint8_t fz_byte(fz_reader *r) {
  if (!r->n) return 0;
  r->n--;
  return *r->p++;
}
static inline int fz_isas(int32_t *out) {
  int n = 0;
  for (int32_t isa = 0; isa <= CFP8_ISA_NEON; isa++)
    if (cfp8_isa_supported(isa)) out[n++] = isa;
  return n;
}
#define FZ_REQUIRE(cond, ...)                      \
  do {                                             \
    if (!(cond)) {                                 \
      fprintf(stderr, "fuzz check failed: ");      \
      fprintf(stderr, __VA_ARGS__);                \
      fprintf(stderr, "\n");                       \
      abort();                                     \
    }                                              \
  } while (0)
#endif
