"""An FP8 nn.Linear for small experiments: all three products of a linear layer (forward,
input gradient, weight gradient) as scaled FP8 products with a chosen GPU's tensor-core
numerics, scaled as the training recipes of the fp8emu CLI:

| recipe    | x, W   | dy    | scales                                                        |
|-----------|--------|-------|---------------------------------------------------------------|
| current   | E4M3   | E5M2  | per tensor, from the current amax (torchao's default)         |
| delayed   | E4M3   | E5M2  | per tensor, from the amax history (Transformer Engine)        |
| rowwise   | E4M3   | E5M2  | per row of the left operand, per column of the right one      |
| blockwise | E4M3   | E4M3  | 1x128 tiles (left operand), 128x128 blocks (right; DeepSeek-V3) |
| mxfp8     | E4M3   | E5M2  | E8M0 power of two per 32 elements along K (OCP MX rule)       |

Scales are s = amax / max_finite of the group (1 for an all-zero group) and q = satfinite(x / s)
with round-to-nearest-even, the division in FP32. Accumulation: forward "fast" and both gradient
products "promoted" (Transformer Engine's defaults: split accumulation in the backward pass
only); blockwise "promoted" throughout (DeepGEMM); `accumulation=` fixes one for all three."""
import torch

from . import _arrays as A
from . import _cfp8 as C
from .cast import cast
from .matmul import scaled_mm

RECIPES = ("current", "delayed", "rowwise", "blockwise", "mxfp8")
_MAX = {"e4m3": 448.0, "e5m2": 57344.0}


