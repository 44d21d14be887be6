// Determinism, checkpoint resume, monitors and tasks of the training pipeline.
import FP8
import Testing
@testable import MixedPrecision
import _TestSupport
import Foundation

private func smallOptions(_ recipe: Recipe, steps: Int = 4) -> TrainingOptions {
  var o = TrainingOptions()
  o.recipe = recipe; o.steps = steps; o.microBatch = 4; o.accumulation = 2; o.seed = 42
  o.amaxHistoryLength = 3  // short, so that the history rolls over within the test
  return o
}

private let smallConfig = TransformerConfig(vocab: 12, maxSeq: 8, d: 32, heads: 2, layers: 1)

private func losses(_ o: TrainingOptions, steps: Int) throws -> [UInt32] {
  let t = try Trainer(options: o, task: AdditionTask(), model: smallConfig)
  return try (0..<steps).map { _ in try t.trainStep().loss.bitPattern }
}

/// Loss bit patterns of `steps` steps on the tensor-core engine with `threads` and `isa` for the
/// whole step (products, attention, layers, casts).
private func tensorCoreLosses(_ o: TrainingOptions, task: any TrainingTask = AdditionTask(), model: TransformerConfig = smallConfig,
                              threads: Int, isa: ISA, steps: Int) throws -> [UInt32] {
  var o = o
  o.isa = isa
  let t = try Trainer(options: o, task: task, engine: TensorCoreMatmulEngine(threads: threads, isa: isa), model: model, threads: threads)
  return try (0..<steps).map { _ in try t.trainStep().loss.bitPattern }
}

@Suite struct TrainingTests {
  /// Same seed, same loss curve bit for bit, on every SIMD path of the FP8 casts.
  @Test(arguments: [Recipe.delayed, .current, .rowwise, .blockwise, .mxfp8, .bf16])
  func sameSeedSameBitsOnEveryISA(recipe: Recipe) throws {
    var o = smallOptions(recipe)
    o.isa = .scalar
    let reference = try losses(o, steps: 4)
    #expect(Set(reference).count > 1, "the loss must move")
    for isa in ISA.supported {
      o.isa = isa
      #expect(try losses(o, steps: 4) == reference, "\(recipe) on \(isa)")
    }
    o.isa = .auto
    #expect(try losses(o, steps: 4) == reference)
  }

