// Oracles for the GEMM tests, written from the contract in cfp8_gemm.h / ScalingRecipe docs:
// an FP64 reference with an error bound derived from K and the formats, and an FP32 reference that
// replays the specified FMA chains (Float.addingProduct is a fused multiply-add) for exact bits.
import FP8
import FP8Linalg
import _TestSupport

/// Random operands whose values are finite and bounded (subnormals included).
func randomMatrix(
  rows: Int, columns: Int, format: ElementFormat, layout: MatrixLayout = .rowMajor, extraLD: Int = 0,
  maxMagnitude: Float = 16, rng: inout SplitMix64
) -> Matrix {
  let length = layout == .rowMajor ? columns : rows
  let ld = max(1, length) + extraLD
  let count = Matrix.storageElementCount(rows: rows, columns: columns, layout: layout, leadingDimension: ld)
  var bytes = [UInt8](repeating: 0, count: count * format.byteSize)
  for i in 0..<count {
    switch format {
    case .f32:
      let v = Float(Int(rng.next() % 2001) - 1000) / 64 * (rng.next() % 7 == 0 ? 0x1p-20 : 1)
      withUnsafeBytes(of: v.bitPattern) { for b in 0..<4 { bytes[4 * i + b] = $0[b] } }
    case .f16, .bf16:
      var h: UInt16
      repeat {
        h = UInt16(truncatingIfNeeded: rng.next())
      } while !(decodeWide(h, format).isFinite && abs(decodeWide(h, format)) <= maxMagnitude)
      bytes[2 * i] = UInt8(truncatingIfNeeded: h); bytes[2 * i + 1] = UInt8(truncatingIfNeeded: h >> 8)
    default:
      var b: UInt8
      repeat {
        b = UInt8(truncatingIfNeeded: rng.next())
      } while !(CKernels.decodeReference(b, format: format.rawValue).isFinite
        && abs(CKernels.decodeReference(b, format: format.rawValue)) <= maxMagnitude)
      bytes[i] = b
    }
  }
  return try! Matrix(rows: rows, columns: columns, format: format, layout: layout, leadingDimension: ld, storage: bytes)
}

func decodeWide(_ h: UInt16, _ format: ElementFormat) -> Float {
  format == .bf16 ? Float(bitPattern: UInt32(h) << 16) : Float(Float16(bitPattern: h))
}

/// Random scales of the recipe's kind and shape (powers of two and non-dyadic values mixed).
func randomScaling(_ kind: String, m: Int, n: Int, k: Int, rng: inout SplitMix64) -> ScalingRecipe {
  func scale() -> Float { Float(rng.next() % 1000 + 1) / 300 }
  func ceilDiv(_ x: Int, _ y: Int) -> Int { (x + y - 1) / y }
  switch kind {
  case "tensor": return .perTensor(a: scale(), b: scale())
  case "rowwise": return .rowwise(a: (0..<m).map { _ in scale() }, b: (0..<n).map { _ in scale() })
  case "block":
    let kb = ceilDiv(k, 128)
    return .blockwise(a: (0..<(m * kb)).map { _ in scale() }, b: (0..<(kb * ceilDiv(n, 128))).map { _ in scale() })
  case "mxfp8":
    let kq = ceilDiv(k, 32)
    return .mxfp8(a: (0..<(m * kq)).map { _ in UInt8(120 + rng.next() % 14) },
                  b: (0..<(kq * n)).map { _ in UInt8(120 + rng.next() % 14) })
  default: return .none
  }
}

let scalingKinds = ["none", "tensor", "rowwise", "block", "mxfp8"]

func e8m0(_ b: UInt8) -> Double { Double(sign: .plus, exponent: Int(b) - 127, significand: 1) }

/// γ_n = n·u / (1 − n·u), u = 2^-24: the bound of n FP32 roundings in a chain.
func gamma(_ n: Int) -> Double {
  let nu = Double(n) * 0x1p-24
  return nu / (1 - nu)
}

