/// A small strict JSON parser for headers: RFC 8259 grammar, valid UTF-8 only, objects keep their
/// key order and report duplicate keys, integers are kept exactly (no Double detour).
enum JSONValue: Equatable {
  case object([(String, JSONValue)])
  case array([JSONValue])
  case string(String)
  /// The literal text of a number.
  case number(String)
  case bool(Bool)
  case null

  static func == (a: JSONValue, b: JSONValue) -> Bool {
    switch (a, b) {
    case (.object(let x), .object(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    case (.array(let x), .array(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.number(let x), .number(let y)): return x == y
    case (.bool(let x), .bool(let y)): return x == y
    case (.null, .null): return true
    default: return false
    }
  }

  /// The value as a non-negative integer that fits in Int (no sign, fraction or exponent).
  var nonNegativeInt: Int? {
    guard case .number(let s) = self, !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return Int(s)
  }
}

struct JSONSyntaxError: Error {
  var message: String
  var offset: Int
  var duplicateKey: String?
}

struct StrictJSONParser {
  private let b: [UInt8]
  private var i = 0
  private var depth = 0

  /// Parses one JSON value spanning `bytes` (trailing whitespace allowed).
  static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
    var p = StrictJSONParser(b: bytes)
    p.skipSpace()
    let v = try p.value()
    p.skipSpace()
    if p.i != bytes.count { throw JSONSyntaxError(message: "trailing characters after the JSON value", offset: p.i) }
    return v
  }

  private init(b: [UInt8]) { self.b = b }

  private mutating func skipSpace() {
    while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
  }

  private func fail(_ m: String) -> JSONSyntaxError { JSONSyntaxError(message: m, offset: i) }

  private mutating func value() throws(JSONSyntaxError) -> JSONValue {
    guard i < b.count else { throw fail("unexpected end of JSON") }
    switch b[i] {
    case UInt8(ascii: "{"): return try object()
    case UInt8(ascii: "["): return try array()
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): try literal("true"); return .bool(true)
    case UInt8(ascii: "f"): try literal("false"); return .bool(false)
    case UInt8(ascii: "n"): try literal("null"); return .null
    case UInt8(ascii: "-"), 0x30...0x39: return try number()
    default: throw fail("unexpected character '\(Character(Unicode.Scalar(b[i])))'")
    }
  }

  private mutating func literal(_ s: String) throws(JSONSyntaxError) {
    for c in s.utf8 {
      guard i < b.count, b[i] == c else { throw fail("invalid literal") }
      i += 1
    }
  }

  private mutating func nest() throws(JSONSyntaxError) {
    depth += 1
    if depth > 64 { throw fail("nesting deeper than 64 levels") }
  }

  private mutating func object() throws(JSONSyntaxError) -> JSONValue {
    try nest()
    defer { depth -= 1 }
    i += 1
    var pairs: [(String, JSONValue)] = []
    var seen = Set<String>()
    skipSpace()
    if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
    repeat {
      skipSpace()
      guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
      let keyOffset = i
      let key = try string()
      if !seen.insert(key).inserted {
        throw JSONSyntaxError(message: "duplicate key \"\(key)\"", offset: keyOffset, duplicateKey: key)
      }
      skipSpace()
      guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
      i += 1
      skipSpace()
      pairs.append((key, try value()))
    } while try another(closedBy: "}", in: "object")
    return .object(pairs)
  }

  private mutating func array() throws(JSONSyntaxError) -> JSONValue {
    try nest()
    defer { depth -= 1 }
    i += 1
    var items: [JSONValue] = []
    skipSpace()
    if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
    repeat {
      skipSpace()
      items.append(try value())
    } while try another(closedBy: "]", in: "array")
    return .array(items)
  }

  /// After a member of an object or array: true past a ',', false past the closing bracket.
  private mutating func another(closedBy close: Unicode.Scalar, in what: String) throws(JSONSyntaxError) -> Bool {
    skipSpace()
    guard i < b.count else { throw fail("unterminated \(what)") }
    if b[i] == UInt8(ascii: ",") { i += 1; return true }
    if b[i] == UInt8(ascii: close) { i += 1; return false }
    throw fail("expected ',' or '\(close)'")
  }

  private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
    guard i + 4 <= b.count else { throw fail("truncated \\u escape") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let c = b[i]
      let d: UInt32
      switch c {
      case 0x30...0x39: d = UInt32(c - 0x30)
      case 0x41...0x46: d = UInt32(c - 0x41 + 10)
      case 0x61...0x66: d = UInt32(c - 0x61 + 10)
      default: throw fail("bad hex digit in \\u escape")
      }
      v = v << 4 | d
      i += 1
    }
    return v
  }

  private mutating func string() throws(JSONSyntaxError) -> String {
    i += 1
    var out: [UInt8] = []
    while true {
      guard i < b.count else { throw fail("unterminated string") }
      let c = b[i]
      if c == UInt8(ascii: "\"") { i += 1; break }
      if c < 0x20 { throw fail("control character in string") }
      if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
      i += 1
      guard i < b.count else { throw fail("unterminated escape") }
      let e = b[i]
      i += 1
      switch e {
      case UInt8(ascii: "\""): out.append(0x22)
      case UInt8(ascii: "\\"): out.append(0x5C)
      case UInt8(ascii: "/"): out.append(0x2F)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        var u = try hex4()
        if (0xD800..<0xDC00).contains(u) {
          guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw fail("lone surrogate") }
          i += 2
          let lo = try hex4()
          guard (0xDC00..<0xE000).contains(lo) else { throw fail("bad low surrogate") }
          u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..<0xE000).contains(u) {
          throw fail("lone surrogate")
        }
        guard let scalar = Unicode.Scalar(u) else { throw fail("invalid code point") }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
      default: throw fail("invalid escape")
      }
    }
    guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
    return s
  }

  private mutating func number() throws(JSONSyntaxError) -> JSONValue {
    let start = i
    if b[i] == UInt8(ascii: "-") { i += 1 }
    func digits(_ p: inout StrictJSONParser) -> Int {
      let s = p.i
      while p.i < p.b.count, p.b[p.i] >= 0x30, p.b[p.i] <= 0x39 { p.i += 1 }
      return p.i - s
    }
    let intStart = i
    let n = digits(&self)
    if n == 0 { throw fail("expected digits") }
    if n > 1, b[intStart] == 0x30 { throw fail("leading zero in number") }
    if i < b.count, b[i] == UInt8(ascii: ".") {
      i += 1
      if digits(&self) == 0 { throw fail("expected digits after '.'") }
    }
    if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
      i += 1
      if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
      if digits(&self) == 0 { throw fail("expected exponent digits") }
    }
    return .number(String(decoding: b[start..<i], as: UTF8.self))
  }
}

/// JSON string literal as serde_json writes it (the reference safetensors writer): `"` and `\`
/// and control characters escaped (short forms where JSON has them), everything else raw UTF-8.
func jsonQuoted(_ s: String) -> String {
  var out = "\""
  for u in s.unicodeScalars {
    switch u {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    case "\u{08}": out += "\\b"
    case "\u{0C}": out += "\\f"
    default:
      if u.value < 0x20 {
        let h = String(u.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
      } else {
        out.unicodeScalars.append(u)
      }
    }
  }
  return out + "\""
}
