// Shape, stride, scale-shape and format errors are rejected with the right typed error, in Swift
// and again by the C engine.
import FP8
import FP8Linalg
import Testing
import _TestSupport

@Suite struct MatmulErrorTests {
  let a: Matrix
  let b: Matrix
  init() throws {
    var rng = SplitMix64(seed: 1)
    a = randomMatrix(rows: 3, columns: 130, format: .e4m3, rng: &rng)
    b = randomMatrix(rows: 130, columns: 5, format: .e5m2, rng: &rng)
  }

  func expectError(_ expected: (FP8Error) -> Bool, _ label: String, _ body: () throws -> Void) {
    do {
      try body()
      Issue.record("\(label): no error thrown")
    } catch let error as FP8Error {
      #expect(expected(error), "\(label): got \(error)")
    } catch {
      Issue.record("\(label): untyped error \(error)")
    }
  }

  @Test func shapeMismatches() {
    expectError({ if case .badShape = $0 { true } else { false } }, "inner dimensions") { _ = try matmul(a, a) }
    expectError({ if case .badShape = $0 { true } else { false } }, "bias length") {
      _ = try matmul(a, b, epilogue: Epilogue(bias: [1, 2]))
    }
    expectError({ if case .badShape = $0 { true } else { false } }, "C shape") {
      _ = try matmul(a, b, epilogue: Epilogue(beta: 1, c: try Matrix.zeros(rows: 3, columns: 4, format: .f32)))
    }
    expectError({ if case .badShape = $0 { true } else { false } }, "beta without C") {
      _ = try matmul(a, b, epilogue: Epilogue(beta: 1))
    }
    expectError({ if case .badShape = $0 { true } else { false } }, "storage size") {
      _ = try Matrix(rows: 2, columns: 2, format: .e4m3, bits: [1, 2, 3])
    }
  }

  @Test func strideErrors() {
    expectError({ if case .badStride = $0 { true } else { false } }, "row-major ld") {
      _ = try Matrix(rows: 2, columns: 4, format: .e4m3, leadingDimension: 3, storage: [UInt8](repeating: 0, count: 7))
    }
    expectError({ if case .badStride = $0 { true } else { false } }, "column-major ld") {
      _ = try Matrix(rows: 4, columns: 2, format: .f16, layout: .columnMajor, leadingDimension: 2,
                     storage: [UInt8](repeating: 0, count: 12))
    }
    // the C engine checks again
    let bytes = [UInt8](repeating: 0x38, count: 16)
    bytes.withUnsafeBufferPointer { p in
      let op = GEMMOperandDescriptor(data: UnsafeRawPointer(p.baseAddress), format: 0, transposed: false, leadingDimension: 3)
      let ok = GEMMOperandDescriptor(data: UnsafeRawPointer(p.baseAddress), format: 0, transposed: false, leadingDimension: 4)
      var d = [Float](repeating: 0, count: 16)
      d.withUnsafeMutableBufferPointer { pd in
        func call(_ x: GEMMOperandDescriptor, ldd: Int = 4, mode: GEMMScalingMode = .none) throws {
          try CKernels.gemm(
            m: 4, n: 4, k: 4, a: x, b: ok, mode: mode, aScales: nil, bScales: nil, aMX: nil, bMX: nil, alpha: 1, beta: 0,
            c: nil, ldc: 0, bias: nil, d: UnsafeMutableRawPointer(pd.baseAddress), dFormat: 18, ldd: ldd, dScale: 1,
            amax: nil, isa: -1, threads: 1)
        }
        expectError({ if case .badStride = $0 { true } else { false } }, "C: lda") { try call(op) }
        expectError({ if case .badStride = $0 { true } else { false } }, "C: ldd") { try call(ok, ldd: 2) }
        expectError({ if case .badScale = $0 { true } else { false } }, "C: missing scales") { try call(ok, mode: .tensor) }
        expectError({ if case .invalidArgument = $0 { true } else { false } }, "C: negative thread count") {
          try CKernels.gemm(
            m: 4, n: 4, k: 4, a: ok, b: ok, mode: .none, aScales: nil, bScales: nil, aMX: nil, bMX: nil, alpha: 1,
            beta: 0, c: nil, ldc: 0, bias: nil, d: UnsafeMutableRawPointer(pd.baseAddress), dFormat: 18, ldd: 4,
            dScale: 1, amax: nil, isa: -1, threads: -1)
        }
        expectError({ if case .nullPointer = $0 { true } else { false } }, "C: NULL D") {
          try CKernels.gemm(
            m: 4, n: 4, k: 4, a: ok, b: ok, mode: .none, aScales: nil, bScales: nil, aMX: nil, bMX: nil, alpha: 1,
            beta: 0, c: nil, ldc: 0, bias: nil, d: nil, dFormat: 18, ldd: 4, dScale: 1, amax: nil, isa: -1, threads: 1)
        }
        expectError({ if case .badFormat = $0 { true } else { false } }, "C: E8M0 operand") {
          try call(GEMMOperandDescriptor(data: UnsafeRawPointer(p.baseAddress), format: 4, transposed: false,
                                         leadingDimension: 4))
        }
        expectError({ if case .sizeOverflow = $0 { true } else { false } }, "C: huge ld") {
          try call(GEMMOperandDescriptor(data: UnsafeRawPointer(p.baseAddress), format: 0, transposed: false,
                                         leadingDimension: Int.max / 2))
        }
      }
    }
  }

