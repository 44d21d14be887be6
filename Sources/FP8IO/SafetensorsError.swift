/// What is wrong with a safetensors file: one case per kind of defect, so that tests and callers
/// can tell them apart.
public enum SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The error without the file it was found in.
  public var defect: SafetensorsError {
    if case .inFile(_, let e) = self { return e.defect }
    return self
  }

  /// The file could not be opened, read or written (see `FileError`).
  case file(FileError)
  /// A defect of the file at this path (what `SafetensorsFile` throws, so that messages name it).
  indirect case inFile(String, SafetensorsError)
  /// Fewer than the 8 bytes of the header length.
  case truncated(fileSize: Int)
  /// The header length is above the limit (100 MB, as the reference implementation).
  case headerTooLarge(length: UInt64, limit: Int)
  /// The header length points past the end of the file.
  case headerBeyondFile(length: UInt64, fileSize: Int)
  /// The header is not valid UTF-8.
  case headerNotUTF8(offset: Int)
  /// The header is not valid JSON.
  case invalidJSON(message: String, offset: Int)
  /// The JSON is valid but not a safetensors header (wrong types, missing or unknown fields).
  case invalidHeader(String)
  /// `__metadata__` is not an object of strings.
  case invalidMetadata(String)
  /// Two entries with the same name.
  case duplicateName(String)
  /// A dtype the format does not define.
  case unknownDType(tensor: String, dtype: String)
  /// A dimension that is negative or not an integer.
  case invalidShape(tensor: String, detail: String)
  /// product(shape) × dtype size overflows.
  case sizeOverflow(tensor: String)
  /// end − begin differs from product(shape) × dtype size (or is not whole bytes).
  case sizeMismatch(tensor: String, expectedBytes: Int, actualBytes: Int)
  /// data_offsets reversed or beyond the byte buffer.
  case offsetsOutOfBounds(tensor: String, begin: Int, end: Int, bufferSize: Int)
  /// Two tensors share bytes.
  case overlappingOffsets(tensor: String, other: String)
  /// A hole between tensors (the reference requires contiguous data).
  case gapInData(tensor: String, expectedBegin: Int, begin: Int)
  /// The tensors do not cover the byte buffer to its end.
  case incompleteCoverage(covered: Int, bufferSize: Int)
  /// No tensor of that name.
  case tensorNotFound(String)
  /// A writer argument is inconsistent (shape vs byte count, bad name).
  case invalidArgument(String)

  public var description: String {
    switch self {
    case .file(let e): return e.description
    case .inFile(let p, let e): return "\(quotedPath(p)): \(e)"
    case .truncated(let n): return "truncated file: \(n) bytes, need at least 8 for the header length"
    case .headerTooLarge(let l, let lim): return "header length \(l) exceeds the limit of \(lim) bytes"
    case .headerBeyondFile(let l, let n): return "header length \(l) runs past the end of the \(n)-byte file"
    case .headerNotUTF8(let o): return "header is not valid UTF-8 (byte \(o))"
    case .invalidJSON(let m, let o): return "header is not valid JSON: \(m) at byte \(o)"
    case .invalidHeader(let m): return "invalid header: \(m)"
    case .invalidMetadata(let m): return "invalid __metadata__: \(m)"
    case .duplicateName(let n): return "duplicate tensor name \(quoted(n))"
    case .unknownDType(let t, let d): return "tensor \(quoted(t)): unknown dtype \(quoted(d))"
    case .invalidShape(let t, let d): return "tensor \(quoted(t)): invalid shape: \(d)"
    case .sizeOverflow(let t): return "tensor \(quoted(t)): size overflows"
    case .sizeMismatch(let t, let e, let a):
      return "tensor \(quoted(t)): data_offsets span \(a) bytes but shape × dtype needs \(e)"
    case .offsetsOutOfBounds(let t, let b, let e, let n):
      return "tensor \(quoted(t)): data_offsets [\(b), \(e)) outside the \(n)-byte data buffer"
    case .overlappingOffsets(let t, let o): return "tensors \(quoted(t)) and \(quoted(o)) overlap"
    case .gapInData(let t, let e, let b): return "tensor \(quoted(t)) begins at \(b), expected \(e) (data must be contiguous)"
    case .incompleteCoverage(let c, let n): return "tensors cover \(c) of the \(n) data bytes"
    case .tensorNotFound(let n): return "no tensor named \(quoted(n))"
    case .invalidArgument(let m): return "invalid argument: \(m)"
    }
  }
}