/// Exact (FP64) value of each element of D before output rounding, and a rigorous bound on the
/// distance of the FP32 computation from it.
func fp64Reference(_ a: Matrix, _ b: Matrix, scaling: ScalingRecipe, epilogue: Epilogue)
  -> (values: [Double], bounds: [Double])
{
  let (m, n, k) = (a.rows, b.columns, a.columns)
  let av = a.decoded(), bv = b.decoded()
  let cv = epilogue.beta != 0 ? epilogue.c!.decoded() : []
  let kb = (k + 127) / 128, kq = (k + 31) / 32, nb = (n + 127) / 128
  // roundings per chain: K FMAs, the scale product and its multiply, block combination per block,
  // and three in the epilogue
  let roundings = k + 2 + (kb + 1) + 3
  var values = [Double](repeating: 0, count: m * n), bounds = values
  for i in 0..<m {
    for j in 0..<n {
      var exact = 0.0, absSum = 0.0
      for kk in 0..<k {
        var s = 1.0
        switch scaling {
        case .none: break
        case .perTensor(let sa, let sb): s = Double(sa) * Double(sb)
        case .rowwise(let sa, let sb): s = Double(sa[i]) * Double(sb[j])
        case .blockwise(let sa, let sb): s = Double(sa[i * kb + kk / 128]) * Double(sb[(kk / 128) * nb + j / 128])
        case .mxfp8(let sa, let sb): s = e8m0(sa[i * kq + kk / 32]) * e8m0(sb[(kk / 32) * n + j])
        }
        let p = s * Double(av[i * k + kk]) * Double(bv[kk * n + j])
        exact += p
        absSum += abs(p)
      }
      let alpha = Double(epilogue.alpha), beta = Double(epilogue.beta)
      var t = alpha * exact, mag = abs(alpha) * absSum
      if beta != 0 { t += beta * Double(cv[i * n + j]); mag += abs(beta * Double(cv[i * n + j])) }
      if let bias = epilogue.bias { t += Double(bias[j]); mag += abs(Double(bias[j])) }
      values[i * n + j] = t
      // relative part, plus an absolute part for FP32 subnormal products
      bounds[i * n + j] = gamma(roundings) * mag + Double(roundings) * 0x1p-149
    }
  }
  return (values, bounds)
}

/// The FP32 value t of every element of D, replaying the contract's operations one by one.
func contractReference(_ a: Matrix, _ b: Matrix, scaling: ScalingRecipe, epilogue: Epilogue) -> [Float] {
  let (m, n, k) = (a.rows, b.columns, a.columns)
  var av = a.decoded(), bv = b.decoded()
  let kb = (k + 127) / 128, kq = (k + 31) / 32, nb = (n + 127) / 128
  if case .mxfp8(let sa, let sb) = scaling {  // folded into the operands in FP32
    for i in 0..<m { for kk in 0..<k { av[i * k + kk] *= Float(e8m0(sa[i * kq + kk / 32])) } }
    for kk in 0..<k { for j in 0..<n { bv[kk * n + j] *= Float(e8m0(sb[(kk / 32) * n + j])) } }
  }
  let cv = epilogue.beta != 0 ? epilogue.c!.decoded() : []
  var out = [Float](repeating: 0, count: m * n)
  for i in 0..<m {
    for j in 0..<n {
      var v: Float = 0
      if case .blockwise(let sa, let sb) = scaling {
        for q in 0..<kb {
          var partial: Float = 0
          for kk in (q * 128)..<min(k, q * 128 + 128) { partial = partial.addingProduct(av[i * k + kk], bv[kk * n + j]) }
          let s = sa[i * kb + q] * sb[q * nb + j / 128]
          v = v.addingProduct(s, partial)
        }
      } else {
        for kk in 0..<k { v = v.addingProduct(av[i * k + kk], bv[kk * n + j]) }
      }
      switch scaling {
      case .perTensor(let sa, let sb): v = v * (sa * sb)
      case .rowwise(let sa, let sb): v = v * (sa[i] * sb[j])
      default: break
      }
      var t = epilogue.alpha * v
      if epilogue.beta != 0 { t = t.addingProduct(epilogue.beta, cv[i * n + j]) }
      if let bias = epilogue.bias { t = t + bias[j] }
      out[i * n + j] = t
    }
  }
  return out
}

/// Half a unit in the last place of `format` at |x| (for the final output rounding), with the
/// format's subnormal spacing as the floor.
func outputHalfULP(_ x: Double, _ format: ElementFormat) -> Double {
  let (mant, minExp): (Int, Int)
  switch format {
  case .f32: (mant, minExp) = (23, -126)
  case .f16: (mant, minExp) = (10, -14)
  case .bf16: (mant, minExp) = (7, -126)
  case .e4m3: (mant, minExp) = (3, -6)
  case .e5m2: (mant, minExp) = (2, -14)
  case .e4m3fnuz: (mant, minExp) = (3, -7)
  default: (mant, minExp) = (2, -15)
  }
  let e = x == 0 ? minExp : max(minExp, Int(x.magnitude.exponent))
  return Double(sign: .plus, exponent: e - mant - 1, significand: 1)
}
