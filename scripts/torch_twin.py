#!/usr/bin/env python3
"""The training model of `fp8emu train` in PyTorch: the numerics oracle of our FP32 run and the
speed baseline of `fp8-bench train`.

The twin has our parametrisation exactly (Sources/MixedPrecision/Transformer.swift, Layers.swift):
token + position embeddings; pre-norm blocks (LayerNorm eps 1e-5 -> fused q|k|v linear, head h at
columns h*dh of each third -> causal softmax attention scaled by 1/sqrt(dh) -> output projection ->
residual add; LayerNorm -> linear 4d -> GELU tanh form -> linear d -> residual add); final
LayerNorm; untied output head; cross-entropy weighted per position (sum w*nll / sum w). Training
(Trainer.swift, Optimizer.swift, Recipe.swift): micro-batch gradients summed then divided by their
count; global-norm clipping (norm in FP64, scale Float(max/norm) when above max); AdamW with
decoupled weight decay on matrices only (names ending in .w); linear warm-up then cosine decay to
a fraction of the peak.

  torch_twin.py check FP8EMU [--steps 50] [--layers 2,4]
      exports FP32 runs from our binary (`fp8emu replay-export`), replays them here from the same
      initial weights on the same batches, and fails unless every step's loss agrees within
      --tolerance (relative; default 1e-5).
  torch_twin.py replay FILE
      the same for one export file.
  torch_twin.py serve
      the timing side of `fp8-bench train`: reads one JSON request per line on stdin, answers one
      JSON line per request with the per-step times of PyTorch FP32 or torchao's emulated FP8.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file


class Block(torch.nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.heads = heads
        self.ln1 = torch.nn.LayerNorm(d, eps=1e-5)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.ln2 = torch.nn.LayerNorm(d, eps=1e-5)
        self.fc1 = torch.nn.Linear(d, ffn * d)
        self.fc2 = torch.nn.Linear(ffn * d, d)

    def forward(self, h):
        b, t, d = h.shape
        dh = d // self.heads
        q, k, v = self.qkv(self.ln1(h)).split(d, dim=2)
        q, k, v = (x.view(b, t, self.heads, dh).transpose(1, 2) for x in (q, k, v))
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.proj(att.transpose(1, 2).reshape(b, t, d))
        return h + self.fc2(F.gelu(self.fc1(self.ln2(h)), approximate="tanh"))


class Twin(torch.nn.Module):
    def __init__(self, vocab, max_seq, d, heads, layers, ffn=4):
        super().__init__()
        self.tok_emb = torch.nn.Parameter(torch.zeros(vocab, d))
        self.pos_emb = torch.nn.Parameter(torch.zeros(max_seq, d))
        self.blocks = torch.nn.ModuleList(Block(d, heads, ffn) for _ in range(layers))
        self.lnf = torch.nn.LayerNorm(d, eps=1e-5)
        self.head = torch.nn.Linear(d, vocab)

    def forward(self, tokens):
        h = self.tok_emb[tokens] + self.pos_emb[: tokens.shape[1]]
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.lnf(h)).reshape(-1, self.head.out_features)

    def named_like_ours(self):
        """Our parameter names (TransformerConfig.parameterShapes) -> this module's tensors."""
        out = {"tok_emb": self.tok_emb, "pos_emb": self.pos_emb}
        for i, blk in enumerate(self.blocks):
            for ours, mod in (("ln1", blk.ln1), ("ln2", blk.ln2)):
                out[f"block{i}.{ours}.g"] = mod.weight
                out[f"block{i}.{ours}.b"] = mod.bias
            for ours in ("qkv", "proj", "fc1", "fc2"):
                lin = getattr(blk, ours)
                out[f"block{i}.{ours}.w"] = lin.weight
                out[f"block{i}.{ours}.b"] = lin.bias
        out.update({"lnf.g": self.lnf.weight, "lnf.b": self.lnf.bias, "head.w": self.head.weight, "head.b": self.head.bias})
        return out


def weighted_loss(logits, targets, weights):
    nll = F.cross_entropy(logits, targets.reshape(-1), reduction="none")
    w = weights.reshape(-1)
    return (w * nll).sum() / w.sum()


