// OpenBLAS SGEMM loaded at run time (nothing else depends on it), for side-by-side figures.
#if canImport(Glibc)
import Glibc
#endif

/// `cblas_sgemm` from libopenblas, if one can be loaded.
struct GEMMOpenBLAS {
  typealias SGEMM = @convention(c) (
    Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
    Float, UnsafeMutablePointer<Float>?, Int32
  ) -> Void
  typealias SetThreads = @convention(c) (Int32) -> Void
  typealias CoreName = @convention(c) () -> UnsafePointer<CChar>?

  let sgemm: SGEMM
  let setThreads: SetThreads?
  let coreName: String

  /// Debian's OpenBLAS 0.3.21 does not recognise this CPU's AVX-512 and falls back to kernels
  /// about 6× slower unless OPENBLAS_CORETYPE is set before the library loads.
  static func load() -> GEMMOpenBLAS? {
    if getenv("OPENBLAS_CORETYPE") == nil { setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) }
    let candidates = [
      "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0", "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
      "libopenblas.so.0", "libopenblas.so",
    ]
    for path in candidates {
      guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL), let sym = dlsym(handle, "cblas_sgemm") else { continue }
      let setThreads = dlsym(handle, "openblas_set_num_threads").map { unsafeBitCast($0, to: SetThreads.self) }
      let name = dlsym(handle, "openblas_get_corename").flatMap { unsafeBitCast($0, to: CoreName.self)() }
      return GEMMOpenBLAS(sgemm: unsafeBitCast(sym, to: SGEMM.self), setThreads: setThreads,
                      coreName: name.map { String(cString: $0) } ?? "unknown")
    }
    return nil
  }

  /// C = A·B in FP32, row-major; with `bTransposed` B is given as its N×K transpose.
  func multiply(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bTransposed: Bool,
    c: UnsafeMutablePointer<Float>
  ) {
    // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112
    sgemm(101, 111, bTransposed ? 112 : 111, Int32(m), Int32(n), Int32(k), 1, a, Int32(max(1, k)), b,
          Int32(max(1, bTransposed ? k : n)), 0, c, Int32(max(1, n)))
  }
}
