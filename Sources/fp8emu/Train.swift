import ArgumentParser
import DataParallel
import FP8
import Foundation
import MixedPrecision

/// `fp8emu train`: train the small transformer under one or several recipes and compare them.
struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a small transformer with FP8 recipes and compare them with FP32.",
    discussion: """
      With no options: the built-in wordchain task (a character-level language model on text from a \
      synthetic word Markov chain, 300 steps x 4 micro-batches of 6 sequences), FP32 against the delayed, current and \
      blockwise FP8 recipes on H100 numerics (promotion every 128) and delayed without promotion, \
      a table at the end. Recipes: \(Recipe.allCases.map(\.rawValue).joined(separator: ", ")). \
      GPUs: \(TrainingGPU.allCases.map(\.rawValue).joined(separator: ", ")) (sm_80 gives the A100 hybrid FP16 fallback).
      """)

  @Option(help: "One recipe to train (instead of --compare).") var recipe: String?
  @Option(help: "Comma-separated recipes to compare; RECIPE@GPU runs one on another GPU (e.g. delayed@h100-fast).")
  var compare: String = "fp32,delayed,current,blockwise,delayed@h100-fast"
  @Option(help: "GPU whose FP8 numerics to emulate (default: h100 when the engine has it, else ideal).") var gpu: String?
  @Option(help: "Micro-batches per optimiser step (gradient accumulation).") var accumulation: Int = 4
  @Option(help: "Sequences per micro-batch (default: about 192 characters for wordchain and text, 6 of 32; 16 for addition).") var microBatch: Int?
  @Option(help: "Optimiser steps.") var steps: Int = 300
  @Option(help: "Random seed (initialisation and data).") var seed: UInt64 = 1
  @Option(help: "Peak learning rate.") var lr: Float = 3e-3
  @Option(help: "Learning-rate warm-up steps (linear), followed by cosine decay.") var warmup: Int = 60
  @Option(help: "Learning rate at the last step, as a fraction of the peak.") var finalLrFraction: Float = 0.3
  @Option(help: "Model size: \(ModelSize.allCases.map(\.rawValue).joined(separator: ", ")) (nanogpt: nanoGPT's character model, 6 layers, 6 heads, d 384, context 256).")
  var model: String = ModelSize.tiny.rawValue
  @Option(help: "Characters per sequence of text tasks (default: the model size's context, 32 for tiny).") var seq: Int?
  @Option(help: "Model width d (default: the model size's).") var width: Int?
  @Option(help: "Transformer blocks (default: the model size's).") var layers: Int?
  @Option(help: "Attention heads (default: the model size's).") var heads: Int?
  @Option(help: "Standard deviation of the initial weights and embeddings.") var initStd: Double = 0.1
  @Option(help: "Built-in task: wordchain (character-level language model on a synthetic word Markov chain; bits/char) or addition (exact match).") var task: String = "wordchain"
  @Option(help: "Digits of the built-in addition task.") var digits: Int = 2
  @Option(help: "Addition task: probability that a training answer digit is replaced by a random one.") var labelNoise: Double = 0.1
  @Option(help: "Train a character-level model on this text file instead (metric: bits per character).") var text: String?
  @Option(help: "Per-step monitor log: .csv or JSON lines.") var log: String?
  @Flag(help: "Print the result table as JSON lines (one object per recipe).") var json = false
  @Option(help: "Write an SVG plot of the loss curves.") var svg: String?
  @Option(help: "Evaluate the held-out loss every N steps (0: off); 'steps to FP32 loss' then uses these evaluations.") var evalEvery: Int = 10
  @Option(help: "Write every recipe's result with its full loss and evaluation curves as JSON lines.") var curves: String?
  @Option(help: "Delayed scaling: amax history length.") var amaxHistory: Int = 1024
  @Option(help: "Delayed scaling: max or most_recent.") var amaxAlgo: String = "max"
  @Option(help: "Delayed scaling: margin (scale divided by 2^margin).") var margin: Int = 0
  @Flag(help: "Round current/rowwise/blockwise scales down to powers of two.") var pow2Scales = false
  @Option(help: "Gradient format: e5m2 (HYBRID) or e4m3 (default: e4m3 for blockwise, e5m2 otherwise).") var gradFormat: String?
  @Option(help: "Clip gradients element-wise to +-VALUE (e.g. 6).") var clipValue: Float?
  @Option(help: "Clip the global gradient norm (0: off).") var clipNorm: Float = 1
  @Option(help: "Re-calibrate weight scales every N steps (delayed).") var recalibrateEvery: Int?
  @Flag(help: "Fake quantisation (QAT): quantise-dequantise forward, straight-through gradients.") var fakeQuant = false
  @Option(help: "Comma-separated linear layers kept in FP32 (names: blockN.qkv|proj|fc1|fc2, head; 'none').") var highPrecision: String = "head"
  @Option(help: "Progressive schedule: step from which weights are FP8.") var fp8WeightsFrom: Int = 0
  @Option(help: "Progressive schedule: step from which activations are FP8.") var fp8ActivationsFrom: Int = 0
  @Option(help: "Progressive schedule: step from which gradients are FP8.") var fp8GradientsFrom: Int = 0
  @Option(help: "Halve the learning rate when a layer's forward SQNR falls below this many dB.") var sqnrThreshold: Double?
  @Option(help: "Override the FP16 precision schedule: on or off (default: on for FP8 recipes).") var fp16Schedule: String?
  @Option(help: "Override dynamic loss scaling: on or off (default: on except fp32).") var lossScaling: String?
  @Option(help: "Save a safetensors checkpoint of the (single-recipe) run at the end.") var saveCheckpoint: String?
  @Option(help: "Resume the (single-recipe) run from this checkpoint.") var resume: String?
  @Option(help: "Under mpirun: the format gradients are exchanged in: fp32, bf16, e5m2 (per-tensor scale from the ranks' amax) or e4m3-blockwise (1x128 tiles).")
  var exchange: String = "fp32"
  @Option(help: "Under mpirun: seconds a rank waits for the others in one exchange before the job is aborted.")
  var collectiveTimeout: Double = 300
  @Option(help: "Also save the checkpoint every N steps (with --save-checkpoint).") var checkpointEvery: Int?
  @Flag(help: "No progress bar.") var quiet = false
  @Option(help: "OpenMP threads of the training step: products, attention, layers (0: the runtime's default; the bits do not depend on it).") var threads: Int = 1

  func options(for r: Recipe, gpu g: TrainingGPU, task: any TrainingTask) throws -> TrainingOptions {
    var o = TrainingOptions()
    o.recipe = r; o.gpu = g; o.steps = steps; o.microBatch = microBatch ?? task.defaultMicroBatch
    o.accumulation = accumulation; o.seed = seed
    guard steps >= 0, o.microBatch > 0, accumulation > 0 else {
      throw ValidationError("--steps must be 0 or more, --micro-batch and --accumulation 1 or more")
    }
    o.learningRate = lr; o.warmupSteps = warmup; o.finalLRFraction = finalLrFraction; o.amaxHistoryLength = amaxHistory
    guard let algo = AmaxAlgorithm(rawValue: amaxAlgo) else { throw ValidationError("--amax-algo: max or most_recent") }
    o.amaxAlgorithm = algo; o.margin = margin; o.powerOfTwoScales = pow2Scales
    if let gradFormat {
      guard let f = ElementFormat(name: gradFormat), f == .e4m3 || f == .e5m2 else { throw ValidationError("--grad-format: e4m3 or e5m2") }
      o.gradientFormat = f
    }
    o.clipValue = clipValue; o.clipNorm = clipNorm > 0 ? clipNorm : nil; o.weightRecalibrationInterval = recalibrateEvery
    o.fakeQuantization = fakeQuant
    o.highPrecisionLayers = highPrecision == "none" ? [] : highPrecision.split(separator: ",").map(String.init)
    o.fp8WeightsFrom = fp8WeightsFrom; o.fp8ActivationsFrom = fp8ActivationsFrom; o.fp8GradientsFrom = fp8GradientsFrom
    o.sqnrThresholdDB = sqnrThreshold
    func onOff(_ s: String?, _ name: String) throws -> Bool? {
      guard let s else { return nil }
      switch s { case "on": return true; case "off": return false; default: throw ValidationError("\(name): on or off") }
    }
    o.fp16Schedule = try onOff(fp16Schedule, "--fp16-schedule")
    o.dynamicLossScaling = try onOff(lossScaling, "--loss-scaling")
    return o
  }

  func modelSize() throws -> ModelSize {
    guard let m = ModelSize(rawValue: model) else {
      throw ValidationError("--model: \(ModelSize.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return m
  }

  func makeTask() throws -> any TrainingTask {
    if let seq, seq < 1 { throw ValidationError("--seq must be 1 or more") }
    if let text { return try TextTask(file: text, sequenceLength: seq ?? modelSize().context) }
    guard let t = BuiltInTask(rawValue: task) else {
      throw ValidationError("--task: \(BuiltInTask.allCases.map(\.rawValue).joined(separator: " or "))")
    }
    return try t.make(digits: digits, labelNoise: labelNoise, sequenceLength: t == .wordchain ? seq ?? modelSize().context : seq)
  }

  func run() throws {
    guard let format = ExchangeFormat(rawValue: exchange) else {
      throw ValidationError("--exchange: \(ExchangeFormat.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    if checkpointEvery != nil && (saveCheckpoint == nil || (checkpointEvery ?? 0) <= 0) {
      throw ValidationError("--checkpoint-every needs a positive N and --save-checkpoint")
    }
    let comm: MPICommunicator?
    do { comm = try Launch.communicator(timeout: collectiveTimeout) } catch {
      FileHandle.standardError.write(Data("fp8emu: \(error)\n".utf8))
      throw ExitCode(error.exitCode)
    }
    guard let comm else { return try train(DataParallelRun(comm: nil, exchange: format)) }
    // A rank that fails must end the job, or the others would wait for it.
    do { try train(DataParallelRun(comm: comm, exchange: format)) } catch let e as ValidationError {
      comm.abort(e.message, code: 64)
    } catch {
      comm.abort("\(error)", code: DataParallelRun.exitCode(error))
    }
    comm.finalize()
  }

  /// Trains on this rank; rank 0 alone prints and writes files.
  func train(_ dp: DataParallelRun) throws {
    let quiet = self.quiet || !dp.isRoot
    if let comm = dp.comm {
      let hosts = try comm.hosts()
      if dp.isRoot {
        let per = accumulation / max(comm.size, 1)
        FileHandle.standardError.write(Data("data parallel: \(Launch.placement(hosts)); exchange \(dp.exchange); \(accumulation) micro-batches per step, \(per) per rank\n".utf8))
      }
    }
    // The engine every matrix product goes through: the tensor-core model for FP8 products
    // (H100 / B200 / A100 numerics), the ideal FP32 engine otherwise.
    let engine: any MatmulEngine = TensorCoreMatmulEngine(threads: threads)
    let task = try makeTask()
    let names = recipe.map { [$0] } ?? compare.split(separator: ",").map(String.init)
    let defaultGPU: TrainingGPU = engine.supports(TrainingGPU.h100.numerics) ? .h100 : .ideal
    let chosenGPU = try gpu.map { name throws -> TrainingGPU in
      guard let g = TrainingGPU(name: name) else { throw ValidationError("unknown GPU '\(name)'") }
      return g
    } ?? defaultGPU
    var recipes: [(Recipe, TrainingGPU)] = []
    // FP32 first: its final held-out loss is the target the other runs are timed against.
    for n in names.filter({ $0 == "fp32" }) + names.filter({ $0 != "fp32" }) {
      let parts = n.split(separator: "@").map(String.init)
      guard let r = Recipe(rawValue: parts[0]) else { throw ValidationError("unknown recipe '\(n)' (\(Recipe.allCases.map(\.rawValue).joined(separator: ", ")))") }
      guard let g = parts.count > 1 ? TrainingGPU(name: parts[1]) : chosenGPU else { throw ValidationError("unknown GPU '\(parts[1])'") }
      recipes.append((r, g))
    }
    let checkpointed = resume != nil || saveCheckpoint != nil
    if checkpointed && recipes.count != 1 { throw ValidationError("--resume and --save-checkpoint need a single --recipe") }
    if gpu == nil && chosenGPU == .ideal && !quiet {
      FileHandle.standardError.write(Data("note: this build's engine computes ideal FP32 numerics only; tensor-core numerics (--gpu h100, ...) are not available yet\n".utf8))
    }
    let monitor = dp.isRoot ? try log.map { try MonitorLog(path: $0) } : nil
    let store = SafetensorsCheckpointStore()
    var results: [RunResult] = []
    for (r, g) in recipes {
      let o = try options(for: r, gpu: g, task: task)
      let t = try Trainer(options: o, task: task, engine: engine, model: try modelConfig(task), threads: threads)
      t.reducer = try dp.reducer(options: o)(t)
      if let resume { try t.restore(try dp.loadCheckpoint(resume, store: store)) }
      // Written whole or not at all (temporary file, then rename), by rank 0 only.
      func save(_ t: Trainer) throws(TrainingError) { if let saveCheckpoint, dp.isRoot { try store.save(t.checkpoint(), to: saveCheckpoint) } }
      var bar = ProgressBar(enabled: !quiet)
      // Runs that save or resume a checkpoint take no held-out evaluations along the way.
      let result = try t.run(evalEvery: checkpointed ? 0 : evalEvery, reachTarget: Comparison.fp32Target(results), log: monitor,
                             progress: { step, loss in
                               bar.update(Double(step + 1) / Double(o.steps), text: stepText(r.rawValue, step + 1, o.steps, loss))
                               if checkpointed && self.quiet && dp.isRoot && !json { print("step \(step) loss \(loss)") }
                             },
                             afterStep: { (t) throws(TrainingError) in
                               if let every = checkpointEvery, t.step % every == 0, t.step < o.steps { try save(t) }
                             })
      try save(t)
      bar.finish()
      results.append(result)
    }
    Comparison.relate(&results)
    guard dp.isRoot else { return }
    if let curves {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      let lines = try results.map { String(decoding: try enc.encode($0), as: UTF8.self) }
      try (lines.joined(separator: "\n") + "\n").write(toFile: curves, atomically: true, encoding: .utf8)
    }
    if json {
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys]
      enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      for var r in results {
        r.losses = []
        print(String(decoding: try enc.encode(r), as: UTF8.self))
      }
    } else {
      print("task: \(task.name), \(steps) steps x \(accumulation) micro-batches of \(microBatch ?? task.defaultMicroBatch), seed \(seed), gpu \(chosenGPU)")
      let c = try modelConfig(task)
      if c != ModelSize.tiny.config(vocab: task.vocab, sequenceLength: 32) {
        print("model: \(model), \(c.layers) layers, \(c.heads) heads, d \(c.d), context \(c.maxSeq), \(c.parameterCount) parameters")
      }
      if let floor = (task as? TextTask)?.entropyFloorBits {
        print("source entropy: \(String(format: "%.3f", floor)) bits/char (the floor of bits/char)")
      }
      print(Comparison.table(results))
    }
    if let svg {
      let plot = SVGPlot.comparison(results, title: task.name)
      try plot.write(toFile: svg, atomically: true, encoding: .utf8)
    }
  }

  func modelConfig(_ task: any TrainingTask) throws -> TransformerConfig {
    let size = try modelSize()
    var c = size.config(vocab: task.vocab, sequenceLength: task.sequenceLength)
    c.d = width ?? c.d; c.layers = layers ?? c.layers; c.heads = heads ?? c.heads
    c.initStd = initStd
    return c
  }
}

/// The progress text of a training step: `recipe 120/300 loss 1.2345`.
func stepText(_ name: String, _ done: Int, _ total: Int, _ loss: Float) -> String {
  "\(name.padding(10)) \(done)/\(total) loss \(String(format: "%.4f", loss))"
}
