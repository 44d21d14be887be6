import FP8

/// How the elements of a matrix are laid out in its storage.
public enum MatrixLayout: Sendable, Hashable, CustomStringConvertible {
  /// Element (r, c) is at index `r * leadingDimension + c`.
  case rowMajor
  /// Element (r, c) is at index `c * leadingDimension + r`.
  case columnMajor

  public var description: String { self == .rowMajor ? "row-major" : "column-major" }
}

/// A dense matrix of elements in one `ElementFormat`, held as raw little-endian bytes.
///
/// FP8 elements are one byte each, F16/BF16 two (their bit patterns), F32 four. `decoded()` and the
/// subscript give exact FP32 values (every FP8, F16 and BF16 value is an FP32 value). The type is
/// a value: copies share storage until one is mutated.
public struct Matrix: Sendable, Hashable {
  public let rows: Int
  public let columns: Int
  public let format: ElementFormat
  public let layout: MatrixLayout
  /// Elements between the starts of consecutive rows (row-major) or columns (column-major);
  /// at least the stored row (column) length.
  public let leadingDimension: Int
  /// The element bytes, `storageElementCount * format.byteSize` of them.
  public private(set) var storage: [UInt8]

  /// Elements covered by the storage: (stored lines − 1)·leadingDimension + line length.
  public static func storageElementCount(rows: Int, columns: Int, layout: MatrixLayout, leadingDimension: Int) -> Int {
    let (lines, length) = layout == .rowMajor ? (rows, columns) : (columns, rows)
    return lines == 0 || length == 0 ? 0 : (lines - 1) * leadingDimension + length
  }

  /// A matrix over raw storage bytes (bit patterns of `format`, little-endian for 2- and 4-byte
  /// formats). `leadingDimension` defaults to the dense value.
  /// - Throws: `.badShape` for negative sizes, `.badFormat` for E8M0 (a scale format, not an
  ///   element format), `.badStride` for a leading dimension below the line length, `.badShape`
  ///   when the byte count does not match.
  public init(
    rows: Int, columns: Int, format: ElementFormat, layout: MatrixLayout = .rowMajor, leadingDimension: Int? = nil,
    storage: [UInt8]
  ) throws(FP8Error) {
    guard rows >= 0, columns >= 0 else { throw .badShape("matrix \(rows)×\(columns)") }
    guard format != .e8m0 else { throw .badFormat("e8m0 is a scale format, not a matrix element format") }
    let length = layout == .rowMajor ? columns : rows
    let ld = leadingDimension ?? max(1, length)
    guard ld >= max(1, length) else {
      throw .badStride("leading dimension \(ld) < \(length) for a \(layout) \(rows)×\(columns) matrix")
    }
    let (count, o1) = ((layout == .rowMajor ? rows : columns) - 1).multipliedReportingOverflow(by: ld)
    guard !o1, count < Int.max / 8 else { throw .sizeOverflow("matrix \(rows)×\(columns), ld \(ld)") }
    let needed = Matrix.storageElementCount(rows: rows, columns: columns, layout: layout, leadingDimension: ld)
    guard storage.count == needed * format.byteSize else {
      throw .badShape("\(storage.count) bytes for \(needed) elements of \(format)")
    }
    self.rows = rows
    self.columns = columns
    self.format = format
    self.layout = layout
    self.leadingDimension = ld
    self.storage = storage
  }

  /// A dense matrix from FP8 bit patterns (one byte per element, in `layout` order).
  public init(rows: Int, columns: Int, format: ElementFormat, layout: MatrixLayout = .rowMajor, bits: [UInt8])
    throws(FP8Error)
  {
    guard format.byteSize == 1 else { throw .badFormat("bits: [UInt8] needs an 8-bit format, got \(format)") }
    try self.init(rows: rows, columns: columns, format: format, layout: layout, storage: bits)
  }

