import FP8
import Foundation
import TensorCores

/// One training run: the FP32 master model, AdamW state, loss scaler, the recipe (its casts and
/// scaling state), and the matrix-product hook that casts operands and calls the engine.
///
/// A step (``trainStep()``): the recipe's start of step; `accumulation` micro-batches (forward,
/// backward with the loss multiplied by the loss scale, gradients summed along
/// ``AccumulationTree``; under data parallelism this rank's share, combined with the other ranks'
/// by the ``StepReducer``, which also makes the ranks agree on the recipe's amaxes); then unscale, the overflow decision (skip on Inf/NaN,
/// counted), clip by value (option), clip by global norm, AdamW on the FP32 masters, the recipe's
/// end of step. FP8 weights are re-quantised from the masters at every use, so they always follow
/// the update.
public final class Trainer {
  public let options: TrainingOptions
  public let task: any TrainingTask
  public let engine: any MatmulEngine
  public private(set) var model: Transformer<Float>
  private(set) var optimizer: AdamW
  private(set) var scaler: LossScaler
  /// The recipe's casts and scaling state.
  package private(set) var recipe: any TrainingRecipe
  private(set) var dataRNG: TrainRNG
  public private(set) var step = 0
  private(set) var lrMultiplier: Float = 1
  var lastReduction = Int.min / 2
  /// Decisions taken so far (also in each step's record).
  private(set) var eventLog: [String] = []
  var layerStats: [LayerRecord]
  let highPrecision: [Bool]
  var collectBytes = false
  /// Bytes of weights and saved activations held in FP8 (with their FP32 scales) in one micro-batch,
  /// and what they would take in FP32.
  private(set) var bytesFP8 = 0
  private(set) var bytesFP32 = 0
  var evalMode = false
  /// Quantised weights of the current step (they change only at the update): key linear·2 + (0 forward, 1 dgrad).
  var weightCache: [Int: Operand] = [:]
  /// Combines the ranks' sums under data parallelism; nil: this process is the only rank.
  public var reducer: (any StepReducer)?
  /// Whether the casts running now record the layer statistics: those of the step's first
  /// micro-batch, which rank 0 computes whatever the number of ranks.
  var recordStats = true

  /// `threads`: OpenMP threads of the step's C kernels (products, attention, layers; 0: the
  /// runtime's default). The bits do not depend on it, so it is not part of the options a
  /// checkpoint records.
  public init(options: TrainingOptions, task: any TrainingTask, engine: any MatmulEngine = IdealMatmulEngine(),
              model config: TransformerConfig? = nil, threads: Int = 1) throws(TrainingError) {
    guard options.steps >= 0, options.microBatch > 0, options.accumulation > 0, threads >= 0 else {
      throw .invalidArgument("steps, micro-batch and accumulation must be positive, threads not negative")
    }
    if options.recipe.isFP8 && !engine.supports(options.numerics) {
      throw .numericsNotAvailable("\(options.numerics) for recipe \(options.recipe) (engine \(type(of: engine)))")
    }
    if let f = options.gradientFormat, f != .e4m3 && f != .e5m2 { throw .invalidArgument("gradient format \(f) (e4m3 or e5m2)") }
    guard options.isa.isSupported else { throw .invalidArgument("SIMD path \(options.isa) is not available on this CPU") }
    self.options = options
    self.task = task
    self.engine = engine
    let cfg = config ?? TransformerConfig(vocab: task.vocab, maxSeq: task.sequenceLength)
    // Bounds that keep the parameter count within Int; the memory estimate below does the rest.
    guard cfg.d > 0, cfg.d <= 1 << 20, cfg.heads > 0, cfg.d % cfg.heads == 0, (1...(1 << 16)).contains(cfg.layers),
          (1...64).contains(cfg.ffnMultiplier), cfg.vocab <= 1 << 24, cfg.maxSeq <= 1 << 24 else {
      throw .invalidArgument("model width \(cfg.d) with \(cfg.heads) heads and \(cfg.layers) layers (width a multiple of heads)")
    }
    guard cfg.vocab >= task.vocab, cfg.maxSeq >= task.sequenceLength else {
      throw .invalidArgument("the model (vocabulary \(cfg.vocab), context \(cfg.maxSeq)) is smaller than the task's \(task.vocab), \(task.sequenceLength)")
    }
    do { _ = try cfg.trainingBytes(microBatch: options.microBatch, seq: task.sequenceLength) } catch { throw .fp8(error) }
    var initRNG = TrainRNG(seed: options.seed)
    model = Transformer<Float>(config: cfg, rng: &initRNG)
    model.fp16Schedule = options.effectiveFP16Schedule
    model.kernels = KernelContext(isa: options.isa, threads: threads)
    optimizer = AdamW(shapes: cfg.parameterShapes)
    scaler = LossScaler(dynamic: options.effectiveLossScaling, initial: options.initialLossScale, growthInterval: options.lossScaleGrowthInterval)
    dataRNG = TrainRNG(seed: options.seed ^ 0xD1B5_4A32_D192_ED03)
    let names = cfg.linearNames
    recipe = options.recipe.implementation.init(options: options, linearNames: names)
    layerStats = names.map { LayerRecord(name: $0) }
    highPrecision = names.map { options.highPrecisionLayers.contains($0) }
  }