def _quantize(x, fmt, granularity):
    """C quantiser on a contiguous float32 tensor: (q as torch float8, scales float32 or E8M0 bytes)."""
    rows, cols = x.shape
    q = torch.empty((rows, cols), dtype=A.TORCH_DTYPES[fmt])
    if granularity == C.GRANULARITY_MX32:
        s = torch.empty((rows, (cols + 31) // 32), dtype=torch.uint8)
        C.quantize(x.data_ptr(), C.FORMAT_F32, rows, cols, A.FORMATS[fmt], granularity, C.MX_FLOOR, q.data_ptr(), None,
                   s.data_ptr(), C.ISA_AUTO, 0)
        return q, s.view(A.TORCH_DTYPES["e8m0"])
    shape = {C.GRANULARITY_TENSOR: (1,), C.GRANULARITY_ROW: (rows,),
             C.GRANULARITY_BLOCK128: ((rows + 127) // 128, (cols + 127) // 128)}[granularity]
    s = torch.empty(shape, dtype=torch.float32)
    C.quantize(x.data_ptr(), C.FORMAT_F32, rows, cols, A.FORMATS[fmt], granularity, C.MX_FLOOR, q.data_ptr(),
               s.data_ptr(), None, C.ISA_AUTO, 0)
    return q, s


class _Scaling:
    """Quantises the operands of one product y = a @ b (a: M x K, b: K x N, float32) by recipe."""

    def __init__(self, recipe, history_length):
        self.recipe = recipe
        self.history = {}  # delayed scaling: tensor role -> recent amaxes
        self.history_length = history_length

    def operands(self, a, b, fa, fb, roles):
        r = self.recipe
        if r in ("current", "delayed"):
            qa, sa = self._per_tensor(a, fa, roles[0])
            qb, sb = self._per_tensor(b.t().contiguous(), fb, roles[1])
            return qa, qb.t(), sa, sb
        if r == "rowwise":
            qa, sa = _quantize(a, fa, C.GRANULARITY_ROW)
            qb, sb = _quantize(b.t().contiguous(), fb, C.GRANULARITY_ROW)
            return qa, qb.t(), sa.reshape(-1, 1), sb.reshape(1, -1)
        if r == "blockwise":
            m, k = a.shape
            kp = (k + 127) // 128 * 128
            padded = torch.nn.functional.pad(a, (0, kp - k)) if kp != k else a
            qa, sa = _quantize(padded.reshape(-1, 128), fa, C.GRANULARITY_ROW)  # 1x128 tiles as rows of 128
            qb, sb = _quantize(b.contiguous(), fb, C.GRANULARITY_BLOCK128)
            return qa.reshape(m, kp)[:, :k], qb, sa.reshape(m, kp // 128), sb
        qa, sa = _quantize(a, fa, C.GRANULARITY_MX32)
        qb, sb = _quantize(b.t().contiguous(), fb, C.GRANULARITY_MX32)
        return qa, qb.t(), sa, sb.t()

    def _per_tensor(self, x, fmt, role):
        amax = float(x.abs().max()) if x.numel() else 0.0
        if self.recipe == "delayed":
            past = self.history.setdefault(role, [])
            reference = max(past) if past else amax
            past.append(amax)
            del past[:-self.history_length]
        else:
            reference = amax
        s = reference / _MAX[fmt] if reference > 0 else 1.0
        s = torch.tensor([s], dtype=torch.float32)
        return cast(x / s, fmt, preset="cuda-satfinite"), s


class _FP8LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, layer):
        x32, w32 = x.float().contiguous(), weight.float().contiguous()
        y = layer._product(x32, w32.t(), "e4m3", "e4m3", ("x", "w"), layer._forward_accumulation,
                           None if bias is None else bias.float())
        ctx.save_for_backward(x32, w32)
        ctx.layer, ctx.has_bias, ctx.dtypes = layer, bias is not None, (x.dtype, weight.dtype)
        return y.to(x.dtype)

    @staticmethod
    def backward(ctx, dy):
        x32, w32 = ctx.saved_tensors
        layer = ctx.layer
        g = layer.gradient_format
        dy32 = dy.float().contiguous()
        acc = layer._backward_accumulation
        dx = layer._product(dy32, w32, g, "e4m3", ("g", "w_t"), acc) if ctx.needs_input_grad[0] else None
        dw = (layer._product(dy32.t().contiguous(), x32, g, "e4m3", ("g_t", "x_t"), acc)
              if ctx.needs_input_grad[1] else None)
        db = dy32.sum(0).to(ctx.dtypes[1]) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return (None if dx is None else dx.to(ctx.dtypes[0]), None if dw is None else dw.to(ctx.dtypes[1]), db, None)


class Linear(torch.nn.Linear):
    """torch.nn.Linear whose three products run in FP8 with `gpu`'s tensor-core numerics
    (CPU tensors only). Parameters and state dict are nn.Linear's."""

    def __init__(self, in_features, out_features, bias=True, *, recipe="current", gpu="h100", accumulation=None,
                 gradient_format=None, amax_history_length=1024, device=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}: one of {', '.join(RECIPES)}")
        self.recipe, self.gpu = recipe, gpu
        self.gradient_format = gradient_format or ("e4m3" if recipe == "blockwise" else "e5m2")
        self._forward_accumulation = accumulation or ("promoted" if recipe == "blockwise" else "fast")
        self._backward_accumulation = accumulation or "promoted"
        self._scaling = _Scaling(recipe, amax_history_length)

    @classmethod
    def from_linear(cls, linear, **options):
        """An FP8 copy of an nn.Linear (same parameters, copied)."""
        new = cls(linear.in_features, linear.out_features, bias=linear.bias is not None, dtype=linear.weight.dtype,
                  **options)
        new.load_state_dict(linear.state_dict())
        return new

    def _product(self, a, b, fa, fb, roles, accumulation, bias=None):
        qa, qb, sa, sb = self._scaling.operands(a, b, fa, fb, roles)
        return scaled_mm(qa, qb, sa, sb, bias=bias, out_dtype=torch.float32, gpu=self.gpu, accumulation=accumulation)

    def forward(self, x):
        lead = x.shape[:-1]
        y = _FP8LinearFunction.apply(x.reshape(-1, self.in_features), self.weight, self.bias, self)
        return y.reshape(*lead, self.out_features)

    def extra_repr(self):
        return f"{super().extra_repr()}, recipe={self.recipe}, gpu={self.gpu}"
