// Shared helpers and oracles for the test targets.
import FP8
import Foundation

/// A small deterministic generator (SplitMix64) so that tests draw the same data on every run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  public var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

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
