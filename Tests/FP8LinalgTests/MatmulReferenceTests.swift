// Every scaling mode and operand format against the FP64 reference (error bound from K and the
// formats) and against the FP32 replay of the contract's FMA chains (exact bits).
import FP8
import FP8Linalg
import Testing
import _TestSupport

/// The bits of D must equal the contract replay, and D must lie within the FP64 bound.
func checkAgainstOracles(
  _ a: Matrix, _ b: Matrix, scaling: ScalingRecipe, epilogue: Epilogue = .identity, isa: ISA = .auto,
  threads: Int = 0, label: String
) throws {
  let result = try matmul(a, b, scaling: scaling, epilogue: epilogue, isa: isa, threads: threads)
  let (m, n) = (a.rows, b.columns)
  #expect(result.d.rows == m && result.d.columns == n)
  let d = result.d.decoded()
  let (exact, bound) = fp64Reference(a, b, scaling: scaling, epilogue: epilogue)
  let replay = contractReference(a, b, scaling: scaling, epilogue: epilogue)
  var worst = 0.0, bitMismatches = 0, boundFailures = 0
  for i in 0..<(m * n) {
    if epilogue.outputFormat == .f32 {
      if d[i].bitPattern != replay[i].bitPattern { bitMismatches += 1 }
    }
    var ref = exact[i], tol = bound[i]
    if epilogue.outputFormat.isFP8 {
      let s = Double(epilogue.outputScale), maxV = Double(epilogue.outputFormat.maxFinite)
      ref = min(max(ref * s, -maxV), maxV)  // satfinite is 1-Lipschitz: the bound carries over
      tol = tol * abs(s) + outputHalfULP(ref, epilogue.outputFormat)
      // t·scale itself is one more FP32 rounding before the encode
      tol += 0x1p-24 * (abs(exact[i] * s) + bound[i] * abs(s))
    } else if epilogue.outputFormat != .f32 {
      tol += outputHalfULP(ref, epilogue.outputFormat)
    }
    let err = abs(Double(d[i]) - ref)
    if !(err <= tol) { boundFailures += 1 }
    if tol > 0 { worst = max(worst, err / tol) }
  }
  #expect(bitMismatches == 0, "\(label): \(bitMismatches) elements differ from the FMA-chain replay")
  #expect(boundFailures == 0, "\(label): \(boundFailures) elements outside the FP64 error bound (worst \(worst)×)")
  // amax is max |t| over D before the output scale
  let replayAmax = replay.reduce(Float(0)) { max($0, abs($1)) }
  #expect(result.amax == replayAmax, "\(label): amax \(result.amax) vs \(replayAmax)")
}

@Suite struct MatmulReferenceTests {
  static let formatPairs: [(ElementFormat, ElementFormat)] = [
    (.e4m3, .e4m3), (.e4m3, .e5m2), (.e5m2, .e4m3), (.e5m2, .e5m2), (.e4m3fnuz, .e5m2fnuz),
    (.f16, .f16), (.bf16, .bf16), (.f32, .f32), (.e4m3, .bf16),
  ]

  @Test(arguments: scalingKinds)
  func everyModeAndOperandFormat(kind: String) throws {
    var rng = SplitMix64(seed: 0x6E11 &+ UInt64(kind.count))
    for (fa, fb) in Self.formatPairs {
      if kind == "mxfp8", !(fa.isFP8 && fb.isFP8) { continue }
      for (m, n, k) in [(17, 33, 129), (3, 70, 300), (30, 16, 257)] {
        let a = randomMatrix(rows: m, columns: k, format: fa, rng: &rng)
        let b = randomMatrix(rows: k, columns: n, format: fb, rng: &rng)
        let s = randomScaling(kind, m: m, n: n, k: k, rng: &rng)
        try checkAgainstOracles(a, b, scaling: s, label: "\(kind) \(fa)×\(fb) \(m)×\(n)×\(k)")
      }
    }
  }

  /// Shapes that hit every edge tile of every kernel (MR 4/6/14, NR 8/16/32), K = 0, transposes
  /// and leading dimensions larger than the rows.
  @Test func edgeTilesLayoutsAndStrides() throws {
    var rng = SplitMix64(seed: 42)
    let sizes = [0, 1, 15, 16, 17, 31, 33, 63, 65, 127, 129]
    var case_ = 0
    for (idx, m) in sizes.enumerated() {
      for isa in ISA.supported {
        let n = sizes[(idx * 3 + 1) % sizes.count], k = sizes[(idx * 7 + 2) % sizes.count]
        let la: MatrixLayout = case_ % 2 == 0 ? .rowMajor : .columnMajor
        let lb: MatrixLayout = (case_ / 2) % 2 == 0 ? .rowMajor : .columnMajor
        case_ += 1
        let a = randomMatrix(rows: m, columns: k, format: .e4m3, layout: la, extraLD: case_ % 3, rng: &rng)
        let b = randomMatrix(rows: k, columns: n, format: .e5m2, layout: lb, extraLD: (case_ + 1) % 4, rng: &rng)
        for kind in ["none", "block"] {
          try checkAgainstOracles(
            a, b, scaling: randomScaling(kind, m: m, n: n, k: k, rng: &rng), isa: isa,
            label: "\(isa) \(kind) \(m)×\(n)×\(k) \(la)/\(lb)")
        }
      }
    }
    // K = 0: D = beta·C + bias
    let a = try Matrix.zeros(rows: 5, columns: 0, format: .e4m3), b = try Matrix.zeros(rows: 0, columns: 7, format: .e4m3)
    let c = randomMatrix(rows: 5, columns: 7, format: .f32, rng: &rng)
    let e = Epilogue(alpha: 2, beta: 0.5, c: c, bias: (0..<7).map { Float($0) })
    try checkAgainstOracles(a, b, scaling: .none, epilogue: e, label: "K = 0")
  }

