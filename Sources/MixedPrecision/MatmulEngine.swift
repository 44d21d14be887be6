/// How the scales of a quantised operand are laid out. Granularities are stated on the operand in
/// its *k-major* form: `outer × k`, where k is the contraction dimension (for A = m × k the outer
/// index is the row m; for B = k × n it is the column n).
///
/// | case | one scale per | used by |
/// |---|---|---|
/// | `tensor` | whole operand | delayed, current |
/// | `row` | outer index (a row of A, a column of B) | rowwise |
/// | `tile1x128` | outer index × 128 consecutive k | blockwise activations and gradients (DeepSeek-V3) |
/// | `block128x128` | 128 outer × 128 k | blockwise weights (DeepSeek-V3) |
/// | `mx32` | outer index × 32 consecutive k, E8M0 power of two | mxfp8 (OCP MX) |
public enum ScaleGranularity: String, Sendable, Hashable {
  case tensor, row
  case tile1x128 = "1x128"
  case block128x128 = "128x128"
  case mx32 = "mx32"

  /// (outer, k) extent of one scale group.
  public var groupShape: (outer: Int, k: Int)? {
    switch self {
    case .tensor, .row: return nil
    case .tile1x128: return (1, 128)
    case .block128x128: return (128, 128)
    case .mx32: return (1, 32)
    }
  }
}

/// FP8 bit patterns of an operand with their scales. The real value of element (o, p) of the
/// k-major operand is `decode(bits[o * k + p]) * scaleInverse[group(o, p)]`.
public struct QuantizedPayload: Sendable {
  public var bits: [UInt8]
  public var format: ElementFormat
  /// 1 / scale per group, row-major over (outer groups × k groups).
  public var scaleInverse: [Float]
  public var granularity: ScaleGranularity
  public var outer: Int
  public var k: Int
  /// `bits × scale_inv` in k-major order, when the quantiser already computed it (an engine may use
  /// it instead of decoding again: it is exactly ``dequantized()``).
  public var dequantizedCache: [Float]? = nil

  public init(bits: [UInt8], format: ElementFormat, scaleInverse: [Float], granularity: ScaleGranularity, outer: Int, k: Int) {
    self.bits = bits; self.format = format; self.scaleInverse = scaleInverse
    self.granularity = granularity; self.outer = outer; self.k = k
  }

  /// Index of the scale of element (o, p).
  @inline(__always) public func scaleIndex(_ o: Int, _ p: Int) -> Int {
    switch granularity {
    case .tensor: return 0
    case .row: return o
    default:
      let g = granularity.groupShape!
      let kGroups = (k + g.k - 1) / g.k
      return (o / g.outer) * kGroups + p / g.k
    }
  }

  /// The dequantised values in k-major order (`bits × scale_inv`, exact products in FP32 unless
  /// they underflow).
  public func dequantized() throws(FP8Error) -> [Float] {
    if let c = dequantizedCache { return c }
    var out = try FP8Conversion.decode(bits, from: format)
    if granularity == .tensor {
      let s = scaleInverse[0]
      for i in out.indices { out[i] *= s }
      return out
    }
    out.withUnsafeMutableBufferPointer { o in
      for r in 0..<outer {
        for p in 0..<k { o[r * k + p] *= scaleInverse[scaleIndex(r, p)] }
      }
    }
    return out
  }
}

/// One operand of a matrix product. `values` holds the FP32 values row-major: the logical matrix
/// (A: m × k, B: k × n) when `transposed` is false, its transpose when true. `quantized`, when a
/// recipe quantised the operand, holds the FP8 bits in k-major order (A as m × k, B as n × k),
/// which is what the engine must use; `values` then keeps the unquantised FP32 values.
public struct Operand: Sendable {
  public var values: [Float]
  public var transposed: Bool
  public var quantized: QuantizedPayload?

  public init(values: [Float], transposed: Bool, quantized: QuantizedPayload? = nil) {
    self.values = values; self.transposed = transposed; self.quantized = quantized
  }
}

/// The one door every matrix product of the model goes through: C (m × n, row-major FP32) = A · B.
public protocol MatmulEngine: Sendable {
  /// Whether this engine computes `numerics` (callers check before a run starts).
  func supports(_ numerics: Numerics) -> Bool
  func matmul(_ a: Operand, _ b: Operand, m: Int, n: Int, k: Int, numerics: Numerics) throws(TrainingError) -> [Float]
}

