// An independent statement of one block-FMA step with an FP32 accumulator, written from the
// model's definition with integer significands (not the C code's floating-point shortcuts):
// every finite value is m·2^q with an integer m; a product is (m_a·m_b)·2^(q_a+q_b); truncating a
// term to a multiple of 2^(E−F) is an integer shift toward zero.
import TensorCores

/// Integer significand and exponent of a finite non-zero Float (value = m · 2^q, m < 2^24).
func decompose(_ x: Float) -> (neg: Bool, m: Int64, q: Int) {
  let bits = x.bitPattern
  let be = Int((bits >> 23) & 0xFF)
  let frac = Int64(bits & 0x7F_FFFF)
  return be == 0 ? (x < 0, frac, -149) : (x < 0, frac | 0x80_0000, be - 150)
}

/// Exponent of a format value for alignment: floor(log2|x|), at least the format's minimum.
func modelExponent(_ x: Float, emin: Int) -> Int { max(Int(x.exponent), emin) }

func formatEmin(_ input: TensorCoreInput) -> Int {
  switch input {
  case .e4m3: return -6
  case .e5m2, .fp16: return -14
  case .bf16, .tf32: return -126
  }
}

/// (sign, integer) → Float for |value| = n·2^s, rounded toward zero to 24 bits (no subnormal
/// results in the tests that use it).
func floatTowardZero(neg: Bool, _ n: Int64, scale s: Int) -> Float {
  if n == 0 { return 0 }
  var n = n, s = s
  while n >= 1 << 24 { n >>= 1; s += 1 }
  let v = Float(sign: neg ? .minus : .plus, exponent: s, significand: Float(n))
  return v
}

/// One block, FP32 accumulator, c fused (all presets except B200 FP8). Finite inputs only.
func oracleBlock(_ a: [Float], _ b: [Float], c: Float, input: TensorCoreInput, model: BlockFMAModel) -> Float {
  let emin = formatEmin(input)
  var terms: [(neg: Bool, m: Int64, q: Int, e: Int)] = []
  for (x, y) in zip(a, b) where x != 0 && y != 0 {
    let (nx, mx, qx) = decompose(x), (ny, my, qy) = decompose(y)
    terms.append((nx != ny, mx * my, qx + qy, modelExponent(x, emin: emin) + modelExponent(y, emin: emin)))
  }
  if c != 0 {
    let (nc, mc, qc) = decompose(c)
    terms.append((nc, mc, qc, Int(c.exponent)))
  }
  guard var e = terms.map(\.e).max() else { return 0 }
  if let floor = model.minExponent { e = max(e, floor) }
  let f = model.fractionBits
  var sum: Int64 = 0
  for t in terms {
    let shift = t.q - (e - f)  // term = m · 2^shift units of 2^(E−F)
    let units = shift >= 0 ? t.m << shift : (shift <= -63 ? 0 : t.m >> -shift)
    sum += t.neg ? -units : units
  }
  var mag = sum.magnitude
  if f < 23 && mag != 0 {
    let top = 63 - mag.leadingZeroBitCount
    if top > f { mag = (mag >> (top - f)) << (top - f) }
  }
  return floatTowardZero(neg: sum < 0, Int64(mag), scale: e - f)
}
