import FP8

/// Symmetric INT8 quantisation and the exact INT8 × INT8 → INT32 matrix product.
///
/// Quantisation: `q = clamp(rne(x / s), -127, 127)` with the FP32 quotient rounded to nearest even;
/// NaN → 0, ±Inf → ±127. The code -128 is never produced (symmetric range), though the GEMM accepts it.
public enum Int8Quantization {
  /// The symmetric scale `amax / 127` (1 when amax is 0 or not finite, so that an all-zero tensor
  /// quantises to zeros).
  public static func scale(amax: Float) -> Float {
    amax > 0 && amax.isFinite ? amax / 127 : 1
  }

  /// Quantises a rows×cols row-major matrix with one scale (`scales.count == 1`) or one per row.
  public static func quantize(_ x: [Float], rows: Int, cols: Int, scales: [Float]) throws(FP8Error) -> [Int8] {
    guard rows >= 0, cols >= 0, x.count == rows * cols else { throw .badShape("INT8 quantise: \(x.count) values for \(rows)×\(cols)") }
    guard scales.count == 1 || scales.count == rows else { throw .badScale("INT8 quantise: \(scales.count) scales for \(rows) rows") }
    var q = [Int8](repeating: 0, count: x.count)
    let perRow = scales.count == rows && rows != 1
    try x.withUnsafeBufferPointer { (xp) throws(FP8Error) in
      try scales.withUnsafeBufferPointer { (sp) throws(FP8Error) in
        try q.withUnsafeMutableBufferPointer { (qp) throws(FP8Error) in
          try CKernels.int8Quantize(xp.baseAddress, rows: rows, cols: cols, ldx: max(cols, 1), scales: sp.baseAddress,
                                    perRow: perRow, qp.baseAddress, ldq: max(cols, 1))
        }
      }
    }
    return q
  }

  /// max |x| per row (NaN skipped).
  public static func rowAmax(_ x: [Float], rows: Int, cols: Int) throws(FP8Error) -> [Float] {
    guard rows >= 0, cols >= 0, x.count == rows * cols else { throw .badShape("amax: \(x.count) values for \(rows)×\(cols)") }
    var out = [Float](repeating: 0, count: max(rows, 1))
    try x.withUnsafeBufferPointer { (xp) throws(FP8Error) in
      try out.withUnsafeMutableBufferPointer { (op) throws(FP8Error) in
        try CKernels.absmax(xp.baseAddress, rows: rows, cols: cols, ldx: max(cols, 1), perRow: true, op.baseAddress)
      }
    }
    return Array(out.prefix(rows))
  }

  /// max |x| over the whole array (NaN skipped).
  public static func amax(_ x: [Float]) -> Float {
    var m: Float = 0
    x.withUnsafeBufferPointer { p in
      _ = try? CKernels.absmax(p.baseAddress, rows: 1, cols: p.count, ldx: max(p.count, 1), perRow: false, &m)
    }
    return m
  }
}

/// The INT8 matrix product of a linear layer, y = x · Wᵀ: `C[i, j] = Σ_k A[i, k] · B[j, k]` with
/// A m×k and B n×k (the weight as out × in), exact in INT32 (k ≤ ``maxK``). Every ISA path gives
/// the same integers: AVX-512 VNNI `vpdpbusd` on (A + 128) minus 128·colsum(B), AVX2 `vpmaddwd`
/// on sign-extended operands, NEON `smull` + `sadalp`, and the scalar loops.
public enum Int8GEMM {
  /// 131071: every partial sum of k int8 products then stays below 2^31.
  public static var maxK: Int { CKernels.int8GEMMMaxK }

