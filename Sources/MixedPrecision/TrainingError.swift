import FP8

/// Errors of the training pipeline.
public enum TrainingError: Error, Equatable, CustomStringConvertible, Sendable {
  /// The engine in this build cannot compute these numerics (no silent fallback to ideal).
  case numericsNotAvailable(String)
  case invalidArgument(String)
  case io(String)
  case badCheckpoint(String)
  case fp8(FP8Error)

  public var description: String {
    switch self {
    case .numericsNotAvailable(let s): return "numerics not available in this build: \(s)"
    case .invalidArgument(let s): return "invalid argument: \(s)"
    case .io(let s): return "I/O error: \(s)"
    case .badCheckpoint(let s): return "bad checkpoint: \(s)"
    case .fp8(let e): return e.description
    }
  }
}
