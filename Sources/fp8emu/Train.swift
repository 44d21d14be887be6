import ArgumentParser
import DataParallel
import FP8
import FP8IO
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
  @Option(help: "Comma-separated recipes to compare; RECIPE@GPU runs one on another GPU (e.g. delayed@h100-fast). (default: fp32,delayed,current,blockwise,delayed@h100-fast)")
  var compare: String?
  @Option(help: "GPU whose FP8 numerics to emulate (default: h100 when the engine has it, else ideal).") var gpu: String?
  @Option(help: "Micro-batches per optimiser step (gradient accumulation). (default: 4)") var gradAccumulation: Int?
  @Option(name: .customLong("accumulation"), help: ArgumentHelp("Deprecated spelling of --grad-accumulation.", visibility: .hidden))
  var deprecatedAccumulation: Int?
  @Option(help: "Sequences per micro-batch (default: about 192 characters for wordchain and text, 6 of 32; 16 for addition).") var microBatch: Int?
  @Option(help: "Optimiser steps.") var steps: Int = 300
  @Option(help: "Random seed (initialisation and data).") var seed: UInt64 = 1
  @Option(help: "Peak learning rate.") var lr: Float = 3e-3
  @Option(help: "Learning-rate warm-up steps (linear), followed by cosine decay.") var warmup: Int = 60
  @Option(help: "Learning rate at the last step, as a fraction of the peak.") var finalLrFraction: Float = 0.3
  @Option(help: "Named model size: tiny (d 64, 2 layers, 4 heads, context 32), small (128, 4, 4, 64), medium (256, 6, 8, 128) or nanogpt (384, 6, 6, 256: nanoGPT's character model, 10.7M parameters). --width, --layers, --heads and --seq override it. (default: tiny)")
  var model: String?
  @Option(help: "Sequence length of the text tasks (wordchain, --text). (default: the model's context)") var seq: Int?
  @Option(help: "Model width d (a multiple of --heads). (default: the model's, 64)") var width: Int?
  @Option(help: "Transformer blocks. (default: the model's, 2)") var layers: Int?
  @Option(help: "Attention heads. (default: the model's, 4)") var heads: Int?
  @Option(help: "Standard deviation of the initial weights and embeddings.") var initStd: Double = 0.1
  @Option(help: "Built-in task: wordchain (character-level language model on a synthetic word Markov chain; bits/char) or addition (exact match). (default: wordchain)") var task: String?
  @Option(help: "Addition task: digits of each operand, 1 to 9. (default: 2)") var digits: Int?
  @Option(help: "Addition task: probability that a training answer digit is replaced by a random one. (default: 0.1)") var labelNoise: Double?
  @Option(help: "Train a character-level model on this UTF-8 text file instead (metric: bits per character).") var text: String?
  @Option(help: "Per-step monitor log: .csv or JSON lines.") var log: String?
  @Flag(help: "Print the result table as JSON lines (one object per recipe).") var json = false
  @Option(help: "Write an SVG plot of the loss curves.") var svg: String?
  @Option(help: "Evaluate the held-out loss every N steps (0: off); 'steps to FP32 loss' then uses these evaluations.") var evalEvery: Int = 10
  @Option(help: "Write every recipe's result with its full loss and evaluation curves as JSON lines.") var curves: String?
  @Option(help: "Delayed scaling: amax history length. (default: 1024)") var amaxHistory: Int?
  @Option(help: "Delayed scaling: max or most_recent. (default: max)") var amaxAlgo: String?
  @Option(help: "Delayed scaling: margin (scale divided by 2^margin). (default: 0)") var margin: Int?
  @Flag(help: "Round current/rowwise/blockwise scales down to powers of two.") var pow2Scales = false
  @Option(help: "Gradient format: e5m2 (HYBRID) or e4m3 (default: e4m3 for blockwise, e5m2 otherwise).") var gradFormat: String?
  @Option(help: "Clip gradients element-wise to +-VALUE (e.g. 6).") var clipValue: Float?
  @Option(help: "Clip the global gradient norm (0: off).") var clipNorm: Float = 1
  @Option(help: "Re-calibrate weight scales every N steps (delayed).") var recalibrateEvery: Int?
  @Flag(help: "Fake quantisation (QAT): quantise-dequantise forward, straight-through gradients.") var fakeQuant = false
  @Option(help: "Comma-separated linear layers kept in FP32 (names: blockN.qkv|proj|fc1|fc2, head; 'none'). (default: head)") var highPrecision: String?
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
  @Flag(help: "Print nothing but the result: no progress, no notes.") var quiet = false
  @Option(help: "OpenMP threads of the training step: products, attention, layers (0: the runtime's default; the bits do not depend on it).") var threads: Int = 1
  @OptionGroup var memory: MemoryOption

  /// What the options ask for, checked: the runs (recipe and GPU, FP32 first) and the options of
  /// each. Built by `validate()` before anything runs, and again by `run()`.
  struct Plan {
    var runs: [(recipe: Recipe, gpu: TrainingGPU)]
    var gpu: TrainingGPU
    var task: BuiltInTask?
    var base: TrainingOptions
    var exchange: ExchangeFormat
    /// The model's shape: a named size with the given overrides.
    var width: Int, layers: Int, heads: Int
    /// The text tasks' sequence length.
    var seq: Int
  }

  /// Every option's check, in one place (each a usage error naming the option and the value). A
  /// new option gets its line here, and its own check of when it applies.
  func plan() throws -> Plan {
    try Check.conflict(recipe != nil, "--recipe", compare != nil, "--compare")
    try Check.conflict(gradAccumulation != nil, "--grad-accumulation", deprecatedAccumulation != nil, "--accumulation")
    let names = recipe.map { [$0] } ?? (compare ?? "fp32,delayed,current,blockwise,delayed@h100-fast").split(
      separator: ",", omittingEmptySubsequences: false).map(String.init)
    let gpuNames = TrainingGPU.allCases.map(\.rawValue)
    let chosenGPU = try gpu.map { try Check.named($0, "--gpu", gpuNames) { TrainingGPU(name: $0) } } ?? .h100
    var runs: [(recipe: Recipe, gpu: TrainingGPU)] = []
    for n in names {
      let parts = n.split(separator: "@", omittingEmptySubsequences: false).map(String.init)
      guard !n.isEmpty, parts.count <= 2 else { throw Check.fail("\(recipe != nil ? "--recipe" : "--compare"): \"\(n)\" is not RECIPE or RECIPE@GPU") }
      let r = try Check.named(parts[0], recipe != nil ? "--recipe" : "--compare", Recipe.allCases.map(\.rawValue)) { Recipe(rawValue: $0) }
      let g = try parts.count > 1 ? Check.named(parts[1], "--compare", gpuNames) { TrainingGPU(name: $0) } : chosenGPU
      guard !runs.contains(where: { $0.recipe == r && $0.gpu == g }) else { throw Check.fail("--compare names \(n) twice") }
      runs.append((r, g))
    }
    // FP32 first: its final held-out loss is the target the other runs are timed against.
    runs = runs.filter { $0.recipe == .fp32 } + runs.filter { $0.recipe != .fp32 }
    let fp8 = runs.contains { $0.recipe.isFP8 }, delayed = runs.contains { $0.recipe == .delayed }
    let checkpointed = resume != nil || saveCheckpoint != nil
    if checkpointed && runs.count != 1 { throw Check.fail("--resume and --save-checkpoint need a single --recipe") }

    try Check.inRange(steps, 1...1_000_000_000, "--steps")
    let accumulation = gradAccumulation ?? deprecatedAccumulation ?? 4
    try Check.inRange(accumulation, 1...1 << 20, gradAccumulation == nil && deprecatedAccumulation != nil ? "--accumulation" : "--grad-accumulation")
    if let microBatch { try Check.inRange(microBatch, 1...1 << 20, "--micro-batch") }
    try Check.positive(lr, "--lr")
    try Check.inRange(warmup, 0...1_000_000_000, "--warmup")
    try Check.finite(finalLrFraction, "--final-lr-fraction", in: 0...1)
    let size = try model.map { try Check.named($0, "--model", ModelSize.allCases.map(\.rawValue)) { ModelSize(rawValue: $0) } } ?? .tiny
    let width = self.width ?? size.width, layers = self.layers ?? size.layers, heads = self.heads ?? size.heads
    try Check.inRange(width, 1...65536, "--width")
    try Check.inRange(layers, 1...1024, "--layers")
    try Check.inRange(heads, 1...width, "--heads")
    guard width % heads == 0 else { throw Check.fail("--heads \(heads) does not divide --width \(width)") }
    if let seq { try Check.inRange(seq, 2...65536, "--seq") }
    try Check.positive(initStd, "--init-std")
    try Check.conflict(text != nil, "--text", task != nil, "--task")
    let builtIn = try text == nil ? Check.named(task ?? "wordchain", "--task", BuiltInTask.allCases.map(\.rawValue)) { BuiltInTask(rawValue: $0) } : nil
    try Check.applies(seq != nil, "--seq", when: builtIn != .addition, "to text tasks (wordchain, --text); addition's length follows --digits")
    try Check.applies(digits != nil, "--digits", when: builtIn == .addition, "to --task addition")
    try Check.applies(labelNoise != nil, "--label-noise", when: builtIn == .addition, "to --task addition")
    if let digits { try Check.inRange(digits, 1...9, "--digits") }
    if let labelNoise { try Check.finite(labelNoise, "--label-noise", in: 0...1) }
    try Check.inRange(evalEvery, 0...1_000_000_000, "--eval-every")
    for (given, name) in [(amaxHistory != nil, "--amax-history"), (amaxAlgo != nil, "--amax-algo"), (margin != nil, "--margin"),
                          (recalibrateEvery != nil, "--recalibrate-every")] {
      try Check.applies(given, name, when: delayed, "to the delayed recipe")
    }
    try Check.applies(pow2Scales, "--pow2-scales", when: runs.contains { [.current, .rowwise, .blockwise].contains($0.recipe) },
                      "to the current, rowwise and blockwise recipes")
    for (given, name) in [(gradFormat != nil, "--grad-format"), (fakeQuant, "--fake-quant"), (highPrecision != nil, "--high-precision"),
                          (fp8WeightsFrom != 0, "--fp8-weights-from"), (fp8ActivationsFrom != 0, "--fp8-activations-from"),
                          (fp8GradientsFrom != 0, "--fp8-gradients-from"), (sqnrThreshold != nil, "--sqnr-threshold")] {
      try Check.applies(given, name, when: fp8, "to FP8 recipes")
    }
    var o = TrainingOptions()
    o.steps = steps; o.accumulation = accumulation; o.seed = seed
    o.learningRate = lr; o.warmupSteps = warmup; o.finalLRFraction = finalLrFraction
    if let amaxHistory { try Check.inRange(amaxHistory, 1...1 << 20, "--amax-history"); o.amaxHistoryLength = amaxHistory }
    if let amaxAlgo { o.amaxAlgorithm = try Check.named(amaxAlgo, "--amax-algo", ["max", "most_recent"]) { AmaxAlgorithm(rawValue: $0) } }
    if let margin { try Check.inRange(margin, -64...64, "--margin"); o.margin = margin }
    o.powerOfTwoScales = pow2Scales
    if let gradFormat {
      o.gradientFormat = try Check.named(gradFormat, "--grad-format", ["e4m3", "e5m2"]) { n in
        ElementFormat(name: n).flatMap { $0 == .e4m3 || $0 == .e5m2 ? $0 : nil }
      }
    }
    if let clipValue { try Check.positive(clipValue, "--clip-value") }
    try Check.finite(clipNorm, "--clip-norm", in: 0...Float.greatestFiniteMagnitude)
    o.clipValue = clipValue; o.clipNorm = clipNorm > 0 ? clipNorm : nil
    if let recalibrateEvery { try Check.atLeast(recalibrateEvery, 1, "--recalibrate-every") }
    o.weightRecalibrationInterval = recalibrateEvery
    o.fakeQuantization = fakeQuant
    let linearNames = TransformerConfig(vocab: 1, maxSeq: 1, d: width, heads: heads, layers: layers).linearNames
    let kept = highPrecision ?? "head"
    o.highPrecisionLayers = kept == "none" ? [] : kept.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    for name in o.highPrecisionLayers where !linearNames.contains(name) {
      throw Check.fail("--high-precision: no linear layer \"\(escapedForTerminal(name))\" (with --layers \(layers): block0.qkv ... block\(layers - 1).fc2, head, or none)")
    }
    for (v, name) in [(fp8WeightsFrom, "--fp8-weights-from"), (fp8ActivationsFrom, "--fp8-activations-from"), (fp8GradientsFrom, "--fp8-gradients-from")] {
      try Check.atLeast(v, 0, name)
    }
    o.fp8WeightsFrom = fp8WeightsFrom; o.fp8ActivationsFrom = fp8ActivationsFrom; o.fp8GradientsFrom = fp8GradientsFrom
    if let sqnrThreshold { try Check.finite(sqnrThreshold, "--sqnr-threshold") }
    o.sqnrThresholdDB = sqnrThreshold
    func onOff(_ s: String?, _ name: String) throws -> Bool? {
      try s.map { try Check.named($0, name, ["on", "off"]) { $0 == "on" ? true : $0 == "off" ? false : nil } }
    }
    o.fp16Schedule = try onOff(fp16Schedule, "--fp16-schedule")
    o.dynamicLossScaling = try onOff(lossScaling, "--loss-scaling")
    try Check.inRange(threads, 0...4096, "--threads")
    let format = try Check.named(exchange, "--exchange", ExchangeFormat.allCases.map(\.rawValue)) { ExchangeFormat(rawValue: $0) }
    try Check.finite(collectiveTimeout, "--collective-timeout", in: 0.001...1e9)
    if let checkpointEvery {
      try Check.atLeast(checkpointEvery, 1, "--checkpoint-every")
      try Check.applies(true, "--checkpoint-every", when: saveCheckpoint != nil, "with --save-checkpoint")
    }
    return Plan(runs: runs, gpu: chosenGPU, task: builtIn, base: o, exchange: format, width: width, layers: layers,
                heads: heads, seq: seq ?? size.context)
  }

  func validate() throws {
    _ = try plan()
  }

  func makeTask(_ plan: Plan) throws -> any TrainingTask {
    if let text { return try TextTask(file: text, sequenceLength: plan.seq) }
    return try plan.task!.make(digits: digits ?? 2, labelNoise: labelNoise ?? 0.1, sequenceLength: plan.task == .wordchain ? plan.seq : nil)
  }

  func run() throws {
    let plan = try plan()
    // Under mpirun without a usable Open MPI: one error line and status 69, through Failure.
    let comm = try Launch.communicator(timeout: collectiveTimeout)
    guard let comm else { return try train(plan, DataParallelRun(comm: nil, exchange: plan.exchange)) }
    // A rank that fails must end the job, or the others would wait for it.
    do { try train(plan, DataParallelRun(comm: comm, exchange: plan.exchange)) } catch let e as ValidationError {
      comm.abort(e.message, code: 64)
    } catch {
      // The same line and sysexits status as a single process's failure.
      let failure = Failure(error)
      comm.abort(failure.line, code: failure.status.rawValue)
    }
    comm.finalize()
  }

  /// Trains on this rank; rank 0 alone prints and writes files.
  func train(_ plan: Plan, _ dp: DataParallelRun) throws {
    let quiet = self.quiet || !dp.isRoot
    if deprecatedAccumulation != nil && dp.isRoot { writeStderr("warning: --accumulation is deprecated; use --grad-accumulation\n") }
    // Everything that can be checked before minutes of training: the outputs can be created (none
    // of them the checkpoint to resume), the inputs read, the model fits in memory.
    if dp.isRoot { try checkOutputsWritable([log, svg, curves, saveCheckpoint], inputs: [resume, text].compactMap { $0 }) }
    let task = try makeTask(plan)
    let config = modelConfig(task, plan)
    let microBatch = self.microBatch ?? task.defaultMicroBatch
    try memory.budget.check(
      config.trainingMemoryEstimate(microBatch: microBatch, sequenceLength: task.sequenceLength,
                                    evaluationSequences: task.evaluationSequences),
      for: "training this model (\(config.parameterCount) parameters: --width \(plan.width), --layers \(plan.layers), --micro-batch \(microBatch), --seq \(task.sequenceLength))")
    if let comm = dp.comm {
      let hosts = try comm.hosts()
      if dp.isRoot && !self.quiet {
        let per = plan.base.accumulation / max(comm.size, 1)
        writeStderr("data parallel: \(Launch.placement(hosts)); exchange \(dp.exchange); \(plan.base.accumulation) micro-batches per step, \(per) per rank\n")
      }
    }
    // The engine every matrix product goes through: the tensor-core model for FP8 products
    // (H100 / B200 / A100 numerics), the ideal FP32 engine otherwise.
    let engine: any MatmulEngine = TensorCoreMatmulEngine(threads: threads)
    let checkpointed = resume != nil || saveCheckpoint != nil
    let monitor = dp.isRoot ? try log.map { try MonitorLog(path: $0) } : nil
    let store = SafetensorsCheckpointStore()
    // Rank 0 reads the checkpoint and sends it to the others.
    let checkpoint = try resume.map { try dp.loadCheckpoint($0) }
    var results: [RunResult] = []
    for (r, g) in plan.runs {
      var o = plan.base
      o.recipe = r; o.gpu = g; o.microBatch = microBatch
      let t = try Trainer(options: o, task: task, engine: engine, model: config, threads: threads)
      t.reducer = try dp.reducer(options: o)(t)
      if let checkpoint { try t.restore(checkpoint) }
      // Written whole or not at all (temporary file, then rename), by rank 0 only.
      func save(_ t: Trainer) throws(TrainingError) { if let saveCheckpoint, dp.isRoot { try store.save(t.checkpoint(), to: saveCheckpoint) } }
      var bar = ProgressBar(enabled: !quiet && stderrIsTerminal)
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
    try monitor?.commit()
    if let curves { try OutputFile.write(Array(try results.map { try JSONLines.line($0) + "\n" }.joined().utf8), to: curves) }
    if let svg { try OutputFile.write(Array(SVGPlot.comparison(results, title: task.name).utf8), to: svg) }
    if json {
      for var r in results {
        r.losses = []
        try JSONLines.print(r)
      }
    } else {
      print("task: \(task.name), \(steps) steps x \(plan.base.accumulation) micro-batches of \(microBatch), seed \(seed), gpu \(plan.gpu)")
      if config != ModelSize.tiny.config(vocab: task.vocab, sequenceLength: 32) {
        print("model: \(config.layers) layers, \(config.heads) heads, d \(config.d), context \(config.maxSeq), \(config.parameterCount) parameters")
      }
      if let floor = (task as? TextTask)?.entropyFloorBits {
        print("source entropy: \(String(format: "%.3f", floor)) bits/char (the floor of bits/char)")
      }
      print(Comparison.table(results))
    }
  }

  func modelConfig(_ task: any TrainingTask, _ plan: Plan) -> TransformerConfig {
    var c = TransformerConfig(vocab: task.vocab, maxSeq: task.sequenceLength, d: plan.width, heads: plan.heads, layers: plan.layers)
    c.initStd = initStd
    return c
  }
}

/// The progress text of a training step: `recipe 120/300 loss 1.2345`.
func stepText(_ name: String, _ done: Int, _ total: Int, _ loss: Float) -> String {
  "\(name.padding(10)) \(done)/\(total) loss \(String(format: "%.4f", loss))"
}
