import Foundation

/// JSON lines as Python and jq users expect them, for every --json of fp8emu and fp8-bench:
/// snake_case keys (dictionaries, such as a file's metadata, keep their own keys), keys sorted,
/// numbers as numbers, and null for NaN and ±Inf (which JSON cannot write as numbers).
public enum JSONLines {
  private static let nonFinite = "\u{1}fp8emu-non-finite\u{1}"

  /// One line of JSON for `value`.
  public static func line<T: Encodable>(_ value: T) throws -> String {
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: nonFinite, negativeInfinity: nonFinite, nan: nonFinite)
    let text = String(decoding: try e.encode(value), as: UTF8.self)
    return text.replacingOccurrences(of: "\"\\u0001fp8emu-non-finite\\u0001\"", with: "null")
  }

  /// Prints `value` as one line of JSON on stdout.
  public static func print<T: Encodable>(_ value: T) throws { Swift.print(try line(value)) }
}
