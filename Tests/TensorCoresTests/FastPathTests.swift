// The SIMD tasks that compute several rows at once (AVX2: 4 rows × 16 columns with the int8
// alignment point and the integer sum of truncated terms) against the scalar reference, on data
// made to hit their edges: every M tail of the 4-row tile, N tails of the 16-column panel, K with
// odd block starts (promotion intervals that are not multiples of 32 or 2), exponent spreads wider
// than the 13-bit window, terms just inside and just outside it, cancellation, subnormals, signed
// zeros, NaN/Inf operands, overflowing and -0 accumulators, every scaling, 1–3 threads, and a
// model with F = 3 (under which even blocks of E5M2 subnormal products lose bits).
import FP8
import TensorCores
import Testing
import _TestSupport

@Suite("Tensor-core multi-row SIMD tasks")
struct FastPathTests {
  /// FP8 bytes of one kind: 0 uniform (every exponent), 1 a narrow band near 1 with one large
  /// value per 8 (terms on both sides of the window), 2 cancelling pairs, 3 subnormals and signed
  /// zeros, 4 uniform with a NaN or Inf now and then.
  static func bytes(_ n: Int, kind: Int, _ format: ElementFormat, _ rng: inout SplitMix64) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: n)
    let nanInf: UInt8 = format == .e4m3 ? 0x7F : 0x7C
    for i in 0..<n {
      let r = UInt8(truncatingIfNeeded: rng.next())
      var v: UInt8
      switch kind {
      case 1: v = i % 8 == 0 ? (r & 0x80) | (format == .e4m3 ? 0x68 : 0x5C) : (r & 0x87) | (format == .e4m3 ? 0x30 : 0x38)
      case 2: v = i % 2 == 0 ? r : out[i - 1] ^ 0x80
      case 3: v = r & (format == .e4m3 ? 0x87 : 0x83)  // exponent field 0: subnormal or ±0
      default: v = r
      }
      if v & 0x7F >= nanInf { v &= 0xF3 }
      if kind == 4 && rng.next() % 97 == 0 { v = nanInf | (r & 0x80) }
      out[i] = v
    }
    return out
  }

  @Test("bits equal the scalar reference on every ISA and thread count", arguments: 0..<5)
  func againstScalar(kind: Int) throws {
    var rng = SplitMix64(seed: 4242 + UInt64(kind))
    for trial in 0..<6 {
      let m = 1 + trial * 2 % 9, n = [1, 16, 17, 40, 5, 33][trial], k = [1, 31, 33, 95, 130, 300][trial]
      let fa: ElementFormat = trial % 3 == 2 ? .e5m2 : .e4m3, fb: ElementFormat = trial % 2 == 0 ? .e4m3 : .e5m2
      let a = try TensorCoreOperand(storage: .bytes(Self.bytes(m * k, kind: kind, fa, &rng)), format: fa, rows: m, cols: k)
      let b = try TensorCoreOperand(storage: .bytes(Self.bytes(k * n, kind: (kind + trial) % 5, fb, &rng)), format: fb, rows: k, cols: n)
      var init0 = (0..<(m * n)).map { _ in Float(Int(rng.next() % 2000) - 1000) / 64 }
      init0[0] = -0.0
      if init0.count > 1 { init0[1] = 70000 }  // overflows FP16 (the FP16 accumulator's scalar block)
      if init0.count > 2 { init0[2] = 0x1p-130 }  // subnormal: the scalar block
      let kb = (k + 127) / 128, kb32 = (k + 31) / 32
      let scalings: [TensorCoreScaling] = [
        .none, .tensor(a: 0.5, b: 3), .rowwise(a: (0..<m).map { Float($0 + 1) }, b: (0..<n).map { 1 / Float($0 + 1) }),
        .block(a: (0..<(m * kb)).map { _ in Float(1 + rng.next() % 4) / 4 }, b: (0..<(kb * ((n + 127) / 128))).map { _ in 0.125 }),
        .mx(a: (0..<(m * kb32)).map { _ in UInt8(120 + rng.next() % 14) }, b: (0..<(kb32 * n)).map { _ in UInt8(120 + rng.next() % 14) }),
      ]
      let f16 = try #require(GPUArchitecture.ada.numerics(for: .e4m3, accumulator: .fp16))
      // (numerics, whether block scales apply: promotion by a divisor of 128, or ideal)
      let numerics: [(Numerics, Bool)] = [(.gpu(.h100, accumulation: .promoted), true), (.gpu(.h100, accumulation: .fast), false),
                                          (.gpu(.h100, accumulation: .promoted(every: 33)), false),
                                          (.gpu(.ada, accumulation: .promoted(every: 64)), true),
                                          (.model(f16, accumulation: .fast), false), (.ideal, true),
                                          // F = 3: blocks of subnormal products alone lose bits too
                                          (.model(BlockFMAModel(blockSize: 32, fractionBits: 3, minExponent: nil), accumulation: .promoted(every: 33)), false)]
      for (num, blockOK) in numerics {
        for scaling in scalings {
          if case .block = scaling, !blockOK { continue }
          for acc in [nil, init0] {
            let reference = try TensorCoreGEMM.matmul(a, b, accumulator: acc, numerics: num, scaling: scaling, isa: .scalar, threads: 1)
            for isa in ISA.supported where isa != .scalar {
              for threads in [1, 2, 3] {
                let d = try TensorCoreGEMM.matmul(a, b, accumulator: acc, numerics: num, scaling: scaling, isa: isa, threads: threads)
                let bad = zip(d, reference).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(bad == 0, "kind \(kind) \(m)x\(n)x\(k) \(fa)·\(fb) \(num) \(scaling) \(isa) threads \(threads): \(bad) differ")
              }
            }
          }
        }
      }
    }
  }
}
