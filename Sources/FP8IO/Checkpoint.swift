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
  /// An FP8 tensor with two scale tensors (`X_scale_inv` and `X_scale`): which one is current
  /// cannot be told, so nothing is dequantised with either.
  case ambiguousScale(weight: String, scales: [String])
  /// The quantiser's selection rule matched no tensor of the file.
  case nothingToQuantize(all: Bool)
  /// A tensor to quantise holds NaN or an infinity: no scale can represent it.
  case nonFiniteValues(tensor: String)
  /// The file has no tensor of this name.
  case missingTensor(String, file: String)
  /// The tensor is not a 2-D E4M3 or E5M2 weight.
  case notFP8Weight(String, dtype: SafetensorsDType, shape: [Int])

  public var description: String {
    switch self {
    case .file(let e): return e.description
    case .kernel(let t, let e): return "tensor \(quoted(t)): \(e)"
    case .unrecognisedScale(let w, let s, let shape, let d):
      return "scale \(quoted(s)) (\(d) \(shape)) of \(quoted(w)) matches no granularity (per-tensor, per-channel, block128, mxfp8)"
    case .nameCollision(let n): return "output would contain \(quoted(n)) twice"
    case .ambiguousScale(let w, let s):
      return "FP8 tensor \(quoted(w)) has two scale tensors, \(s.map(quoted).joined(separator: " and ")); which one is current cannot be told"
    case .nothingToQuantize(let all):
      return all
        ? "no tensor to quantise: the file has no float tensor of rank 1 or more"
        : "no tensor to quantise: no 2-D float tensor has a name ending in \"weight\" (quantising every float tensor is an option)"
    case .nonFiniteValues(let t): return "tensor \(quoted(t)) holds NaN or infinite values: no FP8 scale can represent them"
    case .missingTensor(let n, let f): return "no tensor \(quoted(n)) in \(quotedPath(f))"
    case .notFP8Weight(let n, let d, let shape): return "\(quoted(n)) is \(d) \(shape): expected a 2-D F8_E4M3 or F8_E5M2 weight"
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

  /// The scale tensors that may belong to tensor `name`, by naming convention: `X_scale_inv`,
  /// `X_scale` and, for `P.weight`, the activation scale `P.input_scale`, those the file has.
  static func companions(of name: String, in file: SafetensorsFile) -> (scales: [String], inputScale: String?) {
    let scales = [name + "_scale_inv", name + "_scale"].filter { file.info($0) != nil }
    var input: String?
    if name.hasSuffix("weight") {
      let candidate = String(name.dropLast("weight".count)) + "input_scale"
      if file.info(candidate) != nil { input = candidate }
    }
    return (scales, input)
  }

  /// Scale tensors paired with each FP8 tensor of the file, keyed by the FP8 tensor's name. A
  /// tensor with both `X_scale_inv` and `X_scale` is an error when `strict` (what dequantises),
  /// and is paired with `X_scale_inv` otherwise (what only lists).
  public static func pairings(_ file: SafetensorsFile, strict: Bool = true) throws(CheckpointError) -> [String: ScalePairing] {
    var out: [String: ScalePairing] = [:]
    for t in file.tensors where t.dtype.isFP8Value {
      let (scales, input) = companions(of: t.name, in: file)
      guard let first = scales.first, let s = file.info(first) else { continue }
      if strict && scales.count > 1 { throw .ambiguousScale(weight: t.name, scales: scales) }
      guard let g = inferGranularity(weightShape: t.shape, scaleShape: s.shape, scaleDType: s.dtype) else {
        throw .unrecognisedScale(weight: t.name, scale: s.name, shape: s.shape, dtype: s.dtype)
      }
      out[t.name] = ScalePairing(weight: t.name, scale: s.name, granularity: g, inputScale: input)
    }
    return out
  }

  /// Statistics of a float tensor (FP8 values, F16, BF16, F32); nil for other dtypes.
  public static func statistics(_ t: SafetensorsTensorInfo, bytes: UnsafeRawBufferPointer) -> TensorStatistics? {
    var acc = StatisticsAccumulator(dtype: t.dtype)
    acc?.add(bytes)
    return acc?.result(count: t.elementCount)
  }

  /// Statistics of a float tensor of `file`, read in pieces of at most `budget` bytes.
  public static func statistics(_ t: SafetensorsTensorInfo, in file: SafetensorsFile, budget: Int = 1 << 24)
    throws(CheckpointError) -> TensorStatistics?
  {
    guard var acc = StatisticsAccumulator(dtype: t.dtype) else { return nil }
    let step = max(4, budget / 4 * 4)
    var buffer = [UInt8](repeating: 0, count: min(t.byteCount, step))
    var at = 0
    while at < t.byteCount {
      let n = min(step, t.byteCount - at)
      do {
        try buffer.withMutableBytes { (b) throws(SafetensorsError) in
          let piece = UnsafeMutableRawBufferPointer(rebasing: b[0..<n])
          try file.read(t, range: at..<(at + n), into: piece)
          acc.add(UnsafeRawBufferPointer(piece))
        }
      } catch { throw .file(error) }
      at += n
    }
    return acc.result(count: t.elementCount)
  }

  /// Histograms of the stored bit patterns (FP8, F16, BF16) or running counts (F32): the same
  /// result whatever the pieces the bytes arrive in.
  private struct StatisticsAccumulator {
    let dtype: SafetensorsDType
    var hist: [Int] = []
    var amax: Float = 0
    var nan = 0, sat = 0, zero = 0

    init?(dtype: SafetensorsDType) {
      self.dtype = dtype
      switch dtype {
      case .f8e4m3, .f8e5m2, .f8e4m3fnuz, .f8e5m2fnuz: hist = [Int](repeating: 0, count: 256)
      case .f16, .bf16: hist = [Int](repeating: 0, count: 65536)
      case .f32: break
      default: return nil
      }
    }

    /// Adds whole elements (pieces are cut on element boundaries).
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
      switch dtype {
      case .f32:
        for k in 0..<(bytes.count / 4) {
          let v = bytes.loadUnaligned(fromByteOffset: 4 * k, as: Float.self)
          if v.isNaN { nan += 1; continue }
          let a = abs(v)
          if a > amax { amax = a }
          if a == 0 { zero += 1 } else if a == .greatestFiniteMagnitude || a.isInfinite { sat += 1 }
        }
      case .f16, .bf16:
        hist.withUnsafeMutableBufferPointer { h in
          for k in 0..<(bytes.count / 2) { h[Int(bytes.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self))] &+= 1 }
        }
      default:
        hist.withUnsafeMutableBufferPointer { h in
          for b in bytes { h[Int(b)] &+= 1 }
        }
      }
    }

    func result(count n: Int) -> TensorStatistics {
      guard n > 0 else { return TensorStatistics(count: 0, amax: 0, nanFraction: 0, saturatedFraction: 0, zeroFraction: 0) }
      switch dtype {
      case .f32:
        let d = Double(n)
        return TensorStatistics(
          count: n, amax: Double(amax), nanFraction: Double(nan) / d, saturatedFraction: Double(sat) / d,
          zeroFraction: Double(zero) / d)
      case .f16, .bf16:
        let values: [Double] = (0..<65536).map { u in
          dtype == .bf16 ? Double(Float(bitPattern: UInt32(u) << 16)) : Double(Float(Float16(bitPattern: UInt16(u))))
        }
        let maxFinite: Double = dtype == .bf16 ? Double(ElementFormat.bf16.maxFinite) : 65504
        return FP8Checkpoint.summarize(hist: hist, values: values, maxFinite: maxFinite, n: n)
      default:
        let format = dtype.elementFormat!
        let values = (try? FP8Conversion.decode((0...255).map { UInt8($0) }, from: format, isa: .scalar)) ?? []
        return FP8Checkpoint.summarize(hist: hist, values: values.map(Double.init), maxFinite: Double(format.maxFinite), n: n)
      }
    }
  }

  fileprivate static func summarize(hist: [Int], values: [Double], maxFinite: Double, n: Int) -> TensorStatistics {
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
    floatValues(t.dtype, bytes)
  }

  /// The F32, BF16 or F16 elements of `bytes` as FP32 (exact).
  static func floatValues(_ dtype: SafetensorsDType, _ bytes: UnsafeRawBufferPointer) -> [Float] {
    let size = max(1, dtype.bitSize / 8)
    return (0..<(bytes.count / size)).map { k in
      switch dtype {
      case .bf16: return Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)) << 16)
      case .f16: return Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self)))
      default: return bytes.loadUnaligned(fromByteOffset: 4 * k, as: Float.self)
      }
    }
  }
}
