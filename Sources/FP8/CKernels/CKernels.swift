// Every call into the C module passes through the files of this folder (one file per C header),
// in the manner of swift-system: C status codes become `FP8Error`s here and nowhere else, and the
// rest of the package never imports CFP8. The entry points are `package` so that the other modules
// of this package (FP8Linalg, TensorCores, ...) reach the kernels without exposing them publicly.
import CFP8

/// Namespace of thin wrappers over the CFP8 C functions.
package enum CKernels {
  /// Turns a C status into a thrown `FP8Error`, with `context` naming the operation.
  @inlinable
  package static func check(_ status: cfp8_status, _ context: @autoclosure () -> String) throws(FP8Error) {
    if status != cfp8_status(CFP8_OK) { throw FP8Error(status: status, context: context()) }
  }

  package static func isaSupported(_ isa: Int32) -> Bool { cfp8_isa_supported(isa) != 0 }
  package static var isaDefault: Int32 { cfp8_isa_default() }
  package static func isaName(_ isa: Int32) -> String { String(cString: cfp8_isa_name(isa)) }
  package static var isaEnvironmentError: String? { cfp8_isa_env_error().map { String(cString: $0) } }
  package static var hasAVX512VBMI: Bool { cfp8_cpu_has_avx512vbmi() != 0 }
  package static var hasAVX512VNNI: Bool { cfp8_cpu_has_avx512vnni() != 0 }
  package static var maxThreads: Int { Int(cfp8_max_threads()) }
  package static func statusString(_ status: cfp8_status) -> String { String(cString: cfp8_status_string(status)) }

  package static func decodeReference(_ bits: UInt8, format: Int32) -> Float {
    cfp8_fp8_to_f32_reference(bits, format)
  }

  /// The 256-entry decode table of an FP8 format, or nil for a wide format.
  package static func decodeTable(format: Int32) -> UnsafePointer<Float>? { cfp8_decode_table_f32(format) }

  package static func describe(format: Int32) throws(FP8Error) -> cfp8_format_info {
    var info = cfp8_format_info()
    try check(cfp8_format_describe(format, &info), "describing format \(format)")
    return info
  }
}
