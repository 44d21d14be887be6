#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types of the `.npy` files this package reads and writes (little-endian only).
public enum NpyDType: String, CaseIterable, Sendable, Hashable {
  case f32 = "<f4"
  case f16 = "<f2"
  case u8 = "|u1"
  case i8 = "|i1"
  case f64 = "<f8"
  case i32 = "<i4"

  /// The safetensors type of the same elements (every NumPy type here has one).
  var safetensorsDType: SafetensorsDType {
    switch self {
    case .f32: return .f32
    case .f16: return .f16
    case .u8: return .u8
    case .i8: return .i8
    case .f64: return .f64
    case .i32: return .i32
    }
  }

  /// Bytes per element.
  public var itemSize: Int { safetensorsDType.bitSize / 8 }

  /// Accepts NumPy's equivalent spellings ("=f4", "f4", "<u1", "u1", ...).
  init?(descr: String) {
    var d = descr
    if let f = d.first, f == "<" || f == "|" || f == "=" { d.removeFirst() }
    switch d {
    case "f4": self = .f32
    case "f2": self = .f16
    case "u1", "B": self = .u8
    case "i1", "b": self = .i8
    case "f8": self = .f64
    case "i4": self = .i32
    default: return nil
    }
  }
}

/// What is wrong with a `.npy` file; one case per kind of defect.
public enum NpyError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The error without the file it was found in.
  public var defect: NpyError {
    if case .inFile(_, let e) = self { return e.defect }
    return self
  }

  /// The file could not be opened, read or written (see `FileError`).
  case file(FileError)
  /// A defect of the file at this path (what `Npy.read` and `Npy.header` throw).
  indirect case inFile(String, NpyError)
  /// Shorter than the fixed preamble, or than its header length says.
  case truncatedHeader(fileSize: Int)
  /// Does not start with "\x93NUMPY".
  case badMagic
  /// A format version other than 1.0, 2.0, 3.0.
  case unsupportedVersion(major: UInt8, minor: UInt8)
  /// Header not ASCII/Latin-1 (1.0, 2.0) or UTF-8 (3.0).
  case headerEncoding
  /// The header is not the dictionary literal NumPy writes.
  case malformedHeader(String)
  /// A dtype this package does not handle (big-endian, structured, object, ...).
  case unsupportedDType(String)
  /// A negative or non-integer dimension.
  case invalidShape(String)
  /// product(shape) × item size overflows.
  case sizeOverflow
  /// The data part is shorter or longer than the shape needs.
  case dataSizeMismatch(expected: Int, actual: Int)
  /// A writer argument is inconsistent.
  case invalidArgument(String)

  public var description: String {
    switch self {
    case .file(let e): return e.description
    case .inFile(let p, let e): return "\(quotedPath(p)): \(e)"
    case .truncatedHeader(let n): return "truncated .npy header (\(n) bytes)"
    case .badMagic: return "not a .npy file (magic string missing)"
    case .unsupportedVersion(let a, let b): return "unsupported .npy version \(a).\(b)"
    case .headerEncoding: return ".npy header has invalid characters"
    case .malformedHeader(let m): return "malformed .npy header: \(m)"
    case .unsupportedDType(let d): return "unsupported .npy dtype '\(d)' (supported: <f4 <f2 |u1 |i1 <f8 <i4)"
    case .invalidShape(let m): return "invalid .npy shape: \(m)"
    case .sizeOverflow: return ".npy shape is too large"
    case .dataSizeMismatch(let e, let a): return ".npy data has \(a) bytes, the shape needs \(e)"
    case .invalidArgument(let m): return "invalid argument: \(m)"
    }
  }
}

/// An n-dimensional array as stored in a `.npy` file: raw little-endian element bytes in file
/// order (row-major when `fortranOrder` is false, column-major when true).
public struct NpyArray: Sendable, Hashable {
  public var dtype: NpyDType
  public var shape: [Int]
  public var fortranOrder: Bool
  public var data: [UInt8]

  public init(dtype: NpyDType, shape: [Int], fortranOrder: Bool = false, data: [UInt8]) throws(NpyError) {
    var n = 1
    for d in shape {
      guard d >= 0 else { throw .invalidShape("negative dimension \(d)") }
      let (p, o) = n.multipliedReportingOverflow(by: d)
      if o { throw .sizeOverflow }
      n = p
    }
    let (bytes, o) = n.multipliedReportingOverflow(by: dtype.itemSize)
    if o { throw .sizeOverflow }
    guard bytes == data.count else { throw .dataSizeMismatch(expected: bytes, actual: data.count) }
    self.dtype = dtype
    self.shape = shape
    self.fortranOrder = fortranOrder
    self.data = data
  }