  var linearNames: [String] { model.config.linearNames }

  // MARK: the matrix-product hook

  func isCast(_ kind: TensorKind) -> Bool {
    switch kind {
    case .weight: return step >= options.fp8WeightsFrom
    case .activation: return step >= options.fp8ActivationsFrom
    case .gradient: return step >= options.fp8GradientsFrom
    }
  }

  /// Builds the k-major (outer × k) copy of an operand: A (m × k) as is, B (k × n) transposed.
  static func kMajor(_ x: MatrixRef<Float>, isA: Bool, outer: Int, k: Int) -> [Float] {
    if isA { return x.transposed ? transpose(x.values, rows: k, cols: outer) : x.values }
    return x.transposed ? x.values : transpose(x.values, rows: k, cols: outer)
  }

  func operand(_ x: MatrixRef<Float>, at site: CastSite, outer: Int, k: Int) throws(TrainingError) -> Operand {
    let plain = Operand(values: x.values, transposed: x.transposed)
    if highPrecision[site.linear] || (options.recipe.isFP8 && !isCast(site.kind)) { return plain }
    let fp8: FP8Cast
    switch recipe.cast(at: site) {
    case .fp32: return plain
    case .bf16: return Operand(values: x.values.map(roundBF16), transposed: x.transposed)
    case .fp8(let c): fp8 = c
    }
    let cacheKey = site.linear * 2 + (site.role == .forward ? 0 : 1)
    if site.kind == .weight, let c = weightCache[cacheKey] { return c }
    if options.fakeQuantization && site.kind == .gradient { return plain }
    let km = Trainer.kMajor(x, isA: site.isA, outer: outer, k: k)
    // The monitors record the forward casts and the output gradient of dgrad of the first
    // micro-batch; the other casts need only their bits and amax.
    let monitored = !evalMode && recordStats && (site.role == .forward ? site.kind != .gradient : site.role == .gradInput)
    let (q, deq, stats): (QuantizedTensor, [Float], QuantStats)
    do {
      (q, deq, stats) = try fp8.apply(km, rows: outer, cols: k, isa: options.isa, statistics: monitored || options.fakeQuantization)
    } catch { throw .fp8(error) }
    if !evalMode {
      recipe.observe(amax: stats.amax, at: site)
      if recordStats { switch site.kind {
      case .activation: if site.role == .forward { layerStats[site.linear].activation = stats }
      case .weight: if site.role == .forward { layerStats[site.linear].weight = stats }
      case .gradient: if site.role == .gradInput { layerStats[site.linear].gradient = stats }
      } }
      if collectBytes && site.role == .forward {
        // Every scale counted as FP32, the E8M0 ones of MXFP8 included.
        bytesFP8 += q.bits.count + 4 * (q.scales.count + q.mxScales.count)
        bytesFP32 += 4 * q.bits.count
      }
    }
    let op = options.fakeQuantization
      // Quantise-dequantise; the product runs in FP32 on the dequantised values (k-major layout).
      ? Operand(values: deq, transposed: !site.isA)
      : deq.isEmpty ? Operand(values: x.values, transposed: x.transposed, quantized: q)
      : Operand(values: x.values, transposed: x.transposed, quantized: q, dequantized: deq)
    if site.kind == .weight { weightCache[cacheKey] = op }
    return op
  }

