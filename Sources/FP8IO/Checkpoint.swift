import FP8

/// Errors of the checkpoint operations (inspect, dequant, quantize).
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file itself is malformed or could not be read or written.
  case file(SafetensorsError)
  /// A kernel refused its arguments (non-finite scale, NaN input to the quantiser, ...).
  case kernel(tensor: String, FP8Error)
  /// A scale tensor's shape matches no granularity for its weight.
  case unrecognisedScale(weight: String, scale: String, shape: [Int], dtype: SafetensorsDType)
  /// The output would hold two tensors of one name.
  case nameCollision(String)
  /// The file has no tensor of this name.
  case missingTensor(String, file: String)
  /// The tensor is not a 2-D E4M3 or E5M2 weight.
  case notFP8Weight(String, dtype: SafetensorsDType, shape: [Int])

  public var description: String {
    switch self {
    case .file(let e): return e.description
    case .kernel(let t, let e): return "tensor \"\(t)\": \(e)"
    case .unrecognisedScale(let w, let s, let shape, let d):
      return "scale \"\(s)\" (\(d) \(shape)) of \"\(w)\" matches no granularity (per-tensor, per-channel, block128, mxfp8)"
    case .nameCollision(let n): return "output would contain \"\(n)\" twice"
    case .missingTensor(let n, let f): return "no tensor \(n) in \(f)"
    case .notFP8Weight(let n, let d, let shape): return "\(n) is \(d) \(shape): expected a 2-D F8_E4M3 or F8_E5M2 weight"
    }
  }
}

/// A scale tensor paired with an FP8 weight.
///
/// Naming conventions recognised: `X_scale_inv` (DeepSeek-V3, a multiplier despite the name) and
/// `X_scale` (vLLM, compressed-tensors, ModelOpt) for an FP8 tensor `X`; for `P.weight`, an
/// activation scale `P.input_scale` is reported too. The granularity is inferred from the scale:
///
/// | scale dtype | scale shape (weight R × C) | granularity |
/// |---|---|---|
/// | F32/BF16/F16 | one element | per-tensor |
/// | F32/BF16/F16 | [R] or [R, 1] | per-channel |
/// | F32/BF16/F16 | [⌈R/128⌉, ⌈C/128⌉] | block128 |
/// | F8_E8M0 or U8 | [R, ⌈C/32⌉] | mxfp8 |
///
/// A weight of rank ≠ 2 is viewed as (product of leading dimensions) × (last dimension).
public struct ScalePairing: Sendable, Hashable {
  public var weight: String
  public var scale: String
  public var granularity: ScaleGranularity
  public var inputScale: String?
}

/// Summary statistics of one tensor: amax (NaN ignored), and fractions of NaN, saturated (±max
/// finite of the stored format, or ±Inf) and zero elements.
public struct TensorStatistics: Sendable, Hashable {
  public var count: Int
  public var amax: Double
  public var nanFraction: Double
  public var saturatedFraction: Double
  public var zeroFraction: Double
}

public enum FP8Checkpoint {
  /// A tensor shape viewed as a matrix: [] → 1×1, [n] → 1×n, [a, ..., z] → (a·...)×z.
  public static func matrixShape(_ shape: [Int]) -> (rows: Int, cols: Int) {
    guard let last = shape.last else { return (1, 1) }
    return (shape.dropLast().reduce(1, *), last)
  }

  /// The granularity of a scale of shape `scaleShape` for a weight of shape `weightShape`.
  public static func inferGranularity(weightShape: [Int], scaleShape: [Int], scaleDType: SafetensorsDType)
    -> ScaleGranularity?
  {
    let (r, c) = matrixShape(weightShape)
    let n = scaleShape.reduce(1, *)
    if scaleDType == .f8e8m0 || scaleDType == .u8 {
      return matrixShape(scaleShape) == (r, (c + 31) / 32) && scaleShape.count >= 2 ? .mxfp8 : nil
    }
    guard scaleDType.isWideFloat else { return nil }
    if n == 1 { return .perTensor }
    if scaleShape == [r] || scaleShape == [r, 1] { return .perChannel }
    if scaleShape == [(r + 127) / 128, (c + 127) / 128] { return .block128 }
    return nil
  }

