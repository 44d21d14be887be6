import Foundation

/// Exhaustive checks of every SIMD encode path against the scalar reference.
///
/// For each source format (F32: all 2^32 patterns; F16, BF16: all 2^16), each FP8 format and each
/// rounding mode, the scalar reference is computed once per chunk and every SIMD path's output is
/// compared with it for each preset (the reference is recomputed per preset only for NaN, Inf and
/// inputs at or above the overflow boundary, the only places where it consults the preset).
/// The sweep loop is C (`cfp8_sweep_compare`, OpenMP over 64 Ki-input chunks); FP32 sources use
/// the reference's C source compiled for AVX-512 (vectorised by the compiler), which
/// `scripts/oracle_mldtypes.py` and the FP64 oracle tests tie to the plain scalar build.
/// Stochastic rounding uses the bits of `seed` for element index = input pattern. FNUZ formats
/// have a single convention (overflow, Inf, NaN → 0x80 whatever the preset): one row, "(any)".
/// E8M0 has no SIMD kernel (every path runs the scalar routine); it is swept over F16/BF16 inputs
/// and, with `includeE8M0F32`, over all FP32 inputs.
public enum ConversionVerifier {
  /// One line of the report: a (source, format, rounding, preset, path) cell.
  public struct Row: Sendable, Hashable {
    public var source: ElementFormat
    public var format: ElementFormat
    public var rounding: String
    public var preset: String
    public var isa: ISA
    public var inputs: UInt64
    public var mismatches: UInt64
    public var firstMismatch: UInt64?
    /// Seconds of the whole (source, format, rounding) group, shared by its rows.
    public var seconds: Double
  }

  /// One (source, format, rounding) sweep.
  public struct Group: Sendable {
    public var source: ElementFormat
    public var format: ElementFormat
    public var rounding: Rounding
    public var inputs: UInt64 { source == .f32 ? 1 << 32 : 1 << 16 }
  }

  /// The groups of the full matrix.
  public static func groups(sources: [ElementFormat] = [.f32, .f16, .bf16], includeE8M0F32: Bool = false) -> [Group] {
    var out: [Group] = []
    for s in sources {
      for f in ElementFormat.fp8Formats {
        if f == .e8m0 && s == .f32 && !includeE8M0F32 { continue }
        let modes: [Rounding] = f == .e8m0 ? [.nearestEven, .towardZero, .up]
                                           : [.nearestEven, .towardZero, .stochastic(seed: 0x5EED)]
        for r in modes { out.append(Group(source: s, format: f, rounding: r)) }
      }
    }
    return out
  }

  /// The SIMD paths compared against the reference (the scalar path itself when none exists).
  public static var paths: [ISA] {
    let simd = ISA.supported.filter { $0 != .scalar }
    return simd.isEmpty ? [.scalar] : simd
  }

  /// Runs one group in `slices` pieces, calling `progress(done, total)` after each. With
  /// `stride` > 1 only every stride-th FP32 slice is swept (a quick run; rows then report the
  /// number of inputs actually checked).
  public static func run(
    _ g: Group, paths: [ISA] = paths, slices: Int = 256, stride: Int = 1, threads: Int = 0,
    progress: (UInt64, UInt64) -> Void = { _, _ in }
  ) throws(FP8Error) -> [Row] {
    let total = g.inputs
    let n = UInt64(max(1, g.source == .f32 ? slices : 1))
    var checked: UInt64 = 0
    // Presets are conventions of the OCP formats: FNUZ and E8M0 have one convention, the same for
    // every preset value (PresetTableTests checks FNUZ under every preset on every path).
    let single = g.format == .e8m0 || g.format == .e4m3fnuz || g.format == .e5m2fnuz
    let presets: [OverflowPreset] = single ? [.mlDtypes] : OverflowPreset.allCases
    let mask = presets.reduce(UInt32(0)) { $0 | (1 << UInt32($1.cValue)) }
    var mm = [[UInt64]](repeating: [UInt64](repeating: 0, count: paths.count), count: 4)
    var first = [[UInt64?]](repeating: [UInt64?](repeating: nil, count: paths.count), count: 4)
    let start = Date()
    for k in 0..<n {
      let lo = total / n * k, hi = k == n - 1 ? total : total / n * (k + 1)
      if g.source == .f32 && k % UInt64(max(1, stride)) != 0 { continue }
      checked += hi - lo
      let r = try CKernels.sweepCompare(
        srcFormat: g.source.rawValue, dstFormat: g.format.rawValue, rounding: g.rounding.cValue, presetMask: mask,
        isas: paths.map(\.rawValue), range: lo..<hi, seed: g.rounding.seed, threads: Int32(threads))
      for p in 0..<4 {
        for i in 0..<paths.count {
          mm[p][i] += r[p][i].mismatches
          if first[p][i] == nil { first[p][i] = r[p][i].first }
        }
      }
      progress(hi, total)
    }
    let seconds = Date().timeIntervalSince(start)
    var rows: [Row] = []
    for p in presets {
      for (i, isa) in paths.enumerated() {
        rows.append(Row(
          source: g.source, format: g.format, rounding: g.rounding.name,
          preset: single ? "(any)" : p.rawValue, isa: isa, inputs: checked,
          mismatches: mm[Int(p.cValue)][i], firstMismatch: first[Int(p.cValue)][i], seconds: seconds))
      }
    }
    return rows
  }
}
