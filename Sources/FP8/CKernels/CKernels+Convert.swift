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
