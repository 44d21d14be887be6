/// Coding by name, for enumerations stored in files (options in checkpoints): the value is written
/// as its name and read back through a parser that takes every spelling the command line takes,
/// so that files do not depend on raw values and older spellings keep reading.
package enum NameCoding {
  package static func decode<T>(_ decoder: any Decoder, _ what: String, _ parse: (String) -> T?) throws -> T {
    let name = try decoder.singleValueContainer().decode(String.self)
    guard let value = parse(name) else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown \(what) \(name)"))
    }
    return value
  }

  package static func encode(_ name: String, _ encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(name)
  }
}
