import Foundation

/// The outcome of one recipe in a comparison.
public struct RunResult: Sendable, Codable {
  public var recipe: String
  public var gpu: String
  public var numerics: String
  public var losses: [Float]
  /// Mean training loss over the last 10% of the steps.
  public var finalLoss: Double
  /// finalLoss / FP32's finalLoss − 1 (nil for the first run when it is the baseline itself).
  public var relativeToFP32: Double?
  public var metricName: String
  public var metric: Double
  public var heldOutLoss: Double
  /// Steps to reach FP32's final loss: with held-out evaluations, the first (interpolated) step at
  /// which the evaluation curve reaches FP32's held-out loss after its last step (see
  /// ``Comparison/stepsToReach(evalSteps:evalLosses:target:)``); without, the first step whose
  /// trailing mean training loss (window: 10% of the steps) reaches FP32's final loss.
  public var stepsToFP32Loss: Int?
  public var tokensPerSecond: Double
  public var bytesFP8: Int
  public var bytesFP32: Int
  public var skippedSteps: Int
  public var seconds: Double
  /// Held-out loss (teacher forcing, clean data) after steps `evalSteps` (every `evalEvery` steps).
  public var evalSteps: [Int] = []
  public var evalLosses: [Double] = []
  /// The last exchanged step's gradient exchange, on rank 0 (data-parallel runs only).
  public var exchange: ExchangeStats? = nil

  init(recipe: String, gpu: String, numerics: String, losses: [Float], finalLoss: Double, relativeToFP32: Double?,
              metricName: String, metric: Double, heldOutLoss: Double, stepsToFP32Loss: Int?, tokensPerSecond: Double,
              bytesFP8: Int, bytesFP32: Int, skippedSteps: Int, seconds: Double, evalSteps: [Int] = [], evalLosses: [Double] = []) {
    self.evalSteps = evalSteps; self.evalLosses = evalLosses
    self.recipe = recipe; self.gpu = gpu; self.numerics = numerics; self.losses = losses; self.finalLoss = finalLoss
    self.relativeToFP32 = relativeToFP32; self.metricName = metricName; self.metric = metric; self.heldOutLoss = heldOutLoss
    self.stepsToFP32Loss = stepsToFP32Loss; self.tokensPerSecond = tokensPerSecond; self.bytesFP8 = bytesFP8
    self.bytesFP32 = bytesFP32; self.skippedSteps = skippedSteps; self.seconds = seconds
  }
}

public enum Comparison {
  /// Mean of the last max(1, n/10) values.
  static func finalLoss(_ l: [Float]) -> Double {
    let w = max(1, l.count / 10)
    return l.suffix(w).reduce(0.0) { $0 + Double($1) } / Double(min(w, max(l.count, 1)))
  }

  /// First index where the trailing mean (window max(1, n/10)) is ≤ target.
  static func stepsToReach(_ l: [Float], target: Double) -> Int? {
    let w = max(1, l.count / 10)
    var s = 0.0
    for i in l.indices {
      s += Double(l[i])
      if i >= w { s -= Double(l[i - w]) }
      if i >= w - 1 && s / Double(w) <= target { return i + 1 }
    }
    return nil
  }

  /// First step at which the held-out evaluation curve reaches `target`: linear interpolation
  /// between the last evaluation above the target and the first at or below it, rounded up
  /// (the first evaluation itself when it is already at or below). nil when never reached.
  static func stepsToReach(evalSteps: [Int], evalLosses: [Double], target: Double) -> Int? {
    for i in evalLosses.indices where evalLosses[i] <= target {
      guard i > 0 else { return evalSteps[i] }
      let (s0, l0, s1, l1) = (Double(evalSteps[i - 1]), evalLosses[i - 1], Double(evalSteps[i]), evalLosses[i])
      // Rounded up, ignoring rounding error of the interpolation itself (1e-6 of a step).
      return Int((s0 + (s1 - s0) * (l0 - target) / (l0 - l1) - 1e-6).rounded(.up))
    }
    return nil
  }

  /// Trains a fresh run of `options` (see ``Trainer/run(evalEvery:reachTarget:extraFraction:log:progress:)``).
  public static func run(
    _ options: TrainingOptions, task: any TrainingTask, engine: any MatmulEngine = IdealMatmulEngine(),
    model: TransformerConfig? = nil, evalEvery: Int = 0, reachTarget: Double? = nil, extraFraction: Double = 0.2,
    log: MonitorLog? = nil, progress: (Int, Float) -> Void = { _, _ in }
  ) throws(TrainingError) -> RunResult {
    try Trainer(options: options, task: task, engine: engine, model: model)
      .run(evalEvery: evalEvery, reachTarget: reachTarget, extraFraction: extraFraction, log: log, progress: progress)
  }

  /// FP32's final held-out loss: its evaluation at its last step (nil without evaluations).
  public static func fp32Target(_ results: [RunResult]) -> Double? {
    guard let base = results.first(where: { $0.recipe == "fp32" }), let i = base.evalSteps.lastIndex(where: { $0 <= base.losses.count }) else { return nil }
    return base.evalLosses[i]
  }