  /// A C-order float32 array.
  public init(floats: [Float], shape: [Int]) throws(NpyError) {
    var bytes = [UInt8](repeating: 0, count: floats.count * 4)
    for (k, f) in floats.enumerated() {
      let u = f.bitPattern
      for b in 0..<4 { bytes[4 * k + b] = UInt8(truncatingIfNeeded: u >> (8 * b)) }
    }
    try self.init(dtype: .f32, shape: shape, data: bytes)
  }

  public var elementCount: Int { shape.reduce(1, *) }

  /// The element bytes in C (row-major) order: `data` itself for C-order files, transposed for
  /// Fortran-order ones.
  public func cOrderData() -> [UInt8] {
    guard fortranOrder, shape.count >= 2 else { return data }
    let w = dtype.itemSize
    var out = [UInt8](repeating: 0, count: data.count)
    forEachFortranIndex { k, f in for b in 0..<w { out[k * w + b] = data[f * w + b] } }
    return out
  }

  /// The elements as FP32 in C (row-major) order, whatever the file order (f16, u8, i8, i32 and
  /// f64 converted: f64 with RNE to FP32).
  public func floatsCOrder() -> [Float] {
    let n = elementCount
    var out = [Float](repeating: 0, count: n)
    func value(_ k: Int) -> Float {
      switch dtype {
      case .u8: return Float(data[k])
      case .i8: return Float(Int8(bitPattern: data[k]))
      case .f16:
        return Float(Float16(bitPattern: UInt16(data[2 * k]) | UInt16(data[2 * k + 1]) << 8))
      case .f32, .i32:
        var u: UInt32 = 0
        for b in 0..<4 { u |= UInt32(data[4 * k + b]) << (8 * b) }
        return dtype == .f32 ? Float(bitPattern: u) : Float(Int32(bitPattern: u))
      case .f64:
        var u: UInt64 = 0
        for b in 0..<8 { u |= UInt64(data[8 * k + b]) << (8 * b) }
        return Float(Double(bitPattern: u))
      }
    }
    if !fortranOrder || shape.count < 2 {
      for k in 0..<n { out[k] = value(k) }
      return out
    }
    forEachFortranIndex { k, f in out[k] = value(f) }
    return out
  }

  /// Calls `body(k, f)` for every element in C order: k its C-order index, f its index in the
  /// Fortran-order data (f = Σ i_d · Π_{e<d} n_e), walking C order with an index vector.
  private func forEachFortranIndex(_ body: (_ k: Int, _ f: Int) -> Void) {
    var idx = [Int](repeating: 0, count: shape.count)
    var strides = [Int](repeating: 1, count: shape.count)
    for d in 1..<shape.count { strides[d] = strides[d - 1] * shape[d - 1] }
    for k in 0..<elementCount {
      var f = 0
      for d in 0..<shape.count { f += idx[d] * strides[d] }
      body(k, f)
      var d = shape.count - 1
      while d >= 0 {
        idx[d] += 1
        if idx[d] < shape[d] { break }
        idx[d] = 0
        d -= 1
      }
    }
  }
}

/// Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
public enum Npy {
  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

  /// Where the data of a `.npy` file starts and what it holds, from the file's first bytes.
  public struct Header: Sendable, Hashable {
    public var dtype: NpyDType
    public var shape: [Int]
    public var fortranOrder: Bool
    /// Offset of the first data byte.
    public var dataStart: Int
    /// product(shape) × item size.
    public var dataBytes: Int
  }

  /// Reads a `.npy` file: the header first, then the data straight into the array (one copy of
  /// the data in memory).
  public static func read(path: String) throws(NpyError) -> NpyArray {
    let file: InputFile
    do { file = try InputFile(path: path) } catch { throw .file(error) }
    let h = try header(of: file)
    var data = [UInt8](repeating: 0, count: h.dataBytes)
    do { try data.withMutableBytes { (b) throws(FileError) in try file.read(into: b, at: h.dataStart) } } catch {
      throw .file(error)
    }
    return try NpyArray(dtype: h.dtype, shape: h.shape, fortranOrder: h.fortranOrder, data: data)
  }

