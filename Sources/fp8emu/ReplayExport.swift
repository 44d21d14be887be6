import ArgumentParser
import FP8IO
import Foundation
import MixedPrecision

/// `fp8emu replay-export` (hidden): an FP32 run's initial weights, every batch it trained on and
/// its per-step losses in one safetensors file, so that another framework can replay the run
/// from the same start on the same data (scripts/torch_twin.py does, in PyTorch).
struct ReplayExport: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "replay-export",
    abstract: "Write an FP32 run's initial weights, batches and losses to one safetensors file.",
    shouldDisplay: false)

  @Option(help: "Output safetensors file.") var output: String
  @Option(help: "Optimiser steps.") var steps: Int = 50
  @Option(help: "Learning-rate warm-up steps.") var warmup: Int = 10
  @Option(help: "Random seed (initialisation and data).") var seed: UInt64 = 1
  @Option(help: "Transformer blocks.") var layers: Int = 2
  @Option(help: "Model width d.") var width: Int = 64
  @Option(help: "Attention heads.") var heads: Int = 4
  @Option(help: "Micro-batches per optimiser step.") var accumulation: Int = 4
  @Option(help: "Sequences per micro-batch (default: the task's).") var microBatch: Int?
  @Option(help: "Built-in task: wordchain or addition.") var task: String = "wordchain"

  /// Forwards to a task and keeps every training batch it hands out, in order.
  final class Recorder: TrainingTask, @unchecked Sendable {
    let base: any TrainingTask
    var batches: [Batch] = []
    init(_ base: any TrainingTask) { self.base = base }
    var name: String { base.name }
    var vocab: Int { base.vocab }
    var sequenceLength: Int { base.sequenceLength }
    var metricName: String { base.metricName }
    var defaultMicroBatch: Int { base.defaultMicroBatch }
    func trainBatch(_ rng: inout TrainRNG, size: Int) -> Batch {
      let b = base.trainBatch(&rng, size: size)
      batches.append(b)
      return b
    }
    func evaluate(logits: ([Int], Int, Int) throws(TrainingError) -> [Float]) throws(TrainingError) -> (metric: Double, loss: Double) {
      try base.evaluate(logits: logits)
    }
    func heldOutLoss(logits: ([Int], Int, Int) throws(TrainingError) -> [Float]) throws(TrainingError) -> Double {
      try base.heldOutLoss(logits: logits)
    }
  }

  func run() throws {
    guard steps > 0, accumulation > 0, layers > 0, width > 0, heads > 0, width % heads == 0 else {
      throw ValidationError("steps, accumulation, layers, width and heads must be positive, width a multiple of heads")
    }
    guard let builtIn = BuiltInTask(rawValue: task) else {
      throw ValidationError("--task: \(BuiltInTask.allCases.map(\.rawValue).joined(separator: " or "))")
    }
    let recorder = Recorder(try builtIn.make())
    var o = TrainingOptions()
    o.recipe = .fp32; o.steps = steps; o.warmupSteps = warmup; o.seed = seed
    o.accumulation = accumulation; o.microBatch = microBatch ?? recorder.defaultMicroBatch
    let config = TransformerConfig(vocab: recorder.vocab, maxSeq: recorder.sequenceLength, d: width, heads: heads, layers: layers)
    let trainer = try Trainer(options: o, task: recorder, engine: TensorCoreMatmulEngine(), model: config)
    let initial = trainer.model.params
    var losses: [Float] = [], rates: [Float] = [], norms: [Float] = []
    for _ in 0..<steps {
      let r = try trainer.trainStep()
      losses.append(r.loss); rates.append(r.learningRate); norms.append(Float(r.gradNorm))
    }

    var items: [(entry: SafetensorsWriter.Entry, bytes: [UInt8])] = []
    func add<S: FixedWidthInteger>(_ name: String, _ dtype: SafetensorsDType, _ shape: [Int], _ words: [S]) {
      var b = [UInt8](); b.reserveCapacity(words.count * MemoryLayout<S>.size)
      for w in words { withUnsafeBytes(of: w.littleEndian) { b += $0 } }
      items.append((SafetensorsWriter.Entry(name: name, dtype: dtype, shape: shape), b))
    }
    func f32(_ name: String, _ shape: [Int], _ x: [Float]) { add(name, .f32, shape, x.map(\.bitPattern)) }
    // Matrices as (out, in), PyTorch's nn.Linear layout; embeddings as (rows, d).
    let f = config.ffnMultiplier * width
    for ((name, count), p) in zip(config.parameterShapes, initial) {
      let shape = name.hasSuffix("fc2.w") ? [width, f] : name.hasSuffix(".w") || name.hasSuffix("_emb") ? [count / width, width] : [count]
      f32("param.\(name)", shape, p)
    }
    let b0 = recorder.batches[0]
    let shape = [steps, accumulation, b0.batch, b0.seq]
    add("tokens", .i32, shape, recorder.batches.flatMap { $0.tokens.map { Int32($0) } })
    add("targets", .i32, shape, recorder.batches.flatMap { $0.targets.map { Int32($0) } })
    f32("loss_weights", shape, recorder.batches.flatMap(\.weights))
    f32("losses", [steps], losses)
    f32("learning_rates", [steps], rates)
    f32("grad_norms", [steps], norms)
    let meta: [String: String] = [
      "vocab": "\(config.vocab)", "max_seq": "\(config.maxSeq)", "d": "\(config.d)", "heads": "\(config.heads)",
      "layers": "\(config.layers)", "ffn_multiplier": "\(config.ffnMultiplier)",
      "lr": "\(o.learningRate)", "warmup_steps": "\(o.warmupSteps)", "steps": "\(o.steps)",
      "final_lr_fraction": "\(o.finalLRFraction)", "weight_decay": "\(o.weightDecay)", "beta1": "\(o.beta1)",
      "beta2": "\(o.beta2)", "epsilon": "\(o.epsilon)", "clip_norm": o.clipNorm.map { "\($0)" } ?? "none",
    ]
    try SafetensorsWriter.write(path: output, tensors: items, metadata: meta)
  }
}
