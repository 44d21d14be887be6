import FP8
import FP8Linalg
/// One operand of a tensor-core matrix product: element storage, its format, the shape of op(X)
/// (rows × cols), and the layout (op(X)[r, c] = data[r·ld + c], or data[c·ld + r] when
/// transposed). FP8 operands hold bytes, FP16/BF16 hold bit patterns, TF32 holds FP32 values.
public struct TensorCoreOperand: Sendable {
  public enum Storage: Sendable {
    case bytes([UInt8])
    case bits16([UInt16])
    case floats([Float])
  }

  public let storage: Storage
  public let format: ElementFormat
  public let rows: Int
  public let cols: Int
  public let transposed: Bool
  public let ld: Int

  /// Wraps stored elements. `ld` defaults to the stored row length.
  public init(storage: Storage, format: ElementFormat, rows: Int, cols: Int, transposed: Bool = false,
              ld: Int? = nil) throws(FP8Error) {
    guard rows >= 0, cols >= 0 else { throw .badShape("operand \(rows)x\(cols)") }
    let rowLength = transposed ? rows : cols, storedRows = transposed ? cols : rows
    let ld = ld ?? rowLength
    guard ld >= rowLength else { throw .badStride("ld \(ld) < \(rowLength)") }
    let count: Int
    switch (storage, format) {
    case (.bytes(let b), .e4m3), (.bytes(let b), .e5m2): count = b.count
    case (.bits16(let b), .f16), (.bits16(let b), .bf16): count = b.count
    case (.floats(let f), .f32): count = f.count
    default: throw .badFormat("storage does not match \(format) (tensor cores take e4m3, e5m2, f16, bf16, f32 as TF32)")
    }
    let (need, o1) = storedRows > 0 ? (storedRows - 1).multipliedReportingOverflow(by: ld) : (0, false)
    guard !o1, storedRows == 0 || rowLength == 0 || need + rowLength <= count else {
      throw .badShape("\(count) elements are too few for \(rows)x\(cols) with ld \(ld)")
    }
    self.storage = storage
    self.format = format
    self.rows = rows
    self.cols = cols
    self.transposed = transposed
    self.ld = ld
  }

  /// Stores row-major FP32 values in `input`'s format; every value must be exactly
  /// representable there (.invalidArgument names the first that is not).
  public init(values: [Float], input: TensorCoreInput, rows: Int, cols: Int) throws(FP8Error) {
    guard values.count == rows * cols else { throw .badShape("\(values.count) values for \(rows)x\(cols)") }
    let storage: Storage
    switch input {
    case .e4m3, .e5m2:
      let bytes = try FP8Conversion.encode(values, to: input.elementFormat, rounding: .nearestEven, preset: .mlDtypes)
      let back = try FP8Conversion.decode(bytes, from: input.elementFormat)
      for i in values.indices where !(back[i] == values[i] || (back[i].isNaN && values[i].isNaN)) {
        throw .invalidArgument("value \(values[i]) at \(i) is not exactly representable in \(input)")
      }
      storage = .bytes(bytes)
    case .fp16:
      storage = .bits16(try values.enumerated().map { (i, v) throws(FP8Error) -> UInt16 in
        let h = Float16(v)
        guard Float(h) == v || (v.isNaN && h.isNaN) else { throw .invalidArgument("value \(v) at \(i) is not exactly representable in fp16") }
        return h.bitPattern
      })
    case .bf16:
      storage = .bits16(try values.enumerated().map { (i, v) throws(FP8Error) -> UInt16 in
        guard v.bitPattern & 0xFFFF == 0 || v.isNaN else { throw .invalidArgument("value \(v) at \(i) is not exactly representable in bf16") }
        return UInt16(truncatingIfNeeded: v.bitPattern >> 16)
      })
    case .tf32:
      for (i, v) in values.enumerated() where v.bitPattern & 0x1FFF != 0 && !v.isNaN {
        throw .invalidArgument("value \(v) at \(i) is not exactly representable in tf32")
      }
      storage = .floats(values)
    }
    try self.init(storage: storage, format: input.elementFormat, rows: rows, cols: cols)
  }

  /// The input format the tensor core reads (E4M3, E5M2, FP16, BF16, or TF32 for FP32 data).
  public var input: TensorCoreInput {
    switch format {
    case .e4m3: return .e4m3
    case .e5m2: return .e5m2
    case .f16: return .fp16
    case .bf16: return .bf16
    default: return .tf32
    }
  }

