import FP8
import TensorCores
import Testing
import _TestSupport

/// A random finite value of `input`, including subnormals and zeros.
func randomValue(_ input: TensorCoreInput, _ rng: inout SplitMix64) -> Float {
  while true {
    let r = rng.next()
    let v: Float
    switch input {
    case .e4m3, .e5m2:
      v = TensorCoreTestSupport.decode(UInt8(truncatingIfNeeded: r), input)
    case .fp16:
      v = Float(Float16(bitPattern: UInt16(truncatingIfNeeded: r)))
    case .bf16:
      // keep exponents moderate so that products and sums stay in the FP32 normal range
      let e = UInt32(100 + (r >> 8) % 60), s = UInt32(r & 0x7F), sign = UInt32((r >> 20) & 1)
      v = Float(bitPattern: sign << 31 | e << 23 | s << 16)
    case .tf32:
      let e = UInt32(100 + (r >> 12) % 60), s = UInt32(r & 0x3FF), sign = UInt32((r >> 30) & 1)
      v = Float(bitPattern: sign << 31 | e << 23 | s << 13)
    }
    if v.isFinite && (input != .fp16 || abs(v) < 2048) { return (r >> 40) % 9 == 0 ? 0 : v }
  }
}

enum TensorCoreTestSupport {
  static func decode(_ bits: UInt8, _ input: TensorCoreInput) -> Float {
    (try? FP8Conversion.decode([bits], from: input.elementFormat))?[0] ?? .nan
  }
}

