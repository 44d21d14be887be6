import FP8
import TensorCores
import Testing
import _TestSupport

private func operand(_ values: [Float], _ input: TensorCoreInput, _ rows: Int, _ cols: Int) throws -> TensorCoreOperand {
  try TensorCoreOperand(values: values, input: input, rows: rows, cols: cols)
}

private func randomBytes(_ n: Int, _ rng: inout SplitMix64, format: ElementFormat, nanRate: UInt64 = 0) -> [UInt8] {
  (0..<n).map { _ in
    var v = UInt8(truncatingIfNeeded: rng.next())
    let nan: UInt8 = format == .e4m3 ? 0x7F : 0x7E
    if v & 0x7F >= (format == .e4m3 ? 0x7F : 0x7C) { v &= 0xF3 }  // no NaN/Inf unless asked
    if nanRate > 0 && rng.next() % nanRate == 0 { v = nan }
    if rng.next() % 6 == 0 { v = 0 }
    return v
  }
}

@Suite("Tensor-core matrix products")
struct GEMMTests {
  // Hand-derived (H100 FP8, L = 32, F = 13): 128 products 8·1 make 1024 exactly; then 128
  // products 0.25·0.25 = 2^-4. Fast accumulation aligns each block to c = 1024 (E = 10, unit
  // 2^-3) and truncates every 2^-4 to zero: 1024. Promotion sums the second 128 from zero to 8
  // exactly and adds it in FP32: 1032, the exact value.
  @Test func fastAndPromotedDiffer() throws {
    let a = try operand([Float](repeating: 8, count: 128) + [Float](repeating: 0.25, count: 128), .e4m3, 1, 256)
    let b = try operand([Float](repeating: 1, count: 128) + [Float](repeating: 0.25, count: 128), .e4m3, 256, 1)
    for isa in ISA.supported {
      #expect(try TensorCoreGEMM.matmul(a, b, numerics: .gpu(.h100, accumulation: .fast), isa: isa) == [1024])
      #expect(try TensorCoreGEMM.matmul(a, b, numerics: .gpu(.h100, accumulation: .promoted(every: 128)), isa: isa) == [1032])
      // promoting every 32 (each wgmma) also gives 1032; every 256 is fast accumulation here
      #expect(try TensorCoreGEMM.matmul(a, b, numerics: .gpu(.h100, accumulation: .promoted(every: 32)), isa: isa) == [1032])
      #expect(try TensorCoreGEMM.matmul(a, b, numerics: .gpu(.h100, accumulation: .promoted(every: 256)), isa: isa) == [1024])
      #expect(try TensorCoreGEMM.matmul(a, b, numerics: .ideal, isa: isa) == [1032])
      #expect(try TensorCoreGEMM.matmul(a, b, numerics: .exact, isa: isa) == [1032])
    }
  }

  // Chaining order (Ada FP8, L = 16): with 1024 first, the 16 small products are lost; with the
  // small products first they sum to 1 exactly and survive as c of the next block.
  @Test func chainingFollowsKOrder() throws {
    let big = [Float](repeating: 0, count: 15) + [64], small = [Float](repeating: 0.25, count: 16)
    let ones = [Float](repeating: 0, count: 15) + [16], quarter = [Float](repeating: 0.25, count: 16)
    let a1 = try operand(big + small, .e4m3, 1, 32), b1 = try operand(ones + quarter, .e4m3, 32, 1)
    let a2 = try operand(small + big, .e4m3, 1, 32), b2 = try operand(quarter + ones, .e4m3, 32, 1)
    for isa in ISA.supported {
      #expect(try TensorCoreGEMM.matmul(a1, b1, numerics: .gpu(.ada, accumulation: .fast), isa: isa) == [1024])
      #expect(try TensorCoreGEMM.matmul(a2, b2, numerics: .gpu(.ada, accumulation: .fast), isa: isa) == [1025])
    }
  }

