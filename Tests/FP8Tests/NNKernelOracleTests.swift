import Foundation
import Testing
import _TestSupport
@testable import FP8

/// The layer kernels against FP64 oracles written from the definitions (scalar path; the other
/// paths give its bits, NNKernelPathTests). Each bound is stated in units of u = 2^-24 (half an FP32
/// ulp at 1) from the operations the kernel performs: exp within 0.8 ulp (docs/nn-kernels.md), a
/// 16-lane sum of n terms within (⌈n/16⌉ + 4)·u relative to the sum of magnitudes, one u per
/// other rounding, and the rounding of a difference s - m entering exp as |s - m|·u.
@Suite struct NNKernelOracleTests {
  static let u = 0x1p-24

  /// GELU (tanh form) and its derivative in FP64 with the exact constants: σ(2u) evaluated without
  /// cancellation on either side.
  static func sigma(_ t: Double) -> Double { t >= 0 ? 1 / (1 + exp(-t)) : exp(t) / (1 + exp(t)) }
  static let c = (2 / Double.pi).squareRoot(), k = 0.044715
  static func gelu(_ x: Double) -> Double { x * sigma(2 * c * (x + k * x * x * x)) }
  static func geluGrad(_ x: Double) -> Double {
    let t = 2 * c * (x + k * x * x * x), du = c * (1 + 3 * k * x * x)
    return sigma(t) + 2 * x * du * sigma(t) * sigma(-t)
  }
  /// |y - r| in units of the FP32 spacing at r (2^-149 below 2^-126).
  static func ulps(_ y: Float, _ r: Double) -> Double {
    let a = abs(r)
    let ulp = a < 0x1p-126 ? 0x1p-149 : Double(sign: .plus, exponent: a.exponent - 23, significand: 1)
    return abs(Double(y) - r) / ulp
  }

  @Test func geluAgainstFP64() throws {
    var x: [Float] = (0..<100_001).map { Float(-20 + 40 * Double($0) / 100_000) }
    for e in stride(from: -40.0, through: 38, by: 0.25) { x += [Float(pow(10, e)), -Float(pow(10, e))] }
    let y = try NN.gelu(x, isa: .scalar, threads: 1)
    let g = try NN.geluBackward([Float](repeating: 1, count: x.count), x, isa: .scalar, threads: 1)
    var worstY = 0.0, worstG = 0.0, worstNearZero = 0.0
    for i in x.indices {
      let xd = Double(x[i])
      worstY = max(worstY, Self.ulps(y[i], Self.gelu(xd)))
      if xd >= -1 && xd <= -0.5 { worstNearZero = max(worstNearZero, abs(Double(g[i]) - Self.geluGrad(xd))) }
      else { worstG = max(worstG, Self.ulps(g[i], Self.geluGrad(xd))) }
    }
    // the bounds of the exhaustive FP32 sweep (scripts/nn_accuracy.sh, docs/nn-kernels.md)
    #expect(worstY <= 3, "GELU: \(worstY) ulp")
    #expect(worstG <= 8, "GELU' outside [-1, -0.5]: \(worstG) ulp")
    #expect(worstNearZero <= 2 * Self.u, "GELU' near its zero: \(worstNearZero)")
    // limits
    let special = try NN.gelu([.infinity, -.infinity, 0, -0.0, .nan], isa: .scalar, threads: 1)
    #expect(special[0] == .infinity && special[1] == 0 && special[1].sign == .minus && special[2].bitPattern == 0)
    #expect(special[3].bitPattern == (-0.0 as Float).bitPattern && special[4].bitPattern == 0x7FC0_0000)
    let dspecial = try NN.geluBackward([1, 1, 1], [.infinity, -.infinity, .nan], isa: .scalar, threads: 1)
    #expect(dspecial[0] == 1 && dspecial[1] == 0 && dspecial[2].bitPattern == 0x7FC0_0000)
  }