  /// The header of a `.npy` file (reads only the header): shapes are known before any data is
  /// read, so that memory can be estimated first.
  public static func header(path: String) throws(NpyError) -> Header {
    let file: InputFile
    do { file = try InputFile(path: path) } catch { throw .file(error) }
    return try header(of: file)
  }

  static func header(of file: InputFile) throws(NpyError) -> Header {
    do {
      var prefix = try file.read(count: min(12, file.size), at: 0)
      if prefix.count >= 10, prefix[6] >= 1, prefix[6] <= 3 {
        let length = prefix[6] == 1 ? Int(prefix[8]) | Int(prefix[9]) << 8 : prefix.count >= 12
          ? Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24 : 0
        let start = prefix[6] == 1 ? 10 : 12
        // NumPy writes headers of a few hundred bytes; refuse to read a huge one into memory
        guard length <= 1 << 24 else { throw NpyError.malformedHeader("header length \(length) bytes is implausibly large") }
        prefix = try file.read(count: min(file.size, start + length), at: 0)
      }
      return try prefix.withBytes { (b) throws(NpyError) in try parseHeader(b, fileSize: file.size) }
    } catch let e as NpyError {
      throw .inFile(file.path, e)
    } catch let e as FileError {
      throw .file(e)
    } catch {
      throw .malformedHeader("\(error)")
    }
  }

  public static func parse(_ bytes: [UInt8]) throws(NpyError) -> NpyArray {
    try bytes.withUnsafeBufferPointer { (p) throws(NpyError) in try parse(UnsafeRawBufferPointer(p)) }
  }

  public static func parse(_ b: UnsafeRawBufferPointer) throws(NpyError) -> NpyArray {
    let h = try parseHeader(b, fileSize: b.count)
    return try NpyArray(dtype: h.dtype, shape: h.shape, fortranOrder: h.fortranOrder, data: Array(b[h.dataStart...]))
  }

  /// Parses the header at the start of `b` (the file's first bytes, at least the whole header) of
  /// a file of `fileSize` bytes, and checks that the data part has the size the shape needs.
  static func parseHeader(_ b: UnsafeRawBufferPointer, fileSize: Int) throws(NpyError) -> Header {
    guard b.count >= 10 else {
      if b.count >= 6, !zip(b.prefix(6), magic).allSatisfy({ $0 == $1 }) { throw .badMagic }
      throw .truncatedHeader(fileSize: fileSize)
    }
    guard zip(b.prefix(6), magic).allSatisfy({ $0 == $1 }) else { throw .badMagic }
    let major = b[6], minor = b[7]
    guard (1...3).contains(major), minor == 0 else { throw .unsupportedVersion(major: major, minor: minor) }
    let headerLength: Int
    let start: Int
    if major == 1 {
      headerLength = Int(b[8]) | Int(b[9]) << 8
      start = 10
    } else {
      guard b.count >= 12 else { throw .truncatedHeader(fileSize: fileSize) }
      headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
      start = 12
    }
    guard b.count >= start + headerLength else { throw .truncatedHeader(fileSize: fileSize) }
    let hb = Array(b[start..<(start + headerLength)])
    let text: String
    if major == 3 {
      guard let s = String(validating: hb, as: UTF8.self) else { throw .headerEncoding }
      text = s
    } else {
      guard hb.allSatisfy({ $0 < 0x80 }) else { throw .headerEncoding }
      text = String(decoding: hb, as: UTF8.self)
    }
    let (descr, fortran, shape) = try parseHeaderDict(text)
    guard let dtype = NpyDType(descr: descr) else { throw .unsupportedDType(descr) }
    var n = 1
    for d in shape {
      let (p, o) = n.multipliedReportingOverflow(by: d)
      if o { throw .sizeOverflow }
      n = p
    }
    let (need, o) = n.multipliedReportingOverflow(by: dtype.itemSize)
    if o { throw .sizeOverflow }
    let have = fileSize - start - headerLength
    guard have == need else { throw .dataSizeMismatch(expected: need, actual: have) }
    return Header(dtype: dtype, shape: shape, fortranOrder: fortran, dataStart: start + headerLength, dataBytes: need)
  }