  /// Fills `relativeToFP32` (final training loss) and `stepsToFP32Loss` against the run of recipe
  /// fp32 (if present): from the held-out evaluations when the runs have them, else from the
  /// trailing mean of the training loss.
  public static func relate(_ results: inout [RunResult]) {
    guard let base = results.first(where: { $0.recipe == "fp32" }) else { return }
    let target = fp32Target(results)
    for i in results.indices {
      results[i].relativeToFP32 = results[i].finalLoss / base.finalLoss - 1
      if let target, !results[i].evalSteps.isEmpty {
        results[i].stepsToFP32Loss = stepsToReach(evalSteps: results[i].evalSteps, evalLosses: results[i].evalLosses, target: target)
      } else {
        results[i].stepsToFP32Loss = stepsToReach(results[i].losses, target: base.finalLoss)
      }
    }
  }

  /// The result table as text.
  public static func table(_ results: [RunResult]) -> String {
    let metricName = results.first?.metricName ?? "metric"
    var rows = [["recipe", "numerics", "final loss", "vs FP32", metricName, "held-out loss", "steps to FP32 loss",
                 "tokens/s", "FP8 KiB", "FP32 KiB", "skipped"]]
    for r in results {
      let metric = metricName == "exact match" ? String(format: "%.1f%%", 100 * r.metric) : String(format: "%.3f", r.metric)
      rows.append([
        r.recipe, r.numerics, String(format: "%.4f", r.finalLoss),
        r.relativeToFP32.map { String(format: "%+.2f%%", 100 * $0) } ?? "-", metric, String(format: "%.4f", r.heldOutLoss),
        r.stepsToFP32Loss.map { "\($0)" } ?? "not reached", String(format: "%.0f", r.tokensPerSecond),
        r.bytesFP8 == 0 ? "-" : String(format: "%.1f", Double(r.bytesFP8) / 1024), r.bytesFP8 == 0 ? "-" : String(format: "%.1f", Double(r.bytesFP32) / 1024),
        "\(r.skippedSteps)",
      ])
    }
    let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max()! }
    return rows.enumerated().map { i, row in
      let line = row.enumerated().map { c, s in c < 2 ? s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
        : String(repeating: " ", count: widths[c] - s.count) + s }.joined(separator: "  ")
      return i == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
    }.joined(separator: "\n")
  }
}

extension Trainer {
  /// The training loop: steps from the current one (0, or a restored checkpoint's) to
  /// `options.steps`, calling `progress(step, loss)` after each and writing the monitor log, then
  /// the task's metric and held-out loss. The result's losses are those of the steps run here.
  ///
  /// With `evalEvery > 0` the held-out loss is evaluated every `evalEvery` steps and after the last
  /// step. With a `reachTarget` (FP32's final held-out loss) a run whose last evaluation is still
  /// above it keeps training past `options.steps` at the final learning rate, for at most
  /// `extraFraction` × steps more, until an evaluation reaches it; those extra steps count only for
  /// "steps to FP32 loss" (final loss, metric and held-out loss are taken at `options.steps`).
  /// `afterStep` runs after each of the `options.steps` (periodic checkpoints).
  public func run(
    evalEvery: Int = 0, reachTarget: Double? = nil, extraFraction: Double = 0.2, log: MonitorLog? = nil,
    progress: (Int, Float) -> Void = { _, _ in }, afterStep: (Trainer) throws(TrainingError) -> Void = { _ in }
  ) throws(TrainingError) -> RunResult {
    var losses: [Float] = []
    var exchange: ExchangeStats?
    var evalSteps: [Int] = [], evalLosses: [Double] = []
    var evalSeconds = 0.0
    func evaluateHeldOut(after step: Int) throws(TrainingError) {
      let e = Date()
      evalSteps.append(step)
      evalLosses.append(try evaluateLoss())
      evalSeconds += Date().timeIntervalSince(e)
    }
    let start = Date()
    while step < options.steps {
      let r = try trainStep()
      losses.append(r.loss)
      if let e = r.exchange, e.gradientBytes > 0 { exchange = e }
      log?.write(r, recipe: options.recipe.rawValue)
      progress(r.step, r.loss)
      try afterStep(self)
      if evalEvery > 0 && ((r.step + 1) % evalEvery == 0 || r.step + 1 == options.steps) { try evaluateHeldOut(after: r.step + 1) }
    }
    let secs = Date().timeIntervalSince(start) - evalSeconds
    let (metric, held) = try evaluate()
    if evalEvery > 0, let target = reachTarget, let last = evalLosses.last, last > target {
      let limit = options.steps + Int((Double(options.steps) * extraFraction).rounded(.up))
      while step < limit {
        try trainStep()
        if step % evalEvery == 0 || step == limit {
          try evaluateHeldOut(after: step)
          if evalLosses.last! <= target { break }
        }
      }
    }
    let tokens = Double(losses.count * options.accumulation * options.microBatch * task.sequenceLength)
    var result = RunResult(
      recipe: options.recipe.rawValue, gpu: options.gpu.rawValue, numerics: options.recipe.isFP8 ? options.gpu.numericsName : "fp32",
      losses: losses, finalLoss: Comparison.finalLoss(losses), relativeToFP32: nil, metricName: task.metricName, metric: metric,
      heldOutLoss: held, stepsToFP32Loss: nil, tokensPerSecond: tokens / max(secs, 1e-9),
      bytesFP8: bytesFP8, bytesFP32: bytesFP32, skippedSteps: scaler.skippedSteps, seconds: secs,
      evalSteps: evalSteps, evalLosses: evalLosses)
    result.exchange = exchange
    return result
  }
}
