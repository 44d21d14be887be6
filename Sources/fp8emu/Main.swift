import ArgumentParser
import FP8IO

#if canImport(Glibc)
import Glibc
#endif

extension FP8Emu {
  /// Parses and runs a command. A command line that is wrong (unknown option, a value out of
  /// range, options that conflict: everything `validate()` finds) is a usage error: its message,
  /// the usage text and exit 64. Anything that fails while running prints one line,
  /// `Error: <message>`, and exits with the status `Failure` gives it (sysexits).
  static func main() {
    if let k = firstNonUTF8Argument() {
      finish("argument \(k) is not valid UTF-8; fp8emu takes file names and values in UTF-8 only", .usage)
    }
    var command: any ParsableCommand
    do { command = try parseAsRoot() } catch { exit(withError: error) }
    do {
      try command.run()
    } catch let e as ExitCode {
      Glibc.exit(e.rawValue)
    } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
      // a late usage error, or help asked for through `fp8emu help ...`: ArgumentParser's own words
      type(of: command).exit(withError: error)
    } catch {
      let failure = Failure(error)
      finish(failure.line, failure.status)
    }
  }

  /// Prints `Error: <line>` on stderr after whatever stdout holds, and exits.
  static func finish(_ line: String, _ status: ExitStatus) -> Never {
    fflush(nil)
    var bytes = Array("Error: \(line)\n".utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    Glibc.exit(status.rawValue)
  }
}

/// The position (1-based) of the first command-line argument that is not valid UTF-8: Swift
/// would silently replace its bytes, so a file name would change; such a name is refused.
func firstNonUTF8Argument() -> Int? {
  for k in 1..<Int(CommandLine.argc) {
    guard let p = CommandLine.unsafeArgv[k] else { continue }
    let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p))
    if String(validating: bytes, as: UTF8.self) == nil { return k }
  }
  return nil
}
