/// One tensor entry of a safetensors header.
public struct SafetensorsTensorInfo: Sendable, Hashable {
  public var name: String
  public var dtype: SafetensorsDType
  public var shape: [Int]
  /// [begin, end) relative to the byte buffer that follows the header.
  public var dataOffsets: Range<Int>

  public init(name: String, dtype: SafetensorsDType, shape: [Int], dataOffsets: Range<Int>) {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.dataOffsets = dataOffsets
  }

  public var elementCount: Int { shape.reduce(1, *) }
  public var byteCount: Int { dataOffsets.count }
}

/// A parsed and validated safetensors header.
///
/// Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON (padded with spaces),
/// then the byte buffer. The JSON maps tensor names to `{"dtype", "shape", "data_offsets"}` and
/// may hold `"__metadata__"`, an object of strings. Validation follows the reference
/// implementation and is stricter where it is silent: N ≤ 100 MB and within the file; valid UTF-8
/// and JSON; no duplicate names (the reference keeps the last); known dtype; integral
/// non-negative dimensions; end − begin = product(shape) × size (checked for overflow, whole
/// bytes for F4/F6); tensors contiguous in offset order, without overlap or gap, covering the
/// buffer exactly. Unknown fields in a tensor entry are rejected.
public struct SafetensorsHeader: Sendable, Hashable {
  /// The reference implementation's limit on N.
  public static let maxHeaderLength = 100_000_000

  public var metadata: [String: String]?
  /// Tensors sorted by name.
  public var tensors: [SafetensorsTensorInfo]
  /// 8 + N: where the byte buffer starts in the file.
  public var dataStart: Int

  /// Parses the header at the start of `file` (the whole file, or at least its header when
  /// `fileSize` gives the full size).
  public static func parse(_ file: UnsafeRawBufferPointer, fileSize: Int? = nil) throws(SafetensorsError) -> SafetensorsHeader {
    let total = fileSize ?? file.count
    guard file.count >= 8 else { throw .truncated(fileSize: total) }
    var n: UInt64 = 0
    for k in 0..<8 { n |= UInt64(file[k]) << (8 * k) }
    guard n <= UInt64(maxHeaderLength) else { throw .headerTooLarge(length: n, limit: maxHeaderLength) }
    guard 8 + Int(n) <= total, 8 + Int(n) <= file.count else { throw .headerBeyondFile(length: n, fileSize: total) }
    let bytes = Array(file[8..<(8 + Int(n))])
    if let bad = firstInvalidUTF8(bytes) { throw .headerNotUTF8(offset: 8 + bad) }
    // as the reference implementation: the JSON must start right away (no leading whitespace)
    guard bytes.first == UInt8(ascii: "{") else { throw .invalidHeader("the header does not start with '{'") }
    let json: JSONValue
    do {
      json = try StrictJSONParser.parse(bytes)
    } catch {
      if let d = error.duplicateKey { throw .duplicateName(d) }
      throw .invalidJSON(message: error.message, offset: 8 + error.offset)
    }
    guard case .object(let entries) = json else { throw .invalidHeader("the header is not a JSON object") }
    var metadata: [String: String]? = nil
    var tensors: [SafetensorsTensorInfo] = []
    let bufferSize = total - 8 - Int(n)
    for (name, value) in entries {
      if name == "__metadata__" {
        guard case .object(let kv) = value else { throw .invalidMetadata("not an object") }
        var m: [String: String] = [:]
        for (k, v) in kv {
          guard case .string(let s) = v else { throw .invalidMetadata("value of \"\(k)\" is not a string") }
          m[k] = s
        }
        metadata = m
        continue
      }
      tensors.append(try tensorInfo(name: name, value, bufferSize: bufferSize))
    }
    try validateLayout(tensors, bufferSize: bufferSize)
    tensors.sort { $0.name < $1.name }
    return SafetensorsHeader(metadata: metadata, tensors: tensors, dataStart: 8 + Int(n))
  }