  @Test func epilogueOutputsAndAmax() throws {
    var rng = SplitMix64(seed: 7)
    let (m, n, k) = (19, 45, 200)
    let a = randomMatrix(rows: m, columns: k, format: .e4m3, rng: &rng)
    let b = randomMatrix(rows: k, columns: n, format: .e5m2, layout: .columnMajor, rng: &rng)
    let c = randomMatrix(rows: m, columns: n, format: .bf16, layout: .columnMajor, rng: &rng)
    let bias = (0..<n).map { Float($0) / 8 - 2 }
    for format in [ElementFormat.f32, .f16, .bf16, .e4m3, .e5m2, .e4m3fnuz] {
      for kind in ["tensor", "rowwise"] {
        let e = Epilogue(alpha: 0.75, beta: -1.5, c: c, bias: bias, outputFormat: format, outputScale: 0.01)
        try checkAgainstOracles(a, b, scaling: randomScaling(kind, m: m, n: n, k: k, rng: &rng), epilogue: e,
                                label: "output \(format) \(kind)")
      }
    }
  }

  /// MXFP8 folds 2^(e−127) into the decoded operands: exact down to the smallest E8M0 scale (FP32
  /// subnormal results), and ±Inf once a scaled operand exceeds the FP32 range.
  @Test func mxScaleFoldingEdgeCases() throws {
    // a = 2^-9 (E4M3 0x01) times 2^-127 is 2^-136, an FP32 subnormal; b = 1 times 2^127.
    let a = try Matrix(rows: 1, columns: 32, format: .e4m3, bits: [0x01] + [UInt8](repeating: 0, count: 31))
    let b = try Matrix(rows: 32, columns: 1, format: .e4m3, bits: [0x38] + [UInt8](repeating: 0, count: 31))
    #expect(b[0, 0] == 1)
    let tiny = try matmul(a, b, scaling: .mxfp8(a: [0x00], b: [0xFE]))
    #expect(tiny.d[0, 0] == 0x1p-9 * 0x1p-127 * 0x1p127)
    // 448 · 2^120 overflows FP32: the scaled operand is +Inf, and so is D.
    let big = try Matrix(rows: 1, columns: 32, format: .e4m3, bits: [0x7E] + [UInt8](repeating: 0, count: 31))
    let inf = try matmul(big, b, scaling: .mxfp8(a: [127 + 120], b: [127]))
    #expect(Float(448) * 0x1p120 == .infinity)
    #expect(inf.d[0, 0] == .infinity)
    // 448 · 2^119 is finite: exact
    let fin = try matmul(big, b, scaling: .mxfp8(a: [127 + 119], b: [127]))
    #expect(Double(fin.d[0, 0]) == 448 * 0x1p119)
  }

  @Test func nanAndInfinityPropagateAndAmaxIsNaN() throws {
    let a = try Matrix(rows: 2, columns: 2, format: .e5m2, bits: [0x7C, 0x00, 0x3C, 0x3C])  // +Inf, 0; 1, 1
    let b = try Matrix(rows: 2, columns: 2, format: .e5m2, bits: [0x3C, 0x3C, 0x3C, 0x3C])
    let r = try matmul(a, b)
    #expect(r.d[0, 0] == .infinity && r.d[1, 0] == 2)
    #expect(r.amax == .infinity)
    let nanA = try Matrix(rows: 2, columns: 2, format: .e4m3, bits: [0x7F, 0x00, 0x38, 0x38])
    let r2 = try matmul(nanA, try Matrix(rows: 2, columns: 2, format: .e4m3, bits: [0x38, 0x38, 0x38, 0x38]))
    #expect(r2.d[0, 0].isNaN && r2.d[1, 1] == 2)
    #expect(r2.amax.isNaN)
  }
}

@Suite struct MatmulReadmeExampleTests {
  /// The README's example, checked by hand: A·B = [[7, 8], [896.5, 895]], scale 0.5·2 = 1, bias
  /// [1, −1] gives [[8, 7], [897.5, 894]] (amax 897.5); ×0.25 and E4M3 RNE (spacing 16 in
  /// [128, 256)) gives [[2, 1.75], [224, 224]].
  @Test func readmeExample() throws {
    let a = try Matrix(rows: 2, columns: 3, format: .e4m3, values: [1, 2, 3, 0.5, -1, 448])
    let b = try Matrix(rows: 3, columns: 2, format: .e5m2, layout: .columnMajor, values: [1, 0, 0, 1, 2, 2])
    let r = try matmul(a, b, scaling: .perTensor(a: 0.5, b: 2),
                       epilogue: Epilogue(bias: [1, -1], outputFormat: .e4m3, outputScale: 0.25))
    #expect(r.d.decoded() == [2, 1.75, 224, 224])
    #expect(r.amax == 897.5)
  }
}
