import ArgumentParser
import Deployment
import FP8
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
  @Option(help: "Without --checkpoint: optimiser steps of the FP32 training run.") var steps: Int = 300
  @Option(help: "Without --checkpoint: random seed.") var seed: UInt64 = 1
  @Option(help: "Digits of the addition task.") var digits: Int = 2
  @Option(help: "Calibration sequences (drawn from the training distribution).") var calibration: Int = 128
  @Option(help: "SIMD path of the INT8 GEMM (scalar, avx2, avx512, neon; default: best).") var isa: String?
  @Option(help: "Threads of the INT8 GEMM (0: all).") var threads: Int = 0
  @Flag(help: "One JSON object per row.") var json = false
  @Flag(help: "No progress output.") var quiet = false

  func run() throws {
    let task = AdditionTask(digits: digits)
    let chosenISA: ISA
    if let isa {
      guard let i = ISA(name: isa), i.isSupported else { throw ValidationError("--isa: \(isa) is not available (\(ISA.supported))") }
      chosenISA = i
    } else {
      chosenISA = .auto
    }
    let model: Transformer<Float>
    if let checkpoint {
      let c = try Checkpoint.load(from: checkpoint)
      guard c.config.vocab == task.vocab, c.config.maxSeq >= task.sequenceLength else {
        throw ValidationError("the checkpoint's model (vocab \(c.config.vocab)) is not one for the \(digits)-digit addition task")
      }
      model = Transformer(config: c.config, params: c.params)
    } else {
      var o = TrainingOptions()
      o.recipe = .fp32; o.steps = steps; o.seed = seed
      let t = try Trainer(options: o, task: task)
      var bar = ProgressBar(enabled: !quiet)
      _ = try t.run { step, loss in bar.update(Double(step + 1) / Double(o.steps), text: stepText("fp32", step + 1, o.steps, loss)) }
      bar.finish()
      model = t.model
    }
    let ev = DeploymentEvaluator(model: model, task: task, isa: chosenISA, threads: threads, calibrationSequences: calibration)
    var rows: [DeploymentResult] = []
    for tier in DeploymentTier.standard {
      rows.append(try ev.evaluate(tier))
      if !quiet { FileHandle.standardError.write(Data("\(tier) done\n".utf8)) }
    }
    let base = rows.first { $0.tier == .fp32 }!
    if json {
      for r in rows {
        let obj: [String: Any] = [
          "tier": r.tier.description, "metric": task.metricName, "accuracy": r.metric, "heldOutLoss": r.loss,
          "deltaVsFP32": r.metric - base.metric, "modelBytes": r.modelBytes, "linearBytes": r.linearBytes,
          "compression": Double(base.modelBytes) / Double(r.modelBytes),
        ]
        let d = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
        print(String(decoding: d, as: UTF8.self))
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