  /// A dense matrix from F16 or BF16 bit patterns (in `layout` order).
  public init(rows: Int, columns: Int, format: ElementFormat, layout: MatrixLayout = .rowMajor, bits16: [UInt16])
    throws(FP8Error)
  {
    guard format == .f16 || format == .bf16 else { throw .badFormat("bits16 needs f16 or bf16, got \(format)") }
    var bytes = [UInt8](); bytes.reserveCapacity(bits16.count * 2)
    for h in bits16 { bytes.append(UInt8(truncatingIfNeeded: h)); bytes.append(UInt8(truncatingIfNeeded: h >> 8)) }
    try self.init(rows: rows, columns: columns, format: format, layout: layout, storage: bytes)
  }

  /// A dense matrix from FP32 values given in row-major order (whatever `layout` the storage
  /// takes). Every value must be exactly representable in `format` (NaN is accepted where the
  /// format has one; for FP8 the value is encoded with RNE and must decode back unchanged).
  /// - Throws: `.invalidArgument` naming the first value that is not representable.
  public init(rows: Int, columns: Int, format: ElementFormat, layout: MatrixLayout = .rowMajor, values: [Float])
    throws(FP8Error)
  {
    guard rows >= 0, columns >= 0, values.count == rows * columns else {
      throw .badShape("\(values.count) values for a \(rows)×\(columns) matrix")
    }
    // values in storage order
    var ordered = values
    if layout == .columnMajor {
      for r in 0..<rows { for c in 0..<columns { ordered[c * rows + r] = values[r * columns + c] } }
    }
    var bytes = [UInt8]()
    switch format {
    case .f32:
      bytes.reserveCapacity(ordered.count * 4)
      for v in ordered { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
    case .f16, .bf16:
      bytes.reserveCapacity(ordered.count * 2)
      for (i, v) in ordered.enumerated() {
        let h: UInt16
        if format == .bf16 {
          guard v.isNaN || v.bitPattern & 0xFFFF == 0 else { throw .invalidArgument("value \(v) at \(i) is not a bf16 value") }
          h = UInt16(truncatingIfNeeded: v.bitPattern >> 16) | (v.isNaN ? 0x40 : 0)
        } else {
          let f = Float16(v)
          guard v.isNaN || Float(f) == v else { throw .invalidArgument("value \(v) at \(i) is not an f16 value") }
          h = f.bitPattern
        }
        bytes.append(UInt8(truncatingIfNeeded: h)); bytes.append(UInt8(truncatingIfNeeded: h >> 8))
      }
    case .e8m0:
      throw .badFormat("e8m0 is a scale format, not a matrix element format")
    default:
      bytes = try FP8Conversion.encode(ordered, to: format, preset: .mlDtypes)
      for (i, v) in ordered.enumerated() {
        let back = CKernels.decodeReference(bytes[i], format: format.rawValue)
        guard back == v || (back.isNaN && v.isNaN) else {
          throw .invalidArgument("value \(v) at \(i) is not a \(format) value")
        }
        if v == 0, v.sign != back.sign { throw .invalidArgument("-0 at \(i) is not a \(format) value") }
      }
    }
    try self.init(rows: rows, columns: columns, format: format, layout: layout, storage: bytes)
  }

  /// A dense matrix quantised from FP32 values given in row-major order: each value is multiplied by
  /// `scale` (the quantisation scale, 1 by default), then encoded
  /// with `rounding` under `preset` (default: RNE, satfinite as PTX `cvt.rn.satfinite`). F16 and
  /// BF16 round to nearest even; F32 stores the scaled values.
  public init(
    rows: Int, columns: Int, format: ElementFormat, layout: MatrixLayout = .rowMajor, quantizing values: [Float],
    scale: Float = 1, rounding: Rounding = .nearestEven, preset: OverflowPreset = .cudaSatfinite
  ) throws(FP8Error) {
    guard rows >= 0, columns >= 0, values.count == rows * columns else {
      throw .badShape("\(values.count) values for a \(rows)×\(columns) matrix")
    }
    var scaled = values
    if scale != 1 { for i in scaled.indices { scaled[i] *= scale } }
    if format.isFP8 {
      guard format != .e8m0 else { throw .badFormat("e8m0 is a scale format, not a matrix element format") }
      var ordered = scaled
      if layout == .columnMajor {
        for r in 0..<rows { for c in 0..<columns { ordered[c * rows + r] = scaled[r * columns + c] } }
      }
      let bits = try FP8Conversion.encode(ordered, to: format, rounding: rounding, preset: preset)
      try self.init(rows: rows, columns: columns, format: format, layout: layout, storage: bits)
    } else {
      let rounded = scaled.map { (v: Float) -> Float in
        switch format {
        case .f16: return Float(Float16(v))
        case .bf16:
          if v.isNaN { return v }
          let u = v.bitPattern
          return Float(bitPattern: (u &+ 0x7FFF &+ ((u >> 16) & 1)) & 0xFFFF_0000)
        default: return v
        }
      }
      try self.init(rows: rows, columns: columns, format: format, layout: layout, values: rounded)
    }
  }

  /// An all-zero dense matrix.
  public static func zeros(rows: Int, columns: Int, format: ElementFormat, layout: MatrixLayout = .rowMajor)
    throws(FP8Error) -> Matrix
  {
    guard rows >= 0, columns >= 0 else { throw .badShape("matrix \(rows)×\(columns)") }
    _ = try ResourceLimits.checkedBytes([rows, columns, format.byteSize], what: "matrix \(rows)×\(columns) \(format)")
    let count = Matrix.storageElementCount(rows: rows, columns: columns, layout: layout,
                                           leadingDimension: max(1, layout == .rowMajor ? columns : rows))
    return try Matrix(rows: rows, columns: columns, format: format, layout: layout,
                      storage: [UInt8](repeating: 0, count: max(0, count) * format.byteSize))
  }

  /// The same elements seen as the transposed matrix: rows and columns swap and the layout flips,
  /// the storage is shared (no copy).
  public var transposed: Matrix {
    // swift-format-ignore
    try! Matrix(rows: columns, columns: rows, format: format, layout: layout == .rowMajor ? .columnMajor : .rowMajor,
                leadingDimension: leadingDimension, storage: storage)
  }

  /// Storage index of element (r, c).
  @inlinable public func index(_ r: Int, _ c: Int) -> Int {
    layout == .rowMajor ? r * leadingDimension + c : c * leadingDimension + r
  }

  /// The bit pattern of element (r, c), zero-extended.
  public func bitPattern(_ r: Int, _ c: Int) -> UInt32 {
    let i = index(r, c) * format.byteSize
    var u: UInt32 = 0
    for b in 0..<format.byteSize { u |= UInt32(storage[i + b]) << (8 * b) }
    return u
  }

  /// The exact FP32 value of element (r, c).
  public subscript(r: Int, c: Int) -> Float {
    let u = bitPattern(r, c)
    switch format {
    case .f32: return Float(bitPattern: u)
    case .bf16: return Float(bitPattern: u << 16)
    case .f16: return Float(Float16(bitPattern: UInt16(u)))
    default: return CKernels.decodeReference(UInt8(u), format: format.rawValue)
    }
  }

  /// All elements as exact FP32 values in row-major order.
  public func decoded() -> [Float] {
    var out = [Float](repeating: 0, count: rows * columns)
    if format.isFP8, let table = CKernels.decodeTable(format: format.rawValue) {
      for r in 0..<rows { for c in 0..<columns { out[r * columns + c] = table[Int(storage[index(r, c)])] } }
    } else {
      for r in 0..<rows { for c in 0..<columns { out[r * columns + c] = self[r, c] } }
    }
    return out
  }
}
