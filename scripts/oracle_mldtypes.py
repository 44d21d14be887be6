#!/usr/bin/env python3
"""The ml-dtypes preset against ml_dtypes (pinned in scripts/requirements.txt) on every input.

E4M3 (float8_e4m3fn), E5M2, E4M3FNUZ, E5M2FNUZ and E8M0 (float8_e8m0fnu; CFP8_ROUND_NEAREST_EVEN
is ml_dtypes' rule), round to nearest even: all 2^32 FP32, all 2^16 FP16 and all 2^16 BF16 bit
patterns, CFP8's scalar reference and its best SIMD path, byte for byte (cfp8_oracle.py). With
`fp8emu verify` (every SIMD path = the scalar reference) this ties every path to ml_dtypes.
Prints a table; exits 1 on any mismatch.

Usage: python3 scripts/oracle_mldtypes.py [--stride N] [--workers N] [--formats e4m3,e5m2,...] [--markdown]
  --stride N checks every N-th FP32 chunk only (quick runs); the default 1 checks all 2^32.
  --markdown prints the preset table's cells as ml_dtypes gives them, and exits.
"""
import sys

import ml_dtypes
import numpy as np

import cfp8_oracle

TYPES = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2, "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
         "e5m2fnuz": ml_dtypes.float8_e5m2fnuz, "e8m0": ml_dtypes.float8_e8m0fnu}
SOURCES = {"f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16}


def cast(name, source, bits, out):
    """ml_dtypes' cast (as x.astype(type)) of the bit patterns `bits`, as bytes into `out`."""
    with np.errstate(all="ignore"):
        np.copyto(out.view(TYPES[name]), bits.view(SOURCES[source]), casting="unsafe")


if __name__ == "__main__":
    sys.exit(cfp8_oracle.main(cast, list(TYPES), "ml-dtypes", f"ml_dtypes {ml_dtypes.__version__}", __doc__))
