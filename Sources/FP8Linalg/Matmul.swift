import FP8

/// The scaled matrix product of the FP8 GEMM engine: D = alpha·(scaled A·B) + beta·C + bias.
///
/// A is M×K and B is K×N, each in any layout and any element format but E8M0 (E4M3 and E5M2 may be
/// mixed, as on Hopper; F16, BF16 and F32 go through the same engine). The operands are decoded
/// exactly to FP32 and every accumulator is one FMA chain over k = 0, 1, …, K−1 starting from +0
/// (per 128-long K block for `.blockwise`), so the result has the same bits on every `ISA` path
/// and for every thread count. Where the scales enter is documented on `ScalingRecipe`; the
/// epilogue's formulas on `Epilogue`.
///
/// - Parameters:
///   - isa: the SIMD path (`.auto`: the best this CPU has, or `FP8EMU_ISA`).
///   - threads: OpenMP threads; 0 uses the default.
/// - Returns: D as a dense row-major M×N matrix in `epilogue.outputFormat`, and amax.
/// - Throws: `.badShape` (A's columns ≠ B's rows, C's shape, bias length), `.badScale` (scale
///   counts or values), `.badFormat` (E8M0 output, MXFP8 with a non-FP8 operand),
///   `.invalidArgument` (negative thread count), `.unsupportedISA`, and the C engine's own checks.
public func matmul(
  _ a: Matrix, _ b: Matrix, scaling: ScalingRecipe = .none, epilogue: Epilogue = .identity, isa: ISA = .auto,
  threads: Int = 0
) throws(FP8Error) -> MatmulResult {
  guard a.columns == b.rows else {
    throw .badShape("A is \(a.rows)×\(a.columns), B is \(b.rows)×\(b.columns): inner dimensions differ")
  }
  guard threads >= 0, threads <= Int(Int32.max) else { throw .invalidArgument("thread count \(threads)") }
  let (m, n, k) = (a.rows, b.columns, a.columns)
  try scaling.validate(m: m, n: n, k: k)
  if case .mxfp8 = scaling, !(a.format.isFP8 && b.format.isFP8) {
    throw .badFormat("MXFP8 scaling needs FP8 operands, got \(a.format) and \(b.format)")
  }
  guard epilogue.outputFormat != .e8m0 else { throw .badFormat("e8m0 is not an output format") }
  if epilogue.outputFormat.isFP8, !epilogue.outputScale.isFinite {
    throw .badScale("output scale \(epilogue.outputScale) must be finite")
  }
  if let bias = epilogue.bias, bias.count != n { throw .badShape("bias has \(bias.count) values, D has \(n) columns") }
  var cValues: [Float] = []
  if epilogue.beta != 0 {
    guard let c = epilogue.c else { throw .badShape("beta = \(epilogue.beta) needs C") }
    guard c.rows == m, c.columns == n else { throw .badShape("C is \(c.rows)×\(c.columns), D is \(m)×\(n)") }
    cValues = c.decoded()
  }
  var (aScales, bScales): ([Float], [Float]) = ([], [])
  var (aMX, bMX): ([UInt8], [UInt8]) = ([], [])
  let mode: GEMMScalingMode
  switch scaling {
  case .none: mode = .none
  case .perTensor(let sa, let sb): (mode, aScales, bScales) = (.tensor, [sa], [sb])
  case .rowwise(let sa, let sb): (mode, aScales, bScales) = (.rowwise, sa, sb)
  case .blockwise(let sa, let sb): (mode, aScales, bScales) = (.block, sa, sb)
  case .mxfp8(let sa, let sb): (mode, aMX, bMX) = (.mx, sa, sb)
  }
  let bias = epilogue.bias ?? []
  let hasBias = epilogue.bias != nil
  let outFormat = epilogue.outputFormat
  let dByteCount = try ResourceLimits.checkedBytes([m, n, outFormat.byteSize], what: "D (\(m)×\(n) \(outFormat))")
  var dBytes = [UInt8](repeating: 0, count: dByteCount)
  var amax: Float = 0
  try a.storage.withUnsafeBufferPointer { (pa) throws(FP8Error) in
    try b.storage.withUnsafeBufferPointer { (pb) throws(FP8Error) in
      try aScales.withUnsafeBufferPointer { (psa) throws(FP8Error) in
        try bScales.withUnsafeBufferPointer { (psb) throws(FP8Error) in
          try aMX.withUnsafeBufferPointer { (pma) throws(FP8Error) in
            try bMX.withUnsafeBufferPointer { (pmb) throws(FP8Error) in
              try cValues.withUnsafeBufferPointer { (pc) throws(FP8Error) in
                try bias.withUnsafeBufferPointer { (pbias) throws(FP8Error) in
                  try dBytes.withUnsafeMutableBufferPointer { (pd) throws(FP8Error) in
                    try CKernels.gemm(
                      m: m, n: n, k: k,
                      a: GEMMOperandDescriptor(data: UnsafeRawPointer(pa.baseAddress), format: a.format.rawValue,
                                               transposed: a.layout == .columnMajor, leadingDimension: a.leadingDimension),
                      b: GEMMOperandDescriptor(data: UnsafeRawPointer(pb.baseAddress), format: b.format.rawValue,
                                               transposed: b.layout == .columnMajor, leadingDimension: b.leadingDimension),
                      mode: mode, aScales: psa.baseAddress, bScales: psb.baseAddress, aMX: pma.baseAddress,
                      bMX: pmb.baseAddress, alpha: epilogue.alpha, beta: epilogue.beta, c: pc.baseAddress,
                      ldc: max(1, n), bias: hasBias ? pbias.baseAddress : nil, d: UnsafeMutableRawPointer(pd.baseAddress),
                      dFormat: outFormat.rawValue, ldd: max(1, n), dScale: epilogue.outputScale, amax: &amax,
                      isa: isa.rawValue, threads: Int32(threads))
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  let d = try Matrix(rows: m, columns: n, format: outFormat, storage: dBytes)
  return MatmulResult(d: d, amax: amax)
}
