// FP8 mixed-precision training on emulated tensor cores.
//
// Layout of this module:
//   Numerics.swift     numerics choice (ideal, H100 fast/promoted, B200, A100 hybrid FP16), GPU selection
//   MatmulEngine.swift the one protocol every matrix product of the model goes through; the ideal engine
//   Scaling.swift      scale logic: delayed (amax history), current, rowwise, blockwise, MX (E8M0)
//   Quantizer.swift    quantise an operand at a granularity, with monitor statistics
//   Recipe.swift       the recipes and the training options (error compensation, precision schedule)
//   Scalar.swift       the scalar protocol the layers are generic over (Float in training, Double in tests)
//   Layers.swift       layers with hand-written backward passes
//   Transformer.swift  the decoder-only transformer
//   Tasks.swift        the built-in addition task and the character-level text task
//   Optimizer.swift    AdamW on FP32 masters, dynamic loss scaling, clipping
//   Trainer.swift      the training loop and its FP8 matrix-product hook
//   Monitor.swift      per-step records, CSV / JSON-lines logs
//   Checkpoint.swift   save / resume
//   Comparison.swift   run several recipes and build the result table; SVG plot
@_exported import FP8
