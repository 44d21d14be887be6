import CTempFiles

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one way this package writes a file: whole or not at all, never damaging what was there.
///
/// The bytes go into a temporary file in the target's folder (`.NAME.PID.RANDOM.tmp`) through
/// ordinary `write` calls, so a full disk is an error (`FileError.writeFailed`) and not a SIGBUS;
/// `commit()` flushes it (`fsync`), renames it over the target and flushes the folder. Until
/// then the target is untouched: an error, a dropped `OutputFile`, or SIGINT/SIGTERM/SIGHUP/SIGPIPE
/// (through a signal-safe registry) removes the temporary file and leaves the old file exactly
/// as it was.
///
/// Refused before anything is created (`FileError.refusedOutput`): the empty path, a directory
/// (or a path ending in "/"), a device, pipe or socket, and any of the command's inputs — compared
/// by device and inode, so another spelling or a hard link of an input is refused too.
///
/// A symbolic link is followed: the file it points to is replaced (the link then points to the new
/// contents), as a shell redirection writes through a link; a link to nothing is refused. Other
/// hard links of a replaced file keep the old contents (rename replaces one name). A replaced
/// file keeps its permission bits.
public final class OutputFile {
  /// The path as given.
  public let path: String
  /// The file that `commit()` replaces (`path`, or the file a symbolic link at `path` points to).
  public let target: String
  private let tempPath: String
  private var fd: Int32 = -1
  private var slot: Int32 = -1
  private var position = 0
  private var committed = false

  /// Checks `path` against `inputs` and creates the temporary file.
  public init(path: String, inputs: [String] = []) throws(FileError) {
    self.path = path
    let (target, mode) = try OutputFile.validate(path: path, inputs: inputs)
    self.target = target
    tempPath = OutputFile.temporaryPath(for: target)
    slot = tempPath.withCString { tempfiles_register($0) }
    guard slot >= 0 else { throw .cannotCreate(path: path, errno: ENAMETOOLONG) }
    fd = open(tempPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
    if fd < 0 {
      let e = errno
      tempfiles_unregister(slot)
      slot = -1
      throw .cannotCreate(path: path, errno: e)
    }
    if let mode { _ = fchmod(fd, mode) }
  }

  deinit { discard() }

  /// Appends `bytes` after the last byte written by this call.
  public func write(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
    try write(bytes, at: position)
  }

  public func write(_ bytes: [UInt8]) throws(FileError) {
    try bytes.withBytes { (b) throws(FileError) in try write(b) }
  }

  public func write(_ text: String) throws(FileError) { try write(Array(text.utf8)) }

  /// Writes `bytes` at byte `offset` of the file (`pwrite`): writers that lay a file out first
  /// (safetensors) fill it in any order.
  public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(FileError) {
    guard !committed, fd >= 0 else { throw .writeFailed(path: path, errno: EBADF) }
    var done = 0
    while done < bytes.count {
      let r = pwrite(fd, bytes.baseAddress! + done, min(bytes.count - done, 1 << 30), off_t(offset + done))
      if r < 0 {
        if errno == EINTR { continue }
        let e = errno
        discard()
        throw .writeFailed(path: path, errno: e)
      }
      done += r
    }
    position = max(position, offset + bytes.count)
  }

  /// Flushes the file to disk and renames it over the target.
  public func commit() throws(FileError) {
    guard !committed else { return }
    guard fd >= 0 else { throw .writeFailed(path: path, errno: EBADF) }
    if fsync(fd) != 0 {
      let e = errno
      discard()
      throw .writeFailed(path: path, errno: e)
    }
    if close(fd) != 0 {
      let e = errno
      fd = -1
      discard()
      throw .writeFailed(path: path, errno: e)
    }
    fd = -1
    if rename(tempPath, target) != 0 {
      let e = errno
      discard()
      throw .writeFailed(path: path, errno: e)
    }
    committed = true
    tempfiles_unregister(slot)
    slot = -1
    OutputFile.syncFolder(of: target)
  }

  /// Removes the temporary file (nothing happens to the target). Idempotent.
  public func discard() {
    guard !committed else { return }
    if fd >= 0 { close(fd) }
    fd = -1
    if slot >= 0 {
      unlink(tempPath)
      tempfiles_unregister(slot)
      slot = -1
    }
  }

  /// Writes `bytes` to `path` in one call.
  public static func write(_ bytes: [UInt8], to path: String, inputs: [String] = []) throws(FileError) {
    let f = try OutputFile(path: path, inputs: inputs)
    try f.write(bytes)
    try f.commit()
  }

  /// Checks, before a long computation, that `path` will be writable: `validate` and a
  /// temporary file created in the target's folder and removed again.
  public static func checkWritable(path: String, inputs: [String] = []) throws(FileError) {
    let probe = try OutputFile(path: path, inputs: inputs)
    probe.discard()
  }

  /// The file to replace and the permission bits to keep, or the refusal.
  static func validate(path: String, inputs: [String]) throws(FileError) -> (target: String, mode: mode_t?) {
    guard !path.isEmpty else { throw .refusedOutput(path: path, reason: .emptyPath) }
    if path.hasSuffix("/") { throw .refusedOutput(path: path, reason: .directory) }
    var target = path
    var st = stat()
    if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK {
      guard let resolved = realpath(path, nil) else {
        if errno == ENOENT { throw .refusedOutput(path: path, reason: .danglingLink) }
        throw .cannotCreate(path: path, errno: errno)
      }
      target = String(cString: resolved)
      free(resolved)
    }
    guard stat(target, &st) == 0 else {
      if errno == ENOENT { return (target, nil) }  // a new file: the folder is checked by creating the temporary file
      throw .cannotCreate(path: path, errno: errno)
    }
    switch st.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw .refusedOutput(path: path, reason: .directory)
    default: throw .refusedOutput(path: path, reason: .notRegularFile(FileKind(mode: st.st_mode)))
    }
    for input in inputs {
      var si = stat()
      if stat(input, &si) == 0, si.st_dev == st.st_dev, si.st_ino == st.st_ino {
        throw .refusedOutput(path: path, reason: .sameAsInput(input))
      }
    }
    return (target, st.st_mode & 0o7777)
  }

  /// `.NAME.PID.RANDOM.tmp` beside `target` (NAME cut so that the whole stays within 255 bytes).
  static func temporaryPath(for target: String) -> String {
    let slash = target.utf8.lastIndex(of: UInt8(ascii: "/"))
    let folder = slash.map { String(target[...$0]) } ?? ""
    let name = slash.map { String(target[target.utf8.index(after: $0)...]) } ?? target
    var stem = Substring(name)
    while stem.utf8.count > 200 { stem = stem.dropLast() }
    let random = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    return "\(folder).\(stem).\(getpid()).\(random).tmp"
  }

  /// Makes a rename durable (best effort: some file systems cannot sync a folder).
  private static func syncFolder(of target: String) {
    let slash = target.utf8.lastIndex(of: UInt8(ascii: "/"))
    let folder = slash.map { $0 == target.utf8.startIndex ? "/" : String(target[..<$0]) } ?? "."
    let dfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
      _ = fsync(dfd)
      close(dfd)
    }
  }
}