  @Test func softmaxAgainstFP64() throws {
    let (rows, cols) = (3 * 37, 37) // three sequences of 37: causal rows of every length 1...37
    var rng = SplitMix64(seed: 5)
    for (scale, causal, spread) in [(Float(0.25), true, Float(3)), (0.125, false, 20), (1, true, 0.01)] {
      let x = (0..<rows * cols).map { _ in NNData.normal(&rng) * spread }
      let p = try NN.softmax(x, rows: rows, cols: cols, scale: scale, causal: causal, isa: .scalar, threads: 1)
      let dp = (0..<rows * cols).map { _ in NNData.normal(&rng) }
      let dx = try NN.softmaxBackward(p: p, dp: dp, rows: rows, cols: cols, scale: scale, causal: causal, isa: .scalar,
                                      threads: 1)
      for r in 0..<rows {
        let len = causal ? r % cols + 1 : cols
        let s = (0..<len).map { Double(x[r * cols + $0]) * Double(scale) } // scale is a power of two: exact
        let m = s.max()!
        let e = s.map { exp($0 - m) }, z = e.reduce(0, +)
        let avgSpread = zip(e, s).map { $0 / z * abs($1 - m) }.reduce(0, +)
        let sumTerms = Double((len + 15) / 16 + 4)
        for j in 0..<cols {
          let i = r * cols + j
          if j >= len {
            #expect(p[i].bitPattern == 0 && dx[i].bitPattern == 0, "masked entry (\(r), \(j))")
            continue
          }
          let ref = e[j] / z
          let tol = Self.u * ref * ((2 + abs(s[j] - m)) + (2 + avgSpread) + sumTerms + 1) + 0x1p-149
          #expect(abs(Double(p[i]) - ref) <= tol, "softmax (\(r), \(j)): \(p[i]) vs \(ref)")
        }
        // backward from the same FP32 probabilities
        let pr = (0..<len).map { Double(p[r * cols + $0]) }, dpr = (0..<len).map { Double(dp[r * cols + $0]) }
        let dot = zip(pr, dpr).map(*).reduce(0, +), mag = zip(pr, dpr).map { abs($0 * $1) }.reduce(0, +)
        for j in 0..<len {
          let ref = pr[j] * (dpr[j] - dot) * Double(scale)
          let tol = Self.u * Double(scale) * pr[j] * (sumTerms * mag + 2 * abs(dpr[j] - dot)) + 0x1p-149
          #expect(abs(Double(dx[r * cols + j]) - ref) <= tol, "softmax backward (\(r), \(j))")
        }
      }
    }
  }

