import Foundation

/// One training run: the FP32 master model, AdamW state, loss scaler, the scaling state of every
/// cast, and the matrix-product hook that applies the recipe and calls the engine.
///
/// Per step: `accumulation` micro-batches (forward, backward with the loss multiplied by the loss
/// scale, gradients summed in order), then unscale, skip on Inf/NaN (counted), clip by value
/// (option), clip by global norm, AdamW on the FP32 masters, end-of-step delayed-scaling updates.
/// FP8 weights are re-quantised from the masters at every use, so they always follow the update.
public final class Trainer {
  public let options: TrainingOptions
  public let task: any TrainingTask
  public let engine: any MatmulEngine
  public private(set) var model: Transformer<Float>
  public private(set) var optimizer: AdamW
  public private(set) var scaler: LossScaler
  /// Delayed-scaling state per linear layer and tensor kind.
  public private(set) var delayed: [[DelayedScaling]]
  public private(set) var dataRNG: TrainRNG
  public private(set) var step = 0
  public private(set) var lrMultiplier: Float = 1
  var lastReduction = Int.min / 2
  /// Decisions taken so far (also in each step's record).
  public private(set) var eventLog: [String] = []
  var layerStats: [LayerRecord]
  let highPrecision: [Bool]
  var collectBytes = false
  /// Bytes of weights and saved activations held in FP8 (with their FP32 scales) in one micro-batch,
  /// and what they would take in FP32.
  public private(set) var bytesFP8 = 0
  public private(set) var bytesFP32 = 0
  var evalMode = false
  let isa: ISA
  /// Quantised weights of the current step (they change only at the update): key linear·2 + (0 forward, 1 dgrad).
  var weightCache: [Int: Operand] = [:]