  /// FP8 data widened exactly to FP16 (the "hybrid FP16" path of pre-sm_89 GPUs).
  func widenedToFP16() throws(FP8Error) -> TensorCoreOperand {
    guard case .bytes(let b) = storage else { return self }
    let values = try FP8Conversion.decode(b, from: format)
    return try TensorCoreOperand(storage: .bits16(values.map { Float16($0).bitPattern }), format: .f16, rows: rows,
                                 cols: cols, transposed: transposed, ld: ld)
  }

  func withPointer<R>(_ body: (UnsafeRawPointer?) throws(FP8Error) -> R) throws(FP8Error) -> R {
    switch storage {
    case .bytes(let b): return try b.withUnsafeBufferPointer { (p) throws(FP8Error) in try body(UnsafeRawPointer(p.baseAddress)) }
    case .bits16(let b): return try b.withUnsafeBufferPointer { (p) throws(FP8Error) in try body(UnsafeRawPointer(p.baseAddress)) }
    case .floats(let f): return try f.withUnsafeBufferPointer { (p) throws(FP8Error) in try body(UnsafeRawPointer(p.baseAddress)) }
    }
  }
}

/// Dequantisation scales as in `cfp8_gemm.h`: per-tensor and row-wise scales multiply the FP32
/// accumulator (`acc·(sa·sb)`); 1×128 / 128×128 block scales are applied at each promotion
/// (`acc = fma(sa·sb, partial, acc)`, needs `.promoted(every:)` dividing 128, or `.ideal`/`.exact`);
/// MXFP8 E8M0 scales per 32 elements of K are powers of two folded exactly into the products.
public enum TensorCoreScaling: Sendable {
  case none
  case tensor(a: Float, b: Float)
  /// a: M values (rows of op(A)), b: N values (columns of op(B)).
  case rowwise(a: [Float], b: [Float])
  /// a: M × ceil(K/128) (1×128 tiles), b: ceil(K/128) × ceil(N/128) (128×128 blocks), row-major.
  case block(a: [Float], b: [Float])
  /// E8M0 bytes: a: M × ceil(K/32), b: ceil(K/32) × N, row-major.
  case mx(a: [UInt8], b: [UInt8])
}

