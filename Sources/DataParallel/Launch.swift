import Foundation

/// How this process was started: alone, or as one rank of an Open MPI job.
public enum Launch {
  /// True when an MPI launcher started this process (Open MPI's `mpirun` sets
  /// `OMPI_COMM_WORLD_SIZE`; PMIx launchers such as `srun --mpi=pmix` set `PMIX_RANK`).
  public static var isMPIJob: Bool {
    let env = ProcessInfo.processInfo.environment
    return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil
  }

  /// The communicator of this job, or nil for a plain single-process run (which never loads
  /// MPI). Under an MPI launcher it loads Open MPI, initialises it, and installs the handler
  /// that turns mpirun's termination of the surviving ranks into one line each.
  public static func communicator(timeout: Double) throws(DataParallelError) -> MPICommunicator? {
    let env = ProcessInfo.processInfo.environment
    if !isMPIJob {
      if let n = env["PMI_SIZE"] ?? env["MPI_LOCALNRANKS"] {
        throw .unsupportedLauncher("started by an MPI launcher that is not Open MPI's (PMI_SIZE=\(n)); launch with Open MPI's mpirun")
      }
      return nil
    }
    guard timeout > 0, timeout.isFinite else { throw .invalidArgument("collective timeout \(timeout) s (must be positive)") }
    let c: MPICommunicator
    do { c = try MPICommunicator(timeout: timeout) } catch {
      let n = env["OMPI_COMM_WORLD_SIZE"].map { "OMPI_COMM_WORLD_SIZE=\($0)" } ?? "PMIX_RANK=\(env["PMIX_RANK"] ?? "")"
      throw .mpiUnavailable("launched by mpirun (\(n)) but \(error.detail)")
    }
    Termination.install(label: c.label)
    return c
  }

  /// One line naming the host of every rank, e.g. `4 ranks: node1 (0-1), node2 (2-3)`.
  public static func placement(_ hosts: [String]) -> String {
    var groups: [(host: String, ranks: [Int])] = []
    for (r, h) in hosts.enumerated() {
      if let i = groups.firstIndex(where: { $0.host == h }) { groups[i].ranks.append(r) } else { groups.append((h, [r])) }
    }
    func runs(_ rs: [Int]) -> String {
      var parts: [String] = []
      var i = 0
      while i < rs.count {
        var j = i
        while j + 1 < rs.count && rs[j + 1] == rs[j] + 1 { j += 1 }
        parts.append(i == j ? "\(rs[i])" : "\(rs[i])-\(rs[j])")
        i = j + 1
      }
      return parts.joined(separator: ",")
    }
    let list = groups.map { "\($0.host) (\(runs($0.ranks)))" }.joined(separator: ", ")
    return "\(hosts.count) rank\(hosts.count == 1 ? "" : "s") on \(groups.count) host\(groups.count == 1 ? "" : "s"): \(list)"
  }
}

extension DataParallelError {
  /// The description without its category prefix, for sentences that give their own.
  var detail: String {
    switch self {
    case .mpiUnavailable(let s), .unsupportedLauncher(let s), .mpi(let s), .timeout(let s), .invalidArgument(let s): return s
    case .fp8(let e): return e.description
    }
  }
}

/// When a rank dies, Open MPI's mpirun ends the job by sending SIGTERM to every surviving rank
/// (then SIGKILL a second later), and prints its own report. The handler here makes each survivor
/// say so in one line. Checkpoints are written to a temporary file renamed over the old one, so
/// the last complete checkpoint survives a kill at any point. A signal handler may only call
/// async-signal-safe functions: the message is prepared beforehand, and written with write(2).
enum Termination {
  nonisolated(unsafe) static var message: UnsafeMutablePointer<CChar>? = nil
  nonisolated(unsafe) static var messageLength = 0

  static func install(label: String) {
    let text = "fp8emu: \(label): stopped by SIGTERM: mpirun ends the other ranks when one fails or is killed (see its report); the last complete checkpoint is intact\n"
    message = strdup(text)
    messageLength = text.utf8.count
    signal(SIGTERM) { _ in
      if let m = Termination.message { _ = write(2, m, Termination.messageLength) }
      _exit(69)
    }
  }
}