@Suite("Block-FMA model")
struct BlockModelTests {
  @Test("random single blocks agree with the integer oracle", arguments: [
    ("H100", TensorCoreInput.e4m3), ("H100", .e5m2), ("Ada", .e4m3), ("Ada", .e5m2), ("V100", .fp16),
    ("A100", .fp16), ("A100", .bf16), ("A100", .tf32), ("H100", .fp16), ("H100", .bf16), ("B200", .tf32),
  ])
  func randomBlocks(gpu: String, input: TensorCoreInput) throws {
    let model = try #require(GPUArchitecture.named(gpu)?.numerics(for: input))
    var rng = SplitMix64(seed: 0xB10C + UInt64(model.blockSize))
    for trial in 0..<3000 {
      let n = Int(rng.next() % UInt64(model.blockSize)) + 1
      let a = (0..<n).map { _ in randomValue(input, &rng) }
      let b = (0..<n).map { _ in randomValue(input, &rng) }
      let c: Float = trial % 3 == 0 ? 0 : Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x8FFF_FFFF | 0x3000_0000)
      let got = try model.dot(a, b, c: c, input: input)
      let want = oracleBlock(a, b, c: c, input: input, model: model)
      #expect(got.bitPattern == want.bitPattern, "\(gpu) \(input) trial \(trial): \(got) vs oracle \(want); a=\(a) b=\(b) c=\(c)")
      if got.bitPattern != want.bitPattern { return }
    }
  }

  // H100 FP8 (L = 32, F = 13): a product 2^-14 below the alignment point 2^0 is dropped, not
  // rounded; the same product is kept by FP32 arithmetic.
  @Test func truncationBelowTheAlignmentPoint() throws {
    let m = try #require(GPUArchitecture.h100.numerics(for: .e4m3))
    let tiny: Float = 0x1p-7  // an E4M3 subnormal (4 · 2^-9)
    #expect(try m.dot([1, tiny], [1, tiny], input: .e4m3) == 1)          // exact 1 + 2^-14
    #expect(try m.dot([1, tiny], [1, -tiny], input: .e4m3) == 1)         // truncation toward zero of −2^-14
    #expect(try m.dot([-1, tiny], [1, tiny], input: .e4m3) == -1)
    // the low 10 mantissa bits of an H100 FP8 result are zero: 1 + 3·2^-13 + … keeps 13 bits
    let r = try m.dot([2, 0x1p-6, 0x1p-6, 0x1p-6], [1, 0.25, 0.25, 0.25], input: .e4m3)
    #expect(r.bitPattern & 0x3FF == 0)
    // FP16-input models keep 25 bits (H100): 1 + 2^-24 survives alignment, then FP32 RZ drops it
    let h = try #require(GPUArchitecture.h100.numerics(for: .fp16))
    #expect(try h.dot([1, 0x1p-12], [1, 0x1p-12], input: .fp16) == 1)
    #expect(try h.dot([1, 0x1p-12, 0x1p-12], [1, 0x1p-12, 0x1p-12], input: .fp16) == 1 + 0x1p-23)
  }

  // B200 FP8 adds c after the products with round-to-nearest-even: 1 + 0.75 ulp rounds up,
  // where the fused H100 rule truncates it.
  @Test func b200AddsCAfterTheProducts() throws {
    let b200 = try #require(GPUArchitecture.b200.numerics(for: .e4m3))
    let h100 = try #require(GPUArchitecture.h100.numerics(for: .e4m3))
    #expect(b200.cInput == .addedAfter && h100.cInput == .fused)
    let c: Float = 1.5 * 0x1p-24
    #expect(try b200.dot([1], [1], c: c, input: .e4m3) == 1 + 0x1p-23)
    #expect(try h100.dot([1], [1], c: c, input: .e4m3) == 1)
  }

  // Ada FP8 with an FP16 accumulator rounds the exact aligned sum to FP16: 2 + 2^-10 + 2^-13
  // is above the tie between 2 and 2 + 2^-9, so it rounds up; the FP32 output keeps F + 1 = 14
  // significant bits first (2 + 2^-10, toward zero).
  @Test func adaFP8FP16OutputRoundsTheExactSum() throws {
    let m16 = try #require(GPUArchitecture.ada.numerics(for: .e4m3, accumulator: .fp16))
    let m32 = try #require(GPUArchitecture.ada.numerics(for: .e4m3))
    let a: [Float] = [1, 1, 0x1p-5, 0x1p-6], b: [Float] = [1, 1, 0x1p-5, 0x1p-7]
    #expect(try m16.dot(a, b, input: .e4m3) == 2 + 0x1p-9)
    #expect(try m32.dot(a, b, input: .e4m3) == 2 + 0x1p-10)
  }

  // H100/B200 FP8 with an FP16 accumulator: two FP16 halves of interleaved pairs, c added after.
  @Test("H100/B200 FP8 to FP16: interleaved halves, c added last", arguments: [GPUArchitecture.h100, .b200])
  func hopperFP8FP16OutputHalves(gpu: GPUArchitecture) throws {
    let m = try #require(gpu.numerics(for: .e4m3, accumulator: .fp16))
    #expect(m.cInput == .addedAfterHalves && m.blockSize == 32 && m.fractionBits == 25)
    let x: Float = 0x1p-6, y: Float = 0x1p-5, h = x * y  // products 2^-11: half an FP16 ulp at 1
    // positions 0 and 1 form the first half: 1 + 2^-11 is a tie, to even: 1; the 2^-11 at
    // position 2 meets 1 in the second half: 1 again (one block of all three would give 1 + 2^-10)
    #expect(try m.dot([1, x, x], [1, y, y], input: .e4m3) == 1)
    #expect(try m.dot([1, x, 0, 0, x], [1, y, 0, 0, y], input: .e4m3) == 1 + 0x1p-10)  // positions 0, 1, 4: one half
    // c after the halves: 1 (halves) + 2^-11 is a tie again: 1; fused into the second half it
    // would be 1 + 2^-11 + 2^-11 = 1 + 2^-10
    #expect(try m.dot([1, 0, x], [1, 0, y], c: h, input: .e4m3) == 1)
    // c is rounded to FP16 first (1 + 2^-20 becomes 1): 1 + 1 = 2
    #expect(try m.dot([1], [1], c: 1 + 0x1p-20, input: .e4m3) == 2)
    // specials: an Inf half (448·448 + 448·448 overflows FP16) plus a −Inf c is NaN; a finite
    // half 256·240 = 61440 plus c = 65504 overflows in the last addition: Inf
    #expect(try m.dot([448, 448], [448, 448], c: -.infinity, input: .e4m3).bitPattern == 0x7FFF_FFFF)
    #expect(try m.dot([256], [240], c: 65504, input: .e4m3) == .infinity)
    // the C layer refuses the halves with an FP32 accumulator
    var bad = m
    bad.accumulator = .fp32
    #expect(throws: FP8Error.self) { try bad.dot([1], [1], input: .e4m3) }
  }

  @Test func fp16AccumulatorRoundsToNearestEven() throws {
    let m = try #require(GPUArchitecture.a100.numerics(for: .fp16, accumulator: .fp16))
    // 1 + 2^-11 is a tie between 1 and 1 + 2^-10 in FP16: ties to even gives 1
    #expect(try m.dot([1, 0x1p-6], [1, 0x1p-5], input: .fp16) == 1)
    // 1 + 3·2^-12 rounds up to 1 + 2^-10
    #expect(try m.dot([1, 0x1p-6, 0x1p-6], [1, 0x1p-5, 0x1p-6], input: .fp16) == 1 + 0x1p-10)
    // c is rounded to FP16 first: 1 + 2^-20 becomes 1
    #expect(try m.dot([0], [0], c: 1 + 0x1p-20, input: .fp16) == 1)
    // overflow of the FP16 result gives Inf
    #expect(try m.dot([60000, 60000], [1, 1], input: .fp16) == .infinity)
  }

  @Test("special values: NaN, Inf×0, +Inf with −Inf, Inf")
  func specialValues() throws {
    let m = try #require(GPUArchitecture.h100.numerics(for: .fp16))
    let inf = Float.infinity
    #expect(try m.dot([.nan, 1], [1, 1], input: .fp16).bitPattern == 0x7FFF_FFFF)
    #expect(try m.dot([inf, 1], [0, 1], input: .fp16).isNaN)
    #expect(try m.dot([inf, -inf], [1, 1], input: .fp16).isNaN)
    #expect(try m.dot([inf, 1], [1, 1], c: -inf, input: .fp16).isNaN)
    #expect(try m.dot([inf, 1], [-2, 1e4], input: .fp16) == -inf)
    #expect(try m.dot([1, 1], [1, 1], c: inf, input: .fp16) == inf)
    #expect(try m.dot([1], [1], c: .nan, input: .fp16).isNaN)
    // E4M3 has no Inf: 0x7F is NaN
    let e = try #require(GPUArchitecture.h100.numerics(for: .e4m3))
    let nan8 = TensorCoreTestSupport.decode(0x7F, .e4m3)
    #expect(nan8.isNaN)
    #expect(try e.dot([nan8, 1], [1, 1], input: .e4m3).isNaN)
    // E5M2 Inf × finite gives Inf
    let e5 = try #require(GPUArchitecture.h100.numerics(for: .e5m2))
    #expect(try e5.dot([inf, 2], [3, 2], input: .e5m2) == inf)
    // values the format cannot hold are refused
    #expect(throws: FP8Error.self) { try e.dot([1.1], [1], input: .e4m3) }
  }

  @Test func presetsAndFallback() throws {
    #expect(GPUArchitecture.named("sm_90") == .h100)
    #expect(GPUArchitecture.named("l40s")?.computeCapability == 89)
    #expect(GPUArchitecture.a100.numerics(for: .e4m3) == nil)
    let (model, input) = try #require(GPUArchitecture.a100.fp8Numerics(.e4m3))
    #expect(input == .fp16 && model == GPUArchitecture.a100.numerics(for: .fp16))
    let (hm, hi) = try #require(GPUArchitecture.h200.fp8Numerics(.e5m2))
    #expect(hi == .e5m2 && hm.blockSize == 32 && hm.fractionBits == 13 && hm.minExponent == -133)
    #expect(GPUArchitecture.v100.numerics(for: .bf16) == nil)
    #expect(GPUArchitecture.v100.numerics(for: .fp16)?.minExponent == nil)
    #expect(GPUArchitecture.h100.numerics(for: .bf16, accumulator: .fp16) == nil)
  }
}
