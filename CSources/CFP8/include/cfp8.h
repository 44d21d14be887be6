/* CFP8: the C kernels of the FP8 emulator.
 *
 * Conventions shared by every header included below:
 * - Every symbol is prefixed cfp8_ / CFP8_.
 * - FP8, FP16 and BF16 values cross this boundary as plain uint8_t / uint16_t bit patterns.
 * - Every function that can fail returns a cfp8_status; CFP8_OK is 0.
 * - Every kernel takes an explicit `isa` (CFP8_ISA_AUTO picks the best the CPU has, or the one
 *   forced by the FP8EMU_ISA environment variable). There is no global mutable state besides the
 *   once-only CPU detection, so calls from many threads at once are safe.
 * - No intrinsics or OpenMP headers appear in any public header.
 */
#ifndef CFP8_H
#define CFP8_H

#include "cfp8_base.h"
#include "cfp8_convert.h"
#include "cfp8_gemm.h"
#include "cfp8_tensorcore.h"
#include "cfp8_quantize.h"
#include "cfp8_int8.h"
#include "cfp8_nn.h"

#endif