  /// Parses "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" (keys in any order).
  static func parseHeaderDict(_ s: String) throws(NpyError) -> (String, Bool, [Int]) {
    let c = Array(s.unicodeScalars)
    var i = 0
    func skip() { while i < c.count, c[i] == " " || c[i] == "\n" || c[i] == "\t" || c[i] == "\r" { i += 1 } }
    func expect(_ ch: Unicode.Scalar) throws(NpyError) {
      skip()
      guard i < c.count, c[i] == ch else { throw .malformedHeader("expected '\(ch)' at character \(i)") }
      i += 1
    }
    func str() throws(NpyError) -> String {
      skip()
      guard i < c.count, c[i] == "'" || c[i] == "\"" else { throw .malformedHeader("expected a string at character \(i)") }
      let q = c[i]
      i += 1
      var out = ""
      while i < c.count, c[i] != q {
        out.unicodeScalars.append(c[i])
        i += 1
      }
      guard i < c.count else { throw .malformedHeader("unterminated string") }
      i += 1
      return out
    }
    try expect("{")
    var descr: String?
    var fortran: Bool?
    var shape: [Int]?
    while true {
      skip()
      if i < c.count, c[i] == "}" { i += 1; break }
      let key = try str()
      try expect(":")
      skip()
      switch key {
      case "descr":
        guard i < c.count, c[i] == "'" || c[i] == "\"" else { throw .unsupportedDType("(structured or non-string descr)") }
        descr = try str()
      case "fortran_order":
        if s.unicodeScalars.dropFirst(i).starts(with: "True".unicodeScalars) { fortran = true; i += 4 }
        else if s.unicodeScalars.dropFirst(i).starts(with: "False".unicodeScalars) { fortran = false; i += 5 }
        else { throw .malformedHeader("fortran_order is not True or False") }
      case "shape":
        try expect("(")
        var dims: [Int] = []
        while true {
          skip()
          if i < c.count, c[i] == ")" { i += 1; break }
          var digits = ""
          if i < c.count, c[i] == "-" { throw .invalidShape("negative dimension") }
          while i < c.count, ("0"..."9").contains(c[i]) {
            digits.unicodeScalars.append(c[i])
            i += 1
          }
          if i < c.count, c[i] == "L" { i += 1 }  // Python 2 longs
          guard let d = Int(digits) else { throw .invalidShape("dimension is not an integer at character \(i)") }
          dims.append(d)
          skip()
          if i < c.count, c[i] == "," { i += 1; continue }
          skip()
          guard i < c.count, c[i] == ")" else { throw .malformedHeader("expected ',' or ')' in shape") }
        }
        shape = dims
      default:
        throw .malformedHeader("unknown key '\(key)'")
      }
      skip()
      if i < c.count, c[i] == "," { i += 1; continue }
      try expect("}")
      break
    }
    guard let descr, let fortran, let shape else { throw .malformedHeader("missing descr, fortran_order or shape") }
    return (descr, fortran, shape)
  }

  /// The bytes of a `.npy` file: version 1.0 when the header fits (else 2.0), header padded with
  /// spaces and a newline so that the data starts at a multiple of 64 bytes, as NumPy writes.
  public static func encode(_ a: NpyArray) -> [UInt8] {
    encodeHeader(dtype: a.dtype, shape: a.shape, fortranOrder: a.fortranOrder) + a.data
  }

  /// The bytes before the data: magic, version, header length and the padded header.
  static func encodeHeader(dtype: NpyDType, shape: [Int], fortranOrder: Bool) -> [UInt8] {
    let shapeText: String
    switch shape.count {
    case 1: shapeText = "(\(shape[0]),)"
    default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
    let dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
    var version: UInt8 = 1
    var pre = 10
    var total = pre + dict.utf8.count + 1
    if (total + 63) / 64 * 64 - pre > 65535 {
      version = 2
      pre = 12
      total = pre + dict.utf8.count + 1
    }
    let padded = (total + 63) / 64 * 64
    let hlen = padded - pre
    var out = magic + [version, 0]
    if version == 1 {
      out += [UInt8(hlen & 0xFF), UInt8(hlen >> 8)]
    } else {
      out += (0..<4).map { UInt8(truncatingIfNeeded: hlen >> (8 * $0)) }
    }
    out += Array(dict.utf8)
    out += [UInt8](repeating: 0x20, count: hlen - dict.utf8.count - 1)
    out.append(0x0A)
    return out
  }

  /// Writes the file through `OutputFile` (whole or not at all; `inputs` are the files it must
  /// not replace).
  public static func write(_ a: NpyArray, path: String, inputs: [String] = []) throws(NpyError) {
    do {
      let f = try OutputFile(path: path, inputs: inputs)
      try f.write(encodeHeader(dtype: a.dtype, shape: a.shape, fortranOrder: a.fortranOrder))
      try f.write(a.data)
      try f.commit()
    } catch { throw .file(error) }
  }
}
