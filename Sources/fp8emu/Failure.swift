import DataParallel
import FP8
import FP8IO
import MixedPrecision
import TensorCores

/// Exit statuses, as in sysexits.h: 64 only for a command line that is wrong, 65 for input data
/// that is wrong, 66 for an input that is missing or unreadable, 69 for Open MPI failing under
/// mpirun, 73 for an output that cannot be created, 74 for an I/O error while reading or writing,
/// 1 for everything else.
enum ExitStatus: Int32 {
  case failure = 1
  case usage = 64
  case dataError = 65
  case noInput = 66
  case unavailable = 69
  case cannotCreate = 73
  case ioError = 74
}

/// The one mapping from the libraries' typed errors to the line a person reads and the exit
/// status: the message names the file, tensor, option and value involved, in words (no enum
/// names, errno numbers or Foundation dumps), escaped so that it cannot drive the terminal.
struct Failure: Error {
  let message: String
  let status: ExitStatus

  init(_ message: String, _ status: ExitStatus) {
    self.message = message
    self.status = status
  }

  init(_ error: any Error) {
    switch error {
    case let f as Failure: self = f
    case let e as FileError: self.init(e.description, Failure.status(e))
    case let e as SafetensorsError:
      switch e {
      case .file(let f), .inFile(_, .file(let f)): self.init(f)
      case .invalidArgument: self.init(e.description, .failure)
      default: self.init(e.description, .dataError)
      }
    case let e as NpyError:
      switch e {
      case .file(let f), .inFile(_, .file(let f)): self.init(f)
      case .invalidArgument: self.init(e.description, .failure)
      default: self.init(e.description, .dataError)
      }
    case let e as CheckpointError:
      switch e {
      case .file(let s): self.init(s)
      case .kernel(let t, let k):
        let inner = Failure(k)
        self.init(t.isEmpty ? inner.message : "tensor \(quoted(t)): \(inner.message)", inner.status)
      default: self.init(e.description, .dataError)
      }
    case let e as RawConversionError:
      switch e {
      case .file(let f): self.init(f)
      case .partialElement: self.init(e.description, .dataError)
      case .notAConversion: self.init(e.description, .usage)
      case .kernel(let k): self.init(k)
      }
    case let e as TensorCoreVectorError:
      switch e {
      case .missingDirectory, .missingFile: self.init(e.description, .noInput)
      default: self.init(e.description, .dataError)
      }
    case let e as FP8Error:
      switch e {
      case .outOfMemory, .nullPointer: self.init(e.description, .failure)
      case .unsupportedISA: self.init(e.description, .usage)
      default: self.init(e.description, .dataError)
      }
    case let e as DataParallelError:
      switch e {
      case .fp8(let k): self.init(k)
      case .invalidArgument, .unsupportedLauncher: self.init(e.description, .usage)
      case .mpiUnavailable, .mpi, .timeout: self.init(e.description, .unavailable)
      }
    case let e as TrainingError:
      switch e {
      case .fp8(let k): self.init(k)
      case .file(let f): self.init(f)
      case .badCheckpoint, .badText: self.init(e.description, .dataError)
      case .invalidArgument, .numericsNotAvailable: self.init(e.description, .usage)
      }
    default:
      // not one of ours: its description, never a dump of its fields
      self.init("\(error)".split(separator: "\n").first.map(String.init) ?? "unexpected error", .failure)
    }
  }

  static func status(_ e: FileError) -> ExitStatus {
    switch e {
    case .cannotOpen, .notRegularFile: return .noInput
    case .readFailed, .writeFailed: return .ioError
    case .refusedOutput(_, .emptyPath): return .usage
    case .refusedOutput, .cannotCreate: return .cannotCreate
    }
  }

  /// The line as printed: control characters that slipped into a message (from a file name or a
  /// file's contents) are escaped.
  var line: String { escapedForTerminal(message, quotes: false) }
}
