import FP8

/// 4-bit weight formats. Values are quantised group-wise along each row (the input dimension of a
/// weight), two 4-bit codes per byte (element 2t in the low nibble of byte t).
///
/// | format | element | group | scale | dequantised value |
/// |---|---|---|---|---|
/// | `int4` | two's complement -7…7 | 128 | FP32 or FP16 `amax/7` | `q · s` |
/// | `mxfp4` | E2M1 | 32 | E8M0 `2^(floor(log2 amax) − 2)` | `e2m1(q) · 2^e` |
/// | `nvfp4` | E2M1 | 16 | E4M3 `satfinite(amax/6 · g)` plus FP32 `1/g`, `g = 448·6/amax(tensor)` | `e2m1(q) · s_e4m3 · (1/g)` |
///
/// E2M1 values are ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}; encoding rounds to nearest with ties to the even
/// code and saturates above 6 (OCP MX v1.0; NVIDIA's NVFP4 uses the same element type).
public enum FourBitFormat: String, CaseIterable, Sendable {
  case int4, mxfp4, nvfp4

  var code: Int32 {
    switch self { case .int4: 0; case .mxfp4: 1; case .nvfp4: 2 }
  }

  /// Elements per scale.
  public var groupSize: Int { CKernels.fourBitGroup(code) }

  /// Bytes of one scale (INT4: 4 for FP32, 2 for FP16 scales).
  public func scaleBytes(fp16Scales: Bool) -> Int {
    switch self { case .int4: fp16Scales ? 2 : 4; case .mxfp4, .nvfp4: 1 }
  }
}

/// Nearest E2M1 code (sign in bit 3), ties to even, saturating; NaN → +0.
public func e2m1Encode(_ x: Float) -> UInt8 { CKernels.e2m1Encode(x) }
/// Value of an E2M1 code.
public func e2m1Decode(_ code: UInt8) -> Float { CKernels.e2m1Decode(code) }

/// A rows×cols FP32 matrix quantised to a 4-bit format.
public struct FourBitTensor: Sendable {
  public let format: FourBitFormat
  public let rows: Int
  public let cols: Int
  /// rows · ceil(cols/2) bytes.
  public let packed: [UInt8]
  /// Scale bytes, row-major (rows × ceil(cols/group)): FP32 or FP16 (INT4), E8M0 (MXFP4), E4M3 (NVFP4).
  public let scaleBytes: [UInt8]
  public let fp16Scales: Bool
  /// NVFP4's per-tensor decode scale `1/g` (1 for the other formats).
  public let tensorScale: Float

  /// Quantises `x` (rows×cols, row-major, finite values). `fp16Scales` applies to INT4 only.
  public init(_ x: [Float], rows: Int, cols: Int, format: FourBitFormat, fp16Scales: Bool = false) throws(FP8Error) {
    guard rows >= 0, cols >= 0, x.count == rows * cols else { throw .badShape("4-bit: \(x.count) values for \(rows)×\(cols)") }
    let groups = rows * ((cols + format.groupSize - 1) / format.groupSize)
    let fp16 = format == .int4 && fp16Scales
    var packed = [UInt8](repeating: 0, count: rows * ((cols + 1) / 2))
    var scales = [UInt8](repeating: 0, count: groups * format.scaleBytes(fp16Scales: fp16))
    var t: Float = 1
    try x.withUnsafeBufferPointer { (xp) throws(FP8Error) in
      try packed.withUnsafeMutableBufferPointer { (pp) throws(FP8Error) in
        try scales.withUnsafeMutableBufferPointer { (sp) throws(FP8Error) in
          try CKernels.fourBitQuantize(xp.baseAddress, rows: rows, cols: cols, format: format.code, scaleFormat: fp16 ? 16 : 18,
                                       pp.baseAddress, scales: sp.baseAddress.map(UnsafeMutableRawPointer.init), tensorScale: &t)
        }
      }
    }
    self.format = format; self.rows = rows; self.cols = cols; self.packed = packed; self.scaleBytes = scales
    self.fp16Scales = fp16; self.tensorScale = t
  }

  /// Storage: packed codes, scales, and NVFP4's FP32 tensor scale.
  public var bytes: Int { packed.count + scaleBytes.count + (format == .nvfp4 ? 4 : 0) }

  public func dequantized() throws(FP8Error) -> [Float] {
    var out = [Float](repeating: 0, count: rows * cols)
    try packed.withUnsafeBufferPointer { (pp) throws(FP8Error) in
      try scaleBytes.withUnsafeBufferPointer { (sp) throws(FP8Error) in
        try out.withUnsafeMutableBufferPointer { (op) throws(FP8Error) in
          try CKernels.fourBitDequantize(pp.baseAddress, rows: rows, cols: cols, format: format.code, scaleFormat: fp16Scales ? 16 : 18,
                                         scales: sp.baseAddress.map(UnsafeRawPointer.init), tensorScale: tensorScale, op.baseAddress)
        }
      }
    }
    return out
  }
}
