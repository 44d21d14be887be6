/// How many values share one scale. A matrix product's operands are stated in their k-major form
/// (rows × cols with cols the contraction dimension), so "per row" is per row of A and per column
/// of B.
///
/// | granularity | scale shape for rows × cols | scale type | typical use |
/// |---|---|---|---|
/// | `perTensor` | 1 | FP32 | torch._scaled_mm, Transformer Engine delayed and current scaling |
/// | `perChannel` | rows (one per output channel) | FP32 | vLLM / compressed-tensors FP8 weights, torchao rowwise |
/// | `tile128` | rows × ⌈cols/128⌉ (1×128 tiles) | FP32 | DeepSeek-V3 activations and gradients |
/// | `block128` | ⌈rows/128⌉ × ⌈cols/128⌉ | FP32 | DeepSeek-V3 `weight_scale_inv` |
/// | `mxfp8` | rows × ⌈cols/32⌉ | E8M0 | OCP MX, Blackwell block scaling |
///
/// `tile128` describes activations, not stored weights: checkpoints hold the other four.
public enum ScaleGranularity: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
  case perTensor = "per-tensor"
  case perChannel = "per-channel"
  case tile128 = "tile128"
  case block128 = "block128"
  case mxfp8 = "mxfp8"

  /// The C kernels' granularity; a 1×128 tile is a 128-wide block of a one-row tensor.
  package var cValue: Int32 {
    switch self {
    case .perTensor: return 0
    case .perChannel: return 1
    case .tile128, .block128: return 2
    case .mxfp8: return 3
    }
  }

  /// The shape of the scale array for a rows × cols tensor.
  public func scaleShape(rows: Int, cols: Int) throws(FP8Error) -> (rows: Int, cols: Int) {
    guard self == .tile128 else { return try CKernels.scaleShape(granularity: cValue, rows: rows, cols: cols) }
    guard rows >= 0 else { throw .badShape("\(rows)x\(cols) tensor") }
    return (rows, try CKernels.scaleShape(granularity: cValue, rows: 1, cols: cols).cols)
  }

  /// The (rows, cols) extent of one scale group; nil for per-tensor and per-channel, whose groups
  /// span the whole tensor or row.
  public var groupShape: (rows: Int, cols: Int)? {
    switch self {
    case .perTensor, .perChannel: return nil
    case .tile128: return (1, 128)
    case .block128: return (128, 128)
    case .mxfp8: return (1, 32)
    }
  }

  /// The largest |x| of each scale group of a rows × cols FP32 matrix (row-major), in the scale
  /// array's shape; a group holding a NaN has amax NaN.
  package func amax(_ x: [Float], rows: Int, cols: Int, isa: ISA = .auto) throws(FP8Error) -> [Float] {
    guard rows >= 0, cols >= 0, rows.multipliedReportingOverflow(by: cols) == (x.count, false) else {
      throw .badShape("\(x.count) values for a \(rows)x\(cols) tensor")
    }
    let shape = try scaleShape(rows: rows, cols: cols)
    var out = [Float](repeating: 0, count: shape.rows * shape.cols)
    guard !x.isEmpty else { return self == .perTensor ? [0] : out }
    try x.withUnsafeBufferPointer { (xp) throws(FP8Error) in
      guard self == .tile128 else {
        try out.withUnsafeMutableBufferPointer { (op) throws(FP8Error) in
          try CKernels.amax(xp.baseAddress, srcFormat: ElementFormat.f32.rawValue, rows: rows, cols: cols, ld: cols,
                            granularity: cValue, op.baseAddress, isa: isa.rawValue, threads: 1)
        }
        return
      }
      // One column stripe of tiles at a time: a row-wise amax of the stripe, rows apart by `cols`.
      var stripe = [Float](repeating: 0, count: rows)
      for t in 0..<shape.cols {
        let c0 = 128 * t
        try stripe.withUnsafeMutableBufferPointer { (sp) throws(FP8Error) in
          try CKernels.amax(xp.baseAddress! + c0, srcFormat: ElementFormat.f32.rawValue, rows: rows, cols: min(128, cols - c0),
                            ld: cols, granularity: ScaleGranularity.perChannel.cValue, sp.baseAddress, isa: isa.rawValue,
                            threads: 1)
        }
        for r in 0..<rows { out[r * shape.cols + t] = stripe[r] }
      }
    }
    return out
  }

  public var description: String { rawValue }
}

/// How the E8M0 scale of an MXFP8 block is chosen from the block's amax.
public enum MXScaleRule: String, CaseIterable, Sendable, Hashable {
  /// OCP MX v1.0: 2^(⌊log2 amax⌋ − emax_elem), emax_elem = 8 (E4M3) or 15 (E5M2). The largest
  /// element may exceed the format's max after division and then saturates.
  case ocpFloor = "ocp"
  /// Transformer Engine: the smallest power of two ≥ amax·(1/max_finite) (computed in FP32), so
  /// nothing saturates.
  case roundUp = "round-up"

  package var cValue: Int32 { self == .ocpFloor ? 0 : 1 }
}

