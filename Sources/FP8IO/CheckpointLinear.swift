import FP8

/// An FP8 linear-layer weight W (out × in) of a checkpoint with its paired scales, ready for the
/// product Y = X·Wᵀ: the weight as a ``QuantizedTensor`` (scales as stored, per tensor 1 when the
/// file pairs none) and the activations quantised with the granularity that matches it.
public struct CheckpointLinear: Sendable {
  public var name: String
  public var weight: QuantizedTensor
  /// The static activation scale (`input_scale`) of a per-tensor weight, when the file has one.
  public var inputScale: Float?
  /// Whether the file pairs a scale with the weight.
  public var isScaled: Bool

  /// Reads weight `name` of `file` and its scale tensors (see ``ScalePairing``).
  public init(file: SafetensorsFile, tensor name: String) throws(CheckpointError) {
    guard let w = file.info(name) else { throw .missingTensor(name, file: file.path) }
    guard let format = w.dtype.elementFormat, w.dtype == .f8e4m3 || w.dtype == .f8e5m2, w.shape.count == 2 else {
      throw .notFP8Weight(name, dtype: w.dtype, shape: w.shape)
    }
    let (n, k) = (w.shape[0], w.shape[1])
    let bits = Array(file.bytes(of: w))
    self.name = name
    guard let pairing = try FP8Checkpoint.pairings(file)[name] else {
      weight = QuantizedTensor(bits: bits, format: format, rows: n, cols: k, granularity: .perTensor, scales: [1])
      isScaled = false
      return
    }
    isScaled = true
    let scale = file.info(pairing.scale)!
    let scaleBytes = file.bytes(of: scale)
    if pairing.granularity == .mxfp8 {
      weight = QuantizedTensor(bits: bits, format: format, rows: n, cols: k, granularity: .mxfp8, scales: [],
                               mxScales: Array(scaleBytes))
    } else {
      weight = QuantizedTensor(bits: bits, format: format, rows: n, cols: k, granularity: pairing.granularity,
                               scales: FP8Checkpoint.floatScales(scale, scaleBytes))
    }
    if pairing.granularity == .perTensor, let input = pairing.inputScale, let info = file.info(input) {
      let s = FP8Checkpoint.floatScales(info, file.bytes(of: info))[0]
      guard s.isFinite, s > 0 else { throw .kernel(tensor: input, .badScale("\(input) = \(s) is not a positive finite scale")) }
      inputScale = s
    }
  }

  /// The activations' granularity: 1×128 tiles for 128×128 weight blocks (DeepSeek-V3), per row
  /// (per token) for per-channel weights, per tensor for per-tensor weights, E8M0 per 32 for MXFP8.
  public var activationGranularity: ScaleGranularity {
    weight.granularity == .block128 ? .tile128 : weight.granularity
  }

  /// Quantises activations X (rows × in, FP32 row-major) to the weight's format: with the static
  /// input scale when there is one (q = satfinite(x / s)), else dynamically at
  /// ``activationGranularity`` (s = amax / max_finite).
  public func quantizeActivations(_ x: [Float], rows: Int, isa: ISA = .auto) throws(FP8Error) -> QuantizedTensor {
    let cols = weight.cols
    guard rows >= 0, rows.multipliedReportingOverflow(by: cols) == (x.count, false) else {
      throw .badShape("\(x.count) activations for \(rows)x\(cols)")
    }
    if let s = inputScale {
      let bits = try FP8Conversion.encode(x.map { $0 / s }, to: weight.format, preset: .cudaSatfinite, isa: isa)
      return QuantizedTensor(bits: bits, format: weight.format, rows: rows, cols: cols, granularity: .perTensor, scales: [s])
    }
    return try Quantizer(format: weight.format, granularity: activationGranularity, isa: isa).quantize(x, rows: rows, cols: cols)
  }

  /// The scaling in words ("1×128 activation tiles, 128×128 weight blocks").
  public var scalingDescription: String {
    guard isScaled else { return "no weight scale, activations per tensor" }
    switch weight.granularity {
    case .block128, .tile128: return "1×128 activation tiles, 128×128 weight blocks"
    case .perChannel: return "per-token activations, per-channel weights"
    case .perTensor: return inputScale == nil ? "dynamic per-tensor activations and weight" : "static input_scale, per-tensor weight"
    case .mxfp8: return "MXFP8 E8M0 per 32"
    }
  }
}
