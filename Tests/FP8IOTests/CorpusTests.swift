import FP8IO
import Foundation
import Testing
import _TestSupport

/// Every file of the malformed corpus gets its own typed error (and no crash).
@Suite struct CorpusTests {
  static let dir = packageRoot() + "/Tests/FP8IOTests/Corpus"

  static func kind(_ e: SafetensorsError) -> String {
    switch e.defect {
    case .file: return "file"
    case .inFile: return "inFile"
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

  static let safetensorsCases: [(String, String)] = [
    ("truncated", "truncated"),
    ("header_beyond_file", "headerBeyondFile"),
    ("huge_header_length", "headerTooLarge"),
    ("bad_json", "invalidJSON"),
    ("non_utf8_header", "headerNotUTF8"),
    ("overlapping_offsets", "overlappingOffsets"),
    ("offsets_outside_buffer", "offsetsOutOfBounds"),
    ("reversed_offsets", "offsetsOutOfBounds"),
    ("size_mismatch", "sizeMismatch"),
    ("unknown_dtype", "unknownDType"),
    ("negative_shape", "invalidShape"),
    ("non_integer_shape", "invalidShape"),
    ("size_overflow", "sizeOverflow"),
    ("duplicate_names", "duplicateName"),
    ("gap_between_tensors", "gapInData"),
    ("trailing_bytes", "incompleteCoverage"),
    ("metadata_not_strings", "invalidMetadata"),
    ("header_not_object", "invalidHeader"),
    ("missing_field", "invalidHeader"),
    ("sub_byte_size", "sizeMismatch"),
  ]

  @Test(arguments: safetensorsCases)
  func malformedSafetensors(_ name: String, _ expected: String) {
    let path = Self.dir + "/\(name).safetensors"
    #expect(FileManager.default.fileExists(atPath: path), "corpus file \(name) missing")
    do {
      _ = try SafetensorsFile(path: path)
      Issue.record("\(name): accepted a malformed file")
    } catch {
      #expect(Self.kind(error) == expected, "\(name): got \(error)")
      #expect(!error.description.isEmpty)
    }
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
    switch e.defect {
    case .file: return "file"
    case .inFile: return "inFile"
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

  static let npyCases: [(String, String)] = [
    ("truncated_header", "truncatedHeader"),
    ("bad_magic", "badMagic"),
    ("unsupported_version", "unsupportedVersion"),
    ("big_endian", "unsupportedDType"),
    ("object_dtype", "unsupportedDType"),
    ("data_too_short", "dataSizeMismatch"),
    ("negative_shape", "invalidShape"),
    ("malformed_dict", "malformedHeader"),
    ("non_ascii_header", "headerEncoding"),
    ("shape_overflow", "sizeOverflow"),
    ("header_length_beyond_file", "truncatedHeader"),
  ]

  @Test(arguments: npyCases)
  func malformedNpy(_ name: String, _ expected: String) {
    let path = Self.dir + "/\(name).npy"
    #expect(FileManager.default.fileExists(atPath: path), "corpus file \(name) missing")
    do {
      _ = try Npy.read(path: path)
      Issue.record("\(name): accepted a malformed file")
    } catch {
      #expect(Self.kind(error) == expected, "\(name): got \(error)")
    }
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
