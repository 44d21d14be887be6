/* The kernel tables: one per ISA this CPU has, filled once (the first time one is asked for). Each
 * starts from the scalar kernels, the reference, and each family's file for the ISA registers its
 * own; the CPU's extensions (AVX-512 VBMI, VNNI) choose among them here, so that no driver or
 * kernel tests the CPU again. */
#include "internal.h"
#include "kernels.h"
#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static cfp8_kernels tables[4];
static int32_t best = CFP8_ISA_SCALAR;

static void init_scalar(cfp8_kernels *k) {
  cfp8_convert_init_scalar(&k->convert);
  cfp8_int8_init_scalar(&k->int8);
  cfp8_quantize_init_scalar(&k->quantize);
  cfp8_nn_init_scalar(&k->nn);
}

#if defined(CFP8_X86)
static void init_avx2(cfp8_kernels *k) {
  cfp8_convert_init_avx2(&k->convert);
  cfp8_tc_init_avx2(&k->tc);
  cfp8_int8_init_avx2(&k->int8);
  cfp8_quantize_init_avx2(&k->quantize);
  cfp8_nn_init_avx2(&k->nn);
}

static void init_avx512(cfp8_kernels *k, int vbmi, int vnni) {
  cfp8_convert_init_avx512(&k->convert, vbmi);
  cfp8_tc_init_avx512(&k->tc);
  if (vnni) cfp8_int8_init_vnni(&k->int8);
  else cfp8_int8_init_avx2(&k->int8); /* AVX-512 without VNNI: AVX2's INT8 kernel */
  cfp8_quantize_init_avx512(&k->quantize, vbmi);
  cfp8_nn_init_avx512(&k->nn);
}
#endif

#if defined(CFP8_ARM64)
static void init_neon(cfp8_kernels *k) {
  cfp8_convert_init_neon(&k->convert);
  cfp8_tc_init_neon(&k->tc);
  cfp8_int8_init_neon(&k->int8);
  cfp8_nn_init_neon(&k->nn);
}
#endif

static void fill(void) {
  for (int32_t isa = CFP8_ISA_SCALAR; isa <= CFP8_ISA_NEON; isa++) {
    if (!cfp8_isa_supported(isa)) continue;
    cfp8_kernels *k = &tables[isa];
    k->isa = isa;
    init_scalar(k);
    best = isa; /* in increasing width: the last one the CPU has is the best */
    switch (isa) {
#if defined(CFP8_X86)
    case CFP8_ISA_AVX2: init_avx2(k); break;
    case CFP8_ISA_AVX512: init_avx512(k, cfp8_cpu_has_avx512vbmi(), cfp8_cpu_has_avx512vnni()); break;
#endif
#if defined(CFP8_ARM64)
    case CFP8_ISA_NEON: init_neon(k); break;
#endif
    default: break;
    }
  }
}

cfp8_status cfp8_kernels_resolve(int32_t isa, const cfp8_kernels **out) {
  int32_t resolved;
  const cfp8_status st = cfp8_isa_resolve(isa, &resolved);
  if (st != CFP8_OK) return st;
  pthread_once(&once, fill);
  *out = &tables[resolved];
  return CFP8_OK;
}

const cfp8_kernels *cfp8_kernels_best(void) {
  pthread_once(&once, fill);
  return &tables[best];
}
