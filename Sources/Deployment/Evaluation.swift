import FP8
import MixedPrecision

/// How the per-tensor activation scale of an INT8 layer is obtained.
public enum ActivationScaling: Sendable, Hashable, CustomStringConvertible {
  /// Computed at run time from each activation tensor's amax (`amax / 127`).
  case dynamic
  /// Fixed before deployment from calibration data with a ``CalibrationMethod``.
  case `static`(CalibrationMethod)

  public var description: String {
    switch self {
    case .dynamic: "dynamic"
    case .static(let m): "static \(m)"
    }
  }
}

/// One way of deploying the trained model. All linear layers (the head included) are quantised;
/// embeddings, LayerNorm parameters and biases stay FP32.
///
/// | tier | weights | activations | product |
/// |---|---|---|---|
/// | `fp32` | FP32 | FP32 | FP32 |
/// | `fp8` | E4M3, FP32 scale per output channel (amax/448) | E4M3, per-tensor current scaling | FP32 on the dequantised values |
/// | `int8` | INT8, FP32 scale per output channel (amax/127) | INT8, per tensor (dynamic or calibrated) | exact INT32 GEMM, FP32 requantisation |
/// | `fourBit` | INT4 / MXFP4 / NVFP4 | FP32 | FP32 on the dequantised weights |
public enum DeploymentTier: Sendable, Hashable, CustomStringConvertible {
  case fp32
  case fp8
  case int8(ActivationScaling)
  case fourBit(FourBitFormat)

  public var description: String {
    switch self {
    case .fp32: "FP32"
    case .fp8: "FP8 E4M3"
    case .int8(let a): "INT8 (\(a))"
    case .fourBit(.int4): "INT4 g128"
    case .fourBit(.mxfp4): "MXFP4"
    case .fourBit(.nvfp4): "NVFP4"
    }
  }

  /// The tiers of the deployment table.
  public static let standard: [DeploymentTier] = [
    .fp32, .fp8, .int8(.static(.max)), .int8(.static(.percentile(99.99))), .int8(.static(.entropy)), .int8(.dynamic),
    .fourBit(.int4), .fourBit(.mxfp4), .fourBit(.nvfp4),
  ]
}

/// One row of the deployment table.
public struct DeploymentResult: Sendable {
  public var tier: DeploymentTier
  /// The task's metric on held-out data (exact-match accuracy for addition).
  public var metric: Double
  public var loss: Double
  /// Bytes of all parameters in this tier (quantised linear weights with their scales + FP32 rest).
  public var modelBytes: Int
  /// Bytes of the linear weights alone.
  public var linearBytes: Int
}

/// Runs the forward pass of a trained model with each tier's weights and activations.
public final class DeploymentEvaluator {
  public let model: Transformer<Float>
  public let task: any TrainingTask
  public let isa: ISA
  public let threads: Int
  /// Calibration batch size (sequences drawn from the training distribution, never held-out data).
  public let calibrationSequences: Int
  public let calibrationSeed: UInt64
  private var calibrationSamples: [[Float]]? = nil

  public init(model: Transformer<Float>, task: any TrainingTask, isa: ISA = .auto, threads: Int = 0,
              calibrationSequences: Int = 128, calibrationSeed: UInt64 = 7) {
    self.model = model; self.task = task; self.isa = isa; self.threads = threads
    self.calibrationSequences = calibrationSequences; self.calibrationSeed = calibrationSeed
  }

  var linearCount: Int { model.config.linearNames.count }

  /// (out, in) of linear layer l.
  func shape(ofLinear l: Int) -> (out: Int, in: Int) {
    let c = model.config, d = c.d, f = c.ffnMultiplier * d
    if l == 4 * c.layers { return (c.vocab, d) }
    switch l % 4 {
    case 0: return (3 * d, d)
    case 1: return (d, d)
    case 2: return (f, d)
    default: return (d, f)
    }
  }

  func weight(_ l: Int) -> [Float] { model.params[model.config.weightIndex(ofLinear: l)] }

  static func ideal(_ x: [Float], _ w: [Float], m: Int, n: Int, k: Int) throws(TrainingError) -> [Float] {
    try IdealMatmulEngine().matmul(Operand(values: x, transposed: false), Operand(values: w, transposed: true),
                                   m: m, n: n, k: k, numerics: .ideal)
  }

