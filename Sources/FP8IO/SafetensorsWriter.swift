#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a safetensors file atomically and without holding the tensors in memory: the file is
/// laid out up front in a temporary file of the destination folder, mapped, filled tensor by
/// tensor by the caller, then renamed over the destination by `commit()`. Dropping the writer
/// without committing removes the temporary file.
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

  public let path: String
  private let tempPath: String
  private var fd: Int32
  private var base: UnsafeMutableRawPointer?
  private let totalSize: Int
  private let dataStart: Int
  private var layout: [String: Range<Int>] = [:]
  private var committed = false

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

  /// Creates the temporary file, writes the header and maps the data area.
  public init(path: String, entries: [Entry], metadata: [String: String]?) throws(SafetensorsError) {
    self.path = path
    let (header, lay) = try SafetensorsWriter.headerBytes(entries: entries, metadata: metadata)
    let dataSize = lay.last?.1.upperBound ?? 0
    dataStart = 8 + header.count
    totalSize = dataStart + dataSize
    for (e, r) in lay { layout[e.name] = r }
    let slash = path.lastIndex(of: "/")
    let dir = slash.map { String(path[..<$0]) } ?? "."
    let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
    tempPath = "\(dir.isEmpty ? "/" : dir)/.\(base).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
    fd = open(tempPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    if fd < 0 { throw .io(path: tempPath, operation: "create", errno: errno) }
    if ftruncate(fd, off_t(totalSize)) != 0 {
      let e = errno
      cleanup()
      throw .io(path: tempPath, operation: "ftruncate", errno: e)
    }
    guard let p = mmap(nil, totalSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
      let e = errno
      cleanup()
      throw .io(path: tempPath, operation: "mmap", errno: e)
    }
    self.base = p
    var n = UInt64(header.count)
    for k in 0..<8 {
      p.storeBytes(of: UInt8(truncatingIfNeeded: n), toByteOffset: k, as: UInt8.self)
      n >>= 8
    }
    header.withUnsafeBytes { p.advanced(by: 8).copyMemory(from: $0.baseAddress!, byteCount: header.count) }
  }

  /// The bytes of a tensor in the new file, to be filled before `commit()`.
  public func buffer(for name: String) throws(SafetensorsError) -> UnsafeMutableRawBufferPointer {
    guard let r = layout[name], let base else { throw .tensorNotFound(name) }
    return UnsafeMutableRawBufferPointer(start: base + dataStart + r.lowerBound, count: r.count)
  }

  /// Flushes the file to disk and renames it over `path`.
  public func commit() throws(SafetensorsError) {
    guard !committed else { return }
    if let base { munmap(base, totalSize) }
    base = nil
    if fsync(fd) != 0 {
      let e = errno
      cleanup()
      throw .io(path: tempPath, operation: "fsync", errno: e)
    }
    close(fd)
    fd = -1
    if rename(tempPath, path) != 0 {
      let e = errno
      unlink(tempPath)
      throw .io(path: path, operation: "rename", errno: e)
    }
    committed = true
  }

  private func cleanup() {
    if let base { munmap(base, totalSize) }
    base = nil
    if fd >= 0 { close(fd) }
    fd = -1
    unlink(tempPath)
  }

  deinit {
    if !committed { cleanup() }
  }

  /// Writes in-memory tensors in one call.
  public static func write(
    path: String, tensors: [(entry: Entry, bytes: [UInt8])], metadata: [String: String]?
  ) throws(SafetensorsError) {
    let w = try SafetensorsWriter(path: path, entries: tensors.map(\.entry), metadata: metadata)
    for (e, bytes) in tensors {
      let buf = try w.buffer(for: e.name)
      guard buf.count == bytes.count else {
        throw .sizeMismatch(tensor: e.name, expectedBytes: buf.count, actualBytes: bytes.count)
      }
      bytes.withUnsafeBytes { if $0.count > 0 { buf.copyMemory(from: $0) } }
    }
    try w.commit()
  }
}
