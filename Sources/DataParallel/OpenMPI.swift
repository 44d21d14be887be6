import Foundation

/// Open MPI, loaded at run time.
///
/// The package never includes `mpi.h` and never links against libmpi: a machine without Open MPI
/// builds and runs every single-process command, and a single-process run never loads it. Under
/// `mpirun`, `libmpi.so.40` is opened with `RTLD_NOW | RTLD_GLOBAL` (Open MPI's components are
/// plug-ins that resolve libmpi's symbols from the global scope) and the few entry points used
/// here are looked up by name.
///
/// Open MPI's predefined handles (`MPI_COMM_WORLD`, `MPI_BYTE`, `MPI_ERRORS_RETURN`) are the
/// addresses of exported globals (`ompi_mpi_comm_world`, ...), so `dlsym` yields the handle
/// itself; `MPI_STATUS_IGNORE` is a null pointer. These are facts of Open MPI's ABI (stable
/// since 1.x and across the `libmpi.so.40` series), not of the MPI standard, so only Open MPI is
/// supported.
final class OpenMPI: @unchecked Sendable {
  typealias Handle = UnsafeMutableRawPointer
  typealias Request = UnsafeMutableRawPointer?

  let library: String
  let commWorld: Handle
  let byte: Handle
  let errorsReturn: Handle

  let initThread: @convention(c) (OpaquePointer?, OpaquePointer?, Int32, UnsafeMutablePointer<Int32>) -> Int32
  let finalize: @convention(c) () -> Int32
  let commRank: @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
  let commSize: @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
  let commSetErrhandler: @convention(c) (Handle, Handle) -> Int32
  let iallgather: @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle,
                                  UnsafeMutablePointer<Request>) -> Int32
  let ibcast: @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle, UnsafeMutablePointer<Request>) -> Int32
  let test: @convention(c) (UnsafeMutablePointer<Request>, UnsafeMutablePointer<Int32>, UnsafeMutableRawPointer?) -> Int32
  let abort: @convention(c) (Handle, Int32) -> Int32
  let errorString: @convention(c) (Int32, UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32

  /// MPI_THREAD_FUNNELED: OpenMP threads exist, but only the main thread calls MPI.
  static let threadFunneled: Int32 = 1

  /// Opens `library` (default: `FP8EMU_LIBMPI`, else `libmpi.so.40`) and resolves every symbol;
  /// the error names what is missing.
  init(library: String? = nil) throws(DataParallelError) {
    let name = library ?? ProcessInfo.processInfo.environment["FP8EMU_LIBMPI"] ?? "libmpi.so.40"
    self.library = name
    guard let h = dlopen(name, RTLD_NOW | RTLD_GLOBAL) else {
      let why = dlerror().map { String(cString: $0) } ?? "unknown reason"
      throw .mpiUnavailable("cannot load \(name) (\(why)); install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) or set FP8EMU_LIBMPI to its libmpi.so.40")
    }
    func symbol(_ s: String) throws(DataParallelError) -> UnsafeMutableRawPointer {
      guard let p = dlsym(h, s) else { throw .mpiUnavailable("\(name) has no symbol \(s): not Open MPI 4.x?") }
      return p
    }
    func function<F>(_ s: String, as: F.Type) throws(DataParallelError) -> F { unsafeBitCast(try symbol(s), to: F.self) }
    commWorld = try symbol("ompi_mpi_comm_world")
    byte = try symbol("ompi_mpi_byte")
    errorsReturn = try symbol("ompi_mpi_errors_return")
    initThread = try function("MPI_Init_thread", as: type(of: initThread))
    finalize = try function("MPI_Finalize", as: type(of: finalize))
    commRank = try function("MPI_Comm_rank", as: type(of: commRank))
    commSize = try function("MPI_Comm_size", as: type(of: commSize))
    commSetErrhandler = try function("MPI_Comm_set_errhandler", as: type(of: commSetErrhandler))
    iallgather = try function("MPI_Iallgather", as: type(of: iallgather))
    ibcast = try function("MPI_Ibcast", as: type(of: ibcast))
    test = try function("MPI_Test", as: type(of: test))
    abort = try function("MPI_Abort", as: type(of: abort))
    errorString = try function("MPI_Error_string", as: type(of: errorString))
  }

  /// MPI's own text for an error code.
  func describe(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 512)  // MPI_MAX_ERROR_STRING is 256 in Open MPI
    var length: Int32 = 0
    guard errorString(code, &buffer, &length) == 0 else { return "MPI error \(code)" }
    return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