/// Matrix products under tensor-core numerics, vectorised across 16 output columns (AVX-512 and
/// AVX2: FP32 lanes for FP8 models with F = 13, FP64 lanes for F ≥ 23, MX scales folded into
/// each term on both; `.exact` in FP64 lanes for E4M3 with K ≤ 2^16, where no addition rounds;
/// FP8 with an FP16 accumulator on the FP32 lanes (rounded once to FP16 at the end of each
/// block); MX with `.ideal` and other `.exact` cases use the scalar reference; NEON runs FP8 with
/// an FP32 accumulator without MX, and `.ideal`), parallel over rows and column panels;
/// the bits do not depend on the ISA or the thread count. Promotion cuts blocks at the interval
/// (an interval that is not a multiple of L ends with a short block).
public enum TensorCoreGEMM {
  /// D = alpha · scaling(op(A)·op(B) accumulated from `accumulator`) + beta · c + bias, FP32 M×N.
  ///
  /// - `accumulator`: the tensor core's starting accumulator (wgmma's D = A·B + D), M×N or nil
  ///   for zeros. `c` with `beta` is the epilogue's C (`fma(beta, c, v)`), `bias` has N values.
  /// - `.gpu(g, …)` picks g's model for the operands' input format; FP8 operands on GPUs before
  ///   sm_89 run as FP16 (hybrid FP16). `.ideal` and `.exact` ignore the model.
  public static func matmul(
    _ a: TensorCoreOperand, _ b: TensorCoreOperand, accumulator: [Float]? = nil, numerics: Numerics,
    scaling: TensorCoreScaling = .none, alpha: Float = 1, beta: Float = 0, c: [Float]? = nil, bias: [Float]? = nil,
    isa: ISA = .auto, threads: Int = 0
  ) throws(FP8Error) -> [Float] {
    guard a.cols == b.rows else { throw .badShape("op(A) is \(a.rows)x\(a.cols), op(B) is \(b.rows)x\(b.cols)") }
    let m = a.rows, n = b.cols, k = a.cols
    guard a.input.isFP8 == b.input.isFP8, a.input.isFP8 || a.format == b.format else {
      throw .badFormat("operands \(a.format) and \(b.format) cannot meet in one tensor-core product")
    }
    var a = a, b = b
    var model: BlockFMAModel? = nil
    let accumulation: Accumulation
    switch numerics {
    case .gpu(let gpu, let acc):
      accumulation = acc
      if a.input.isFP8 {
        guard let (mdl, computeInput) = gpu.fp8Numerics(a.input) else { throw .badFormat("\(gpu.name) has no FP8 path") }
        model = mdl
        if computeInput == .fp16 { a = try a.widenedToFP16(); b = try b.widenedToFP16() }
      } else {
        guard let mdl = gpu.numerics(for: a.input) else { throw .badFormat("\(gpu.name) tensor cores do not take \(a.input)") }
        model = mdl
      }
    case .model(let mdl, let acc): model = mdl; accumulation = acc
    case .ideal: accumulation = .ideal
    case .exact: accumulation = .exact
    }
    if case .promoted(let every) = accumulation, every <= 0 { throw .invalidArgument("promotion interval \(every)") }
    _ = try ResourceLimits.checkedBytes([m, n, 4], what: "D (\(m)×\(n) FP32)")
    if let acc = accumulator, acc.count != m * n { throw .badShape("accumulator has \(acc.count) values, want \(m * n)") }
    if let c, c.count < m * n { throw .badShape("c has \(c.count) values, want \(m * n)") }
    if beta != 0 && c == nil { throw .nullPointer("beta != 0 needs c") }
    if let bias, bias.count < n { throw .badShape("bias has \(bias.count) values, want \(n)") }
    var mode: Int32 = 0
    var sa: [Float] = [], sb: [Float] = [], ma: [UInt8] = [], mb: [UInt8] = []
    let kb128 = (k + 127) / 128, nb128 = (n + 127) / 128, kb32 = (k + 31) / 32
    switch scaling {
    case .none: break
    case .tensor(let x, let y): mode = 1; sa = [x]; sb = [y]
    case .rowwise(let x, let y):
      guard x.count == m, y.count == n else { throw .badScale("row-wise scales need \(m) and \(n) values") }
      mode = 2; sa = x; sb = y
    case .block(let x, let y):
      guard x.count == m * kb128, y.count == kb128 * nb128 else { throw .badScale("block scales need \(m * kb128) and \(kb128 * nb128) values") }
      mode = 3; sa = x; sb = y
    case .mx(let x, let y):
      guard x.count == m * kb32, y.count == kb32 * n else { throw .badScale("MX scales need \(m * kb32) and \(kb32 * n) values") }
      mode = 4; ma = x; mb = y
    }
    var d = [Float](repeating: 0, count: m * n)
    let (ca, cb) = (a, b)
    let cModel = model?.cModel
    try ca.withPointer { (pa) throws(FP8Error) in
      try cb.withPointer { (pb) throws(FP8Error) in
        let opA = GEMMOperandDescriptor(data: pa, format: ca.format.rawValue, transposed: ca.transposed, leadingDimension: ca.ld)
        let opB = GEMMOperandDescriptor(data: pb, format: cb.format.rawValue, transposed: cb.transposed, leadingDimension: cb.ld)
        try withOptional(accumulator) { (pInit) throws(FP8Error) in
          try withOptional(c) { (pc) throws(FP8Error) in
            try withOptional(bias) { (pbias) throws(FP8Error) in
              try sa.withUnsafeBufferPointer { (psa) throws(FP8Error) in
                try sb.withUnsafeBufferPointer { (psb) throws(FP8Error) in
                  try ma.withUnsafeBufferPointer { (pma) throws(FP8Error) in
                    try mb.withUnsafeBufferPointer { (pmb) throws(FP8Error) in
                      try d.withUnsafeMutableBufferPointer { (pd) throws(FP8Error) in
                        guard let dp = pd.baseAddress else { return }
                        try CKernels.tensorCoreGEMM(
                          m: m, n: n, k: k, a: opA, b: opB, accInit: pInit, scalingMode: mode,
                          aScales: psa.baseAddress, bScales: psb.baseAddress, aMX: pma.baseAddress, bMX: pmb.baseAddress,
                          model: cModel, accumulation: accumulation.cCode, promotionInterval: accumulation.interval,
                          alpha: alpha, beta: beta, c: pc, bias: pbias, d: dp, amax: nil, isa: isa.rawValue,
                          threads: Int32(clamping: threads))
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return d
  }
}

private func withOptional<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) throws(FP8Error) -> R) throws(FP8Error) -> R {
  guard let array else { return try body(nil) }
  return try array.withUnsafeBufferPointer { (p) throws(FP8Error) in try body(p.baseAddress) }
}
