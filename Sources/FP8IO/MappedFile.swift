#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file: pages are read from disk when first touched, so a
/// command that needs a few tensors of a large checkpoint reads only those.
public final class MappedFile: @unchecked Sendable {
  public let path: String
  public let size: Int
  private let base: UnsafeMutableRawPointer?

  public init(path: String) throws(SafetensorsError) {
    self.path = path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { throw .io(path: path, operation: "open", errno: errno) }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) != 0 { throw .io(path: path, operation: "stat", errno: errno) }
    if (st.st_mode & S_IFMT) != S_IFREG { throw .io(path: path, operation: "open (not a regular file)", errno: EINVAL) }
    size = Int(st.st_size)
    if size == 0 {
      base = nil
      return
    }
    guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
      throw .io(path: path, operation: "mmap", errno: errno)
    }
    base = p
  }

  deinit {
    if let base { munmap(base, size) }
  }

  /// The whole file. Valid while this object lives.
  public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

  /// Hints that `range` will be read once, in order.
  public func adviseSequential(_ range: Range<Int>) {
    guard let base, !range.isEmpty else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = range.lowerBound / page * page
    _ = madvise(base + start, range.upperBound - start, MADV_SEQUENTIAL | MADV_WILLNEED)
  }
}