  // DeepSeek-V3 §3.3.2: fast accumulation at K = 4096 with positive data loses up to ~2% (their
  // data); with products in [1, 4) every block truncates to a unit near 2^(E-13) and the loss is
  // about 7%. Promotion every 128 brings the error down by three orders of magnitude.
  @Test func k4096PromotionBeatsFastAccumulation() throws {
    var rng = SplitMix64(seed: 4096)
    let m = 4, n = 16, k = 4096
    let av = (0..<(m * k)).map { _ in Float(8 + Int(rng.next() % 8)) / 8 }  // E4M3 values in [1, 2)
    let bv = (0..<(k * n)).map { _ in Float(8 + Int(rng.next() % 8)) / 8 }
    let a = try operand(av, .e4m3, m, k), b = try operand(bv, .e4m3, k, n)
    let exact = try TensorCoreGEMM.matmul(a, b, numerics: .exact)
    let fast = ErrorReport(result: try TensorCoreGEMM.matmul(a, b, numerics: .gpu(.h100, accumulation: .fast)), reference: exact)
    let promoted = ErrorReport(result: try TensorCoreGEMM.matmul(a, b, numerics: .gpu(.h100, accumulation: .promoted)), reference: exact)
    let ideal = ErrorReport(result: try TensorCoreGEMM.matmul(a, b, numerics: .ideal), reference: exact)
    print("K=4096 all-positive: fast \(fast)\n  promoted \(promoted)\n  ideal \(ideal)")
    #expect(fast.maxRelativeError > 1e-3)
    #expect(fast.maxRelativeError < 0.25)
    #expect(promoted.maxRelativeError < 1e-4)
    #expect(promoted.maxRelativeError < fast.maxRelativeError / 100)
    // every fast and promoted result is below the exact one (truncation toward zero)
    #expect(fast.meanRelativeError > promoted.meanRelativeError)
  }

  @Test("bits do not depend on ISA or thread count", arguments: [ElementFormat.e4m3, .e5m2])
  func isaAndThreadInvariance(format: ElementFormat) throws {
    var rng = SplitMix64(seed: 77 + UInt64(format.rawValue))
    let m = 19, n = 37, k = 300
    let ab = randomBytes(m * k, &rng, format: format), bb = randomBytes(k * n, &rng, format: format)
    // B stored transposed (N×K) to exercise the layout path
    var bt = [UInt8](repeating: 0, count: k * n)
    for r in 0..<k { for c in 0..<n { bt[c * k + r] = bb[r * n + c] } }
    let a = try TensorCoreOperand(storage: .bytes(ab), format: format, rows: m, cols: k)
    let b = try TensorCoreOperand(storage: .bytes(bt), format: format, rows: k, cols: n, transposed: true)
    let bPlain = try TensorCoreOperand(storage: .bytes(bb), format: format, rows: k, cols: n)
    let kb = (k + 127) / 128
    let sa = (0..<(m * kb)).map { _ in Float(1 + rng.next() % 4) / 4 }, sb = (0..<kb).map { _ in Float(1 + rng.next() % 4) / 8 }
    let mxa = (0..<(m * ((k + 31) / 32))).map { _ in UInt8(120 + rng.next() % 14) }
    let mxb = (0..<(((k + 31) / 32) * n)).map { _ in UInt8(120 + rng.next() % 14) }
    let init0 = (0..<(m * n)).map { _ in Float(Int(rng.next() % 200) - 100) / 16 }
    let cases: [(Numerics, TensorCoreScaling, [Float]?)] = [
      (.gpu(.h100, accumulation: .fast), .none, nil), (.gpu(.h100, accumulation: .promoted), .none, init0),
      (.gpu(.ada, accumulation: .fast), .tensor(a: 0.5, b: 3), init0), (.gpu(.h100, accumulation: .promoted(every: 64)), .block(a: sa, b: sb), nil),
      (.gpu(.b200, accumulation: .fast), .rowwise(a: (0..<m).map { Float($0 + 1) }, b: (0..<n).map { 1 / Float($0 + 1) }), nil),
      (.gpu(.h100, accumulation: .fast), .mx(a: mxa, b: mxb), nil), (.gpu(.a100, accumulation: .promoted), .none, nil),
      (.ideal, .none, init0), (.ideal, .block(a: sa, b: sb), nil), (.exact, .none, nil),
      (.gpu(.h100, accumulation: .promoted(every: 40)), .none, init0),  // blocks cut at the interval: 32 + 8
    ]
    for (numerics, scaling, acc) in cases {
      let reference = try TensorCoreGEMM.matmul(a, bPlain, accumulator: acc, numerics: numerics, scaling: scaling, isa: .scalar, threads: 1)
      for isa in ISA.supported {
        for threads in [1, 2, 3] {
          let d = try TensorCoreGEMM.matmul(a, b, accumulator: acc, numerics: numerics, scaling: scaling, isa: isa, threads: threads)
          #expect(d.map(\.bitPattern) == reference.map(\.bitPattern), "\(numerics) \(scaling) \(isa) threads \(threads)")
        }
      }
    }
  }

