import ArgumentParser
import Foundation
import MixedPrecision

/// `fp8-bench train`: optimiser steps per second of the built-in training task per recipe, all
/// recipes in one run, with the ratio to FP32 (median step time over `--steps` steps after two
/// warm-up steps).
struct TrainBench: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "train", abstract: "Training step throughput per recipe.")

  @Option(help: "Comma-separated recipes.") var recipes = "fp32,bf16,delayed,current,rowwise,blockwise,mxfp8"
  @Option(help: "GPU numerics of the FP8 products.") var gpu = "h100"
  @Option(help: "Timed steps per recipe.") var steps = 10
  @Option(help: "Task: wordchain (the main job's: 4 micro-batches of 6 sequences of 32 characters) or addition (4 of 16 sequences of 8 tokens).") var task = "wordchain"
  @Flag(help: "One JSON object per row.") var json = false

  struct Row: Codable {
    var suite = "train"
    var recipe: String
    var gpu: String
    var medianStepSeconds: Double
    var tokensPerSecond: Double
    var timeVsFP32: Double?
  }

  func run() throws {
    guard let builtIn = BuiltInTask(rawValue: self.task) else {
      throw ValidationError("--task: \(BuiltInTask.allCases.map(\.rawValue).joined(separator: " or "))")
    }
    guard let trainingGPU = TrainingGPU(name: gpu) else {
      throw ValidationError("--gpu: \(TrainingGPU.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    let task = try builtIn.make()
    var rows: [Row] = []
    for name in recipes.split(separator: ",") {
      guard let r = Recipe(rawValue: String(name)) else { throw ValidationError("unknown recipe \(name)") }
      var o = TrainingOptions()
      o.recipe = r; o.gpu = trainingGPU; o.steps = steps + 2; o.microBatch = task.defaultMicroBatch
      let t = try Trainer(options: o, task: task, engine: TensorCoreMatmulEngine())
      for _ in 0..<2 { try t.trainStep() }
      var times: [Double] = []
      for _ in 0..<steps {
        let s = DispatchTime.now().uptimeNanoseconds
        try t.trainStep()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - s) * 1e-9)
      }
      let med = times.sorted()[times.count / 2]
      let tokens = Double(o.accumulation * o.microBatch * task.sequenceLength)
      rows.append(Row(recipe: r.rawValue, gpu: r.isFP8 ? gpu : "-", medianStepSeconds: med, tokensPerSecond: tokens / med))
    }
    if let base = rows.first(where: { $0.recipe == "fp32" }) {
      for i in rows.indices { rows[i].timeVsFP32 = rows[i].medianStepSeconds / base.medianStepSeconds }
    }
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      for r in rows { print(String(decoding: try enc.encode(r), as: UTF8.self)) }
      return
    }
    print("recipe     gpu    median step ms   tokens/s   time vs fp32")
    for r in rows {
      let vs = r.timeVsFP32.map { String(format: "%.2fx", $0) } ?? "-"
      print(r.recipe.padding(toLength: 11, withPad: " ", startingAt: 0) + r.gpu.padding(toLength: 6, withPad: " ", startingAt: 0)
            + String(format: " %14.2f %10.0f ", r.medianStepSeconds * 1000, r.tokensPerSecond)
            + String(repeating: " ", count: max(0, 14 - vs.count)) + vs)
    }
  }
}
