#!/usr/bin/env python3
"""The pytorch preset against torch's CPU casts (pinned in scripts/requirements.txt) on every input.

E4M3 (torch.float8_e4m3fn), E5M2 (float8_e5m2), E4M3FNUZ and E5M2FNUZ (float8_e4m3fnuz,
float8_e5m2fnuz), round to nearest even: all 2^32 FP32, all 2^16 FP16 and all 2^16 BF16 bit
patterns, CFP8's scalar reference and its best SIMD path, byte for byte (cfp8_oracle.py). The
bit patterns go into torch as they are (an int tensor viewed as float32 / float16 / bfloat16):
torch's own FP32 -> BF16 cast would turn +NaN into 0xFFFF, a negative NaN. E8M0 is not compared:
CFP8's E8M0 follows ml_dtypes whatever the preset, and torch's float8_e8m0fnu cast is another rule.
Prints a table; exits 1 on any mismatch.

Usage: python3 scripts/oracle_torch.py [--stride N] [--workers N] [--formats e4m3,e5m2,...] [--markdown]
  --stride N checks every N-th FP32 chunk only (quick runs); the default 1 checks all 2^32.
  --markdown prints the preset table's cells as torch gives them, and exits.
"""
import sys

import numpy as np
import torch

import cfp8_oracle

torch.set_num_threads(1)  # one worker process per core does the sharing
TYPES = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2, "e4m3fnuz": torch.float8_e4m3fnuz,
         "e5m2fnuz": torch.float8_e5m2fnuz}
SOURCES = {"f32": (np.int32, torch.float32), "f16": (np.int16, torch.float16), "bf16": (np.int16, torch.bfloat16)}


def cast(name, source, bits, out):
    """torch's CPU cast (as x.to(dtype)) of the bit patterns `bits`, as bytes into `out`."""
    as_int, dtype = SOURCES[source]
    x = torch.from_numpy(bits.view(as_int)).view(dtype)
    torch.from_numpy(out).view(TYPES[name]).copy_(x)


if __name__ == "__main__":
    sys.exit(cfp8_oracle.main(cast, list(TYPES), "pytorch", f"torch {torch.__version__} CPU casts", __doc__))
