import FP8

/// Gradient-like test data: tensors of `counts` elements whose magnitudes change every 64
/// elements over 2^-24 ... 2^2 (so that per-tensor and per-tile scales differ), the same for the
/// same (seed, index) everywhere.
public func syntheticGradients(counts: [Int], seed: UInt64, index: Int) -> [[Float]] {
  var rng = SplitMix64(seed: seed &+ 0x5851_F42D_4C95_7F2D &* UInt64(index + 1))
  return counts.map { n in
    var e = 0
    return (0..<n).map { j in
      if j % 64 == 0 { e = Int(rng.next() % 27) - 24 }
      let u = Float(rng.next() >> 40) / Float(1 << 24) - 0.5
      return u * Float(sign: .plus, exponent: e, significand: 1)
    }
  }
}