  // Special values through the matrix product on every path: a NaN in row 0 of A poisons row 0
  // only; an E5M2 Inf in column 1 of B makes column 1 infinite (or NaN against a zero).
  @Test func specialValuesInMatrices() throws {
    let k = 40
    var av = [Float](repeating: 1, count: 3 * k), bv = [Float](repeating: 0.5, count: k * 17)
    av[5] = .nan
    bv[7 * 17 + 1] = .infinity
    av[2 * k + 7] = 0
    let a = try operand(av, .e5m2, 3, k), b = try operand(bv, .e5m2, k, 17)
    for isa in ISA.supported {
      for numerics in [Numerics.gpu(.h100, accumulation: .fast), .gpu(.h100, accumulation: .promoted), .ideal] {
        let d = try TensorCoreGEMM.matmul(a, b, numerics: numerics, isa: isa)
        #expect(d[0..<17].allSatisfy { $0.isNaN }, "\(numerics) \(isa)")
        #expect(d[17 + 1] == .infinity)
        #expect(d[17 + 0] == 20)
        #expect(d[34 + 1].isNaN)  // Inf × 0
        // Every NaN is the block model's canonical 0x7FFFFFFF, whatever NaN the CPU makes (x86-64's
        // default NaN is negative, AArch64's positive), so the bits agree across machines.
        #expect(d.filter(\.isNaN).allSatisfy { $0.bitPattern == 0x7FFF_FFFF }, "\(numerics) \(isa)")
      }
    }
  }

