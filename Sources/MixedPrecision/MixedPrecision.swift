// FP8 mixed-precision training on emulated tensor cores.
//
// Layout of this module:
//   TrainingGPU.swift      the GPU a run emulates and the numerics of its FP8 products
//   MatmulEngine.swift     the one protocol every matrix product of the model goes through; the ideal engine
//   TensorCoreEngine.swift the engine over the tensor-core model
//   Scaling.swift          scale formulas: delayed (amax history), current, MX (E8M0)
//   FP8Cast.swift          the training cast to FP8 at a granularity, with monitor statistics
//   Recipe.swift           the recipes by name and the protocol a recipe implements
//   Recipes/               one file per recipe family
//   TrainingOptions.swift  the training options (error compensation, precision schedule)
//   Scalar.swift           the scalar protocol the layers are generic over (Float in training, Double in tests)
//   Layers.swift           layers with hand-written backward passes
//   Transformer.swift      the decoder-only transformer
//   Tasks.swift            the built-in addition task and the character-level text task
//   Optimizer.swift        AdamW on FP32 masters, dynamic loss scaling, clipping
//   Trainer.swift          the training step and its FP8 matrix-product hook
//   Comparison.swift       runs a recipe to a result; several to a table
//   Monitor.swift          per-step records, CSV / JSON-lines logs
//   Checkpoint.swift       save / resume
