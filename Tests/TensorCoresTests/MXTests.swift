import FP8
import TensorCores
import Testing
import _TestSupport

// MX scaling (E8M0 per 32 along K) on the SIMD paths: the scalar reference (tensorcore_gemm.c,
// which folds 2^(xa+xb) into each product and its exponent) is the specification; every ISA and
// thread count must give its bits. Shapes leave edge tiles in M (not a multiple of 4), N (not a
// multiple of 16) and K (not a multiple of 32 or of L).
@Suite("MX-scaled tensor-core products")
struct MXTests {
  /// Random FP8 bytes without NaN/Inf, one in six zero.
  static func bytes(_ n: Int, _ rng: inout SplitMix64, _ format: ElementFormat) -> [UInt8] {
    (0..<n).map { _ in
      var v = UInt8(truncatingIfNeeded: rng.next())
      if v & 0x7F >= (format == .e4m3 ? 0x7F : 0x7C) { v &= 0xF3 }
      return rng.next() % 6 == 0 ? 0 : v
    }
  }

  /// E8M0 scale bytes: `wide` draws from the whole finite range 0...254 (2^-127 ... 2^127), which
  /// pushes many alignment points outside the FP32 lanes' exact range (those lanes take the
  /// scalar block); otherwise 2^-12 ... 2^12 around 1, as a training recipe produces.
  static func scales(_ n: Int, _ rng: inout SplitMix64, wide: Bool) -> [UInt8] {
    (0..<n).map { _ in wide ? UInt8(rng.next() % 255) : UInt8(115 + rng.next() % 25) }
  }

