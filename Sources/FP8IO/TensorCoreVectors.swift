import Foundation

/// Errors of the real-GPU tensor-core vector reader, each naming the file (and line).
public enum TensorCoreVectorError: Error, CustomStringConvertible, Sendable, Equatable {
  case missingDirectory(String)
  case missingFile(String)
  case malformed(file: String, line: Int, reason: String)
  case rowCountMismatch(file: String, rows: Int, expected: Int)

  public var description: String {
    switch self {
    case .missingDirectory(let p): return "no such vector folder: \(p)"
    case .missingFile(let p): return "missing vector file: \(p)"
    case .malformed(let f, let l, let r): return "\(f):\(l): \(r)"
    case .rowCountMismatch(let f, let r, let e): return "\(f): \(r) rows, expected \(e) (as in the a file)"
    }
  }
}

/// One `<GPU>/<input format>/` folder of the public vector layout (Khattak & Mikaitis,
/// arXiv:2512.07004, `model_validation/`): per row, the K values of a and b (hex binary32), c and
/// the GPU's d with an FP32 and, where recorded, an FP16 accumulator (32 characters of 0/1).
public struct TensorCoreVectorSet: Sendable {
  public let gpu: String
  /// The folder name: fp16, bf16, tf32, E4M3 or E5M2.
  public let input: String
  public let a: [[Float]]
  public let b: [[Float]]
  public let c: [Float]
  /// d with a binary32 accumulator, if the file exists.
  public let d32: [Float]?
  /// d with a binary16 accumulator widened to binary32, if the file exists.
  public let d16: [Float]?

  public var rows: Int { a.count }
}

public enum TensorCoreVectors {
  /// The (GPU, input) folders under `directory`, sorted; folders without an `a_*.txt` file are
  /// listed too, so that the caller can report them.
  public static func folders(in directory: String) throws(TensorCoreVectorError) -> [(gpu: String, input: String)] {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else { throw .missingDirectory(directory) }
    var out: [(String, String)] = []
    for gpu in ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).sorted() {
      let gdir = directory + "/" + gpu
      guard fm.fileExists(atPath: gdir, isDirectory: &isDir), isDir.boolValue else { continue }
      for input in ((try? fm.contentsOfDirectory(atPath: gdir)) ?? []).sorted() {
        guard fm.fileExists(atPath: gdir + "/" + input, isDirectory: &isDir), isDir.boolValue else { continue }
        out.append((gpu, input))
      }
    }
    return out
  }

  /// Reads `<directory>/<gpu>/<input>/`: a_/b_ files required, c_<gpu>_fp32.txt required, d files
  /// optional (at least one). Every file must have as many rows as the a file and every a/b row
  /// the same count of values.
  public static func load(directory: String, gpu: String, input: String) throws(TensorCoreVectorError) -> TensorCoreVectorSet {
    let base = "\(directory)/\(gpu)/\(input)/"
    let aPath = base + "a_\(gpu)_\(input).txt", bPath = base + "b_\(gpu)_\(input).txt"
    let a = try hexRows(aPath), b = try hexRows(bPath)
    guard b.count == a.count else { throw .rowCountMismatch(file: bPath, rows: b.count, expected: a.count) }
    for (i, (ra, rb)) in zip(a, b).enumerated() where ra.count != rb.count || ra.isEmpty {
      throw .malformed(file: bPath, line: i + 1, reason: "\(rb.count) values of b against \(ra.count) of a")
    }
    let c = try binaryRows(base + "c_\(gpu)_fp32.txt", required: true, rows: a.count)!
    let d32 = try binaryRows(base + "d_\(gpu)_fp32.txt", required: false, rows: a.count)
    let d16 = try binaryRows(base + "d_\(gpu)_fp16.txt", required: false, rows: a.count)
    if d32 == nil && d16 == nil { throw .missingFile(base + "d_\(gpu)_fp32.txt") }
    return TensorCoreVectorSet(gpu: gpu, input: input, a: a, b: b, c: c, d32: d32, d16: d16)
  }

  private static func readBytes(_ path: String) throws(TensorCoreVectorError) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
    return [UInt8](data)
  }

  /// Lines of space-separated hex binary32 patterns.
  static func hexRows(_ path: String) throws(TensorCoreVectorError) -> [[Float]] {
    let bytes = try readBytes(path)
    var rows: [[Float]] = [], row: [Float] = [], value: UInt64 = 0, digits = 0, line = 1
    func flushValue() throws(TensorCoreVectorError) {
      if digits > 0 {
        guard digits <= 8 else { throw .malformed(file: path, line: line, reason: "hex value longer than 8 digits") }
        row.append(Float(bitPattern: UInt32(value)))
      }
      value = 0
      digits = 0
    }
    for ch in bytes {
      switch ch {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt64(ch - 48); digits += 1
      case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt64(ch - 87); digits += 1
      case UInt8(ascii: "A")...UInt8(ascii: "F"): value = value << 4 | UInt64(ch - 55); digits += 1
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: ","), UInt8(ascii: "\r"): try flushValue()
      case UInt8(ascii: "\n"):
        try flushValue()
        if !row.isEmpty { rows.append(row) }
        row = []
        line += 1
      default: throw .malformed(file: path, line: line, reason: "unexpected character \(Unicode.Scalar(ch).escaped(asASCII: true))")
      }
      if digits > 8 { throw .malformed(file: path, line: line, reason: "hex value longer than 8 digits") }
    }
    try flushValue()
    if !row.isEmpty { rows.append(row) }
    if rows.isEmpty { throw .malformed(file: path, line: 1, reason: "no rows") }
    return rows
  }

  /// Lines of exactly 32 characters 0/1 (a binary32 bit pattern).
  static func binaryRows(_ path: String, required: Bool, rows expected: Int) throws(TensorCoreVectorError) -> [Float]? {
    guard FileManager.default.fileExists(atPath: path) else {
      if required { throw .missingFile(path) }
      return nil
    }
    let bytes = try readBytes(path)
    var out: [Float] = [], value: UInt32 = 0, bits = 0, line = 1
    for ch in bytes {
      switch ch {
      case UInt8(ascii: "0"), UInt8(ascii: "1"):
        guard bits < 32 else { throw .malformed(file: path, line: line, reason: "more than 32 bits") }
        value = value << 1 | UInt32(ch - 48)
        bits += 1
      case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
        if bits != 0 {
          guard bits == 32 else { throw .malformed(file: path, line: line, reason: "\(bits) bits, expected 32") }
          out.append(Float(bitPattern: value))
        }
        if ch == UInt8(ascii: "\n") { line += 1 }
        value = 0
        bits = 0
      case UInt8(ascii: " "), UInt8(ascii: "\t"): continue
      default: throw .malformed(file: path, line: line, reason: "unexpected character \(Unicode.Scalar(ch).escaped(asASCII: true))")
      }
    }
    if bits != 0 {
      guard bits == 32 else { throw .malformed(file: path, line: line, reason: "\(bits) bits, expected 32") }
      out.append(Float(bitPattern: value))
    }
    guard out.count == expected else { throw .rowCountMismatch(file: path, rows: out.count, expected: expected) }
    return out
  }
}