  /// Scale tensors paired with each FP8 tensor of the file, keyed by the FP8 tensor's name.
  public static func pairings(_ file: SafetensorsFile) throws(CheckpointError) -> [String: ScalePairing] {
    var out: [String: ScalePairing] = [:]
    for t in file.tensors where t.dtype.isFP8Value {
      guard let s = [t.name + "_scale_inv", t.name + "_scale"].compactMap({ file.info($0) }).first else { continue }
      guard let g = inferGranularity(weightShape: t.shape, scaleShape: s.shape, scaleDType: s.dtype) else {
        throw .unrecognisedScale(weight: t.name, scale: s.name, shape: s.shape, dtype: s.dtype)
      }
      var input: String?
      if t.name.hasSuffix("weight") {
        let candidate = String(t.name.dropLast("weight".count)) + "input_scale"
        if file.info(candidate) != nil { input = candidate }
      }
      out[t.name] = ScalePairing(weight: t.name, scale: s.name, granularity: g, inputScale: input)
    }
    return out
  }

  /// Statistics of a float tensor (FP8 values, F16, BF16, F32); nil for other dtypes.
  public static func statistics(_ t: SafetensorsTensorInfo, bytes: UnsafeRawBufferPointer) -> TensorStatistics? {
    let n = t.elementCount
    guard n > 0 else { return TensorStatistics(count: 0, amax: 0, nanFraction: 0, saturatedFraction: 0, zeroFraction: 0) }
    switch t.dtype {
    case .f8e4m3, .f8e5m2, .f8e4m3fnuz, .f8e5m2fnuz:
      var hist = [Int](repeating: 0, count: 256)
      for b in bytes { hist[Int(b)] += 1 }
      let format = t.dtype.elementFormat!
      let values = (try? FP8Conversion.decode((0...255).map { UInt8($0) }, from: format, isa: .scalar)) ?? []
      return summarize(hist: hist, values: values.map(Double.init), maxFinite: Double(format.maxFinite), n: n)
    case .f16, .bf16:
      var hist = [Int](repeating: 0, count: 65536)
      for k in 0..<n { hist[Int(bytes.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))] += 1 }
      let values: [Double] = (0..<65536).map { u in
        t.dtype == .bf16 ? Double(Float(bitPattern: UInt32(u) << 16)) : Double(Float(Float16(bitPattern: UInt16(u))))
      }
      let maxFinite: Double = t.dtype == .bf16 ? Double(ElementFormat.bf16.maxFinite) : 65504
      return summarize(hist: hist, values: values, maxFinite: maxFinite, n: n)
    case .f32:
      var amax: Float = 0
      var nan = 0, sat = 0, zero = 0
      for k in 0..<n {
        let v = bytes.loadUnaligned(fromByteOffset: 4 * k, as: Float.self)
        if v.isNaN { nan += 1; continue }
        let a = abs(v)
        if a > amax { amax = a }
        if a == 0 { zero += 1 } else if a == .greatestFiniteMagnitude || a.isInfinite { sat += 1 }
      }
      let d = Double(n)
      return TensorStatistics(
        count: n, amax: Double(amax), nanFraction: Double(nan) / d, saturatedFraction: Double(sat) / d,
        zeroFraction: Double(zero) / d)
    default:
      return nil
    }
  }

  private static func summarize(hist: [Int], values: [Double], maxFinite: Double, n: Int) -> TensorStatistics {
    var amax = 0.0
    var nan = 0, sat = 0, zero = 0
    for (k, c) in hist.enumerated() where c > 0 {
      let v = values[k]
      if v.isNaN { nan += c; continue }
      let a = abs(v)
      amax = max(amax, a)
      if a == 0 { zero += c } else if a >= maxFinite { sat += c }
    }
    let d = Double(n)
    return TensorStatistics(
      count: n, amax: amax, nanFraction: Double(nan) / d, saturatedFraction: Double(sat) / d, zeroFraction: Double(zero) / d)
  }

  /// FP32 values of a scale tensor (F32, BF16, F16: exact).
  public static func floatScales(_ t: SafetensorsTensorInfo, _ bytes: UnsafeRawBufferPointer) -> [Float] {
    (0..<t.elementCount).map { k in
      switch t.dtype {
      case .bf16: return Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)) << 16)
      case .f16: return Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)))
      default: return bytes.loadUnaligned(fromByteOffset: 4 * k, as: Float.self)
      }
    }
  }
}
