#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The commands' one progress line on stderr, `[##########....................] text`, redrawn
/// in place (and only when its text changes).
struct ProgressBar {
  let enabled: Bool
  private var last = ""

  init(enabled: Bool) { self.enabled = enabled }

  /// Shown only for inputs of at least 64 MiB (the checkpoint commands).
  init(totalBytes: Int) { self.init(enabled: totalBytes >= 64 << 20) }

  /// Shown only when stderr is a terminal, so that logs get the closing summary alone.
  static var onTerminal: ProgressBar { ProgressBar(enabled: isatty(2) != 0) }

  mutating func update(_ fraction: Double, text: String) {
    guard enabled else { return }
    let filled = Int(30 * min(max(fraction, 0), 1))
    let line = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled) + "] " + text + "\u{1B}[K"
    guard line != last else { return }
    last = line
    writeStderr(line)
  }

  /// Percent done and a label; the line ends at 100%.
  mutating func update(_ fraction: Double, _ label: String) {
    update(fraction, text: "\(Int(fraction * 100))% \(label.prefix(40))")
    if fraction >= 1 { finish() }
  }

  /// Ends the line: kept (a new line follows) or erased.
  func finish(keep: Bool = true) {
    if enabled { writeStderr(keep ? "\n" : "\r\u{1B}[K") }
  }
}

func writeStderr(_ s: String) {
  var bytes = Array(s.utf8)
  _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

extension String {
  /// Padded with spaces to `width` characters, on the right (left-aligned) or on the left.
  func padding(_ width: Int, alignRight: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - count))
    return alignRight ? fill + self : self + fill
  }
}
