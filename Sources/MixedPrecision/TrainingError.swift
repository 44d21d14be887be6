import FP8
import FP8IO

/// Errors of the training pipeline.
public enum TrainingError: Error, Equatable, CustomStringConvertible, Sendable {
  /// The engine in this build cannot compute these numerics (no silent fallback to ideal).
  case numericsNotAvailable(String)
  case invalidArgument(String)
  /// A file could not be read or written (see `FileError`).
  case file(FileError)
  /// A checkpoint that is not one, or not one for this model.
  case badCheckpoint(String)
  /// A training text that cannot be used (not UTF-8, too short).
  case badText(String)
  case fp8(FP8Error)

  public var description: String {
    switch self {
    case .numericsNotAvailable(let s): return "numerics not available in this build: \(s)"
    case .invalidArgument(let s): return "invalid argument: \(s)"
    case .file(let e): return e.description
    case .badCheckpoint(let s): return "bad checkpoint: \(s)"
    case .badText(let s): return s
    case .fp8(let e): return e.description
    }
  }
}