  public init(options: TrainingOptions, task: any TrainingTask, engine: any MatmulEngine = IdealMatmulEngine(),
              model config: TransformerConfig? = nil) throws(TrainingError) {
    guard TrainingGPU(name: options.gpu) != nil else {
      throw .invalidArgument("unknown GPU '\(options.gpu)' (\(TrainingGPU.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    guard options.steps >= 0, options.microBatch > 0, options.accumulation > 0, options.threads >= 0 else {
      throw .invalidArgument("steps, micro-batch, accumulation and threads must be positive")
    }
    if options.recipe.isFP8 && !engine.supports(options.numerics) {
      throw .numericsNotAvailable("\(options.numerics) for recipe \(options.recipe) (engine \(type(of: engine)))")
    }
    if let f = options.gradientFormat, ElementFormat(name: f).map({ $0 == .e4m3 || $0 == .e5m2 }) != true {
      throw .invalidArgument("gradient format '\(f)' (e4m3 or e5m2)")
    }
    guard let isa = ISA(name: options.isa), isa.isSupported else { throw .invalidArgument("SIMD path '\(options.isa)' not available") }
    self.isa = isa
    self.options = options
    self.task = task
    self.engine = engine
    let cfg = config ?? TransformerConfig(vocab: task.vocab, maxSeq: task.sequenceLength)
    var initRNG = TrainRNG(seed: options.seed)
    model = Transformer<Float>(config: cfg, rng: &initRNG)
    model.fp16Schedule = options.effectiveFP16Schedule
    model.kernels = KernelContext(isa: isa, threads: options.threads)
    optimizer = AdamW(shapes: cfg.parameterShapes)
    scaler = LossScaler(dynamic: options.effectiveLossScaling, initial: options.initialLossScale, growthInterval: options.lossScaleGrowthInterval)
    dataRNG = TrainRNG(seed: options.seed ^ 0xD1B5_4A32_D192_ED03)
    let names = cfg.linearNames
    let gradFormat = options.effectiveGradientFormat
    delayed = names.map { _ in
      TensorKind.allCases.map { k in
        DelayedScaling(length: options.amaxHistoryLength, algorithm: options.amaxAlgorithm, margin: options.margin,
                       fp8Max: (k == .gradient ? gradFormat : .e4m3).maxFinite)
      }
    }
    layerStats = names.map { LayerRecord(name: $0) }
    highPrecision = names.map { options.highPrecisionLayers.contains($0) }
  }

  public var linearNames: [String] { model.config.linearNames }

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

  func operand(_ x: MatrixRef<Float>, isA: Bool, outer: Int, k: Int, kind: TensorKind, linear: Int,
               role: GemmRole) throws(TrainingError) -> Operand {
    let r = options.recipe
    if r == .fp32 || highPrecision[linear] || (r.isFP8 && !isCast(kind)) {
      return Operand(values: x.values, transposed: x.transposed)
    }
    if r == .bf16 { return Operand(values: x.values.map(roundBF16), transposed: x.transposed) }
    let cacheKey = linear * 2 + (role == .forward ? 0 : 1)
    if kind == .weight, let c = weightCache[cacheKey] { return c }
    if options.fakeQuantization && kind == .gradient { return Operand(values: x.values, transposed: x.transposed) }
    let format: ElementFormat = kind == .gradient ? options.effectiveGradientFormat : .e4m3
    let g = r.granularity(for: kind, isA: isA)
    let km = Trainer.kMajor(x, isA: isA, outer: outer, k: k)
    let tensorScale: Float? = r == .delayed ? delayed[linear][kind.index].scale : nil
    let (payload, deq, stats): (QuantizedPayload, [Float], QuantStats)
    do {
      (payload, deq, stats) = try Quantizer.quantize(km, outer: outer, k: k, format: format, granularity: g,
                                                     tensorScale: tensorScale, powerOfTwo: options.powerOfTwoScales, isa: isa)
    } catch { throw .fp8(error) }
    if !evalMode {
      if r == .delayed { delayed[linear][kind.index].observe(stats.amax) }
      switch kind {
      case .activation: if role == .forward { layerStats[linear].activation = stats }
      case .weight: if role == .forward { layerStats[linear].weight = stats }
      case .gradient: if role == .gradInput { layerStats[linear].gradient = stats }
      }
      if collectBytes && role == .forward {
        bytesFP8 += payload.bits.count + 4 * payload.scaleInverse.count
        bytesFP32 += 4 * payload.bits.count
      }
    }
    let op = options.fakeQuantization
      // Quantise-dequantise; the product runs in FP32 on the dequantised values (k-major layout).
      ? Operand(values: deq, transposed: !isA)
      : Operand(values: x.values, transposed: x.transposed, quantized: payload)
    if kind == .weight { weightCache[cacheKey] = op }
    return op
  }

  func matmul(_ linear: Int, _ role: GemmRole, _ a: MatrixRef<Float>, _ b: MatrixRef<Float>, _ m: Int, _ n: Int, _ k: Int) throws(TrainingError) -> [Float] {
    let (ka, kb): (TensorKind, TensorKind)
    switch role {
    case .forward: (ka, kb) = (.activation, .weight)
    case .gradInput: (ka, kb) = (.gradient, .weight)
    case .gradWeight: (ka, kb) = (.gradient, .activation)
    }
    let opA = try operand(a, isA: true, outer: m, k: k, kind: ka, linear: linear, role: role)
    let opB = try operand(b, isA: false, outer: n, k: k, kind: kb, linear: linear, role: role)
    // A product runs under the GPU's FP8 numerics when both operands are FP8; a product with one
    // FP32 operand (progressive schedule, fake quantisation) runs ideal on the dequantised values.
    let fp8 = opA.quantized != nil && opB.quantized != nil
    return try engine.matmul(opA, opB, m: m, n: n, k: k, numerics: fp8 ? options.numerics : .ideal)
  }

  // MARK: steps

  /// Runs one optimiser step and returns its record.
  @discardableResult
  public func trainStep() throws(TrainingError) -> StepRecord {
    var events: [String] = []
    weightCache = [:]
    defer { weightCache = [:] }
    if options.recipe == .delayed, let every = options.weightRecalibrationInterval, every > 0, step > 0, step % every == 0 {
      for l in linearNames.indices where !highPrecision[l] {
        let w = model.params[model.config.weightIndex(ofLinear: l)]
        var amax: Float = 0
        for x in w { amax = max(amax, abs(x)) }
        delayed[l][TensorKind.weight.index].recalibrate(amax: amax)
      }
      events.append("step \(step): weight scales re-calibrated")
    }
    let hook: MatmulHook<Float> = { (l, r, a, b, m, n, k) throws(TrainingError) in try self.matmul(l, r, a, b, m, n, k) }
    var sum = model.params.map { [Float](repeating: 0, count: $0.count) }
    var lossSum: Float = 0
    let ls = scaler.scale
    collectBytes = step == 0
    if collectBytes { bytesFP8 = 0; bytesFP32 = 0 }
    for micro in 0..<options.accumulation {
      let batch = task.trainBatch(&dataRNG, size: options.microBatch)
      let (loss, g) = try model.lossAndGradients(batch, lossScale: ls, hook: hook)
      collectBytes = false
      _ = micro
      lossSum += loss
      for i in sum.indices {
        sum[i].withUnsafeMutableBufferPointer { S in g[i].withUnsafeBufferPointer { G in for j in 0..<S.count { S[j] += G[j] } } }
      }
    }
    let loss = lossSum / Float(options.accumulation)
    let inv = 1 / (ls * Float(options.accumulation))
    var finite = true
    for i in sum.indices {
      for j in sum[i].indices { sum[i][j] *= inv; if !sum[i][j].isFinite { finite = false } }
    }
    let apply = scaler.record(finite: finite)
    var norm = Double.nan
    let lr = options.learningRate(at: step) * lrMultiplier
    if apply {
      if let v = options.clipValue { Clipping.byValue(&sum, limit: v) }
      if let c = options.clipNorm { norm = Clipping.byGlobalNorm(&sum, maxNorm: c) } else { norm = Clipping.globalNorm(sum) }
      optimizer.update(&model.params, sum, lr: lr, options: options)
    } else {
      events.append("step \(step): Inf/NaN gradients, step skipped, loss scale \(ls) -> \(scaler.scale)")
    }
    for l in delayed.indices { for k in delayed[l].indices { delayed[l][k].update() } }
    // SQNR-driven learning-rate reduction.
    if let thr = options.sqnrThresholdDB, step - lastReduction >= options.lrReductionCooldown {
      for (l, rec) in layerStats.enumerated() where !highPrecision[l] {
        let worst = min(rec.activation?.sqnrDB ?? .infinity, rec.weight?.sqnrDB ?? .infinity)
        if worst < thr {
          lrMultiplier *= options.lrReductionFactor
          lastReduction = step
          events.append(String(format: "step %d: %@ forward SQNR %.2f dB < %.2f dB: learning rate x%g (multiplier %g)",
                               step, rec.name, worst, thr, Double(options.lrReductionFactor), Double(lrMultiplier)))
          break
        }
      }
    }
    eventLog += events
    let rec = StepRecord(step: step, loss: loss, gradNorm: norm, lossScale: ls, skipped: !apply, learningRate: lr,
                         layers: layerStats, events: events)
    step += 1
    return rec
  }

  /// The task's metric and held-out loss with the recipe's forward numerics (no scaling state changes).
  public func evaluate() throws(TrainingError) -> (metric: Double, loss: Double) {
    evalMode = true
    weightCache = [:]
    defer { evalMode = false; weightCache = [:] }
    let m = model
    return try task.evaluate { (t, b, s) throws(TrainingError) in
      try m.logits(t, batch: b, seq: s, hook: { (l, r, a, bb, mm, nn, kk) throws(TrainingError) in try self.matmul(l, r, a, bb, mm, nn, kk) })
    }
  }

  /// The held-out loss alone (teacher forcing), with the recipe's forward numerics; no state changes.
  public func evaluateLoss() throws(TrainingError) -> Double {
    evalMode = true
    weightCache = [:]
    defer { evalMode = false; weightCache = [:] }
    let m = model
    return try task.heldOutLoss { (t, b, s) throws(TrainingError) in
      try m.logits(t, batch: b, seq: s, hook: { (l, r, a, bb, mm, nn, kk) throws(TrainingError) in try self.matmul(l, r, a, bb, mm, nn, kk) })
    }
  }

  // MARK: checkpoint state

  /// The complete state of the run (see ``Checkpoint``).
  public func checkpoint() -> Checkpoint {
    Checkpoint(options: options, config: model.config, step: step, params: model.params, adamM: optimizer.m, adamV: optimizer.v,
               adamT: optimizer.t, scaler: scaler, delayed: delayed, dataRNG: dataRNG, lrMultiplier: lrMultiplier,
               lastReduction: lastReduction)
  }

  /// Restores a checkpoint written by a run with the same options and model shape.
  public func restore(_ c: Checkpoint) throws(TrainingError) {
    guard c.config == model.config else { throw .badCheckpoint("model shape differs") }
    guard c.params.map(\.count) == model.params.map(\.count), c.adamM.map(\.count) == optimizer.m.map(\.count),
          c.adamV.map(\.count) == optimizer.v.map(\.count), c.delayed.count == delayed.count else {
      throw .badCheckpoint("tensor sizes differ")
    }
    model.params = c.params
    optimizer.m = c.adamM; optimizer.v = c.adamV; optimizer.t = c.adamT
    scaler = c.scaler; delayed = c.delayed; dataRNG = c.dataRNG; step = c.step
    lrMultiplier = c.lrMultiplier; lastReduction = c.lastReduction
  }
}

extension TensorKind {
  var index: Int { switch self { case .activation: 0; case .weight: 1; case .gradient: 2 } }
}