/// A scaled quantiser: `s = amax / max_finite` per group (`mxfp8`: a power of two by `mxRule`),
/// `q = satfinite_RNE(x / s)` (an FP32 division: `x * (1/s)` differs in the last bit for many
/// inputs; DeepSeek-V3's reference divides). A group whose amax is 0 gets `s = 1`; a NaN or
/// infinite input throws `FP8Error.badScale`.
public struct Quantizer: Sendable, Hashable {
  public var format: ElementFormat
  public var granularity: ScaleGranularity
  public var mxRule: MXScaleRule
  public var isa: ISA
  public var threads: Int

  public init(
    format: ElementFormat = .e4m3, granularity: ScaleGranularity, mxRule: MXScaleRule = .ocpFloor, isa: ISA = .auto,
    threads: Int = 0
  ) {
    self.format = format
    self.granularity = granularity
    self.mxRule = mxRule
    self.isa = isa
    self.threads = threads
  }

  /// Quantises a rows × cols FP32 matrix (row-major).
  public func quantize(_ x: [Float], rows: Int, cols: Int) throws(FP8Error) -> QuantizedTensor {
    guard rows >= 0, cols >= 0, rows.multipliedReportingOverflow(by: cols) == (x.count, false) else {
      throw .badShape("\(x.count) values for a \(rows)x\(cols) tensor")
    }
    return try x.withUnsafeBufferPointer { (raw) throws(FP8Error) in
      try quantize(raw: UnsafeRawBufferPointer(raw), sourceFormat: .f32, rows: rows, cols: cols)
    }
  }

  /// Quantises rows × cols values stored in `raw` as F32, F16 or BF16 (the file formats of
  /// checkpoints), without widening them to an array first.
  public func quantize(raw: UnsafeRawBufferPointer, sourceFormat: ElementFormat, rows: Int, cols: Int) throws(FP8Error)
    -> QuantizedTensor
  {
    guard [.f32, .f16, .bf16].contains(sourceFormat) else { throw .badFormat("quantiser source \(sourceFormat)") }
    guard format == .e4m3 || format == .e5m2 else { throw .badFormat("quantiser target \(format) (e4m3 or e5m2)") }
    let shape = try granularity.scaleShape(rows: rows, cols: cols)
    let (n, o) = rows.multipliedReportingOverflow(by: cols)
    guard !o, raw.count >= n * sourceFormat.byteSize else { throw .badShape("buffer of \(raw.count) bytes for \(rows)x\(cols)") }
    if let base = raw.baseAddress, Int(bitPattern: base) % sourceFormat.byteSize != 0 {
      // the kernel reads whole elements: quantise an aligned copy of a misaligned buffer
      let copy = [UInt8](raw.prefix(n * sourceFormat.byteSize))
      return try copy.withUnsafeBufferPointer { (p) throws(FP8Error) in
        try quantize(raw: UnsafeRawBufferPointer(p), sourceFormat: sourceFormat, rows: rows, cols: cols)
      }
    }
    if granularity == .tile128 { return try quantizeTiles(raw: raw, sourceFormat: sourceFormat, rows: rows, cols: cols) }
    var q = [UInt8](repeating: 0, count: n)
    let ns = shape.rows * shape.cols
    var scales = [Float](repeating: 0, count: granularity == .mxfp8 ? 0 : ns)
    var mx = [UInt8](repeating: 0, count: granularity == .mxfp8 ? ns : 0)
    try q.withUnsafeMutableBufferPointer { (qp) throws(FP8Error) in
      try scales.withUnsafeMutableBufferPointer { (sp) throws(FP8Error) in
        try mx.withUnsafeMutableBufferPointer { (mp) throws(FP8Error) in
          try CKernels.quantize(
            raw.baseAddress, srcFormat: sourceFormat.rawValue, rows: rows, cols: cols, format: format.rawValue,
            granularity: granularity.cValue, mxRule: mxRule.cValue, isa: isa.rawValue, threads: Int32(threads),
            qp.baseAddress, scales: sp.baseAddress, mxScales: mp.baseAddress)
        }
      }
    }
    return QuantizedTensor(
      bits: q, format: format, rows: rows, cols: cols, granularity: granularity, scales: scales, mxScales: mx)
  }
}

extension Quantizer {
  /// 1×128 tiles: each row on its own, as a one-row tensor in 128×128 blocks.
  private func quantizeTiles(raw: UnsafeRawBufferPointer, sourceFormat: ElementFormat, rows: Int, cols: Int) throws(FP8Error)
    -> QuantizedTensor
  {
    var rowQuantizer = self
    rowQuantizer.granularity = .block128
    var bits = [UInt8](), scales = [Float]()
    bits.reserveCapacity(rows * cols)
    let rowBytes = cols * sourceFormat.byteSize
    for r in 0..<rows {
      let q = try rowQuantizer.quantize(
        raw: UnsafeRawBufferPointer(rebasing: raw[r * rowBytes..<(r + 1) * rowBytes]), sourceFormat: sourceFormat, rows: 1,
        cols: cols)
      bits += q.bits
      scales += q.scales
    }
    return QuantizedTensor(bits: bits, format: format, rows: rows, cols: cols, granularity: .tile128, scales: scales)
  }
}

