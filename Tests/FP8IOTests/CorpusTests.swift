import FP8
import FP8IO
import Foundation
import Testing
import _TestSupport

/// Every file of the malformed corpus gets its own typed error, with the details of what is wrong
/// with it (and no crash).
@Suite struct CorpusTests {
  static let dir = packageRoot() + "/Tests/FP8IOTests/Corpus"

  static func kind(_ e: SafetensorsError) -> String {
    switch e {
    case .io: return "io"
    case .truncated: return "truncated"
    case .headerTooLarge: return "headerTooLarge"
    case .headerBeyondFile: return "headerBeyondFile"
    case .headerNotUTF8: return "headerNotUTF8"
    case .invalidJSON: return "invalidJSON"
    case .invalidHeader: return "invalidHeader"
    case .invalidMetadata: return "invalidMetadata"
    case .duplicateName: return "duplicateName"
    case .unknownDType: return "unknownDType"
    case .invalidShape: return "invalidShape"
    case .sizeOverflow: return "sizeOverflow"
    case .sizeMismatch: return "sizeMismatch"
    case .offsetsOutOfBounds: return "offsetsOutOfBounds"
    case .overlappingOffsets: return "overlappingOffsets"
    case .gapInData: return "gapInData"
    case .incompleteCoverage: return "incompleteCoverage"
    case .tensorNotFound: return "tensorNotFound"
    case .invalidArgument: return "invalidArgument"
    }
  }

  /// What each file must be refused with, read off its bytes: the exact error where every field
  /// follows from the file (offsets count from the file's first byte, the 8-byte header length
  /// included), else its kind and a word its message must name.
  enum Expected: Sendable, CustomTestStringConvertible {
    case safetensors(SafetensorsError)
    case npy(NpyError)
    case kind(String, naming: String)

    var testDescription: String {
      switch self {
      case .safetensors(let e): return "\(e)"
      case .npy(let e): return "\(e)"
      case .kind(let k, let w): return "\(k) naming \(w)"
      }
    }
  }

  /// Opening the corpus file must fail with the expected error.
  static func expectRefusal(_ file: String, _ expected: Expected, open: (String) throws -> Void) {
    let path = dir + "/" + file
    #expect(FileManager.default.fileExists(atPath: path), "corpus file \(file) missing")
    do {
      try open(path)
      Issue.record("\(file): accepted a malformed file")
    } catch {
      switch (expected, error) {
      case (.safetensors(.invalidJSON(_, let offset)), let e as SafetensorsError):
        // The parser's own words are its business; where it stopped is the file's.
        guard case .invalidJSON(_, let at) = e else { Issue.record("\(file): got \(e)"); return }
        #expect(at == offset, "\(file): got \(e)")
      case (.safetensors(let want), let e as SafetensorsError): #expect(e == want, "\(file): got \(e)")
      case (.npy(let want), let e as NpyError): #expect(e == want, "\(file): got \(e)")
      case (.kind(let kind, let word), let e as SafetensorsError):
        #expect(Self.kind(e) == kind && e.description.contains(word), "\(file): got \"\(e)\", want \(kind) naming \(word)")
      case (.kind(let kind, let word), let e as NpyError):
        #expect(Self.kind(e) == kind && e.description.contains(word), "\(file): got \"\(e)\", want \(kind) naming \(word)")
      default: Issue.record("\(file): got \(error)")
      }
    }
  }

  static let safetensorsCases: [(String, Expected)] = [
    ("truncated", .safetensors(.truncated(fileSize: 5))),                                  // 5 bytes in all
    ("header_beyond_file", .safetensors(.headerBeyondFile(length: 1000, fileSize: 66))),
    ("huge_header_length", .safetensors(.headerTooLarge(length: 1 << 62, limit: 100_000_000))),
    ("bad_json", .safetensors(.invalidJSON(message: "", offset: 8 + 53))),                 // the object never closes
    ("non_utf8_header", .safetensors(.headerNotUTF8(offset: 8 + 3))),                       // {"a<FF>
    ("overlapping_offsets", .kind("overlappingOffsets", naming: "\"b\"")),      // b [4, 12) inside a [0, 8)
    ("offsets_outside_buffer", .safetensors(.offsetsOutOfBounds(tensor: "a", begin: 0, end: 8, bufferSize: 4))),
    ("reversed_offsets", .safetensors(.offsetsOutOfBounds(tensor: "a", begin: 8, end: 0, bufferSize: 8))),
    ("size_mismatch", .safetensors(.sizeMismatch(tensor: "a", expectedBytes: 12, actualBytes: 8))),  // 3 F32 in 8 bytes
    ("unknown_dtype", .safetensors(.unknownDType(tensor: "a", dtype: "F12"))),
    ("negative_shape", .kind("invalidShape", naming: "-2")),
    ("non_integer_shape", .kind("invalidShape", naming: "2.5")),
    ("size_overflow", .safetensors(.sizeOverflow(tensor: "a"))),                           // 2^62 × 2^62 elements
    ("duplicate_names", .safetensors(.duplicateName("a"))),
    ("gap_between_tensors", .safetensors(.gapInData(tensor: "b", expectedBegin: 4, begin: 8))),
    ("trailing_bytes", .safetensors(.incompleteCoverage(covered: 4, bufferSize: 6))),
    ("metadata_not_strings", .kind("invalidMetadata", naming: "\"k\"")),         // {"k": 1}
    ("header_not_object", .kind("invalidHeader", naming: "'{'")),                 // [1,2,3]
    ("missing_field", .kind("invalidHeader", naming: "data_offsets")),
    ("sub_byte_size", .safetensors(.sizeMismatch(tensor: "a", expectedBytes: 2, actualBytes: 2))),  // 3 × F4 = 1.5 bytes
  ]

