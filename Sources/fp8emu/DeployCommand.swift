import ArgumentParser
import Deployment
import FP8
import FP8IO
import Foundation
import MixedPrecision

/// `fp8emu deploy`: the deployment table (accuracy and model size per quantisation tier).
struct Deploy: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Quantise a trained model for deployment (FP8, INT8, INT4, MXFP4, NVFP4) and tabulate accuracy and size.",
    discussion: """
      The model is a checkpoint written by `fp8emu train --recipe fp32 --save-checkpoint FILE`, or, without \
      --checkpoint, one trained here with the FP32 recipe on the addition task. INT8 rows use per-channel \
      weights and per-tensor activations (static: calibrated on training batches; dynamic: amax at run time) \
      through the exact INT8 GEMM; 4-bit rows quantise the weights only.
      """)

  @Option(help: "Checkpoint of a trained model (fp8emu train --save-checkpoint).") var checkpoint: String?
  @Option(help: "Without --checkpoint: optimiser steps of the FP32 training run. (default: 300)") var steps: Int?
  @Option(help: "Without --checkpoint: random seed. (default: 1)") var seed: UInt64?
  @Option(help: "Digits of the addition task, 1 to 9.") var digits: Int = 2
  @Option(help: "Calibration sequences (drawn from the training distribution).") var calibration: Int = 128
  @Option(help: "SIMD path of the INT8 GEMM (scalar, avx2, avx512, neon; default: best).") var isa: String = "auto"
  @Option(help: "Threads of the INT8 GEMM (0: all).") var threads: Int = 0
  @Flag(help: "One JSON object per row.") var json = false
  @Flag(help: "Print nothing but the result: no progress.") var quiet = false
  @OptionGroup var memory: MemoryOption

  func validate() throws {
    try Check.applies(steps != nil, "--steps", when: checkpoint == nil, "without --checkpoint")
    try Check.applies(seed != nil, "--seed", when: checkpoint == nil, "without --checkpoint")
    if let steps { try Check.inRange(steps, 1...1_000_000_000, "--steps") }
    try Check.inRange(digits, 1...9, "--digits")
    try Check.inRange(calibration, 1...1 << 20, "--calibration")
    try Check.inRange(threads, 0...4096, "--threads")
    _ = try isaOption(isa)
  }

  /// One row of --json.
  struct Row: Encodable {
    var tier: String, metric: String, accuracy: Double, heldOutLoss: Double, deltaVsFP32: Double
    var modelBytes: Int, linearBytes: Int, compression: Double
  }

  func run() throws {
    let task = AdditionTask(digits: digits)
    let chosenISA = try isaOption(isa)
    let loaded = try checkpoint.map { try Checkpoint.load(from: $0) }
    if let c = loaded, c.config.vocab != task.vocab || c.config.maxSeq < task.sequenceLength {
      throw Failure("\(quotedPath(checkpoint!)): its model (vocabulary \(c.config.vocab), sequences of \(c.config.maxSeq)) is not one for the \(digits)-digit addition task", .dataError)
    }
    let config = loaded?.config ?? TransformerConfig(vocab: task.vocab, maxSeq: task.sequenceLength)
    try memory.budget.check(
      config.trainingMemoryEstimate(microBatch: task.defaultMicroBatch, sequenceLength: task.sequenceLength,
                                    evaluationSequences: max(task.evaluationSequences, calibration)),
      for: "this deployment table")
    let model: Transformer<Float>
    if let c = loaded {
      model = Transformer(config: c.config, params: c.params)
    } else {
      var o = TrainingOptions()
      o.recipe = .fp32; o.steps = steps ?? 300; o.seed = seed ?? 1
      let t = try Trainer(options: o, task: task)
      var bar = ProgressBar(enabled: !quiet)
      _ = try t.run { step, loss in bar.update(Double(step + 1) / Double(o.steps), text: stepText("fp32", step + 1, o.steps, loss)) }
      bar.finish()
      model = t.model
    }
    let ev = DeploymentEvaluator(model: model, task: task, isa: chosenISA, threads: threads, calibrationSequences: calibration)
    var rows: [DeploymentResult] = []
    var bar = ProgressBar(enabled: !quiet)
    for (k, tier) in DeploymentTier.standard.enumerated() {
      bar.update(Double(k) / Double(DeploymentTier.standard.count), text: "\(tier)")
      rows.append(try ev.evaluate(tier))
    }
    bar.finish(keep: false)
    let base = rows.first { $0.tier == .fp32 }!
    if json {
      for r in rows {
        try JSONLines.print(Row(
          tier: r.tier.description, metric: task.metricName, accuracy: r.metric, heldOutLoss: r.loss,
          deltaVsFP32: r.metric - base.metric, modelBytes: r.modelBytes, linearBytes: r.linearBytes,
          compression: Double(base.modelBytes) / Double(r.modelBytes)))
      }
      return
    }
    print("task: \(task.name), held-out \(task.metricName); INT8 GEMM path \(chosenISA == .auto ? ISA.default : chosenISA)")
    print(DeployTable.render(rows, base: base))
  }
}

enum DeployTable {
  static func render(_ rows: [DeploymentResult], base: DeploymentResult) -> String {
    var out = "| tier | accuracy | Δ vs FP32 | held-out loss | linear weights | model | vs FP32 |\n|---|---:|---:|---:|---:|---:|---:|\n"
    for r in rows {
      let acc = String(format: "%.2f%%", 100 * r.metric)
      let delta = String(format: "%+.2f pt", 100 * (r.metric - base.metric))
      let loss = String(format: "%.4f", r.loss)
      let ratio = String(format: "%.2fx", Double(base.modelBytes) / Double(r.modelBytes))
      out += "| \(r.tier.description.padding(30)) | \(acc.padding(7, alignRight: true)) | \(delta.padding(9, alignRight: true)) | \(loss) | \(String(r.linearBytes).padding(7, alignRight: true)) B | \(String(r.modelBytes).padding(7, alignRight: true)) B | \(ratio) |\n"
    }
    return out
  }
}