  func matmul(_ linear: Int, _ role: GemmRole, _ a: MatrixRef<Float>, _ b: MatrixRef<Float>, _ m: Int, _ n: Int, _ k: Int) throws(TrainingError) -> [Float] {
    let (ka, kb): (TensorKind, TensorKind)
    switch role {
    case .forward: (ka, kb) = (.activation, .weight)
    case .gradInput: (ka, kb) = (.gradient, .weight)
    case .gradWeight: (ka, kb) = (.gradient, .activation)
    }
    let opA = try operand(a, at: CastSite(linear: linear, kind: ka, role: role), outer: m, k: k)
    let opB = try operand(b, at: CastSite(linear: linear, kind: kb, role: role), outer: n, k: k)
    // A product runs under the GPU's FP8 numerics when both operands are FP8; a product with one
    // FP32 operand (progressive schedule, fake quantisation) runs ideal on the dequantised values.
    let fp8 = opA.quantized != nil && opB.quantized != nil
    return try engine.matmul(opA, opB, m: m, n: n, k: k, numerics: fp8 ? options.numerics : .ideal)
  }

  // MARK: steps

  /// Runs one optimiser step and returns its record.
  @discardableResult
  public func trainStep() throws(TrainingError) -> StepRecord {
    weightCache = [:]
    defer { weightCache = [:] }
    let lossScale = scaler.scale
    var events = recipe.beginStep(step) { l in
      var amax: Float = 0
      for x in model.params[model.config.weightIndex(ofLinear: l)] { amax = max(amax, abs(x)) }
      return amax
    }
    let local = try accumulateGradients(lossScale: lossScale)
    // Agreed by maximum across ranks: the recipe's amaxes, and rank 0's SQNR verdict on the first
    // micro-batch (the other ranks contribute −∞).
    let amaxes = recipe.stepAmaxes
    let verdict: Float = local.share.lowerBound == 0 ? Float(lowSQNRLayer().map { $0 + 1 } ?? 0) : -.infinity
    let mine = StepSums(gradients: local.gradients, loss: local.loss, maxima: amaxes + [verdict])
    let all = try reducer?.reduce(mine) ?? mine
    let loss = all.loss / Float(options.accumulation)
    var gradients = all.gradients ?? []
    let finite = all.gradients != nil && unscale(&gradients, lossScale: lossScale)
    let (applied, norm, lr) = try applyGradients(&gradients, finite: finite)
    if !applied { events.append("step \(step): Inf/NaN gradients, step skipped, loss scale \(lossScale) -> \(scaler.scale)") }
    recipe.endStep(amaxes: Array(all.maxima.prefix(amaxes.count)))
    events += reduceLearningRate(layer: Int(all.maxima.last!) - 1)
    eventLog += events
    let rec = StepRecord(step: step, loss: loss, gradNorm: norm, lossScale: lossScale, skipped: !applied, learningRate: lr,
                         layers: layerStats, events: events, exchange: all.exchange)
    step += 1
    return rec
  }

  /// Forward and backward passes over this rank's micro-batches: the sums of their losses and of
  /// the gradients of `lossScale ×` the loss, along ``AccumulationTree``. Every rank draws every
  /// micro-batch, so that the data RNG does not depend on the number of ranks.
  func accumulateGradients(lossScale: Float) throws(TrainingError) -> (share: Range<Int>, loss: Float, gradients: [[Float]]) {
    let hook: MatmulHook<Float> = { (l, r, a, b, m, n, k) throws(TrainingError) in try self.matmul(l, r, a, b, m, n, k) }
    let count = options.accumulation
    let share = reducer?.share(of: count) ?? 0..<count
    var batches: [Batch?] = []
    for micro in 0..<count {
      let b = task.trainBatch(&dataRNG, size: options.microBatch)
      batches.append(share.contains(micro) ? b : nil)
    }
    collectBytes = step == 0
    if collectBytes { bytesFP8 = 0; bytesFP32 = 0 }
    defer { recordStats = true }
    let (loss, sum) = try AccumulationTree.sum(share, leaf: { (micro) throws(TrainingError) -> (Float, [[Float]]) in
      recordStats = micro == 0
      defer { collectBytes = false }
      let (loss, g) = try model.lossAndGradients(batches[micro]!, lossScale: lossScale, hook: hook)
      return (loss, g)
    }, add: { ($0.0 + $1.0, AccumulationTree.add($0.1, $1.1)) })
    return (share, loss, sum)
  }

  /// Multiplies the accumulated gradients by 1 / (loss scale × micro-batches); returns whether
  /// every element is finite. Data-parallel replicas must agree on this before the overflow
  /// decision (a logical AND across ranks).
  func unscale(_ gradients: inout [[Float]], lossScale: Float) -> Bool {
    let inv = 1 / (lossScale * Float(options.accumulation))
    var finite = true
    for i in gradients.indices {
      gradients[i].withUnsafeMutableBufferPointer { g in
        for j in g.indices { g[j] *= inv; if !g[j].isFinite { finite = false } }
      }
    }
    return finite
  }