  /// On the tensor-core engine (H100 promoted numerics): the same loss curve for 1, 2 and 3
  /// threads and every SIMD path of the casts and of the tensor-core kernels.
  @Test(arguments: [Recipe.delayed, .blockwise])
  func tensorCoreRunsAreIdenticalAcrossThreadsAndISAs(recipe: Recipe) throws {
    var o = smallOptions(recipe, steps: 3)
    o.gpu = .h100
    func run(_ threads: Int, _ isa: ISA) throws -> [UInt32] { try tensorCoreLosses(o, threads: threads, isa: isa, steps: 3) }
    let reference = try run(1, .scalar)
    for isa in ISA.supported {
      for threads in [1, 2, 3] { #expect(try run(threads, isa) == reference, "\(recipe) on \(isa), \(threads) threads") }
    }
    // And the tensor-core numerics do change the curve against ideal accumulation.
    o.gpu = .ideal; o.isa = .auto
    let ideal = try Trainer(options: o, task: AdditionTask(), model: smallConfig)
    let idealLosses = try (0..<3).map { _ in try ideal.trainStep().loss.bitPattern }
    #expect(idealLosses != reference)
  }

  /// The default task and model shape (wordchain, d = 64, 32 characters) on H100 promoted
  /// numerics: the same bits for 1 and 2 threads and every SIMD path.
  @Test(arguments: [Recipe.delayed, .current])
  func defaultTaskIsIdenticalAcrossThreadsAndISAs(recipe: Recipe) throws {
    let task = try TextTask.wordChain(characters: 50_000)
    var o = TrainingOptions()
    o.recipe = recipe; o.gpu = .h100; o.steps = 2; o.microBatch = 2; o.accumulation = 2; o.seed = 1
    let config = TransformerConfig(vocab: task.vocab, maxSeq: task.sequenceLength)
    func run(_ threads: Int, _ isa: ISA) throws -> [UInt32] {
      try tensorCoreLosses(o, task: task, model: config, threads: threads, isa: isa, steps: 2)
    }
    let reference = try run(1, .scalar)
    #expect(reference[0] != reference[1])
    for isa in ISA.supported {
      for threads in [1, 2] { #expect(try run(threads, isa) == reference, "\(recipe) on \(isa), \(threads) threads") }
    }
  }

  @Test func fp8RecipesDifferFromFP32() throws {
    let a = try losses(smallOptions(.fp32), steps: 3), b = try losses(smallOptions(.delayed), steps: 3)
    #expect(a[0] != b[0] || a[1] != b[1])
  }

  /// Train 6 steps straight; train 3, save, load into a fresh trainer, train 3 more: the same losses
  /// and the same final masters and optimiser state, bit for bit.
  @Test(arguments: [(Recipe.delayed, false), (.blockwise, false), (.delayed, true), (.current, true)])
  func checkpointResumeIsBitIdentical(recipe: Recipe, safetensors: Bool) throws {
    let store: any CheckpointStore = safetensors ? SafetensorsCheckpointStore() : BinaryCheckpointStore()
    let o = smallOptions(recipe)
    let straight = try Trainer(options: o, task: AdditionTask(), model: smallConfig)
    let all = try (0..<6).map { _ in try straight.trainStep().loss.bitPattern }

    let first = try Trainer(options: o, task: AdditionTask(), model: smallConfig)
    let head = try (0..<3).map { _ in try first.trainStep().loss.bitPattern }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("fp8emu-ckpt-\(recipe)-\(safetensors)-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try store.save(first.checkpoint(), to: path)
    let loaded = try store.load(from: path)
    let roundTrip = loaded == first.checkpoint()
    #expect(roundTrip)
    // The layout-sniffing reader (what `fp8emu deploy --checkpoint` uses) reads either layout.
    let sniffed = try Checkpoint.load(from: path) == loaded
    #expect(sniffed)

    let second = try Trainer(options: o, task: AdditionTask(), model: smallConfig)
    try second.restore(loaded)
    let tail = try (0..<3).map { _ in try second.trainStep().loss.bitPattern }
    #expect(head + tail == all)
    let same = second.checkpoint() == straight.checkpoint()
    #expect(same, "masters, optimiser, scaling and RNG state after resuming")
  }

  @Test func corruptCheckpointsThrow() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("fp8emu-bad-\(getpid()).bin").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data("FP8EMUCK\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{7f}".utf8).write(to: URL(fileURLWithPath: path))
    #expect(throws: TrainingError.self) { try BinaryCheckpointStore().load(from: path) }
    try Data("hello".utf8).write(to: URL(fileURLWithPath: path))
    #expect(throws: TrainingError.self) { try BinaryCheckpointStore().load(from: path) }
    #expect(throws: TrainingError.self) { try Checkpoint.load(from: path) }
    #expect(throws: TrainingError.self) { try Checkpoint.load(from: path + ".missing") }
  }

  @Test func monitorsRecordPerLayerStatistics() throws {
    var o = smallOptions(.current)
    o.highPrecisionLayers = ["head"]
    let t = try Trainer(options: o, task: AdditionTask(), model: smallConfig)
    let r = try t.trainStep()
    #expect(r.layers.map(\.name) == ["block0.qkv", "block0.proj", "block0.fc1", "block0.fc2", "head"])
    for l in r.layers.prefix(4) {
      let a = try #require(l.activation), w = try #require(l.weight), g = try #require(l.gradient)
      #expect(a.amax > 0 && w.amax > 0 && g.amax > 0)
      #expect(a.sqnrDB > 20 && w.sqnrDB > 20)           // E4M3 with per-tensor scaling
      #expect(g.sqnrDB > 10 && g.sqnrDB < a.sqnrDB)     // E5M2 has one mantissa bit fewer
      #expect(w.scale == 448 / w.amax)
    }
    #expect(r.layers[4].activation == nil)  // kept in FP32 by name
    let csv = FileManager.default.temporaryDirectory.appendingPathComponent("fp8emu-mon-\(getpid()).csv").path
    defer { try? FileManager.default.removeItem(atPath: csv) }
    do {
      let log = try MonitorLog(path: csv)
      try log.write(r, recipe: "current")
      #expect(!FileManager.default.fileExists(atPath: csv))  // whole or not at all: in place at commit
      try log.commit()
    }
    let text = try String(contentsOfFile: csv, encoding: .utf8)
    let lines = text.split(separator: "\n")
    #expect(lines.count == 2)
    #expect(lines[0].split(separator: ",", omittingEmptySubsequences: false).count
      == lines[1].split(separator: ",", omittingEmptySubsequences: false).count)
    #expect(lines[0].contains("block0.fc1.g.sqnr_db"))
  }

  @Test func sqnrThresholdLowersLearningRateAndLogsIt() throws {
    var o = smallOptions(.current)
    o.sqnrThresholdDB = 100  // every layer is below: the first step reduces
    let t = try Trainer(options: o, task: AdditionTask(), model: smallConfig)
    let r = try t.trainStep()
    #expect(t.lrMultiplier == 0.5)
    #expect(r.events.count == 1 && r.events[0].contains("SQNR"))
  }

  @Test func overflowingStepIsSkippedAndCounted() throws {
    var o = smallOptions(.bf16)
    o.initialLossScale = .infinity  // the scaled gradients are Inf or NaN
    let t = try Trainer(options: o, task: AdditionTask(), model: smallConfig)
    let before = t.model.params
    let r = try t.trainStep()
    #expect(r.skipped && t.scaler.skippedSteps == 1)
    let unchanged = bitsEqual(t.model.params, before)
    #expect(unchanged, "a skipped step must not touch the weights")
    #expect(r.events.count == 1 && r.events[0].contains("skipped"))
  }

  @Test func progressiveScheduleStartsCastsLate() throws {
    var o = smallOptions(.current)
    o.fp8ActivationsFrom = 1; o.fp8GradientsFrom = 2
    let t = try Trainer(options: o, task: AdditionTask(), model: smallConfig)
    let r0 = try t.trainStep()
    #expect(r0.layers[0].weight != nil && r0.layers[0].activation == nil && r0.layers[0].gradient == nil)
  }

  @Test func additionTask() {
    let task = AdditionTask(digits: 2)
    #expect(task.sequence(12, 34) == [1, 2, 10, 3, 4, 11, 6, 4, 0])  // 12+34=046, reversed
    #expect(task.sequence(99, 99) == [9, 9, 10, 9, 9, 11, 8, 9, 1])
    let held = task.heldOut
    #expect(held.count == 512 && held.allSatisfy { task.isHeldOut($0.0, $0.1) })
    var rng = TrainRNG(seed: 1)
    let b = task.trainBatch(&rng, size: 64)
    for r in 0..<64 {
      let a = b.tokens[r * 8] * 10 + b.tokens[r * 8 + 1], c = b.tokens[r * 8 + 3] * 10 + b.tokens[r * 8 + 4]
      #expect(!task.isHeldOut(a, c))
    }
  }

  @Test func textTaskBitsPerCharacter() throws {
    let text = String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 40)
    let task = try TextTask(text: text, sequenceLength: 8)
    var o = smallOptions(.current)
    o.steps = 2
    let t = try Trainer(options: o, task: task, model: TransformerConfig(vocab: task.vocab, maxSeq: 8, d: 16, heads: 2, layers: 1))
    try t.trainStep()
    let (bpc, loss) = try t.evaluate()
    #expect(abs(bpc - loss / log(2.0)) < 1e-12)
    #expect(bpc > 0 && bpc < 6)
  }
}

