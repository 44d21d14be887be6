import Foundation

/// The PyTorch side of `fp8-bench train`: `scripts/torch_twin.py serve` in a child process,
/// asked for one timed measurement at a time, so that its runs interleave with ours.
final class TorchServer {
  let process = Process()
  let input = Pipe(), output = Pipe()
  var buffer = Data()
  /// Versions the server reported (torchao nil when it does not import).
  private(set) var torchVersion = "?", torchaoVersion: String?

  struct ServerError: Error, CustomStringConvertible { var description: String }

  init(python: String, script: String) throws {
    guard FileManager.default.fileExists(atPath: script) else {
      throw ServerError(description: "\(script) not found (run from the repository root, pass --torch-script, or --no-torch)")
    }
    process.executableURL = URL(fileURLWithPath: python.contains("/") ? python : "/usr/bin/env")
    process.arguments = (python.contains("/") ? [] : [python]) + [script, "serve"]
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice  // torchao's import warnings
    do { try process.run() } catch { throw ServerError(description: "cannot start \(python): \(error)") }
    guard let hello = readLine(), let obj = try? JSONSerialization.jsonObject(with: Data(hello.utf8)) as? [String: Any],
          obj["ready"] as? Bool == true else {
      throw ServerError(description: "\(python) \(script) serve did not start (is torch installed? pass --no-torch to leave it out)")
    }
    torchVersion = obj["torch"] as? String ?? "?"
    torchaoVersion = obj["torchao"] as? String
  }

  func readLine() -> String? {
    while true {
      if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
        let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
        buffer = Data(buffer[(nl + 1)...])
        return line
      }
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { return nil }
      buffer.append(chunk)
    }
  }

  /// Wall and CPU seconds of each of `steps` timed training steps after `warmup` untimed ones.
  func measure(_ request: [String: Any]) throws -> (wall: [Double], cpu: [Double]) {
    let json = try JSONSerialization.data(withJSONObject: request)
    input.fileHandleForWriting.write(json + Data("\n".utf8))
    guard let line = readLine(), let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
      throw ServerError(description: "the PyTorch server stopped")
    }
    if let e = obj["error"] as? String { throw ServerError(description: e) }
    guard let s = obj["seconds"] as? [Double], let c = obj["cpu_seconds"] as? [Double], !s.isEmpty, c.count == s.count else {
      throw ServerError(description: "bad reply: \(line)")
    }
    return (s, c)
  }

  deinit {
    input.fileHandleForWriting.write(Data("\n".utf8))
    try? input.fileHandleForWriting.close()
    process.waitUntilExit()
  }
}