  public static func multiply(
    _ a: [Int8], _ b: [Int8], m: Int, n: Int, k: Int, isa: ISA = .auto, threads: Int = 0
  ) throws(FP8Error) -> [Int32] {
    guard m >= 0, n >= 0, k >= 0 else { throw .badShape("INT8 GEMM: negative size") }
    let (mk, o1) = m.multipliedReportingOverflow(by: k), (nk, o2) = n.multipliedReportingOverflow(by: k)
    let (mn, o3) = m.multipliedReportingOverflow(by: n)
    guard !o1, !o2, !o3 else { throw .sizeOverflow("INT8 GEMM \(m)×\(n)×\(k)") }
    guard a.count == mk, b.count == nk else { throw .badShape("INT8 GEMM: A has \(a.count) (want \(mk)), B has \(b.count) (want \(nk))") }
    var c = [Int32](repeating: 0, count: mn)
    try a.withUnsafeBufferPointer { (ap) throws(FP8Error) in
      try b.withUnsafeBufferPointer { (bp) throws(FP8Error) in
        try c.withUnsafeMutableBufferPointer { (cp) throws(FP8Error) in
          try CKernels.int8GEMM(m: m, n: n, k: k, ap.baseAddress, lda: max(k, 1), bp.baseAddress, ldb: max(k, 1),
                                cp.baseAddress, ldc: max(n, 1), isa: isa.rawValue, threads: Int32(threads))
        }
      }
    }
    return c
  }

  /// The requantisation epilogue: `out[i, j] = (Float(C[i, j]) · (aScale · wScales[j])) + bias[j]`,
  /// each operation rounded to FP32 (no FMA).
  public static func requantize(
    _ c: [Int32], m: Int, n: Int, aScale: Float, wScales: [Float], bias: [Float]?
  ) throws(FP8Error) -> [Float] {
    guard m >= 0, n >= 0, c.count == m * n, wScales.count == n, bias.map({ $0.count == n }) ?? true else {
      throw .badShape("INT8 requantise: \(c.count) values for \(m)×\(n), \(wScales.count) scales")
    }
    var out = [Float](repeating: 0, count: c.count)
    try c.withUnsafeBufferPointer { (cp) throws(FP8Error) in
      try wScales.withUnsafeBufferPointer { (sp) throws(FP8Error) in
        try out.withUnsafeMutableBufferPointer { (op) throws(FP8Error) in
          if let bias {
            try bias.withUnsafeBufferPointer { (bp) throws(FP8Error) in
              try CKernels.int8Requantize(m: m, n: n, cp.baseAddress, ldc: max(n, 1), aScale: aScale, wScales: sp.baseAddress,
                                          bias: bp.baseAddress, op.baseAddress, ldo: max(n, 1))
            }
          } else {
            try CKernels.int8Requantize(m: m, n: n, cp.baseAddress, ldc: max(n, 1), aScale: aScale, wScales: sp.baseAddress,
                                        bias: nil, op.baseAddress, ldo: max(n, 1))
          }
        }
      }
    }
    return out
  }
}

/// A linear layer's weight (out × in) quantised to INT8 with one symmetric scale per output
/// channel (row): `s_j = amax(row j) / 127`.
public struct Int8Weight: Sendable {
  public var q: [Int8]
  public var scales: [Float]
  public var outFeatures: Int
  public var inFeatures: Int

  public init(_ w: [Float], outFeatures: Int, inFeatures: Int) throws(FP8Error) {
    let amax = try Int8Quantization.rowAmax(w, rows: outFeatures, cols: inFeatures)
    scales = amax.map(Int8Quantization.scale(amax:))
    q = try Int8Quantization.quantize(w, rows: outFeatures, cols: inFeatures, scales: scales)
    self.outFeatures = outFeatures; self.inFeatures = inFeatures
  }

  /// Storage: one byte per weight plus an FP32 scale per channel.
  public var bytes: Int { q.count + 4 * scales.count }

  /// y = dequant(quant(x)) · dequant(W)ᵀ computed as an integer GEMM and the FP32 epilogue, with
  /// the activation quantised per tensor with scale `xScale`.
  public func forward(_ x: [Float], rows: Int, xScale: Float, bias: [Float]? = nil, isa: ISA = .auto, threads: Int = 0) throws(FP8Error) -> [Float] {
    let qx = try Int8Quantization.quantize(x, rows: rows, cols: inFeatures, scales: [xScale])
    let c = try Int8GEMM.multiply(qx, q, m: rows, n: outFeatures, k: inFeatures, isa: isa, threads: threads)
    return try Int8GEMM.requantize(c, m: rows, n: outFeatures, aScale: xScale, wScales: scales, bias: bias)
  }
}
