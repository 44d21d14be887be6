import FP8

/// The format gradients cross between ranks in. Each rank encodes its partial gradient, the
/// encoded bytes are gathered by every rank, and every rank decodes all of them (its own too) and
/// sums them in FP32 in a fixed order, so every rank applies the same update.
///
/// | format | encoding | bytes per rank for n elements in T tensors |
/// |---|---|---|
/// | `fp32` | as is | 4n |
/// | `bf16` | round to nearest even | 2n |
/// | `e5m2` | x / s, RNE, satfinite; s = max(amax / 57344, 2⁻¹²⁶) per tensor, amax max-reduced over the ranks | n + 4T (the amaxes) |
/// | `e4m3-blockwise` | DeepSeek-V3 1×128 tiles: s = amax / 448 per 128 consecutive elements of a tensor (1 if 0), sent with the tile | n + 4·Σ⌈nₜ/128⌉ |
///
/// Decoding is decode(q) · s, one FP32 multiply (as the quantiser's dequantisation).
public enum ExchangeFormat: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
  case fp32
  case bf16
  case e5m2
  case e4m3Blockwise = "e4m3-blockwise"

  public var description: String { rawValue }

  /// Bytes one rank sends per step for tensors of `counts` elements: the values and everything
  /// their scales are made from.
  public func gradientBytes(counts: [Int]) -> Int {
    let n = counts.reduce(0, +)
    switch self {
    case .fp32: return 4 * n
    case .bf16: return 2 * n
    case .e5m2: return n + 4 * counts.count
    case .e4m3Blockwise: return n + 4 * counts.reduce(0) { $0 + ($1 + 127) / 128 }
    }
  }
}

/// The arithmetic of an exchange format on one rank's gradients (no communication): encoding into
/// a payload of fixed size and decoding back to FP32. Every C call goes through `CKernels`.
struct ExchangeCodec {
  let format: ExchangeFormat
  let counts: [Int]
  /// Byte offset of each tensor's values, and (e4m3-blockwise) of its tile scales.
  let valueOffsets: [Int]
  let scaleOffsets: [Int]
  /// Bytes of one rank's payload (values and tile scales; the E5M2 amaxes travel separately).
  let payloadBytes: Int
  let isa: ISA

  static let e5m2Max: Float = 57344

  init(format: ExchangeFormat, counts: [Int], isa: ISA = .auto) {
    self.format = format; self.counts = counts; self.isa = isa
    let width = format == .fp32 ? 4 : format == .bf16 ? 2 : 1
    var v: [Int] = [], off = 0
    for n in counts { v.append(off); off += width * n }
    var s: [Int] = []
    if format == .e4m3Blockwise { for n in counts { s.append(off); off += 4 * ((n + 127) / 128) } }
    valueOffsets = v; scaleOffsets = s; payloadBytes = off
  }

  /// Whether the E5M2 amaxes must be agreed before encoding.
  var needsAmax: Bool { format == .e5m2 }

  /// max |x| of each tensor (NaN if a tensor holds a NaN).
  func amax(_ g: [[Float]]) throws(FP8Error) -> [Float] {
    var out = [Float](repeating: 0, count: g.count)
    for (i, t) in g.enumerated() where !t.isEmpty {
      try t.withUnsafeBufferPointer { (x) throws(FP8Error) in
        try CKernels.amax(x.baseAddress, srcFormat: ElementFormat.f32.rawValue, rows: 1, cols: t.count, ld: t.count,
                          granularity: ScaleGranularity.perTensor.cValue, &out[i], isa: isa.rawValue, threads: 1)
      }
    }
    return out
  }

  /// The E5M2 dequantisation scale of a tensor from its agreed amax.
  static func e5m2Scale(amax: Float) -> Float {
    guard amax > 0, amax.isFinite else { return 1 }
    return Swift.max(amax / e5m2Max, Float.leastNormalMagnitude)
  }