  @Test func scaleShapeErrors() {
    let isBadScale: (FP8Error) -> Bool = { if case .badScale = $0 { true } else { false } }
    // expected counts: rowwise 3 and 5; block 3·2 and 2·1; mxfp8 3·5 and 5·5
    expectError(isBadScale, "rowwise a") { _ = try matmul(a, b, scaling: .rowwise(a: [1, 1], b: [1, 1, 1, 1, 1])) }
    expectError(isBadScale, "rowwise b") { _ = try matmul(a, b, scaling: .rowwise(a: [1, 1, 1], b: [1])) }
    expectError(isBadScale, "block a") { _ = try matmul(a, b, scaling: .blockwise(a: [1, 1, 1], b: [1, 1])) }
    expectError(isBadScale, "block b") { _ = try matmul(a, b, scaling: .blockwise(a: [Float](repeating: 1, count: 6), b: [1])) }
    expectError(isBadScale, "mx a") {
      _ = try matmul(a, b, scaling: .mxfp8(a: [UInt8](repeating: 127, count: 12), b: [UInt8](repeating: 127, count: 25)))
    }
    expectError(isBadScale, "mx NaN") {
      _ = try matmul(a, b, scaling: .mxfp8(a: [UInt8](repeating: 0xFF, count: 15), b: [UInt8](repeating: 127, count: 25)))
    }
    expectError(isBadScale, "non-finite tensor scale") { _ = try matmul(a, b, scaling: .perTensor(a: .nan, b: 1)) }
    expectError(isBadScale, "non-finite rowwise") {
      _ = try matmul(a, b, scaling: .rowwise(a: [1, .infinity, 1], b: [1, 1, 1, 1, 1]))
    }
    expectError(isBadScale, "output scale") {
      _ = try matmul(a, b, epilogue: Epilogue(outputFormat: .e4m3, outputScale: .infinity))
    }
    // the right counts pass
    #expect(throws: Never.self) {
      _ = try matmul(a, b, scaling: .blockwise(a: [Float](repeating: 1, count: 6), b: [1, 1]))
      _ = try matmul(a, b, scaling: .mxfp8(a: [UInt8](repeating: 127, count: 15), b: [UInt8](repeating: 127, count: 25)))
    }
  }

  @Test func formatAndISAErrors() throws {
    let isBadFormat: (FP8Error) -> Bool = { if case .badFormat = $0 { true } else { false } }
    var rng = SplitMix64(seed: 3)
    let h = randomMatrix(rows: 130, columns: 5, format: .f16, rng: &rng)
    expectError(isBadFormat, "mx with f16") {
      _ = try matmul(a, h, scaling: .mxfp8(a: [UInt8](repeating: 127, count: 15), b: [UInt8](repeating: 127, count: 25)))
    }
    expectError(isBadFormat, "e8m0 output") { _ = try matmul(a, b, epilogue: Epilogue(outputFormat: .e8m0)) }
    expectError(isBadFormat, "e8m0 matrix") { _ = try Matrix(rows: 1, columns: 1, format: .e8m0, bits: [1]) }
    expectError({ if case .invalidArgument = $0 { true } else { false } }, "unrepresentable value") {
      _ = try Matrix(rows: 1, columns: 1, format: .e4m3, values: [0.3])
    }
    expectError({ if case .invalidArgument = $0 { true } else { false } }, "negative threads") {
      _ = try matmul(a, b, threads: -1)
    }
    for isa in ISA.allCases where !isa.isSupported {
      expectError({ if case .unsupportedISA = $0 { true } else { false } }, "\(isa)") { _ = try matmul(a, b, isa: isa) }
    }
  }

  @Test func valuesRoundTripThroughEveryFormatAndLayout() throws {
    let values: [Float] = [0, 1, -2, 0.5, 0.25, -14, 3, 0.125]
    for f in [ElementFormat.e4m3, .e5m2, .f16, .bf16, .f32] {
      for layout in [MatrixLayout.rowMajor, .columnMajor] {
        let m = try Matrix(rows: 2, columns: 4, format: f, layout: layout, values: values)
        #expect(m.decoded() == values, "\(f) \(layout)")
        // the transpose is 4×2: element (r, c) is values[c * 4 + r]
        let expectedT: [Float] = (0..<8).map { (i: Int) -> Float in values[(i % 2) * 4 + i / 2] }
        let gotT = m.transposed.decoded()
        #expect(gotT == expectedT)
        #expect(m[1, 2] == values[6])
      }
    }
  }
}

@Suite struct MatrixQuantizingTests {
  /// Hand-computed RNE cases: 0.3 lies between the E4M3 values 0.28125 and 0.3125 (nearer the
  /// latter); 500 saturates to 448 under satfinite; 0.3·2 = 0.6 lies between 0.5625 and 0.625
  /// (nearer 0.625); 1 + 2^-9 rounds to 1 in BF16, 1 + 2^-8 + 2^-9 to 1 + 2^-7.
  @Test func roundsToNearestEvenAndSaturates() throws {
    let q = try Matrix(rows: 1, columns: 3, format: .e4m3, quantizing: [0.3, 500, -0.3])
    #expect(q.decoded() == [0.3125, 448, -0.3125])
    let s = try Matrix(rows: 1, columns: 1, format: .e4m3, layout: .columnMajor, quantizing: [0.3], scale: 2)
    #expect(s.decoded() == [0.625])
    let b = try Matrix(rows: 1, columns: 2, format: .bf16, quantizing: [1 + 0x1p-9, 1 + 0x1p-8 + 0x1p-9])
    #expect(b.decoded() == [1, 1 + 0x1p-7])
    let h = try Matrix(rows: 1, columns: 1, format: .f16, quantizing: [1 + 0x1p-12])
    #expect(h.decoded() == [1])
  }
}