/// Ideal numerics on the C GEMM engine: dequantise FP8 operands, then accumulate every c[i][j]
/// as one FP32 fused multiply-add chain in k order from +0 (c = fma(a2, b2, fma(a1, b1, a0 b0)),
/// cfp8_gemm's numerics; the same bits on every SIMD path and for every thread count). Transposed
/// operands are read in place. Other numerics throw ``TrainingError/numericsNotAvailable(_:)``.
public struct IdealMatmulEngine: MatmulEngine {
  /// The SIMD path and OpenMP threads of the products.
  public var kernels: KernelContext
  public init(kernels: KernelContext = KernelContext()) { self.kernels = kernels }

  public func supports(_ numerics: Numerics) -> Bool { numerics == .ideal }

  public func matmul(_ a: Operand, _ b: Operand, m: Int, n: Int, k: Int, numerics: Numerics) throws(TrainingError) -> [Float] {
    guard numerics == .ideal else {
      throw .numericsNotAvailable("\(numerics): this build has only the ideal FP32 engine; plug in the tensor-core engine")
    }
    guard m >= 0, n >= 0, k >= 0 else { throw .invalidArgument("negative matrix shape") }
    let (mk, ovf1) = m.multipliedReportingOverflow(by: k)
    let (kn, ovf2) = k.multipliedReportingOverflow(by: n)
    let (mn, ovf3) = m.multipliedReportingOverflow(by: n)
    guard !ovf1, !ovf2, !ovf3 else { throw .invalidArgument("matrix size overflows") }
    // A: m × k (ld k), or stored as its k × m transpose (ld m); FP8 payloads are k-major (m × k).
    let aValues: [Float], aT: Bool
    if let q = a.quantized {
      guard q.outer == m, q.k == k, q.bits.count == mk else { throw .invalidArgument("A payload shape") }
      do { aValues = try q.dequantized() } catch { throw .fp8(error) }
      aT = false
    } else {
      guard a.values.count == mk else { throw .invalidArgument("A has \(a.values.count) values, expected \(mk)") }
      (aValues, aT) = (a.values, a.transposed)
    }
    // B: k × n (ld n), or stored as its n × k transpose (ld k), as FP8 payloads are.
    let bValues: [Float], bT: Bool
    if let q = b.quantized {
      guard q.outer == n, q.k == k, q.bits.count == kn else { throw .invalidArgument("B payload shape") }
      do { bValues = try q.dequantized() } catch { throw .fp8(error) }
      bT = true
    } else {
      guard b.values.count == kn else { throw .invalidArgument("B has \(b.values.count) values, expected \(kn)") }
      (bValues, bT) = (b.values, b.transposed)
    }
    if mn == 0 { return [] }
    return try aValues.withUnsafeBufferPointer { (pa) throws(TrainingError) in
      try bValues.withUnsafeBufferPointer { (pb) throws(TrainingError) in
        // A size-0 operand has no base address; k = 0 reads nothing.
        let zero: [Float] = [0]
        return try zero.withUnsafeBufferPointer { (z) throws(TrainingError) in
          try FloatKernels.filled(mn) { (c) throws(FP8Error) in
            try FloatKernels.gemm(m: m, n: n, k: k,
                                  FloatMatrix(base: pa.baseAddress ?? z.baseAddress!, transposed: aT, ld: max(1, aT ? m : k)),
                                  FloatMatrix(base: pb.baseAddress ?? z.baseAddress!, transposed: bT, ld: max(1, bT ? k : n)),
                                  into: c, ldd: n, kernels)
          }
        }
      }
    }
  }
}

/// c[i][j] = Σ_p a[i][p] b[p][j] accumulated in p order, separate multiply and add.
@inline(__always)
func gemmKOrder<T: BinaryFloatingPoint>(_ a: inout [T], _ b: inout [T], _ c: inout [T], m: Int, n: Int, k: Int) {
  a.withUnsafeBufferPointer { A in
    b.withUnsafeBufferPointer { B in
      c.withUnsafeMutableBufferPointer { C in
        for i in 0..<m {
          let crow = C.baseAddress! + i * n
          for p in 0..<k {
            let av = A[i * k + p]
            let brow = B.baseAddress! + p * n
            for j in 0..<n { crow[j] = crow[j] + av * brow[j] }
          }
        }
      }
    }
  }
}

/// Row-major transpose of a rows × cols matrix.
func transpose<T>(_ x: [T], rows: Int, cols: Int) -> [T] {
  if rows <= 1 || cols <= 1 { return x }
  return [T](unsafeUninitializedCapacity: x.count) { out, count in
    x.withUnsafeBufferPointer { src in
      for r in 0..<rows {
        for c in 0..<cols { (out.baseAddress! + c * rows + r).initialize(to: src[r * cols + c]) }
      }
    }
    count = x.count
  }
}