  /// Encodes finite gradients (`amax`: the agreed amaxes, E5M2 only) into `payload`.
  func encode(_ g: [[Float]], amax: [Float], into payload: UnsafeMutableRawBufferPointer) throws(FP8Error) {
    precondition(g.map(\.count) == counts && payload.count == payloadBytes)
    for (i, t) in g.enumerated() where !t.isEmpty {
      let dst = payload.baseAddress! + valueOffsets[i]
      try t.withUnsafeBufferPointer { (x) throws(FP8Error) in
        switch format {
        case .fp32:
          dst.copyMemory(from: x.baseAddress!, byteCount: 4 * t.count)
        case .bf16:
          for j in 0..<t.count { dst.storeBytes(of: CKernels.f32ToBF16(x[j]), toByteOffset: 2 * j, as: UInt16.self) }
        case .e5m2:
          // q = RNE(x / s): an FP32 division, as the quantiser's (x · (1/s) differs in the last bit).
          let s = ExchangeCodec.e5m2Scale(amax: amax[i])
          let scaled = [Float](unsafeUninitializedCapacity: t.count) { b, n in
            for j in 0..<t.count { b[j] = x[j] / s }
            n = t.count
          }
          try scaled.withUnsafeBufferPointer { (y) throws(FP8Error) in
            try CKernels.encode(y.baseAddress, srcFormat: ElementFormat.f32.rawValue, dst.assumingMemoryBound(to: UInt8.self),
                                dstFormat: ElementFormat.e5m2.rawValue, count: t.count, rounding: 0, preset: 0, seed: 0,
                                randomBits: nil, isa: isa.rawValue, threads: 1)
          }
        case .e4m3Blockwise:
          // Payloads sit back to back in the gathered buffer, so scales may be unaligned there:
          // the kernel writes them to an array, copied in as bytes.
          var scales = [Float](repeating: 0, count: (t.count + 127) / 128)
          try scales.withUnsafeMutableBufferPointer { (sp) throws(FP8Error) in
            try CKernels.quantize(x.baseAddress, srcFormat: ElementFormat.f32.rawValue, rows: 1, cols: t.count,
                                  format: ElementFormat.e4m3.rawValue, granularity: ScaleGranularity.tile128.cValue, mxRule: 0,
                                  isa: isa.rawValue, threads: 1, dst.assumingMemoryBound(to: UInt8.self), scales: sp.baseAddress,
                                  mxScales: nil)
          }
          scales.withUnsafeBytes { (payload.baseAddress! + scaleOffsets[i]).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
      }
    }
  }

  /// Decodes a payload back to FP32 tensors.
  func decode(_ payload: UnsafeRawBufferPointer, amax: [Float]) throws(FP8Error) -> [[Float]] {
    precondition(payload.count == payloadBytes)
    var out: [[Float]] = []
    out.reserveCapacity(counts.count)
    for (i, n) in counts.enumerated() {
      let src = payload.baseAddress.map { $0 + valueOffsets[i] }
      var t = [Float](repeating: 0, count: n)
      if n > 0, let src {
        try t.withUnsafeMutableBufferPointer { (y) throws(FP8Error) in
          switch format {
          case .fp32:
            UnsafeMutableRawPointer(y.baseAddress!).copyMemory(from: src, byteCount: 4 * n)
          case .bf16:
            for j in 0..<n { y[j] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * j, as: UInt16.self)) << 16) }
          case .e5m2:
            let s = [ExchangeCodec.e5m2Scale(amax: amax[i])]
            try CKernels.dequantize(src.assumingMemoryBound(to: UInt8.self), format: ElementFormat.e5m2.rawValue, rows: 1, cols: n,
                                    granularity: ScaleGranularity.perTensor.cValue, scales: s, mxScales: nil,
                                    UnsafeMutableRawPointer(y.baseAddress), outFormat: ElementFormat.f32.rawValue,
                                    isa: isa.rawValue, threads: 1)
          case .e4m3Blockwise:
            let scales = (0..<(n + 127) / 128).map { payload.loadUnaligned(fromByteOffset: scaleOffsets[i] + 4 * $0, as: Float.self) }
            try CKernels.dequantize(src.assumingMemoryBound(to: UInt8.self), format: ElementFormat.e4m3.rawValue, rows: 1, cols: n,
                                    granularity: ScaleGranularity.tile128.cValue, scales: scales, mxScales: nil,
                                    UnsafeMutableRawPointer(y.baseAddress), outFormat: ElementFormat.f32.rawValue,
                                    isa: isa.rawValue, threads: 1)
          }
        }
      }
      out.append(t)
    }
    return out
  }
}
