import FP8
import TensorCores

/// One operand of a matrix product. `values` holds the FP32 values row-major: the logical matrix
/// (A: m × k, B: k × n) when `transposed` is false, its transpose when true. `quantized`, when a
/// recipe cast the operand to FP8, holds the bits and scales in k-major form (A as m × k, B as
/// n × k), which is what the engine must use; `values` then keeps the FP32 values before the cast.
public struct Operand: Sendable {
  public var values: [Float]
  public var transposed: Bool
  public var quantized: QuantizedTensor?
  /// `quantized` dequantised (k-major), when the cast already computed it: exactly what
  /// `quantized.dequantize()` returns, kept so that an engine need not decode again.
  var dequantized: [Float]?

  public init(values: [Float], transposed: Bool, quantized: QuantizedTensor? = nil) {
    self.values = values; self.transposed = transposed; self.quantized = quantized
  }

  init(values: [Float], transposed: Bool, quantized: QuantizedTensor, dequantized: [Float]) {
    self.init(values: values, transposed: transposed, quantized: quantized)
    self.dequantized = dequantized
  }

  /// The FP32 values of a quantised operand in k-major order.
  func dequantizedKMajor() throws(TrainingError) -> [Float] {
    if let dequantized { return dequantized }
    do { return try quantized?.dequantize() ?? [] } catch { throw .fp8(error) }
  }

  /// The FP32 values of operand `name` (`count` elements; a payload is `rows` × k) and whether
  /// they are stored transposed: a payload is k-major, which is the transpose for B only.
  func floatValues(_ name: String, rows: Int, k: Int, count: Int, payloadTransposed: Bool)
    throws(TrainingError) -> (values: [Float], transposed: Bool)
  {
    if let q = quantized {
      guard q.rows == rows, q.cols == k, q.bits.count == count else { throw .invalidArgument("\(name) payload shape") }
      return (try dequantizedKMajor(), payloadTransposed)
    }
    guard values.count == count else { throw .invalidArgument("\(name) has \(values.count) values, expected \(count)") }
    return (values, transposed)
  }
}

/// The one door every matrix product of the model goes through: C (m × n, row-major FP32) = A · B.
///
/// `numerics` is `.ideal` for FP32 products, and the GPU's numerics (``TrainingGPU/numerics``)
/// when both operands are FP8. An engine computes `.ideal` as ``IdealMatmulEngine`` does: one
/// fused multiply-add chain per element in k order.
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
      throw .numericsNotAvailable("\(numerics): the ideal engine computes FP32 products only; use the tensor-core engine")
    }
    guard m >= 0, n >= 0, k >= 0 else { throw .invalidArgument("negative matrix shape") }
    let (mk, ovf1) = m.multipliedReportingOverflow(by: k)
    let (kn, ovf2) = k.multipliedReportingOverflow(by: n)
    let (mn, ovf3) = m.multipliedReportingOverflow(by: n)
    guard !ovf1, !ovf2, !ovf3 else { throw .invalidArgument("matrix size overflows") }
    // A: m × k (ld k), or stored as its k × m transpose (ld m).
    let (aValues, aT) = try a.floatValues("A", rows: m, k: k, count: mk, payloadTransposed: false)
    // B: k × n (ld n), or stored as its n × k transpose (ld k), as FP8 payloads are.
    let (bValues, bT) = try b.floatValues("B", rows: n, k: k, count: kn, payloadTransposed: true)
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

