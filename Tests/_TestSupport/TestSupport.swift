// Shared helpers and oracles for the test targets.
import FP8
import Foundation

/// The folder of real-GPU tensor-core vectors, if present (`../shared/tensorcore-vectors` beside
/// the package, or FP8EMU_VECTORS).
public func tensorCoreVectorsDirectory(file: String = #filePath) -> String? {
  if let env = ProcessInfo.processInfo.environment["FP8EMU_VECTORS"] { return env }
  // file = <root>/Tests/_TestSupport/TestSupport.swift; the folder is <root>/../shared/...
  var url = URL(fileURLWithPath: file)
  for _ in 0..<3 { url.deleteLastPathComponent() }
  let dir = url.deletingLastPathComponent().appendingPathComponent("shared/tensorcore-vectors").path
  return FileManager.default.fileExists(atPath: dir) ? dir : nil
}

/// The package root (for scripts and fixtures).
public func packageRoot(file: String = #filePath) -> String {
  var url = URL(fileURLWithPath: file)
  for _ in 0..<3 { url.deleteLastPathComponent() }
  return url.path
}

/// The path of an executable product built beside the test bundle (`swift build --build-tests`
/// builds every product into the same folder).
public func builtProduct(_ name: String) -> String {
  URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
}

/// Runs an executable with `environment` changed (nil removes a variable) and returns its standard
/// output and exit status.
public func runProcess(_ path: String, _ arguments: [String], environment changes: [String: String?] = [:]) throws
  -> (output: String, status: Int32)
{
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = arguments
  var env = ProcessInfo.processInfo.environment
  for (k, v) in changes { env[k] = v }
  p.environment = env
  let pipe = Pipe()
  p.standardOutput = pipe
  try p.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return (String(decoding: data, as: UTF8.self), p.terminationStatus)
}