def learning_rate(step, lr, warmup, steps, final_fraction):
    """TrainingOptions.learningRate(at:), in FP32 as ours computes it."""
    f32 = np.float32
    if step < warmup:
        return f32(lr) * f32(step + 1) / f32(warmup)
    t = f32(step - warmup) / f32(max(1, steps - warmup))
    # Swift's Float.pi is pi rounded toward zero; cosf is rounded correctly (glibc's is), unlike
    # NumPy's vectorised FP32 cosine.
    pi = np.nextafter(f32(math.pi), f32(0)) if float(f32(math.pi)) > math.pi else f32(math.pi)
    c = f32(0.5) * (f32(1) + f32(math.cos(float(pi * min(f32(1), t)))))
    return f32(lr) * (f32(final_fraction) + (f32(1) - f32(final_fraction)) * c)


def make_optimizer(model, lr, weight_decay, beta1, beta2, eps):
    named = model.named_like_ours()
    decay = [p for n, p in named.items() if n.endswith(".w")]
    rest = [p for n, p in named.items() if not n.endswith(".w")]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(beta1, beta2), eps=eps)


def clip_global_norm(params, max_norm):
    """Clipping.byGlobalNorm: the norm in FP64, one FP32 factor when it exceeds max_norm."""
    norm = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in params))
    if max_norm is not None and norm > max_norm and math.isfinite(norm):
        f = float(np.float32(max_norm / norm))
        for p in params:
            p.grad.mul_(f)
    return norm


def replay(path, tolerance, threads=1):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t = load_file(path)
    with open(path, "rb") as fh:
        meta = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))["__metadata__"]
    cfg = {k: int(meta[k]) for k in ("vocab", "max_seq", "d", "heads", "layers", "ffn_multiplier")}
    model = Twin(cfg["vocab"], cfg["max_seq"], cfg["d"], cfg["heads"], cfg["layers"], cfg["ffn_multiplier"])
    named = model.named_like_ours()
    with torch.no_grad():
        for name, p in named.items():
            src = t["param." + name]
            if tuple(src.shape) != tuple(p.shape):
                raise SystemExit(f"{path}: {name} has shape {src.shape}, the twin expects {tuple(p.shape)}")
            p.copy_(torch.from_numpy(src))
    if len(named) != sum(1 for k in t if k.startswith("param.")):
        raise SystemExit(f"{path}: parameter sets differ")
    lr, warmup, steps = float(meta["lr"]), int(meta["warmup_steps"]), int(meta["steps"])
    frac = float(meta["final_lr_fraction"])
    clip = None if meta["clip_norm"] == "none" else float(meta["clip_norm"])
    opt = make_optimizer(model, lr, float(meta["weight_decay"]), float(meta["beta1"]), float(meta["beta2"]), float(meta["epsilon"]))
    params = list(named.values())
    tokens, targets, weights = (torch.from_numpy(t[k]) for k in ("tokens", "targets", "loss_weights"))
    ours = t["losses"]
    n = min(len(ours), tokens.shape[0])
    worst, worst_step = 0.0, 0
    for step in range(n):
        rate = learning_rate(step, lr, warmup, steps, frac)
        if rate != t["learning_rates"][step]:
            raise SystemExit(f"{path}: step {step}: learning rate {rate!r} here, {t['learning_rates'][step]!r} ours")
        for g in opt.param_groups:
            g["lr"] = float(rate)
        opt.zero_grad(set_to_none=False)
        acc = tokens.shape[1]
        total = 0.0
        for micro in range(acc):
            loss = weighted_loss(model(tokens[step, micro].long()), targets[step, micro].long(), weights[step, micro])
            loss.backward()
            total += loss.item()
        for p in params:
            p.grad.mul_(float(np.float32(1) / np.float32(acc)))
        clip_global_norm(params, clip)
        opt.step()
        mine = total / acc
        rel = abs(mine - float(ours[step])) / abs(float(ours[step]))
        if rel > worst:
            worst, worst_step = rel, step
    ok = worst <= tolerance
    label = f"{cfg['layers']} layers, d {cfg['d']}, {cfg['heads']} heads, seq {cfg['max_seq']}"
    print(f"{'ok' if ok else 'FAIL'}: {label}: {n} steps, max relative loss difference {worst:.2e} (step {worst_step}), "
          f"tolerance {tolerance:.0e}")
    return ok


def check(args):
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for layers in (int(x) for x in args.layers.split(",")):
            path = os.path.join(tmp, f"run{layers}.safetensors")
            subprocess.run([args.fp8emu, "replay-export", "--output", path, "--steps", str(args.steps), "--layers", str(layers)],
                           check=True)
            ok &= replay(path, args.tolerance)
    return 0 if ok else 1


