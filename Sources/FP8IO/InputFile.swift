#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file opened for reading: its size, reads at any offset, and, on request, a
/// read-only memory map of the whole file.
///
/// Streaming code reads with `read(into:at:)` (ordinary `pread` calls: the memory used is the
/// caller's buffer, a file that shrinks is an error and not a SIGBUS, and an address-space limit
/// does not stop a large file from being read); `mapped()` suits random access to small parts of
/// a file, such as a few tensors of a large checkpoint.
public final class InputFile: @unchecked Sendable {
  public let path: String
  public let size: Int
  private let fd: Int32
  private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private var base: UnsafeMutableRawPointer?

  public init(path: String) throws(FileError) {
    self.path = path
    // O_NONBLOCK: opening a named pipe must not wait for a writer (it is refused just below).
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    if fd < 0 { throw .cannotOpen(path: path, errno: errno) }
    var st = stat()
    if fstat(fd, &st) != 0 {
      let e = errno
      close(fd)
      throw .readFailed(path: path, errno: e)
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
      close(fd)
      throw .notRegularFile(path: path, kind: FileKind(mode: st.st_mode))
    }
    self.fd = fd
    size = Int(st.st_size)
    pthread_mutex_init(lock, nil)
  }

  deinit {
    if let base { munmap(base, size) }
    close(fd)
    pthread_mutex_destroy(lock)
    lock.deallocate()
  }

  /// Fills `buffer` with the bytes at `offset`; the file ending first is an error.
  public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(FileError) {
    var done = 0
    while done < buffer.count {
      let r = pread(fd, buffer.baseAddress! + done, min(buffer.count - done, 1 << 30), off_t(offset + done))
      if r < 0 {
        if errno == EINTR { continue }
        throw .readFailed(path: path, errno: errno)
      }
      if r == 0 { throw .readFailed(path: path, errno: 0) }
      done += r
    }
  }

  /// `count` bytes at `offset`.
  public func read(count: Int, at offset: Int) throws(FileError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    try out.withMutableBytes { (b) throws(FileError) in try read(into: b, at: offset) }
    return out
  }

  /// The whole file as a read-only memory map, made on the first call; valid while this object
  /// lives. Pages are read from disk when first touched.
  public func mapped() throws(FileError) -> UnsafeRawBufferPointer {
    pthread_mutex_lock(lock)
    defer { pthread_mutex_unlock(lock) }
    if base == nil && size > 0 {
      guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
        throw .readFailed(path: path, errno: errno)
      }
      base = p
    }
    return UnsafeRawBufferPointer(start: base, count: size)
  }
}
