/* One table of kernels per ISA, as BLIS's context (bli_cntx_init_<arch>) and XNNPACK's configs
 * have: kernels.c fills the tables once, from what dispatch.c detected, and the drivers take their
 * kernels from the table of the ISA a call resolves to. Drivers call down into the kernels; the
 * kernels call down into their family's scalar reference and shared helpers; nothing calls back
 * up. A NULL slot means the ISA has no kernel of its own there: the driver runs the scalar one. */
#ifndef CFP8_KERNELS_H
#define CFP8_KERNELS_H

#include "convert_internal.h"
#include "int8_internal.h"
#include "nn_internal.h"
#include "quantize_internal.h"
#include "tensorcore_internal.h"

typedef struct cfp8_kernels {
  int32_t isa;
  cfp8_convert_kernels convert;
  cfp8_tc_kernels tc;
  cfp8_int8_kernels int8;
  cfp8_quantize_kernels quantize;
  cfp8_nn_kernels nn;
} cfp8_kernels;

/* The kernels of `isa` (CFP8_ISA_AUTO: the default ISA), with cfp8_isa_resolve's status. */
cfp8_status cfp8_kernels_resolve(int32_t isa, const cfp8_kernels **out);
/* The kernels of the best ISA this CPU has, whatever FP8EMU_ISA asks for (the conversion sweep's
 * reference runs there). */
const cfp8_kernels *cfp8_kernels_best(void);

#endif