  /// The inputs of every linear layer on the calibration batch (FP32 forward pass).
  public func calibrationActivations() throws(TrainingError) -> [[Float]] {
    if let c = calibrationSamples { return c }
    var rng = TrainRNG(seed: calibrationSeed)
    let b = task.trainBatch(&rng, size: calibrationSequences)
    nonisolated(unsafe) var samples = [[Float]](repeating: [], count: linearCount)
    let hook: MatmulHook<Float> = { (l, role, a, w, m, n, k) throws(TrainingError) in
      samples[l] += a.values
      return try DeploymentEvaluator.ideal(a.values, w.values, m: m, n: n, k: k)
    }
    _ = try model.logits(b.tokens, batch: b.batch, seq: b.seq, hook: hook)
    calibrationSamples = samples
    return samples
  }

  /// Per-layer static activation scales (threshold / 127) for a calibration method.
  public func activationScales(_ method: CalibrationMethod) throws(TrainingError) -> [Float] {
    try calibrationActivations().map { Int8Quantization.scale(amax: method.threshold($0)) }
  }

  public func evaluate(_ tier: DeploymentTier) throws(TrainingError) -> DeploymentResult {
    var params = model.params
    var linearBytes = 0
    var hook: MatmulHook<Float> = { (l, role, a, w, m, n, k) throws(TrainingError) in
      try DeploymentEvaluator.ideal(a.values, w.values, m: m, n: n, k: k)
    }
    do {
      switch tier {
      case .fp32:
        for l in 0..<linearCount { linearBytes += 4 * weight(l).count }
      case .fp8:
        var deq: [[Float]] = []
        for l in 0..<linearCount {
          let s = shape(ofLinear: l)
          let (p, d, _) = try FP8Cast(format: .e4m3, granularity: .perChannel, scale: .current(powerOfTwo: false))
            .apply(weight(l), rows: s.out, cols: s.in)
          deq.append(d)
          linearBytes += p.bits.count + 4 * p.scales.count
        }
        hook = { [deq] (l, role, a, w, m, n, k) throws(TrainingError) in
          let x: [Float]
          do throws(FP8Error) {
            x = try FP8Cast(format: .e4m3, granularity: .perTensor, scale: .current(powerOfTwo: false)).apply(a.values, rows: m, cols: k).1
          } catch { throw .fp8(error) }
          return try DeploymentEvaluator.ideal(x, deq[l], m: m, n: n, k: k)
        }
      case .int8(let scaling):
        var ws: [Int8Weight] = []
        for l in 0..<linearCount {
          let s = shape(ofLinear: l)
          let w = try Int8Weight(weight(l), outFeatures: s.out, inFeatures: s.in)
          ws.append(w)
          linearBytes += w.bytes
        }
        let staticScales: [Float]?
        if case .static(let method) = scaling { staticScales = try activationScales(method) } else { staticScales = nil }
        let isa = self.isa, threads = self.threads
        hook = { [ws] (l, role, a, w, m, n, k) throws(TrainingError) in
          guard !a.transposed, n == ws[l].outFeatures, k == ws[l].inFeatures else { throw .invalidArgument("INT8 layer \(l) shape") }
          let xs = staticScales?[l] ?? Int8Quantization.scale(amax: Int8Quantization.amax(a.values))
          do throws(FP8Error) { return try ws[l].forward(a.values, rows: m, xScale: xs, isa: isa, threads: threads) } catch { throw .fp8(error) }
        }
      case .fourBit(let format):
        for l in 0..<linearCount {
          let s = shape(ofLinear: l)
          let t = try FourBitTensor(weight(l), rows: s.out, cols: s.in, format: format)
          params[model.config.weightIndex(ofLinear: l)] = try t.dequantized()
          linearBytes += t.bytes
        }
      }
    } catch let e as FP8Error {
      throw .fp8(e)
    } catch let e as TrainingError {
      throw e
    } catch {
      throw .invalidArgument("\(error)")
    }
    let linearIdx = Set((0..<linearCount).map { model.config.weightIndex(ofLinear: $0) })
    let otherBytes = model.params.indices.filter { !linearIdx.contains($0) }.reduce(0) { $0 + 4 * model.params[$1].count }
    let m = Transformer<Float>(config: model.config, params: params)
    var mm = m
    mm.fp16Schedule = false
    let h = hook
    let r = try task.evaluate { (tokens, b, s) throws(TrainingError) in try mm.logits(tokens, batch: b, seq: s, hook: h) }
    return DeploymentResult(tier: tier, metric: r.metric, loss: r.loss, modelBytes: otherBytes + linearBytes, linearBytes: linearBytes)
  }

  public func table(_ tiers: [DeploymentTier] = DeploymentTier.standard) throws(TrainingError) -> [DeploymentResult] {
    var out: [DeploymentResult] = []
    for t in tiers { out.append(try evaluate(t)) }
    return out
  }
}