  private static func tensorInfo(name: String, _ value: JSONValue, bufferSize: Int) throws(SafetensorsError) -> SafetensorsTensorInfo {
    guard case .object(let fields) = value else { throw .invalidHeader("entry \"\(name)\" is not an object") }
    var dtype: SafetensorsDType?
    var shape: [Int]?
    var offsets: (Int, Int)?
    for (k, v) in fields {
      switch k {
      case "dtype":
        guard case .string(let s) = v else { throw .invalidHeader("\"\(name)\".dtype is not a string") }
        guard let d = SafetensorsDType(rawValue: s) else { throw .unknownDType(tensor: name, dtype: s) }
        dtype = d
      case "shape":
        guard case .array(let dims) = v else { throw .invalidShape(tensor: name, detail: "not an array") }
        var out: [Int] = []
        for d in dims {
          guard case .number(let text) = d else { throw .invalidShape(tensor: name, detail: "dimension is not a number") }
          guard let x = d.nonNegativeInt else {
            throw .invalidShape(tensor: name, detail: "dimension \(text) is not a non-negative integer")
          }
          out.append(x)
        }
        shape = out
      case "data_offsets":
        guard case .array(let o) = v, o.count == 2 else { throw .invalidHeader("\"\(name)\".data_offsets is not [begin, end]") }
        guard let b = o[0].nonNegativeInt, let e = o[1].nonNegativeInt else {
          throw .invalidHeader("\"\(name)\".data_offsets are not non-negative integers")
        }
        offsets = (b, e)
      default:
        throw .invalidHeader("\"\(name)\" has an unknown field \"\(k)\"")
      }
    }
    guard let dtype, let shape, let offsets else {
      throw .invalidHeader("\"\(name)\" lacks dtype, shape or data_offsets")
    }
    var count = 1
    for d in shape {
      let (p, o) = count.multipliedReportingOverflow(by: d)
      if o { throw .sizeOverflow(tensor: name) }
      count = p
    }
    let (bits, o) = count.multipliedReportingOverflow(by: dtype.bitSize)
    if o { throw .sizeOverflow(tensor: name) }
    guard offsets.0 <= offsets.1 else {
      throw .offsetsOutOfBounds(tensor: name, begin: offsets.0, end: offsets.1, bufferSize: bufferSize)
    }
    if bits % 8 != 0 || bits / 8 != offsets.1 - offsets.0 {
      throw .sizeMismatch(tensor: name, expectedBytes: (bits + 7) / 8, actualBytes: offsets.1 - offsets.0)
    }
    return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: offsets.0..<offsets.1)
  }

  private static func validateLayout(_ tensors: [SafetensorsTensorInfo], bufferSize: Int) throws(SafetensorsError) {
    for t in tensors where t.dataOffsets.upperBound > bufferSize {
      throw .offsetsOutOfBounds(
        tensor: t.name, begin: t.dataOffsets.lowerBound, end: t.dataOffsets.upperBound, bufferSize: bufferSize)
    }
    let sorted = tensors.sorted {
      ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
    }
    var end = 0
    var last: String?
    for t in sorted {
      if t.dataOffsets.lowerBound < end, let last { throw .overlappingOffsets(tensor: t.name, other: last) }
      if t.dataOffsets.lowerBound > end { throw .gapInData(tensor: t.name, expectedBegin: end, begin: t.dataOffsets.lowerBound) }
      end = t.dataOffsets.upperBound
      last = t.name
    }
    if end != bufferSize { throw .incompleteCoverage(covered: end, bufferSize: bufferSize) }
  }
}

/// A safetensors file opened for reading through a memory map: opening reads and validates the
/// header only; tensor bytes are paged in when a tensor is accessed.
public final class SafetensorsFile: @unchecked Sendable {
  public let mapping: MappedFile
  public let header: SafetensorsHeader
  private let index: [String: Int]

  public init(path: String) throws(SafetensorsError) {
    mapping = try MappedFile(path: path)
    header = try SafetensorsHeader.parse(mapping.bytes)
    var idx: [String: Int] = [:]
    for (k, t) in header.tensors.enumerated() { idx[t.name] = k }
    index = idx
  }

  public var path: String { mapping.path }
  public var metadata: [String: String]? { header.metadata }
  /// Tensors sorted by name.
  public var tensors: [SafetensorsTensorInfo] { header.tensors }

  public func info(_ name: String) -> SafetensorsTensorInfo? { index[name].map { header.tensors[$0] } }

  /// The bytes of a tensor inside the map (valid while this object lives).
  public func bytes(of name: String) throws(SafetensorsError) -> UnsafeRawBufferPointer {
    guard let t = info(name) else { throw .tensorNotFound(name) }
    return bytes(of: t)
  }

  public func bytes(of t: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
    let all = mapping.bytes
    return UnsafeRawBufferPointer(rebasing: all[(header.dataStart + t.dataOffsets.lowerBound)..<(header.dataStart + t.dataOffsets.upperBound)])
  }

  /// A copy of a tensor's bytes.
  public func data(of name: String) throws(SafetensorsError) -> [UInt8] { Array(try bytes(of: name)) }
}

/// Offset of the first byte that breaks UTF-8 well-formedness (RFC 3629), or nil.
func firstInvalidUTF8(_ b: [UInt8]) -> Int? {
  var i = 0
  while i < b.count {
    let c = b[i]
    if c < 0x80 { i += 1; continue }
    let need: Int
    var lo: UInt8 = 0x80
    var hi: UInt8 = 0xBF
    switch c {
    case 0xC2...0xDF: need = 1
    case 0xE0: need = 2; lo = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: need = 2
    case 0xED: need = 2; hi = 0x9F
    case 0xF0: need = 3; lo = 0x90
    case 0xF1...0xF3: need = 3
    case 0xF4: need = 3; hi = 0x8F
    default: return i
    }
    guard i + need < b.count else { return i }
    if b[i + 1] < lo || b[i + 1] > hi { return i }
    for k in 2..<(need + 1) where b[i + k] < 0x80 || b[i + k] > 0xBF { return i }
    i += need + 1
  }
  return nil
}
