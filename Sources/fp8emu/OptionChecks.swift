import ArgumentParser
import FP8
import FP8IO

/// Checks of option values, made in each command's `validate()` before any work: each failure is
/// a usage error (exit 64) naming the option and the value. New options get their checks here in
/// one line each, so that no value reaches the libraries unchecked.
enum Check {
  static func fail(_ message: String) -> ValidationError { ValidationError(message) }

  /// `value` ≥ `minimum`.
  static func atLeast<T: Comparable>(_ value: T, _ minimum: T, _ option: String) throws {
    guard value >= minimum else { throw fail("\(option) must be at least \(minimum) (got \(value))") }
  }

  /// `value` in `range`.
  static func inRange<T: Comparable>(_ value: T, _ range: ClosedRange<T>, _ option: String) throws {
    guard range.contains(value) else {
      throw fail("\(option) must be between \(range.lowerBound) and \(range.upperBound) (got \(value))")
    }
  }

  /// A finite number (not NaN or ±Inf), in `range` when given.
  static func finite<T: BinaryFloatingPoint>(_ value: T, _ option: String, in range: ClosedRange<T>? = nil) throws {
    guard value.isFinite else { throw fail("\(option) must be a finite number (got \(value))") }
    if let range { try inRange(value, range, option) }
  }

  /// A finite number > 0.
  static func positive<T: BinaryFloatingPoint>(_ value: T, _ option: String) throws {
    guard value.isFinite, value > 0 else { throw fail("\(option) must be a finite number above 0 (got \(value))") }
  }

  /// One of `names`: returns the value parsed by `parse`, or names the choices.
  static func named<T>(_ value: String, _ option: String, _ names: [String], _ parse: (String) -> T?) throws -> T {
    guard let v = parse(value) else {
      throw fail("\(option): unknown value \"\(escapedForTerminal(value))\" (one of: \(names.joined(separator: ", ")))")
    }
    return v
  }

  /// Options that cannot be given together.
  static func conflict(_ a: Bool, _ aName: String, _ b: Bool, _ bName: String) throws {
    if a && b { throw fail("\(aName) and \(bName) cannot be given together") }
  }

  /// `option`, when given, needs `other`.
  static func requires(_ given: Bool, _ option: String, _ other: Bool, _ otherName: String) throws {
    if given && !other { throw fail("\(option) needs \(otherName)") }
  }

  /// `option` was given but does nothing here: an error rather than silently ignored.
  static func applies(_ given: Bool, _ option: String, when applicable: Bool, _ onlyFor: String) throws {
    if given && !applicable { throw fail("\(option) applies only \(onlyFor)") }
  }
}

/// `--isa NAME`: a SIMD path this CPU runs, or auto.
func isaOption(_ name: String, option: String = "--isa") throws -> ISA {
  let isa = try Check.named(name, option, ["auto"] + ISA.allCases.filter { $0 != .auto }.map(\.description)) { ISA(name: $0) }
  guard isa.isSupported else {
    throw Check.fail("\(option) \(isa) is not available on this CPU (available: \(ISA.supported.map(\.description).joined(separator: ", ")))")
  }
  return isa
}

/// `--max-memory`, for commands that allocate in proportion to their input: the memory budget
/// they check their estimate against (the available memory, or less).
struct MemoryOption: ParsableArguments {
  @Option(help: "Refuse to start when the estimated peak memory exceeds this (e.g. 512M, 8G; default: the available memory).")
  var maxMemory: String?

  func validate() throws {
    if let maxMemory, MemoryBudget.parseBytes(maxMemory) == nil {
      throw Check.fail("--max-memory: \"\(escapedForTerminal(maxMemory))\" is not a size (e.g. 512M, 8G)")
    }
  }

  var budget: MemoryBudget {
    MemoryBudget.current(limit: maxMemory.flatMap(MemoryBudget.parseBytes), limitName: "--max-memory \(maxMemory ?? "")")
  }
}

/// Outputs checked before a long computation: each can be created (see `OutputFile`), so that a
/// run does not end in an error after minutes of work.
func checkOutputsWritable(_ outputs: [String?], inputs: [String] = []) throws {
  let given = outputs.compactMap { $0 }
  for (k, path) in given.enumerated() {
    if given[..<k].contains(path) { throw Check.fail("\(quotedPath(path)) is named as two outputs") }
    try OutputFile.checkWritable(path: path, inputs: inputs)
  }
}