  @Test(arguments: safetensorsCases)
  func malformedSafetensors(_ name: String, _ expected: Expected) {
    Self.expectRefusal(name + ".safetensors", expected) { _ = try SafetensorsFile(path: $0) }
  }

  /// Every prefix of a valid file is refused with an error (never a crash or a wrong read).
  @Test func everyTruncationOfAValidFileIsRefused() throws {
    let entries = [SafetensorsWriter.Entry(name: "w", dtype: .f8e4m3, shape: [3, 5])]
    let (header, _) = try SafetensorsWriter.headerBytes(entries: entries, metadata: ["k": "v"])
    var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
    file += [UInt8](repeating: 7, count: 15)
    _ = try file.withUnsafeBytes { try SafetensorsHeader.parse($0) }
    for cut in 0..<file.count {
      let prefix = Array(file[..<cut])
      #expect(throws: SafetensorsError.self) { _ = try prefix.withUnsafeBytes { try SafetensorsHeader.parse($0) } }
    }
  }

  static func kind(_ e: NpyError) -> String {
    switch e {
    case .io: return "io"
    case .truncatedHeader: return "truncatedHeader"
    case .badMagic: return "badMagic"
    case .unsupportedVersion: return "unsupportedVersion"
    case .headerEncoding: return "headerEncoding"
    case .malformedHeader: return "malformedHeader"
    case .unsupportedDType: return "unsupportedDType"
    case .invalidShape: return "invalidShape"
    case .sizeOverflow: return "sizeOverflow"
    case .dataSizeMismatch: return "dataSizeMismatch"
    case .invalidArgument: return "invalidArgument"
    }
  }

  static let npyCases: [(String, Expected)] = [
    ("truncated_header", .npy(.truncatedHeader(fileSize: 8))),          // magic and version only
    ("bad_magic", .npy(.badMagic)),                                      // a PNG signature
    ("unsupported_version", .npy(.unsupportedVersion(major: 4, minor: 0))),
    ("big_endian", .kind("unsupportedDType", naming: ">f4")),
    ("object_dtype", .kind("unsupportedDType", naming: "|O")),
    ("data_too_short", .npy(.dataSizeMismatch(expected: 48, actual: 40))),  // 3 × 4 F32 after a 60-byte header
    ("negative_shape", .kind("invalidShape", naming: "negative")),
    ("malformed_dict", .kind("malformedHeader", naming: "fortran_order")),  // 'fortran_order': Maybe
    ("non_ascii_header", .npy(.headerEncoding)),
    ("shape_overflow", .npy(.sizeOverflow)),                              // 2^62 × 4 elements
    ("header_length_beyond_file", .npy(.truncatedHeader(fileSize: 18))),  // header length 255 in an 18-byte file
  ]

  @Test(arguments: npyCases)
  func malformedNpy(_ name: String, _ expected: Expected) {
    Self.expectRefusal(name + ".npy", expected) { _ = try Npy.read(path: $0) }
  }

  /// Random byte flips in a valid header: either a clean parse or a typed error, never a crash.
  @Test func randomCorruptionsNeverCrash() throws {
    let entries = [
      SafetensorsWriter.Entry(name: "a.weight", dtype: .f8e4m3, shape: [4, 4]),
      SafetensorsWriter.Entry(name: "a.weight_scale_inv", dtype: .f32, shape: [1, 1]),
    ]
    let (header, _) = try SafetensorsWriter.headerBytes(entries: entries, metadata: nil)
    let base = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + [UInt8](repeating: 0, count: 20)
    var rng = SplitMix64(seed: 6)
    var refused = 0
    for _ in 0..<2000 {
      var f = base
      for _ in 0..<Int.random(in: 1...3, using: &rng) { f[Int.random(in: 0..<f.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
      do { _ = try f.withUnsafeBytes { try SafetensorsHeader.parse($0) } } catch { refused += 1 }
      var n = Array(Npy.encode(try NpyArray(floats: [1, 2, 3], shape: [3])))
      n[Int.random(in: 0..<n.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
      _ = try? Npy.parse(n)
    }
    #expect(refused > 1000)
  }
}
