import FP8

/// Errors of data-parallel training.
public enum DataParallelError: Error, Equatable, CustomStringConvertible, Sendable {
  /// Launched by mpirun, but Open MPI cannot be loaded or initialised.
  case mpiUnavailable(String)
  /// Launched by a launcher other than Open MPI's.
  case unsupportedLauncher(String)
  /// An MPI call failed.
  case mpi(String)
  /// A collective did not complete in time (a rank is stuck, stopped or unreachable).
  case timeout(String)
  case invalidArgument(String)
  case fp8(FP8Error)

  public var description: String {
    switch self {
    case .mpiUnavailable(let s): return "Open MPI unavailable: \(s)"
    case .unsupportedLauncher(let s): return "unsupported launcher: \(s)"
    case .mpi(let s): return "MPI: \(s)"
    case .timeout(let s): return "timeout: \(s)"
    case .invalidArgument(let s): return "invalid argument: \(s)"
    case .fp8(let e): return e.description
    }
  }

  /// The sysexits code a command ends with.
  public var exitCode: Int32 {
    switch self {
    case .invalidArgument, .unsupportedLauncher: return 64  // EX_USAGE
    case .mpiUnavailable, .mpi, .timeout: return 69  // EX_UNAVAILABLE
    case .fp8: return 70  // EX_SOFTWARE
    }
  }
}