@Suite struct ComparisonMetricTests {
  /// "Steps to FP32 loss" on held-out evaluations: linear interpolation between the last evaluation
  /// above the target and the first at or below it, rounded up; computed by hand here.
  @Test func stepsToReachInterpolatesHeldOutEvaluations() {
    let steps = [10, 20, 30, 40]
    let losses = [1.0, 0.8, 0.6, 0.5]
    // 0.7 lies halfway between step 20 (0.8) and step 30 (0.6).
    #expect(Comparison.stepsToReach(evalSteps: steps, evalLosses: losses, target: 0.7) == 25)
    // 0.65 lies 3/4 of the way: 27.5, rounded up.
    #expect(Comparison.stepsToReach(evalSteps: steps, evalLosses: losses, target: 0.65) == 28)
    #expect(Comparison.stepsToReach(evalSteps: steps, evalLosses: losses, target: 0.6) == 30)
    #expect(Comparison.stepsToReach(evalSteps: steps, evalLosses: losses, target: 2) == 10)
    #expect(Comparison.stepsToReach(evalSteps: steps, evalLosses: losses, target: 0.4) == nil)
  }

  /// Held-out evaluations during a run, and the extension past the last step, change nothing of
  /// the training curve (same losses bit for bit as a run without them); the extension stops at
  /// the first evaluation that reaches the target or after the allowed extra steps.
  @Test func evaluationsAndExtensionLeaveTheCurveUnchanged() throws {
    var o = TrainingOptions()
    o.recipe = .delayed; o.steps = 6; o.microBatch = 4; o.accumulation = 1; o.seed = 7
    let config = TransformerConfig(vocab: 12, maxSeq: 8, d: 32, heads: 2, layers: 1)
    let task = AdditionTask(evalCount: 32)
    let plain = try Comparison.run(o, task: task, model: config)
    let evaluated = try Comparison.run(o, task: task, model: config, evalEvery: 4, reachTarget: 0, extraFraction: 0.5)
    #expect(plain.losses.map(\.bitPattern) == evaluated.losses.map(\.bitPattern))
    #expect(plain.finalLoss == evaluated.finalLoss && plain.heldOutLoss == evaluated.heldOutLoss)
    // Every 4 steps and after the last (6); target 0 is never reached: extension to 6 + 3 = 9.
    #expect(evaluated.evalSteps == [4, 6, 8, 9])
    // The evaluation after the last step is the held-out loss of the final evaluation.
    #expect(abs(evaluated.evalLosses[1] - evaluated.heldOutLoss) < 1e-6)
    var results = [plain, evaluated]
    results[0].recipe = "fp32"
    results[0].evalSteps = evaluated.evalSteps; results[0].evalLosses = evaluated.evalLosses
    #expect(Comparison.fp32Target(results) == evaluated.evalLosses[1])
  }
}
