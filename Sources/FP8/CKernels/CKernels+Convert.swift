import CFP8

extension CKernels {
  package static func encode(
    _ src: UnsafeRawPointer?, srcFormat: Int32, _ dst: UnsafeMutablePointer<UInt8>?, dstFormat: Int32, count: Int,
    rounding: Int32, preset: Int32, seed: UInt64, randomBits: UnsafePointer<UInt32>?, isa: Int32, threads: Int32
  ) throws(FP8Error) {
    var options = cfp8_encode_options(
      rounding: rounding, preset: preset, seed: seed, random_bits: randomBits, isa: isa, threads: threads)
    try check(cfp8_encode(src, srcFormat, dst, dstFormat, count, &options), "encoding \(count) elements to format \(dstFormat)")
  }

  package static func decode(
    _ src: UnsafePointer<UInt8>?, srcFormat: Int32, _ dst: UnsafeMutableRawPointer?, dstFormat: Int32, count: Int,
    isa: Int32, threads: Int32
  ) throws(FP8Error) {
    try check(cfp8_decode(src, srcFormat, dst, dstFormat, count, isa, threads), "decoding \(count) elements of format \(srcFormat)")
  }

  package static func encodeReference(_ x: Float, format: Int32, rounding: Int32, preset: Int32, random: UInt32) -> UInt8 {
    cfp8_encode_f32_reference(x, format, rounding, preset, random)
  }
}

extension CKernels {
  package static func encodeReference(f16Bits: UInt16, format: Int32, rounding: Int32, preset: Int32, random: UInt32) -> UInt8 {
    cfp8_encode_f16_reference(f16Bits, format, rounding, preset, random)
  }

  package static func encodeReference(bf16Bits: UInt16, format: Int32, rounding: Int32, preset: Int32, random: UInt32) -> UInt8 {
    cfp8_encode_bf16_reference(bf16Bits, format, rounding, preset, random)
  }

  package static func encodeReference(_ x: Double, format: Int32, rounding: Int32, preset: Int32, random: UInt32) -> UInt8 {
    cfp8_encode_f64_reference(x, format, rounding, preset, random)
  }

  package static func encodeE8M0Reference(_ x: Float, rounding: Int32) -> UInt8 {
    cfp8_encode_e8m0_reference(x, rounding)
  }

  package static func stochasticBits(seed: UInt64, index: UInt64) -> UInt32 { cfp8_stochastic_bits(seed, index) }

  package static var parallelThreshold: Int { 1 << 20 }

  /// Exhaustive comparison of SIMD paths with the scalar reference (see cfp8_sweep_compare).
  /// Returns (mismatches, first mismatching pattern or nil) indexed [preset][isa].
  package static func sweepCompare(
    srcFormat: Int32, dstFormat: Int32, rounding: Int32, presetMask: UInt32, isas: [Int32],
    range: Range<UInt64>, seed: UInt64, threads: Int32
  ) throws(FP8Error) -> [[(mismatches: UInt64, first: UInt64?)]] {
    var mm = [UInt64](repeating: 0, count: 4 * isas.count)
    var first = [UInt64](repeating: 0, count: 4 * isas.count)
    let status = isas.withUnsafeBufferPointer { isaBuf in
      mm.withUnsafeMutableBufferPointer { m in
        first.withUnsafeMutableBufferPointer { f in
          cfp8_sweep_compare(
            srcFormat, dstFormat, rounding, presetMask, isaBuf.baseAddress, Int32(isas.count), range.lowerBound,
            range.upperBound, seed, threads, m.baseAddress, f.baseAddress)
        }
      }
    }
    try check(status, "sweep of format \(srcFormat) -> \(dstFormat)")
    return (0..<4).map { p in
      (0..<isas.count).map { k in
        let i = p * isas.count + k
        return (mm[i], first[i] == UInt64.max ? nil : first[i])
      }
    }
  }
}