  static func check(m: Int, n: Int, k: Int, format: ElementFormat, wide: Bool, seed: UInt64, nanScale: Bool = false) throws {
    var rng = SplitMix64(seed: seed)
    let a = try TensorCoreOperand(storage: .bytes(bytes(m * k, &rng, format)), format: format, rows: m, cols: k)
    let b = try TensorCoreOperand(storage: .bytes(bytes(k * n, &rng, format)), format: format, rows: k, cols: n)
    let kb = (k + 31) / 32
    var sa = scales(m * kb, &rng, wide: wide), sb = scales(kb * n, &rng, wide: wide)
    if nanScale { sa[sa.count / 2] = 0xFF; sb[sb.count - 1] = 0xFF }
    let init0 = (0..<(m * n)).map { _ in Float(Int(rng.next() % 200) - 100) / 16 }
    let cases: [(Numerics, [Float]?)] = [
      (.gpu(.h100, accumulation: .fast), nil), (.gpu(.h100, accumulation: .promoted), init0),
      (.gpu(.ada, accumulation: .fast), init0), (.gpu(.h100, accumulation: .promoted(every: 40)), nil),
      (.gpu(.b200, accumulation: .fast), nil), (.ideal, nil), (.exact, nil),
      (.model(f16(.h100, format), accumulation: .fast), init0), (.model(f16(.ada, format), accumulation: .promoted), nil),
    ]
    for (numerics, acc) in cases {
      let scaling = TensorCoreScaling.mx(a: sa, b: sb)
      let reference = try Self.expectScalarBits("\(m)x\(n)x\(k) \(format) wide \(wide) \(numerics)") { isa, threads in
        try TensorCoreGEMM.matmul(a, b, accumulator: acc, numerics: numerics, scaling: scaling, isa: isa, threads: threads)
      }
      // not vacuous (FP32 accumulators; E5M2 sums near 2^16 overflow an FP16 accumulator to Inf)
      if !wide && !nanScale, case .gpu = numerics { #expect(reference.contains { $0 != 0 && $0.isFinite }) }
    }
  }

  /// `matmul(isa, threads)` on every ISA and 1...3 threads gives the bits of `matmul(.scalar, 1)`,
  /// which it returns.
  @discardableResult
  static func expectScalarBits(_ what: String, _ matmul: (ISA, Int) throws -> [Float]) throws -> [Float] {
    let reference = try matmul(.scalar, 1)
    for isa in ISA.supported {
      for threads in [1, 2, 3] {
        let bad = zip(try matmul(isa, threads), reference).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(bad == 0, "\(what) \(isa) threads \(threads): \(bad) differ")
      }
    }
    return reference
  }

  /// `check` on six random shapes (edge tiles in M, N and K), data seeds dataSeed, dataSeed + 1, ...
  static func randomShapes(format: ElementFormat, shapeSeed: UInt64, wide: Bool, dataSeed: UInt64) throws {
    var rng = SplitMix64(seed: shapeSeed + UInt64(format.rawValue))
    for trial in 0..<6 {
      let m = 1 + Int(rng.next() % 11), n = 1 + Int(rng.next() % 40), k = 1 + Int(rng.next() % 300)
      try check(m: m, n: n, k: k, format: format, wide: wide, seed: dataSeed + UInt64(trial))
    }
  }

  @Test("random shapes and scales near 1: bits identical on every ISA and thread count",
        arguments: [ElementFormat.e4m3, .e5m2])
  func nearOne(format: ElementFormat) throws {
    try Self.randomShapes(format: format, shapeSeed: 31, wide: false, dataSeed: 1000)
  }

  @Test("scales across the whole E8M0 range: bits identical on every ISA and thread count",
        arguments: [ElementFormat.e4m3, .e5m2])
  func wholeRange(format: ElementFormat) throws {
    try Self.randomShapes(format: format, shapeSeed: 97, wide: true, dataSeed: 2000)
  }

  /// The FP8 model with an FP16 accumulator (Ada: F = 13, c fused; H100: two FP16 halves, c after).
  static func f16(_ gpu: GPUArchitecture, _ format: ElementFormat) -> BlockFMAModel {
    gpu.numerics(for: format == .e4m3 ? .e4m3 : .e5m2, accumulator: .fp16)!
  }

  // FP8 inputs with an FP16 accumulator, no scales: accumulators that overflow FP16 (±70000 → Inf)
  // or are FP16 subnormal, on every ISA and thread count, against the scalar reference.
  @Test("FP16 accumulator with FP8 inputs: bits identical on every ISA and thread count",
        arguments: [ElementFormat.e4m3, .e5m2])
  func fp16Accumulator(format: ElementFormat) throws {
    var rng = SplitMix64(seed: 16 + UInt64(format.rawValue))
    for trial in 0..<4 {
      let m = 1 + Int(rng.next() % 9), n = 1 + Int(rng.next() % 40), k = 1 + Int(rng.next() % 200)
      let a = try TensorCoreOperand(storage: .bytes(Self.bytes(m * k, &rng, format)), format: format, rows: m, cols: k)
      let b = try TensorCoreOperand(storage: .bytes(Self.bytes(k * n, &rng, format)), format: format, rows: k, cols: n)
      var init0 = (0..<(m * n)).map { _ in Float(Int(rng.next() % 200) - 100) / 16 }
      init0[0] = trial % 2 == 0 ? 70000 : 0x1p-20
      for gpu in [GPUArchitecture.h100, .ada] {
        for accumulation in [Accumulation.fast, .promoted] {
          for acc in [nil, init0] {
            let numerics = Numerics.model(Self.f16(gpu, format), accumulation: accumulation)
            try Self.expectScalarBits("\(m)x\(n)x\(k) \(format) \(numerics)") { isa, threads in
              try TensorCoreGEMM.matmul(a, b, accumulator: acc, numerics: numerics, isa: isa, threads: threads)
            }
          }
        }
      }
    }
  }

  @Test func nanScalesMatchTheReference() throws {
    try Self.check(m: 7, n: 21, k: 100, format: .e4m3, wide: false, seed: 5, nanScale: true)
  }

  // Hand-derived edge of the exponent range (H100 FP8, L = 32, F = 13): one product 1·1 with
  // scales 2^127 and 2^-127 is 1 (E = 0); with 2^127 · 2^100 the value 2^227 is far above FP32:
  // the model rounds toward zero to FLT_MAX on every ISA. 2^-127 · 2^-120 = 2^-247 truncates to 0
  // in FP32 (toward zero); 2^-60 · 2^-60 = 2^-120 stays exact.
  @Test func extremeScalesAreExactOrRoundTowardZero() throws {
    let one: UInt8 = 0x38  // E4M3 1.0
    let a = try TensorCoreOperand(storage: .bytes([one]), format: .e4m3, rows: 1, cols: 1)
    let b = try TensorCoreOperand(storage: .bytes([one]), format: .e4m3, rows: 1, cols: 1)
    for isa in ISA.supported {
      let num = Numerics.gpu(.h100, accumulation: .fast)
      #expect(try TensorCoreGEMM.matmul(a, b, numerics: num, scaling: .mx(a: [254], b: [0]), isa: isa) == [1])
      #expect(try TensorCoreGEMM.matmul(a, b, numerics: num, scaling: .mx(a: [254], b: [227]), isa: isa) == [.greatestFiniteMagnitude])
      #expect(try TensorCoreGEMM.matmul(a, b, numerics: num, scaling: .mx(a: [0], b: [7]), isa: isa) == [0])
      #expect(try TensorCoreGEMM.matmul(a, b, numerics: num, scaling: .mx(a: [127 - 60], b: [127 - 60]), isa: isa) == [0x1p-120])
    }
  }
}