# -- timing (fp8-bench train) --------------------------------------------------------------------

def flops_per_token(vocab, seq, d, heads, layers, ffn=4):
    """Matrix-product FLOPs of one training token: forward 2 x (linear weights) + attention
    2 x 2 x seq x d per layer (QK^T and PV over the full square, as nanoGPT counts), backward twice
    the forward."""
    linear = layers * (3 * d * d + d * d + 2 * ffn * d * d) + vocab * d
    return 3 * (2 * linear + 4 * layers * seq * d)


_models = {}


def timed_model(req):
    key = (req["run"], req["vocab"], req["seq"], req["d"], req["heads"], req["layers"])
    if key in _models:
        return _models[key]
    torch.manual_seed(1)
    model = Twin(req["vocab"], req["seq"], req["d"], req["heads"], req["layers"])
    with torch.no_grad():
        for name, p in model.named_like_ours().items():
            if name.endswith(".g"):
                p.fill_(1)
            elif name.endswith(".b"):
                p.zero_()
            else:
                p.normal_(0, 0.1)
    if req["run"] == "torchao-fp8":
        from torchao.float8 import Float8LinearConfig, convert_to_float8_training
        # Tensor-wise dynamic scaling (the default recipe), emulated on the CPU; the head stays
        # in high precision as in our runs (and its vocabulary is not a multiple of 16).
        convert_to_float8_training(model, module_filter_fn=lambda m, fqn: fqn != "head",
                                   config=Float8LinearConfig(emulate=True))
    elif req["run"] != "fp32":
        raise ValueError(f"unknown run {req['run']}")
    opt = make_optimizer(model, 1e-4, 0.01, 0.9, 0.99, 1e-8)
    g = torch.Generator().manual_seed(2)
    shape = (req["accumulation"], req["micro_batch"], req["seq"])
    data = (torch.randint(0, req["vocab"], shape, generator=g), torch.randint(0, req["vocab"], shape, generator=g),
            torch.ones(shape))
    _models[key] = (model, opt, data)
    return _models[key]


def train_step(model, opt, data):
    tokens, targets, weights = data
    opt.zero_grad(set_to_none=False)
    for micro in range(tokens.shape[0]):
        weighted_loss(model(tokens[micro]), targets[micro], weights[micro]).backward()
    params = [p for p in model.parameters()]
    for p in params:
        p.grad.mul_(1.0 / tokens.shape[0])
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def serve():
    """One request per line: {"run": "fp32"|"torchao-fp8", "vocab", "seq", "d", "heads", "layers",
    "micro_batch", "accumulation", "threads", "steps", "warmup"}; answers {"seconds": [...],
    "cpu_seconds": [...]} (the wall time and the process's CPU time of each timed step) or
    {"error": "..."}. An empty line or EOF ends."""
    print(json.dumps({"ready": True, "torch": torch.__version__, "torchao": _torchao_version()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        try:
            req = json.loads(line)
            torch.set_num_threads(int(req["threads"]))
            model, opt, data = timed_model(req)
            for _ in range(int(req.get("warmup", 1))):
                train_step(model, opt, data)
            times, cpu = [], []
            for _ in range(int(req["steps"])):
                s, c = time.perf_counter(), time.process_time()
                train_step(model, opt, data)
                times.append(time.perf_counter() - s)
                cpu.append(time.process_time() - c)
            print(json.dumps({"seconds": times, "cpu_seconds": cpu}), flush=True)
        except Exception as e:  # the bench prints the reason and leaves the column empty
            print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)


def _torchao_version():
    try:
        import torchao
        from torchao.float8 import convert_to_float8_training  # noqa: F401
        return torchao.__version__
    except Exception:
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="export runs from fp8emu and replay them")
    c.add_argument("fp8emu")
    c.add_argument("--steps", type=int, default=50)
    c.add_argument("--layers", default="2,4")
    c.add_argument("--tolerance", type=float, default=1e-5)
    r = sub.add_parser("replay", help="replay one export file")
    r.add_argument("file")
    r.add_argument("--tolerance", type=float, default=1e-5)
    sub.add_parser("serve", help="timing server of fp8-bench train")
    args = p.parse_args()
    if args.cmd == "check":
        return check(args)
    if args.cmd == "replay":
        return 0 if replay(args.file, args.tolerance) else 1
    serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
