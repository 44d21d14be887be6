/// Writes a safetensors file through `OutputFile` (whole or not at all, the old file untouched on
/// failure, no memory map: a full disk is an error). The header is laid out from the entries up
/// front; the caller then writes every tensor's bytes, in any order and in pieces of any size
/// (`write(_:tensor:at:)`), and `commit()` checks that every byte was written and renames the
/// file into place. Dropping the writer without committing removes the temporary file.
///
/// The layout is the reference writer's (safetensors' `serialize`): tensors ordered by dtype,
/// largest first in `SafetensorsDType` order, then by name; compact JSON with `__metadata__`
/// (keys sorted) first and fields in the order dtype, shape, data_offsets; the header padded with
/// spaces to a multiple of 8 bytes.
public final class SafetensorsWriter {
  public struct Entry: Sendable, Hashable {
    public var name: String
    public var dtype: SafetensorsDType
    public var shape: [Int]
    public init(name: String, dtype: SafetensorsDType, shape: [Int]) {
      self.name = name
      self.dtype = dtype
      self.shape = shape
    }
  }

  public var path: String { output.path }
  private let output: OutputFile
  private let dataStart: Int
  private var layout: [String: Range<Int>] = [:]
  private var written: [String: Int] = [:]

  /// The header JSON (with padding) that `init` writes for these entries.
  public static func headerBytes(entries: [Entry], metadata: [String: String]?) throws(SafetensorsError)
    -> (header: [UInt8], layout: [(Entry, Range<Int>)])
  {
    var seen = Set<String>()
    for e in entries {
      if e.name == "__metadata__" { throw .invalidArgument("a tensor cannot be named __metadata__") }
      if !seen.insert(e.name).inserted { throw .duplicateName(e.name) }
    }
    let ordered = entries.sorted { $0.dtype != $1.dtype ? $0.dtype > $1.dtype : $0.name < $1.name }
    var json = "{"
    var first = true
    if let metadata {
      json += "\"__metadata__\":{"
      json += metadata.keys.sorted().map { jsonQuoted($0) + ":" + jsonQuoted(metadata[$0]!) }.joined(separator: ",")
      json += "}"
      first = false
    }
    var offset = 0
    var layout: [(Entry, Range<Int>)] = []
    for e in ordered {
      var count = 1
      for d in e.shape {
        guard d >= 0 else { throw .invalidShape(tensor: e.name, detail: "negative dimension \(d)") }
        let (p, o) = count.multipliedReportingOverflow(by: d)
        if o { throw .sizeOverflow(tensor: e.name) }
        count = p
      }
      let (bits, o) = count.multipliedReportingOverflow(by: e.dtype.bitSize)
      if o { throw .sizeOverflow(tensor: e.name) }
      guard bits % 8 == 0 else { throw .sizeMismatch(tensor: e.name, expectedBytes: (bits + 7) / 8, actualBytes: bits / 8) }
      let range = offset..<(offset + bits / 8)
      offset = range.upperBound
      layout.append((e, range))
      if !first { json += "," }
      first = false
      json += jsonQuoted(e.name) + ":{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":["
      json += e.shape.map(String.init).joined(separator: ",")
      json += "],\"data_offsets\":[\(range.lowerBound),\(range.upperBound)]}"
    }
    json += "}"
    var bytes = Array(json.utf8)
    while bytes.count % 8 != 0 { bytes.append(0x20) }
    return (bytes, layout)
  }

  /// Checks the output path (see `OutputFile`: `inputs` are the files it must not be), creates
  /// the temporary file and writes the header.
  public init(path: String, entries: [Entry], metadata: [String: String]?, inputs: [String] = [])
    throws(SafetensorsError)
  {
    let (header, lay) = try SafetensorsWriter.headerBytes(entries: entries, metadata: metadata)
    dataStart = 8 + header.count
    for (e, r) in lay { layout[e.name] = r }
    do {
      output = try OutputFile(path: path, inputs: inputs)
      var n = UInt64(header.count)
      var prefix = [UInt8](repeating: 0, count: 8)
      for k in 0..<8 {
        prefix[k] = UInt8(truncatingIfNeeded: n)
        n >>= 8
      }
      try output.write(prefix + header)
    } catch { throw .file(error) }
  }

  /// The byte size of a tensor in the new file.
  public func byteCount(of name: String) throws(SafetensorsError) -> Int {
    guard let r = layout[name] else { throw .tensorNotFound(name) }
    return r.count
  }

  /// Writes `bytes` at byte `offset` of tensor `name`; every byte of every tensor must be
  /// written once before `commit()`.
  public func write(_ bytes: UnsafeRawBufferPointer, tensor name: String, at offset: Int = 0) throws(SafetensorsError) {
    guard let r = layout[name] else { throw .tensorNotFound(name) }
    guard offset >= 0, offset + bytes.count <= r.count else {
      throw .invalidArgument("\(bytes.count) bytes at \(offset) of the \(r.count)-byte tensor \(quoted(name))")
    }
    do { try output.write(bytes, at: dataStart + r.lowerBound + offset) } catch { throw .file(error) }
    written[name, default: 0] += bytes.count
  }

  /// Flushes the file to disk and renames it over `path`.
  public func commit() throws(SafetensorsError) {
    for (name, r) in layout where written[name, default: 0] != r.count {
      output.discard()
      throw .invalidArgument("tensor \(quoted(name)): \(written[name, default: 0]) of its \(r.count) bytes were written")
    }
    do { try output.commit() } catch { throw .file(error) }
  }

  /// Writes in-memory tensors in one call.
  public static func write(
    path: String, tensors: [(entry: Entry, bytes: [UInt8])], metadata: [String: String]?, inputs: [String] = []
  ) throws(SafetensorsError) {
    let w = try SafetensorsWriter(path: path, entries: tensors.map(\.entry), metadata: metadata, inputs: inputs)
    for (e, bytes) in tensors {
      let n = try w.byteCount(of: e.name)
      guard n == bytes.count else { throw .sizeMismatch(tensor: e.name, expectedBytes: n, actualBytes: bytes.count) }
      try bytes.withBytes { (b) throws(SafetensorsError) in try w.write(b, tensor: e.name) }
    }
    try w.commit()
  }
}
