import FP8

/// What is wrong with a raw conversion.
public enum RawConversionError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file could not be read or the output written.
  case file(FileError)
  /// The input's size is not a whole number of elements.
  case partialElement(path: String, bytes: Int, format: ElementFormat)
  /// Not a wide ↔ FP8 pair (the two formats must be one wide, F32/F16/BF16, and one FP8).
  case notAConversion(from: ElementFormat, to: ElementFormat)
  /// The kernel refused the arguments (a rounding mode the format does not take, ...).
  case kernel(FP8Error)

  public var description: String {
    switch self {
    case .file(let e): return e.description
    case .partialElement(let p, let n, let f):
      return "\(quotedPath(p)) has \(n) bytes, not a whole number of \(f.byteSize)-byte \(f) elements"
    case .notAConversion(let a, let b):
      return "no conversion from \(a) to \(b): one format must be wide (f32, f16, bf16) and the other FP8"
    case .kernel(let e): return e.description
    }
  }
}

/// Converting raw little-endian files between a wide format and an FP8 format, streamed: the
/// input is read in pieces of `chunkElements` elements and the output written through
/// `OutputFile`, so the memory used does not grow with the file (a 10 GB file converts in a few
/// tens of MB) and the output is whole or absent.
public enum RawFileConversion {
  /// Elements per piece (4 Mi: 16 MB of F32 in, 4 MB of FP8 out).
  public static let defaultChunkElements = 1 << 22

  /// Encodes wide → FP8 with `rounding` and `preset` (one rounding, no intermediate format) or
  /// decodes FP8 → wide (exact; E8M0 → F16 rounds). Stochastic rounding draws the bits of element
  /// i from (seed, i) over the whole file, so the output does not depend on the piece size.
  public static func convert(
    input: String, output: String, from source: ElementFormat, to destination: ElementFormat,
    rounding: Rounding = .nearestEven, preset: OverflowPreset = .cudaSatfinite, isa: ISA = .auto, threads: Int = 0,
    chunkElements: Int = defaultChunkElements, progress: ((Double) -> Void)? = nil
  ) throws(RawConversionError) {
    let encode = !source.isFP8 && destination.isFP8, decode = source.isFP8 && !destination.isFP8
    guard encode || decode else { throw .notAConversion(from: source, to: destination) }
    let file: InputFile
    do { file = try InputFile(path: input) } catch { throw .file(error) }
    guard file.size % source.byteSize == 0 else {
      throw .partialElement(path: input, bytes: file.size, format: source)
    }
    let n = file.size / source.byteSize
    let out: OutputFile
    do { out = try OutputFile(path: output, inputs: [input]) } catch { throw .file(error) }
    let step = max(1, chunkElements)
    var inBuffer = [UInt8](repeating: 0, count: min(n, step) * source.byteSize)
    var outBuffer = [UInt8](repeating: 0, count: min(n, step) * destination.byteSize)
    var random = [UInt32]()
    var done = 0
    while done < n {
      let m = min(step, n - done)
      do {
        try inBuffer.withMutableBytes { (b) throws(FileError) in
          try file.read(into: UnsafeMutableRawBufferPointer(rebasing: b[0..<(m * source.byteSize)]), at: done * source.byteSize)
        }
      } catch { throw .file(error) }
      if case .stochastic(let seed) = rounding {
        random = (0..<m).map { CKernels.stochasticBits(seed: seed, index: UInt64(done + $0)) }
      }
      do {
        try inBuffer.withBytes { (s) throws(FP8Error) in
          try outBuffer.withMutableBytes { (d) throws(FP8Error) in
            if encode {
              try random.withUnsafeBufferPointer { (r) throws(FP8Error) in
                try FP8Conversion.encode(
                  s.baseAddress!, from: source, into: d.baseAddress!.assumingMemoryBound(to: UInt8.self), format: destination,
                  count: m, rounding: rounding, preset: preset, randomBits: r.isEmpty ? nil : r.baseAddress, isa: isa,
                  threads: threads)
              }
            } else {
              try FP8Conversion.decode(
                s.baseAddress!.assumingMemoryBound(to: UInt8.self), format: source, into: d.baseAddress!, as: destination,
                count: m, isa: isa, threads: threads)
            }
          }
        }
      } catch { throw .kernel(error) }
      do {
        try outBuffer.withBytes { (b) throws(FileError) in
          try out.write(UnsafeRawBufferPointer(rebasing: b[0..<(m * destination.byteSize)]))
        }
      } catch { throw .file(error) }
      done += m
      progress?(Double(done) / Double(n))
    }
    do { try out.commit() } catch { throw .file(error) }
  }
}