  /// The overflow decision (the loss scaler's) and, when the step is applied, clipping and AdamW on
  /// the masters. Returns whether it was applied, the gradient norm before clipping (NaN when
  /// skipped), and the learning rate.
  func applyGradients(_ gradients: inout [[Float]], finite: Bool) throws(TrainingError) -> (Bool, Double, Float) {
    let apply = scaler.record(finite: finite)
    let lr = options.learningRate(at: step) * lrMultiplier
    guard apply else { return (false, .nan, lr) }
    if let v = options.clipValue { Clipping.byValue(&gradients, limit: v) }
    let norm: Double
    if let c = options.clipNorm { norm = Clipping.byGlobalNorm(&gradients, maxNorm: c) } else { norm = Clipping.globalNorm(gradients) }
    try optimizer.update(&model.params, gradients, lr: lr, options: options, kernels: model.kernels)
    return (true, norm, lr)
  }

  /// The first cast layer whose forward SQNR (first micro-batch) is below the threshold, when a
  /// learning-rate reduction is due (at most once per cooldown).
  func lowSQNRLayer() -> Int? {
    guard let thr = options.sqnrThresholdDB, step - lastReduction >= options.lrReductionCooldown else { return nil }
    return layerStats.indices.first { l in
      !highPrecision[l] && min(layerStats[l].activation?.sqnrDB ?? .infinity, layerStats[l].weight?.sqnrDB ?? .infinity) < thr
    }
  }

  /// SQNR-driven learning-rate reduction for the layer rank 0 found (`layer` < 0: none).
  func reduceLearningRate(layer: Int) -> [String] {
    guard layer >= 0, let thr = options.sqnrThresholdDB else { return [] }
    let rec = layerStats[layer]
    let worst = min(rec.activation?.sqnrDB ?? .infinity, rec.weight?.sqnrDB ?? .infinity)
    lrMultiplier *= options.lrReductionFactor
    lastReduction = step
    return [String(format: "step %d: %@ forward SQNR %.2f dB < %.2f dB: learning rate x%g (multiplier %g)",
                   step, rec.name, worst, thr, Double(options.lrReductionFactor), Double(lrMultiplier))]
  }

  /// The task's metric and held-out loss with the recipe's forward numerics (no scaling state changes).
  public func evaluate() throws(TrainingError) -> (metric: Double, loss: Double) {
    try evaluating { (logits) throws(TrainingError) in try task.evaluate(logits: logits) }
  }

  /// The held-out loss alone (teacher forcing), with the recipe's forward numerics; no state changes.
  public func evaluateLoss() throws(TrainingError) -> Double {
    try evaluating { (logits) throws(TrainingError) in try task.heldOutLoss(logits: logits) }
  }

  private func evaluating<R>(
    _ body: (([Int], Int, Int) throws(TrainingError) -> [Float]) throws(TrainingError) -> R
  ) throws(TrainingError) -> R {
    evalMode = true
    weightCache = [:]
    defer { evalMode = false; weightCache = [:] }
    let m = model
    return try body { (t, b, s) throws(TrainingError) in
      try m.logits(t, batch: b, seq: s, hook: { (l, r, a, bb, mm, nn, kk) throws(TrainingError) in try self.matmul(l, r, a, bb, mm, nn, kk) })
    }
  }

  // MARK: checkpoint state

  /// The complete state of the run (see ``Checkpoint``).
  public func checkpoint() -> Checkpoint {
    Checkpoint(options: options, config: model.config, step: step, params: model.params, adamM: optimizer.m, adamV: optimizer.v,
               adamT: optimizer.t, scaler: scaler, delayed: recipe.scalingState, dataRNG: dataRNG, lrMultiplier: lrMultiplier,
               lastReduction: lastReduction)
  }

  /// Restores a checkpoint written by a run with the same options and model shape.
  public func restore(_ c: Checkpoint) throws(TrainingError) {
    guard c.config == model.config else { throw .badCheckpoint("model shape differs") }
    guard c.params.map(\.count) == model.params.map(\.count), c.adamM.map(\.count) == optimizer.m.map(\.count),
          c.adamV.map(\.count) == optimizer.v.map(\.count) else {
      throw .badCheckpoint("tensor sizes differ")
    }
    try recipe.restore(scalingState: c.delayed)
    model.params = c.params
    optimizer.m = c.adamM; optimizer.v = c.adamV; optimizer.t = c.adamT
    scaler = c.scaler; dataRNG = c.dataRNG; step = c.step
    lrMultiplier = c.lrMultiplier; lastReduction = c.lastReduction
  }
}