  // Scales: per-tensor and row-wise multiply the FP32 accumulator (acc·(sa·sb)); the epilogue
  // computes alpha·v, then fma(beta, c, ·), then + bias. Checked against the unscaled product.
  @Test func scalingAndEpilogue() throws {
    var rng = SplitMix64(seed: 5)
    let m = 3, n = 20, k = 70
    let a = try TensorCoreOperand(storage: .bytes(randomBytes(m * k, &rng, format: .e4m3)), format: .e4m3, rows: m, cols: k)
    let b = try TensorCoreOperand(storage: .bytes(randomBytes(k * n, &rng, format: .e4m3)), format: .e4m3, rows: k, cols: n)
    let num = Numerics.gpu(.h100, accumulation: .promoted)
    let raw = try TensorCoreGEMM.matmul(a, b, numerics: num)
    let ra = (0..<m).map { Float($0) + 0.3 }, rb = (0..<n).map { Float($0) * 0.7 + 0.1 }
    let c = (0..<(m * n)).map { Float($0) / 3 }, bias = (0..<n).map { Float($0) - 5 }
    let rowwise = try TensorCoreGEMM.matmul(a, b, numerics: num, scaling: .rowwise(a: ra, b: rb), alpha: 1.5, beta: 0.25, c: c, bias: bias)
    for i in 0..<m {
      for j in 0..<n {
        let v = 1.5 * (raw[i * n + j] * (ra[i] * rb[j]))
        #expect(rowwise[i * n + j] == v.addingProduct(0.25, c[i * n + j]) + bias[j])
      }
    }
    let tensor = try TensorCoreGEMM.matmul(a, b, numerics: num, scaling: .tensor(a: 2, b: 0.375))
    #expect(tensor == raw.map { $0 * (2 * 0.375) })
    // block scales at promotion: acc = fma(sa·sb, partial, acc) with partials of 128 (K = 70: one)
    let blk = try TensorCoreGEMM.matmul(a, b, numerics: num, scaling: .block(a: [0.5, 0.25, 2], b: [3]))
    for i in 0..<m { for j in 0..<n { #expect(blk[i * n + j] == raw[i * n + j] * ([0.5, 0.25, 2][i] * 3)) } }
    // MX with every scale 2^0 is no scaling; 2^3 on A multiplies by 8 exactly (E4M3 range kept)
    let kb = (k + 31) / 32
    let mx1 = try TensorCoreGEMM.matmul(a, b, numerics: num, scaling: .mx(a: .init(repeating: 127, count: m * kb), b: .init(repeating: 127, count: kb * n)))
    #expect(mx1.map(\.bitPattern) == raw.map(\.bitPattern))
    let mx8 = try TensorCoreGEMM.matmul(a, b, numerics: num, scaling: .mx(a: .init(repeating: 130, count: m * kb), b: .init(repeating: 127, count: kb * n)))
    #expect(mx8 == raw.map { $0 * 8 })
    // bad arguments are errors, not crashes
    #expect(throws: FP8Error.self) { try TensorCoreGEMM.matmul(a, b, numerics: .gpu(.h100, accumulation: .fast), scaling: .block(a: [1, 1, 1], b: [1])) }
    #expect(throws: FP8Error.self) { try TensorCoreGEMM.matmul(a, b, numerics: num, scaling: .tensor(a: .nan, b: 1)) }
    #expect(throws: FP8Error.self) { try TensorCoreGEMM.matmul(a, a, numerics: num) }
    #expect(throws: FP8Error.self) { try TensorCoreGEMM.matmul(a, b, numerics: .gpu(.h100, accumulation: .promoted(every: 0))) }
  }

  // Hybrid FP16 (A100 has no FP8 tensor cores): the FP8 data is widened to FP16 and runs under
  // the A100 FP16 model, exactly as FP16 operands holding the same values.
  @Test func hybridFP16OnAmpere() throws {
    var rng = SplitMix64(seed: 9)
    let ab = randomBytes(4 * 64, &rng, format: .e4m3), bb = randomBytes(64 * 16, &rng, format: .e4m3)
    let a = try TensorCoreOperand(storage: .bytes(ab), format: .e4m3, rows: 4, cols: 64)
    let b = try TensorCoreOperand(storage: .bytes(bb), format: .e4m3, rows: 64, cols: 16)
    let a16 = try operand(try FP8Conversion.decode(ab, from: .e4m3), .fp16, 4, 64)
    let b16 = try operand(try FP8Conversion.decode(bb, from: .e4m3), .fp16, 64, 16)
    let hybrid = try TensorCoreGEMM.matmul(a, b, numerics: .gpu(.a100, accumulation: .fast))
    let fp16 = try TensorCoreGEMM.matmul(a16, b16, numerics: .gpu(.a100, accumulation: .fast))
    #expect(hybrid.map(\.bitPattern) == fp16.map(\.bitPattern))
    let abf = try operand([1, 2], .bf16, 1, 2), bbf = try operand([1, 2], .bf16, 2, 1)
    #expect(throws: FP8Error.self) { try TensorCoreGEMM.matmul(abf, bbf, numerics: .gpu(.v100, accumulation: .fast)) }
  }
}

@Suite("Tensor-core matrix products, 16-bit inputs")
struct WideInputGEMMTests {
  @Test("bits do not depend on ISA or thread count", arguments: [TensorCoreInput.fp16, .bf16, .tf32, .e4m3])
  func isaAndThreadInvariance(input: TensorCoreInput) throws {
    var rng = SplitMix64(seed: 1234 + UInt64(input.elementFormat.rawValue))
    let m = 9, n = 21, k = 77
    let a = try TensorCoreOperand(values: (0..<(m * k)).map { _ in randomValue(input, &rng) }, input: input, rows: m, cols: k)
    let b = try TensorCoreOperand(values: (0..<(k * n)).map { _ in randomValue(input, &rng) }, input: input, rows: k, cols: n)
    var initial = (0..<(m * n)).map { _ in Float(Int(rng.next() % 2000) - 1000) / 64 }
    initial[3] = -0.0
    for gpu in GPUArchitecture.presets {
      guard gpu.numerics(for: input) != nil || input.isFP8 else { continue }
      var numerics: [Numerics] = [.gpu(gpu, accumulation: .fast), .gpu(gpu, accumulation: .promoted(every: 32))]
      if let m16 = gpu.numerics(for: input, accumulator: .fp16) {  // FP16 accumulator (FP16 inputs)
        numerics += [.model(m16, accumulation: .fast), .model(m16, accumulation: .promoted(every: 64))]
      }
      for num in numerics {
        for accInit in [nil, initial] {
          let reference = try TensorCoreGEMM.matmul(a, b, accumulator: accInit, numerics: num, isa: .scalar, threads: 1)
          for isa in ISA.supported {
            for threads in [1, 3] {
              let d = try TensorCoreGEMM.matmul(a, b, accumulator: accInit, numerics: num, isa: isa, threads: threads)
              #expect(d.map(\.bitPattern) == reference.map(\.bitPattern), "\(gpu.name) \(input) \(num) \(isa) threads \(threads)")
            }
          }
        }
      }
    }
  }
}

@Suite("Tensor-core SIMD range edges")
struct RangeEdgeTests {
  // Starting accumulators from 2^-140 to 2^100 put the alignment point at, inside and beyond the
  // SIMD paths' exact ranges (lanes outside take the scalar block); half the operands are zero,
  // so zero products meet every alignment point. Bits must equal the scalar path's.
  @Test func accumulatorsAcrossTheExponentRange() throws {
    var rng = SplitMix64(seed: 31337)
    let m = 8, n = 32, k = 96
    for format in [ElementFormat.e4m3, .e5m2] {
      let ab = (0..<(m * k)).map { _ -> UInt8 in rng.next() % 2 == 0 ? 0 : UInt8(truncatingIfNeeded: rng.next()) & 0x73 }
      let bb = (0..<(k * n)).map { _ -> UInt8 in rng.next() % 2 == 0 ? 0x80 : UInt8(truncatingIfNeeded: rng.next()) & 0xF3 }
      let a = try TensorCoreOperand(storage: .bytes(ab), format: format, rows: m, cols: k)
      let b = try TensorCoreOperand(storage: .bytes(bb), format: format, rows: k, cols: n)
      let initial = (0..<(m * n)).map { i -> Float in
        let e = -140 + (i * 7) % 241
        return Float(sign: i % 3 == 0 ? .minus : .plus, exponent: e, significand: 1 + Float(i % 5) / 8)
      }
      for gpu in [GPUArchitecture.h100, .ada, .b200, .v100] {
        for acc in [Accumulation.fast, .promoted(every: 32)] {
          let num = Numerics.gpu(gpu, accumulation: acc)
          let reference = try TensorCoreGEMM.matmul(a, b, accumulator: initial, numerics: num, isa: .scalar)
          for isa in ISA.supported {
            let d = try TensorCoreGEMM.matmul(a, b, accumulator: initial, numerics: num, isa: isa, threads: 2)
            #expect(d.map(\.bitPattern) == reference.map(\.bitPattern), "\(format) \(gpu.name) \(acc) \(isa)")
          }
        }
      }
    }
  }
}
