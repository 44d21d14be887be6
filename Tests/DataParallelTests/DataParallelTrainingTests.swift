@testable import DataParallel
@testable import MixedPrecision
import Testing

/// Ranks as threads of this process (no MPI): the trainer's sharing, summation tree and
/// agreement, end to end.
@Suite struct DataParallelTrainingTests {
  static let task = AdditionTask(digits: 2, evalCount: 16)

  static func options(_ recipe: Recipe) -> TrainingOptions {
    var o = TrainingOptions()
    o.recipe = recipe; o.gpu = .h100; o.steps = 3; o.microBatch = 4; o.accumulation = 4; o.seed = 3
    o.warmupSteps = 1; o.learningRate = 1e-2
    return o
  }

  static func trainer(_ o: TrainingOptions) throws -> Trainer {
    let cfg = TransformerConfig(vocab: task.vocab, maxSeq: task.sequenceLength, d: 16, heads: 2, layers: 1)
    return try Trainer(options: o, task: task, engine: TensorCoreMatmulEngine(threads: 1), model: cfg)
  }

  /// Every rank's final state and losses.
  static func run(_ o: TrainingOptions, ranks: Int?, exchange: ExchangeFormat = .fp32) throws -> [(Checkpoint, [Float])] {
    guard let ranks else {
      let t = try trainer(o)
      let losses = try (0..<o.steps).map { _ in try t.trainStep().loss }
      return [(t.checkpoint(), losses)]
    }
    return try LocalGroup(size: ranks).run { c -> (Checkpoint, [Float]) in
      let t = try trainer(o)
      t.reducer = try DataParallelRun(comm: c, exchange: exchange).reducer(options: o)(t)
      let losses = try (0..<o.steps).map { _ in try t.trainStep().loss }
      return (t.checkpoint(), losses)
    }.map { try $0.get() }
  }

  /// Which parts of two states differ (a short text, for failure messages).
  static func difference(_ a: Checkpoint, _ b: Checkpoint) -> String {
    func bits(_ t: [[Float]]) -> [UInt32] { t.joined().map(\.bitPattern) }
    var d: [String] = []
    if bits(a.params) != bits(b.params) { d.append("masters") }
    if bits(a.adamM) != bits(b.adamM) || bits(a.adamV) != bits(b.adamV) { d.append("AdamW moments") }
    if a.scaler != b.scaler { d.append("loss scaler \(a.scaler) vs \(b.scaler)") }
    if bits(a.delayed.joined().map(\.history)) != bits(b.delayed.joined().map(\.history)) { d.append("amax histories") }
    if a.delayed.joined().map(\.scale.bitPattern) != b.delayed.joined().map(\.scale.bitPattern) { d.append("scales") }
    if a.dataRNG.state != b.dataRNG.state { d.append("data RNG") }
    if a.delayed.joined().map(\.position) != b.delayed.joined().map(\.position) { d.append("history positions \(a.delayed.joined().map(\.position)) vs \(b.delayed.joined().map(\.position))") }
    if a.adamT != b.adamT || a.step != b.step || a.lastReduction != b.lastReduction || a.lrMultiplier != b.lrMultiplier { d.append("counters") }
    return d.isEmpty ? "equal" : d.joined(separator: ", ")
  }

  @Test(arguments: [Recipe.fp32, .delayed, .blockwise])
  func fp32ExchangeIsBitIdenticalForAnyRankCount(recipe: Recipe) throws {
    let o = Self.options(recipe)
    let single = try Self.run(o, ranks: nil)[0]
    for n in [2, 4] {
      for (r, (ck, losses)) in try Self.run(o, ranks: n).enumerated() {
        // Masters, AdamW moments, loss scaler, amax histories and scales, data RNG: all bits.
        let sameState = ck == single.0
        #expect(sameState, "\(recipe), rank \(r) of \(n): \(Self.difference(ck, single.0))")
        #expect(losses.map(\.bitPattern) == single.1.map(\.bitPattern), "\(recipe), rank \(r) of \(n)")
      }
    }
  }

  @Test(arguments: [ExchangeFormat.bf16, .e5m2, .e4m3Blockwise])
  func reducedExchangesAgreeAcrossRanksAndRuns(exchange: ExchangeFormat) throws {
    let o = Self.options(.delayed)
    let a = try Self.run(o, ranks: 2, exchange: exchange)
    let b = try Self.run(o, ranks: 2, exchange: exchange)
    let ranksAgree = a[0].0 == a[1].0, runsAgree = a[0].0 == b[0].0
    let differsFromFP32 = try a[0].0 != Self.run(o, ranks: nil)[0].0
    #expect(ranksAgree)
    #expect(runsAgree)
    #expect(differsFromFP32, "the exchange should have rounded something")
  }
}
