import FP8
import Foundation

/// What a cast did to a tensor, for the monitors.
public struct QuantStats: Sendable, Codable, Equatable {
  /// max |x| of the FP32 input.
  public var amax: Float
  /// The scale (per-tensor recipes) or the smallest group scale.
  public var scale: Float
  /// 10·log10(Σx² / Σ(x − dequant(q))²) (sums per scale group in FP32, then FP64); +Inf when exact.
  public var sqnrDB: Double
  /// Fraction of the elements whose scaled magnitude lay beyond the format's range (they round past
  /// the largest finite value and are clamped to it by the satfinite cast).
  public var saturated: Double
  /// Fraction of the non-zero elements that became zero.
  public var flushed: Double
}

/// A training cast to FP8, Transformer Engine's: per scale group a multiplier `scale` (see
/// ``Scaling``), q = satfinite_RNE(x · scale), dequantisation by `1/scale`. The group amaxes come
/// from the C kernels (`cfp8_amax`, exact).
///
/// This differs from ``Quantizer`` (checkpoints, DeepSeek-V3's reference: s = amax / max_finite,
/// q = x / s) in the last bit of the scale for about a quarter of the groups (fl(1/fl(448/amax))
/// against fl(amax/448)), so each keeps its own convention; MX scales are powers of two, where the
/// two agree.
package struct FP8Cast: Sendable, Hashable {
  /// Where the scale of each group comes from.
  package enum Scale: Sendable, Hashable {
    /// From the group's current amax: max_finite / amax, optionally rounded down to a power of two.
    case current(powerOfTwo: Bool)
    /// One given multiplier for the whole tensor (delayed scaling).
    case fixed(Float)
    /// OCP MX: a power of two per 32 elements, stored as E8M0.
    case mx
  }

  package var format: ElementFormat
  package var granularity: ScaleGranularity
  package var scale: Scale

  package init(format: ElementFormat, granularity: ScaleGranularity, scale: Scale) {
    self.format = format; self.granularity = granularity; self.scale = scale
  }

  /// Casts a rows × cols FP32 matrix (row-major; rows × k for a k-major operand). Returns the FP8
  /// bits with their dequantisation scales (E8M0 bytes for MX), the dequantised values and the
  /// statistics. Without `statistics` (a cast nobody monitors) the dequantised values are empty
  /// (``QuantizedTensor/dequantize(isa:threads:)`` gives them) and the statistics hold the amax,
  /// scale and saturation only (SQNR and flushed fraction NaN): the bits are the same.
  package func apply(_ x: [Float], rows: Int, cols: Int, isa: ISA = .auto, statistics: Bool = true) throws(FP8Error)
    -> (QuantizedTensor, [Float], QuantStats)
  {
    guard format == .e4m3 || format == .e5m2 else { throw .badFormat("cast to \(format) (e4m3 or e5m2)") }
    switch (scale, granularity) {
    case (.mx, .mxfp8), (.fixed, .perTensor), (.current, .perTensor), (.current, .perChannel), (.current, .tile128),
         (.current, .block128): break
    default: throw .invalidArgument("\(scale) scale with \(granularity) granularity")
    }
    let fmax = format.maxFinite
    // A scaled value counts as saturated when it would round past the largest finite value
    // (beyond max + half a step of the top binade: 464 for E4M3, 61440 for E5M2).
    let satThreshold = fmax + Float(sign: .plus, exponent: fmax.exponent - (format == .e5m2 ? 2 : 3) - 1, significand: 1)
    let groupAmax = try granularity.amax(x, rows: rows, cols: cols, isa: isa)
    var amax: Float = 0
    for a in groupAmax { if a.isNaN { amax = .nan; break }; amax = Swift.max(amax, a) }
    let scales: [Float]
    switch scale {
    case .fixed(let s): scales = [s]
    case .current(let p2): scales = groupAmax.map { Scaling.currentScale(amax: $0, fp8Max: fmax, powerOfTwo: p2) }
    case .mx: scales = groupAmax.map { Scaling.mxScale(amax: $0, format: format) }
    }
    // Group index of element (r, c) is (r / gr) * nc + c / gc; the loops walk a row in group-sized
    // runs so that no division happens per element.
    let (gr, gc) = granularity.groupShape ?? (granularity == .perTensor ? (Swift.max(rows, 1), Swift.max(cols, 1)) : (1, Swift.max(cols, 1)))
    let nc = (cols + gc - 1) / gc
    @inline(__always) func forEachRun(_ body: (_ r: Int, _ c0: Int, _ c1: Int, _ group: Int) -> Void) {
      for r in 0..<rows {
        var c0 = 0, g = (r / gr) * nc
        while c0 < cols { let c1 = Swift.min(cols, c0 + gc); body(r, c0, c1, g); c0 = c1; g += 1 }
      }
    }
    var saturated = 0
    let scaled = x.withUnsafeBufferPointer { X in
      [Float](unsafeUninitializedCapacity: x.count) { S, count in
        for r in 0..<rows {
          var c0 = 0, g = (r / gr) * nc
          while c0 < cols {
            let c1 = Swift.min(cols, c0 + gc)
            saturated += Self.scaleRun(X.baseAddress! + r * cols + c0, S.baseAddress! + r * cols + c0, count: c1 - c0,
                                       scale: scales[g], threshold: satThreshold)
            c0 = c1; g += 1
          }
        }
        count = x.count
      }
    }
    let bits = try FP8Conversion.encode(scaled, to: format, isa: isa)
    let inv = scales.map { 1 / $0 }
    let q: QuantizedTensor
    if scale == .mx {
      q = QuantizedTensor(bits: bits, format: format, rows: rows, cols: cols, granularity: granularity, scales: [],
                          mxScales: inv.map(e8m0))
    } else {
      q = QuantizedTensor(bits: bits, format: format, rows: rows, cols: cols, granularity: granularity, scales: inv)
    }
    let n = Swift.max(x.count, 1)
    guard statistics else {
      return (q, [], QuantStats(amax: amax, scale: scales.min() ?? 1, sqnrDB: .nan, saturated: Double(saturated) / Double(n),
                                flushed: .nan))
    }
    var deq = try FP8Conversion.decode(bits, from: format, isa: isa)
    var flushed = 0, nonzero = 0
    var sig = 0.0, err = 0.0
    x.withUnsafeBufferPointer { X in
      deq.withUnsafeMutableBufferPointer { D in
        forEachRun { r, c0, c1, g in
          let si = inv[g]
          var sg: Float = 0, er: Float = 0
          for c in c0..<c1 {
            let i = r * cols + c
            let q = D[i], v = X[i]
            if v != 0 { nonzero += 1; if q == 0 { flushed += 1 } }
            let dq = q * si
            D[i] = dq
            sg += v * v
            let e = v - dq
            er += e * e
          }
          sig += Double(sg); err += Double(er)
        }
      }
    }
    let sqnr = err == 0 ? Double.infinity : 10 * Foundation.log10(sig / err)
    let stats = QuantStats(
      amax: amax, scale: scales.min() ?? 1, sqnrDB: sqnr, saturated: Double(saturated) / Double(n),
      flushed: nonzero == 0 ? 0 : Double(flushed) / Double(nonzero))
    return (q, deq, stats)
  }
}

extension FP8Cast {
  /// y = x · scale over one run of a scale group; returns how many |y| lie beyond `threshold` and
  /// are finite (a loop without branches, so that it vectorises).
  @inline(__always) static func scaleRun(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, scale: Float,
                                         threshold: Float) -> Int {
    var n: Int32 = 0
    for i in 0..<count {
      let v = x[i] * scale
      y[i] = v
      let a = abs(v)
      let beyond: Int32 = a > threshold ? 1 : 0, finite: Int32 = a < .infinity ? 1 : 0
      n &+= beyond & finite
    }
    return Int(n)
  }
}

/// The E8M0 byte of a power-of-two dequantisation multiplier (0xFF, E8M0's NaN, for NaN).
private func e8m0(_ s: Float) -> UInt8 { s.isNaN || s <= 0 ? 0xFF : UInt8(clamping: Int(s.exponent) + 127) }