/// FP8 bits with their dequantisation scales: value(i, j) = decode(bits[i·cols + j]) · s(i, j).
public struct QuantizedTensor: Sendable, Hashable {
  public var bits: [UInt8]
  public var format: ElementFormat
  public var rows: Int
  public var cols: Int
  public var granularity: ScaleGranularity
  /// FP32 scales (empty for `mxfp8`), row-major in the granularity's scale shape.
  public var scales: [Float]
  /// E8M0 scale bytes (only for `mxfp8`), rows × ⌈cols/32⌉.
  public var mxScales: [UInt8]

  public init(
    bits: [UInt8], format: ElementFormat, rows: Int, cols: Int, granularity: ScaleGranularity, scales: [Float],
    mxScales: [UInt8] = []
  ) {
    self.bits = bits
    self.format = format
    self.rows = rows
    self.cols = cols
    self.granularity = granularity
    self.scales = scales
    self.mxScales = mxScales
  }

  /// decode(q) · s as FP32 (one FP32 multiply: exact decode, one rounding).
  public func dequantize(isa: ISA = .auto, threads: Int = 0) throws(FP8Error) -> [Float] {
    var out = [Float](repeating: 0, count: bits.count)
    try out.withUnsafeMutableBufferPointer { (o) throws(FP8Error) in
      try dequantize(into: UnsafeMutableRawBufferPointer(o), outputFormat: .f32, isa: isa, threads: threads)
    }
    return out
  }

  /// decode(q) · s in FP32, then RNE to BF16 (DeepSeek-V3's weight_dequant), as bit patterns.
  public func dequantizeBF16(isa: ISA = .auto, threads: Int = 0) throws(FP8Error) -> [UInt16] {
    var out = [UInt16](repeating: 0, count: bits.count)
    try out.withUnsafeMutableBufferPointer { (o) throws(FP8Error) in
      try dequantize(into: UnsafeMutableRawBufferPointer(o), outputFormat: .bf16, isa: isa, threads: threads)
    }
    return out
  }

  /// Dequantises into `out` (F32, BF16 or F16 with RNE).
  public func dequantize(into out: UnsafeMutableRawBufferPointer, outputFormat: ElementFormat, isa: ISA = .auto, threads: Int = 0)
    throws(FP8Error)
  {
    try bits.withUnsafeBufferPointer { (q) throws(FP8Error) in
      try QuantizedTensor.dequantize(
        bits: UnsafeRawBufferPointer(q), format: format, rows: rows, cols: cols, granularity: granularity,
        scales: scales, mxScales: mxScales, into: out, outputFormat: outputFormat, isa: isa, threads: threads)
    }
  }

  /// Dequantises FP8 bits held anywhere (a memory-mapped file) into `out`.
  public static func dequantize(
    bits: UnsafeRawBufferPointer, format: ElementFormat, rows: Int, cols: Int, granularity: ScaleGranularity,
    scales: [Float], mxScales: [UInt8], into out: UnsafeMutableRawBufferPointer, outputFormat: ElementFormat,
    isa: ISA = .auto, threads: Int = 0
  ) throws(FP8Error) {
    let shape = try granularity.scaleShape(rows: rows, cols: cols)
    let n = rows * cols
    guard bits.count >= n, outputFormat.byteSize > 0, out.count >= n * outputFormat.byteSize else {
      throw .badShape("buffers too small for a \(rows)x\(cols) tensor")
    }
    let needed = shape.rows * shape.cols
    guard granularity == .mxfp8 ? mxScales.count == needed : scales.count == needed else {
      throw .badScale("\(granularity) needs \(shape.rows)x\(shape.cols) scales")
    }
    if granularity == .tile128 {
      // Row by row, each a one-row tensor in 128×128 blocks.
      let width = outputFormat.byteSize * cols
      for r in 0..<rows {
        try dequantize(
          bits: UnsafeRawBufferPointer(rebasing: bits[r * cols..<(r + 1) * cols]), format: format, rows: 1, cols: cols,
          granularity: .block128, scales: Array(scales[r * shape.cols..<(r + 1) * shape.cols]), mxScales: [],
          into: UnsafeMutableRawBufferPointer(rebasing: out[r * width..<(r + 1) * width]), outputFormat: outputFormat,
          isa: isa, threads: threads)
      }
      return
    }
    try scales.withUnsafeBufferPointer { (sp) throws(FP8Error) in
      try mxScales.withUnsafeBufferPointer { (mp) throws(FP8Error) in
        try CKernels.dequantize(
          bits.baseAddress?.assumingMemoryBound(to: UInt8.self), format: format.rawValue, rows: rows, cols: cols,
          granularity: granularity.cValue, scales: sp.baseAddress, mxScales: mp.baseAddress, out.baseAddress,
          outFormat: outputFormat.rawValue, isa: isa.rawValue, threads: Int32(threads))
      }
    }
  }
}
