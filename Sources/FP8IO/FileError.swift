#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What went wrong with a file, in words a person can act on: which file, what was being done,
/// and the system's reason in words (never an errno number).
///
/// The cases follow what the user can do about them: an input that cannot be read, an output
/// that must not or cannot be created, and an operation that failed midway (a full disk, an I/O
/// error). A failed write never damages the existing file (see `OutputFile`).
public enum FileError: Error, Equatable, Sendable, CustomStringConvertible {
  /// An input that cannot be opened: missing, unreadable, or behind a missing folder.
  case cannotOpen(path: String, errno: Int32)
  /// An input that is a directory, a device, a pipe or a socket, not a file.
  case notRegularFile(path: String, kind: FileKind)
  /// Reading an opened input failed, or it ended before its header said it would (errno 0).
  case readFailed(path: String, errno: Int32)
  /// An output this package refuses to write (nothing was touched).
  case refusedOutput(path: String, reason: OutputRefusal)
  /// The system does not let the output be created here (missing folder, permissions, read-only
  /// file system, name too long).
  case cannotCreate(path: String, errno: Int32)
  /// Writing, flushing or renaming the output failed; the previous file at `path`, if any, is
  /// unchanged and no temporary file is left.
  case writeFailed(path: String, errno: Int32)

  public var path: String {
    switch self {
    case .cannotOpen(let p, _), .notRegularFile(let p, _), .readFailed(let p, _), .refusedOutput(let p, _),
      .cannotCreate(let p, _), .writeFailed(let p, _):
      return p
    }
  }

  public var description: String {
    switch self {
    case .cannotOpen(let p, let e): return "\(quotedPath(p)): cannot open: \(systemMessage(e))"
    case .notRegularFile(let p, let k): return "\(quotedPath(p)): is \(k), not a file"
    case .readFailed(let p, let e):
      return "\(quotedPath(p)): cannot read: " + (e == 0 ? "the file ended early (was it truncated?)" : systemMessage(e))
    case .refusedOutput(let p, let r): return "\(quotedPath(p)): refusing to write the output: \(r)"
    case .cannotCreate(let p, let e): return "\(quotedPath(p)): cannot create: \(systemMessage(e))"
    case .writeFailed(let p, let e):
      return "\(quotedPath(p)): cannot write: \(systemMessage(e)) (nothing was changed at this path)"
    }
  }
}

/// The kind of a file system object that is not a regular file.
public enum FileKind: String, Sendable, Equatable, CustomStringConvertible {
  case directory = "a directory"
  case characterDevice = "a character device"
  case blockDevice = "a block device"
  case fifo = "a named pipe"
  case socket = "a socket"
  case symbolicLink = "a symbolic link"
  case other = "a special file"

  init(mode: mode_t) {
    switch mode & S_IFMT {
    case S_IFDIR: self = .directory
    case S_IFCHR: self = .characterDevice
    case S_IFBLK: self = .blockDevice
    case S_IFIFO: self = .fifo
    case S_IFSOCK: self = .socket
    case S_IFLNK: self = .symbolicLink
    default: self = .other
    }
  }

  public var description: String { rawValue }
}

/// Why an output path is refused before anything is written.
public enum OutputRefusal: Sendable, Equatable, CustomStringConvertible {
  /// The path is empty.
  case emptyPath
  /// The path names a directory (or ends in "/").
  case directory
  /// The path is a device, pipe or socket.
  case notRegularFile(FileKind)
  /// The path is (the same file as) one of the command's inputs.
  case sameAsInput(String)
  /// The path is a symbolic link whose target does not exist.
  case danglingLink

  public var description: String {
    switch self {
    case .emptyPath: return "the output path is empty"
    case .directory: return "it is a directory; give a file name"
    case .notRegularFile(let k): return "it is \(k), not a regular file"
    case .sameAsInput(let i): return "it is the same file as the input \(quotedPath(i)); write to another path"
    case .danglingLink: return "it is a symbolic link to a file that does not exist"
    }
  }
}

/// The system's message for an errno value ("No space left on device").
func systemMessage(_ e: Int32) -> String {
  guard let s = strerror(e) else { return "system error" }
  return String(cString: s)
}

/// A path as it is shown in messages: control characters and other non-printing characters
/// escaped (a file name cannot then move the cursor or recolour the terminal), quoted when it
/// is empty or has spaces.
public func quotedPath(_ p: String) -> String {
  let escaped = escapedForTerminal(p)
  return p.isEmpty || escaped != p || p.contains(" ") ? "\"\(escaped)\"" : p
}

/// A name from a file (tensor, metadata key) in double quotes, escaped for the terminal.
public func quoted(_ s: String) -> String { "\"" + escapedForTerminal(s) + "\"" }

/// `s` with every control character (C0, DEL, C1) and bidirectional-override character written
/// as `\u{XX}`, so that a name from a file cannot drive the terminal; with `quotes`, backslashes
/// and double quotes are escaped too, so that a quoted name reads back unambiguously.
public func escapedForTerminal(_ s: String, quotes: Bool = true) -> String {
  var out = ""
  for u in s.unicodeScalars {
    switch u.value {
    case 0x5C where quotes: out += "\\\\"
    case 0x22 where quotes: out += "\\\""
    case 0x00..<0x20, 0x7F..<0xA0, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
      out += "\\u{" + String(u.value, radix: 16) + "}"
    default: out.unicodeScalars.append(u)
    }
  }
  return out
}
