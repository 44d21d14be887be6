"""NVIDIA GPU presets: the block-FMA model of each generation's tensor cores, and the ways a
matrix product chains blocks along K.

The C header takes a model (cfp8_tc_model) but holds no GPU table; this is the one copy of the
table on the Python side and mirrors the Swift library's GPUArchitecture (same names, same
numbers; `fp8emu gemm --gpu NAME` and `fp8emu validate` use those):

| preset        | sm  | FP8 E4M3/E5M2                   | FP16 / BF16 | TF32      | Emin FP32 / FP16 acc |
|---------------|-----|---------------------------------|-------------|-----------|----------------------|
| V100          | 70  | - (hybrid FP16)                 | L=4, F=23 (FP16 only) | - | none / -19       |
| A100, A30, A2 | 80/86 | - (hybrid FP16)               | L=8, F=24   | L=4, F=24 | -132 / -20           |
| Ada, L40S     | 89  | L=16, F=13                      | L=8, F=24   | L=4, F=24 | -132 / -20           |
| H100, H200    | 90  | L=32, F=13                      | L=16, F=25  | L=8, F=25 | -133 / -21           |
| B200          | 100 | L=32, F=24, c added after (RNE) | L=16, F=25  | L=8, F=25 | -133 / -21           |

FP8 inputs with an FP16 accumulator: Ada fuses c into blocks of 16 (F = 13) and rounds the exact
sum to FP16; H100/H200 and B200 run the 32 products as two FP16 half-blocks of 16 (F = 25) over
interleaved pairs from zero, then add c, rounded to FP16, with one RNE FP16 addition.

Measured on V100, A100, an RTX 1000 Ada, H100 and B200 (the real-GPU vectors); A2, A30, L40S
and H200 share their generation's numerics by assumption.
"""
from dataclasses import dataclass

from . import _cfp8 as C

_GENERATION_OF = {  # name -> (generation, compute capability)
    "V100": ("volta", 70),
    "A100": ("ampere", 80),
    "A2": ("ampere", 86),
    "A30": ("ampere", 80),
    "Ada": ("ada", 89),
    "L40S": ("ada", 89),
    "H100": ("hopper", 90),
    "H200": ("hopper", 90),
    "B200": ("blackwell", 100),
}
GPU_NAMES = tuple(_GENERATION_OF)
TENSOR_CORE_INPUTS = ("e4m3", "e5m2", "fp16", "bf16", "tf32")


@dataclass(frozen=True)
class BlockFMAModel:
    """d = c + sum of L products as one fused step, terms truncated to F bits below the alignment
    point (floored at min_exponent; None: no floor), rounded toward zero to FP32 (accumulator
    "fp32") or to nearest even to FP16 ("fp16"). c_input: "fused" (c is one more term), "added"
    (B200 FP8: c added after the block with one RNE FP32 add), "added_halves" (H100/B200 FP8 with
    an FP16 accumulator: two half-blocks of interleaved pairs from zero, then c added in FP16)."""
    block_size: int
    fraction_bits: int
    min_exponent: "int | None"
    accumulator: str = "fp32"
    c_input: str = "fused"

    def as_c(self):
        return (self.block_size, self.fraction_bits,
                C.TC_NO_MIN_EXPONENT if self.min_exponent is None else self.min_exponent,
                C.TC_ACC_F16 if self.accumulator == "fp16" else C.TC_ACC_F32,
                {"fused": C.TC_C_FUSED, "added": C.TC_C_ADDED, "added_halves": C.TC_C_ADDED_HALVES}[self.c_input])


@dataclass(frozen=True)
class GPU:
    name: str
    compute_capability: int
    generation: str

    @property
    def has_native_fp8(self):
        return self.compute_capability >= 89

    def native_inputs(self):
        if self.generation == "volta":
            return ("fp16",)
        if self.generation == "ampere":
            return ("fp16", "bf16", "tf32")
        return TENSOR_CORE_INPUTS

    def model(self, input, accumulator="fp32"):
        """The block-FMA model for an input format, or None when the tensor cores lack it."""
        if input not in self.native_inputs() or accumulator not in ("fp32", "fp16"):
            return None
        if accumulator == "fp16" and input in ("bf16", "tf32"):
            return None
        g = self.generation
        emin32, emin16 = {"volta": (None, -19), "ampere": (-132, -20), "ada": (-132, -20)}.get(g, (-133, -21))
        fp8 = input in ("e4m3", "e5m2")
        if g == "volta":
            lf = (4, 23)
        elif input == "tf32":
            lf = (4, 24) if g in ("ampere", "ada") else (8, 25)
        elif g in ("ampere", "ada") and not fp8:
            lf = (8, 24)
        elif g == "ada":
            lf = (16, 13)
        elif fp8 and accumulator == "fp16":
            lf = (32, 25)
        elif fp8:
            lf = (32, 13) if g == "hopper" else (32, 24)
        else:
            lf = (16, 25)
        if fp8 and accumulator == "fp16" and g in ("hopper", "blackwell"):
            c_input = "added_halves"
        elif fp8 and g == "blackwell":
            c_input = "added"
        else:
            c_input = "fused"
        return BlockFMAModel(lf[0], lf[1], emin16 if accumulator == "fp16" else emin32, accumulator, c_input)

    def __str__(self):
        return f"{self.name} (sm_{self.compute_capability})"


PRESETS = {name: GPU(name, cc, gen) for name, (gen, cc) in _GENERATION_OF.items()}


def gpu_named(name):
    """A preset by name, case-insensitive ("h100", "L40S"), or by compute capability ("sm_90")."""
    if isinstance(name, GPU):
        return name
    key = str(name).lower()
    for gpu in PRESETS.values():
        if gpu.name.lower() == key:
            return gpu
    for gpu in PRESETS.values():
        if f"sm_{gpu.compute_capability}" == key:
            return gpu
    raise ValueError(f"unknown GPU {name!r}: one of {', '.join(GPU_NAMES)} (or sm_NN)")


def parse_accumulation(name):
    """'fast', 'promoted' (every 128), 'promoted=N', 'ideal', 'exact' -> (C code, interval)."""
    s = str(name).lower()
    fixed = {"fast": C.TC_ACCUM_FAST, "promoted": C.TC_ACCUM_PROMOTED, "ideal": C.TC_ACCUM_IDEAL,
             "exact": C.TC_ACCUM_EXACT}
    if s in fixed:
        return fixed[s], 128
    if s.startswith("promoted="):
        try:
            n = int(s[len("promoted="):])
        except ValueError:
            n = 0
        if n > 0:
            return C.TC_ACCUM_PROMOTED, n
    raise ValueError(f"unknown accumulation {name!r}: fast, promoted, promoted=N, ideal, exact")