  @Test func layerNormAgainstFP64() throws {
    for (rows, d) in [(70, 64), (5, 383)] {
      var rng = SplitMix64(seed: UInt64(d))
      let x = (0..<rows * d).map { i in NNData.normal(&rng) * 2 + Float(i % d % 3) }
      let gamma = (0..<d).map { _ in 1 + 0.2 * NNData.normal(&rng) }, beta = (0..<d).map { _ in 0.3 * NNData.normal(&rng) }
      let dy = (0..<rows * d).map { _ in NNData.normal(&rng) }
      let f = try NN.layerNorm(x, gamma: gamma, beta: beta, rows: rows, d: d, eps: 1e-5, isa: .scalar, threads: 1)
      let start = NN.LayerNormGrads(dx: [], dgamma: (0..<d).map { Float($0) / 8 }, dbeta: (0..<d).map { -Float($0) / 16 })
      let g = try NN.layerNormBackward(dy: dy, x: x, mean: f.mean, rstd: f.rstd, gamma: gamma, rows: rows, d: d,
                                       start: start, isa: .scalar, threads: 1)
      let terms = Double((d + 15) / 16)
      var dgRef = start.dgamma.map(Double.init), dbRef = start.dbeta.map(Double.init)
      var dgMag = [Double](repeating: 0, count: d), dbMag = dgMag
      for r in 0..<rows {
        let xr = (0..<d).map { Double(x[r * d + $0]) }
        let mean = xr.reduce(0, +) / Double(d)
        let rs = 1 / (xr.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d) + 1e-5).squareRoot()
        let absMean = xr.map(abs).reduce(0, +) / Double(d)
        let h = xr.map { ($0 - mean) * rs }
        #expect(abs(Double(f.mean[r]) - mean) <= Self.u * (terms + 5) * absMean, "mean of row \(r)")
        #expect(abs(Double(f.rstd[r]) - rs) <= Self.u * rs * (terms + 8), "rstd of row \(r)")
        for j in 0..<d {
          let hg = h[j] * Double(gamma[j]), ref = hg + Double(beta[j])
          let tol = Self.u * (abs(hg) * (terms + 8) + abs(Double(gamma[j])) * rs * absMean * (terms + 6) + 2 * abs(ref))
          #expect(abs(Double(f.y[r * d + j]) - ref) <= tol, "LayerNorm (\(r), \(j))")
        }
        let dxh = (0..<d).map { Double(dy[r * d + $0]) * Double(gamma[$0]) }
        let meanD = dxh.reduce(0, +) / Double(d), meanDX = zip(dxh, h).map(*).reduce(0, +) / Double(d)
        let magD = dxh.map(abs).reduce(0, +) / Double(d), magDX = zip(dxh, h).map { abs($0 * $1) }.reduce(0, +) / Double(d)
        for j in 0..<d {
          let ref = rs * (dxh[j] - meanD - h[j] * meanDX)
          let tol = Self.u * rs * ((abs(dxh[j]) + abs(meanD) + abs(h[j] * meanDX)) * (terms + 10)
                                   + (magD + abs(h[j]) * magDX) * (terms + 6))
          #expect(abs(Double(g.dx[r * d + j]) - ref) <= tol, "LayerNorm backward (\(r), \(j))")
          dgRef[j] += Double(dy[r * d + j]) * h[j]
          dbRef[j] += Double(dy[r * d + j])
          dgMag[j] += abs(Double(dy[r * d + j]) * h[j])
          dbMag[j] += abs(Double(dy[r * d + j]))
        }
      }
      let blocks = Double((rows + 31) / 32), levels = ceil(log2(max(blocks, 1)))
      for j in 0..<d {
        let tg = Self.u * ((32 + levels + terms + 12) * dgMag[j] + abs(dgRef[j]))
        let tb = Self.u * ((32 + levels + 2) * dbMag[j] + abs(dbRef[j]))
        #expect(abs(Double(g.dgamma[j]) - dgRef[j]) <= tg, "dgamma[\(j)]")
        #expect(abs(Double(g.dbeta[j]) - dbRef[j]) <= tb, "dbeta[\(j)]")
      }
    }
  }

  @Test func biasBackwardAgainstFP64() throws {
    let (rows, cols) = (1000, 33)
    let dy = NNData.values(rows * cols, seed: 8, specials: false)
    let db = try NN.biasBackward(dy, rows: rows, cols: cols, start: [Float](repeating: 0.5, count: cols), isa: .scalar, threads: 1)
    let levels = ceil(log2(Double((rows + 31) / 32)))
    for j in 0..<cols {
      let col = (0..<rows).map { Double(dy[$0 * cols + j]) }
      let ref = 0.5 + col.reduce(0, +), mag = col.map(abs).reduce(0, +)
      #expect(abs(Double(db[j]) - ref) <= Self.u * ((32 + levels + 2) * mag + abs(ref)), "dbias[\(j)]")
    }
  }

  @Test func crossEntropyAgainstFP64() throws {
    let (rows, vocab) = (50, 97)
    var rng = SplitMix64(seed: 31)
    let logits = (0..<rows * vocab).map { _ in NNData.normal(&rng) * 3 }
    let targets = (0..<rows).map { _ in Int32(rng.next() % UInt64(vocab)) }
    let weights = (0..<rows).map { r -> Float in r % 4 == 2 ? 0 : Float(r % 3 + 1) }
    let (loss, dl) = try NN.crossEntropy(logits, rows: rows, vocab: vocab, targets: targets, weights: weights,
                                         gradScale: 256, isa: .scalar, threads: 1)
    let total = weights.map(Double.init).reduce(0, +), terms = Double((vocab + 15) / 16 + 8)
    var sum = 0.0, tolSum = 0.0, termMag = 0.0
    for r in 0..<rows {
      let l = (0..<vocab).map { Double(logits[r * vocab + $0]) }
      let w = Double(weights[r])
      if w == 0 {
        #expect(dl[r * vocab..<(r + 1) * vocab].allSatisfy { $0.bitPattern == 0 }, "row \(r) of weight 0")
        continue
      }
      let m = l.max()!, logZ = log(l.map { exp($0 - m) }.reduce(0, +)) + m, t = Int(targets[r])
      let term = w * (logZ - l[t])
      sum += term
      termMag += abs(term)
      tolSum += w * (terms + 2 * abs(logZ) + abs(l[t]))
      let f = w / total
      for v in 0..<vocab {
        let sm = exp(l[v] - logZ)
        let ref = (f * sm - (v == t ? f : 0)) * 256
        let tol = 256 * Self.u * (f * sm * (terms + 4 + abs(logZ) + abs(l[v] - logZ)) + (v == t ? 2 * f : 0))
        #expect(abs(Double(dl[r * vocab + v]) - ref) <= tol, "dlogits (\(r), \(v))")
      }
    }
    let tolLoss = Self.u * (tolSum + Double(rows) * termMag) / total
    #expect(abs(Double(loss) - sum / total) <= tolLoss, "loss \(loss) vs \(sum / total)")
  }

  /// AdamW is the optimiser's formula with the same IEEE operations: the same bits as writing it
  /// out in Swift.
  @Test func adamWIsTheFormulaAsWritten() throws {
    let n = 1001
    var s = NN.AdamWState(param: NNData.values(n, seed: 1, scale: 0.1, specials: false),
                          m: [Float](repeating: 0, count: n), v: [Float](repeating: 0, count: n))
    let (b1, b2, eps, lr): (Float, Float, Float, Float) = (0.9, 0.999, 1e-8, 3e-4)
    for t in 1...3 {
      let g = NNData.values(n, seed: UInt64(10 + t), scale: 0.02, specials: false)
      for wd: Float in [0, 0.01] {
        let bc1 = 1 - pow(b1, Float(t)), bc2 = 1 - pow(b2, Float(t))
        let out = try NN.adamW(s, grad: g, step: AdamWStep(learningRate: lr, beta1: b1, beta2: b2, epsilon: eps,
                                                            weightDecay: wd, biasCorrection1: bc1, biasCorrection2: bc2),
                               isa: .scalar, threads: 1)
        var ref = s
        for j in 0..<n {
          ref.m[j] = b1 * s.m[j] + (1 - b1) * g[j]
          ref.v[j] = b2 * s.v[j] + (1 - b2) * g[j] * g[j]
          let mh = ref.m[j] / bc1, vh = ref.v[j] / bc2
          ref.param[j] = s.param[j] - lr * (mh / (vh.squareRoot() + eps) + wd * s.param[j])
        }
        #expect(out == ref, "AdamW step \(t), weight decay \(wd)")
        if wd == 0 { s = out }
      }
    }
  }

  /// Rounding to FP16 (Swift's Float16 conversion) and BF16 (the nearest even pattern), alone and
  /// after an add, on a stride through all FP32 patterns and the specials.
  @Test func roundingIsNearestEven() throws {
    var x = stride(from: UInt64(0), to: 1 << 32, by: 65_521).map { Float(bitPattern: UInt32($0)) }
    x += NNData.specials + [65519.99, 65520.01, 0x1.FFp-15, 0x1p-25, 0x1.8p-25, 3 * 0x1p-26]
    func bf16(_ v: Float) -> Float {
      let lo = Float(bitPattern: v.bitPattern & 0xFFFF_0000)
      let hiBits = lo.bitPattern &+ 0x1_0000
      let hi = (hiBits & 0x7FFF_FFFF) == 0x7F80_0000 ? Double(v.sign == .minus ? -0x1p128 : 0x1p128) : Double(Float(bitPattern: hiBits))
      let dl = abs(Double(v) - Double(lo)), dh = abs(hi - Double(v))
      let up = dh < dl || (dh == dl && (lo.bitPattern >> 16) & 1 == 1)
      return up ? Float(bitPattern: hiBits) : lo
    }
    let f16 = try NN.roundToFormat(x, .f16, isa: .scalar, threads: 1)
    let b16 = try NN.roundToFormat(x, .bf16, isa: .scalar, threads: 1)
    let half = x.map { $0 / 2 }
    let sum16 = try NN.add(half, half, round: .f16, isa: .scalar, threads: 1)
    for i in x.indices {
      if x[i].isNaN {
        #expect(f16[i].bitPattern == 0x7FC0_0000 && b16[i].bitPattern == 0x7FC0_0000)
        continue
      }
      #expect(f16[i].bitPattern == Float(Float16(x[i])).bitPattern, "FP16 of 0x\(String(x[i].bitPattern, radix: 16))")
      #expect(b16[i].bitPattern == bf16(x[i]).bitPattern, "BF16 of 0x\(String(x[i].bitPattern, radix: 16))")
      #expect(sum16[i].bitPattern == Float(Float16(half[i] + half[i])).bitPattern)
    }
  }
}
