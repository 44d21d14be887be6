#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on stderr, shown only for inputs of at least 64 MiB.
struct ProgressBar {
  let enabled: Bool
  private var lastPercent = -1

  init(totalBytes: Int) { enabled = totalBytes >= 64 << 20 }

  mutating func update(_ fraction: Double, _ label: String) {
    guard enabled else { return }
    let percent = Int(fraction * 100)
    guard percent != lastPercent else { return }
    lastPercent = percent
    let filled = percent * 30 / 100
    let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
    let text = "\r[\(bar)] \(percent)% \(label.prefix(40))\u{1B}[K"
    writeStderr(text + (percent >= 100 ? "\n" : ""))
  }
}

func writeStderr(_ s: String) {
  var bytes = Array(s.utf8)
  _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
