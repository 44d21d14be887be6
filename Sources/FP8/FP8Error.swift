/// Errors raised by the FP8 layers. C status codes map one to one onto the first cases; the Swift
/// layers add their own.
public enum FP8Error: Error, Equatable, CustomStringConvertible, Sendable {
  case nullPointer(String)
  case badFormat(String)
  case badRounding(String)
  case badPreset(String)
  case badShape(String)
  case badStride(String)
  case badScale(String)
  case sizeOverflow(String)
  case outOfMemory(String)
  case unsupportedISA(String)
  case invalidArgument(String)

  /// Builds the error for a non-zero C status code.
  package init(status: Int32, context: String) {
    switch status {
    case 1: self = .nullPointer(context)
    case 2: self = .badFormat(context)
    case 3: self = .badRounding(context)
    case 4: self = .badPreset(context)
    case 5: self = .badShape(context)
    case 6: self = .badStride(context)
    case 7: self = .badScale(context)
    case 8: self = .sizeOverflow(context)
    case 9: self = .outOfMemory(context)
    case 10: self = .unsupportedISA(context)
    default: self = .invalidArgument("\(context) (status \(status))")
    }
  }

  public var description: String {
    switch self {
    case .nullPointer(let s): return "null pointer: \(s)"
    case .badFormat(let s): return "unsupported element format: \(s)"
    case .badRounding(let s): return "unknown rounding mode: \(s)"
    case .badPreset(let s): return "unknown preset: \(s)"
    case .badShape(let s): return "shape mismatch: \(s)"
    case .badStride(let s): return "invalid leading dimension: \(s)"
    case .badScale(let s): return "invalid scale: \(s)"
    case .sizeOverflow(let s): return "size too large: \(s)"
    case .outOfMemory(let s): return "out of memory: \(s)"
    case .unsupportedISA(let s): return "instruction set not available: \(s)"
    case .invalidArgument(let s): return "invalid argument: \(s)"
    }
  }
}
