#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The memory a computation will need, part by part (operands, results, workspace), estimated
/// from shapes before anything is allocated. Sizes saturate at `Int.max` instead of overflowing.
public struct MemoryEstimate: Sendable, CustomStringConvertible {
  public private(set) var parts: [(name: String, bytes: Int)] = []

  public init() {}

  /// Adds `bytes` (negative counts as 0).
  public mutating func add(_ name: String, bytes: Int) {
    parts.append((name, max(0, bytes)))
  }

  /// Adds a buffer of product(`shape`) elements of `elementBytes` bytes.
  public mutating func add(_ name: String, shape: [Int], elementBytes: Int) {
    add(name, bytes: MemoryEstimate.product(shape + [elementBytes]))
  }

  public mutating func add(_ other: MemoryEstimate) { parts += other.parts }

  /// The sum of the parts (saturating).
  public var total: Int { MemoryEstimate.sum(parts.map(\.bytes)) }

  /// sum(`terms`) (all ≥ 0), `Int.max` on overflow.
  public static func sum(_ terms: [Int]) -> Int {
    terms.reduce(0) { s, t in
      let (r, o) = s.addingReportingOverflow(max(0, t))
      return o ? Int.max : r
    }
  }

  /// product(`factors`), `Int.max` on overflow, 0 if a factor is ≤ 0.
  public static func product(_ factors: [Int]) -> Int {
    var p = 1
    for f in factors {
      guard f > 0 else { return 0 }
      let (r, o) = p.multipliedReportingOverflow(by: f)
      if o { return Int.max }
      p = r
    }
    return p
  }

  /// "24.0 GiB (D 8.0 GiB, workspace 16.0 GiB)": the total and its largest parts.
  public var description: String {
    let shown = parts.filter { $0.bytes > 0 }.sorted { $0.bytes > $1.bytes }.prefix(4)
    let detail = shown.map { "\($0.name) \(formatBytes($0.bytes))" }.joined(separator: ", ")
    return formatBytes(total) + (detail.isEmpty ? "" : " (\(detail))")
  }
}

/// How much memory a computation may use: what the system has available now (the smallest of
/// MemAvailable, the room left under the process's cgroup memory limit, and the room left under
/// its address-space limit, `ulimit -v`), or less when the caller gives a limit.
public struct MemoryBudget: Sendable, Hashable, CustomStringConvertible {
  public var bytes: Int
  /// Where the figure comes from, for messages ("available memory (MemAvailable)", "the limit given").
  public var source: String

  public init(bytes: Int, source: String) {
    self.bytes = bytes
    self.source = source
  }

  /// The budget now: the system's available memory, capped by `limit` when one is given
  /// (`limitName` says where it came from).
  public static func current(limit: Int? = nil, limitName: String = "the limit given") -> MemoryBudget {
    var best = MemoryBudget(bytes: Int.max, source: "no known limit")
    for candidate in [memAvailable(), cgroupRoom(), addressSpaceRoom()].compactMap({ $0 }) where candidate.bytes < best.bytes {
      best = candidate
    }
    if let limit, limit < best.bytes { best = MemoryBudget(bytes: limit, source: limitName) }
    return best
  }

  /// Throws `FP8Error.outOfMemory` naming `what`, the estimate with its parts, and the budget,
  /// when the estimate does not fit.
  public func check(_ estimate: MemoryEstimate, for what: String) throws(FP8Error) {
    guard estimate.total > bytes else { return }
    throw .outOfMemory("\(what) needs \(estimate), more than the \(formatBytes(bytes)) of \(source)")
  }

  public var description: String { "\(formatBytes(bytes)) (\(source))" }

  /// Parses a byte count: a number with an optional unit K, M, G, T (powers of 1024; "KiB",
  /// "KB", "k" are the same), e.g. "512M", "1.5G", "4096". Nil for anything else, zero or
  /// negative sizes included.
  public static func parseBytes(_ text: String) -> Int? {
    let t = text.trimmingSpaces
    var number = Substring(t)
    var unit = ""
    while let last = number.last, last.isLetter {
      unit = String(last) + unit
      number = number.dropLast()
    }
    let scale: Double
    switch unit.lowercased() {
    case "", "b": scale = 1
    case "k", "kb", "kib": scale = 1024
    case "m", "mb", "mib": scale = 1024 * 1024
    case "g", "gb", "gib": scale = 1024 * 1024 * 1024
    case "t", "tb", "tib": scale = 1024 * 1024 * 1024 * 1024
    default: return nil
    }
    guard let x = Double(number.trimmingSpaces), x.isFinite, x > 0 else { return nil }
    let v = x * scale
    guard v >= 1, v < 9.2e18 else { return nil }
    return Int(v)
  }

  // MARK: sources

  static func memAvailable() -> MemoryBudget? {
    guard let text = readSmallFile("/proc/meminfo") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
      let fields = line.split(separator: " ")
      if fields.count >= 2, let kb = Int(fields[1]) { return MemoryBudget(bytes: kb * 1024, source: "available memory (MemAvailable)") }
    }
    return nil
  }

  /// The room under the cgroup memory limit: limit − (usage − inactive file cache), cgroup v2 or v1.
  static func cgroupRoom() -> MemoryBudget? {
    guard let text = readSmallFile("/proc/self/cgroup") else { return nil }
    for line in text.split(separator: "\n") {
      let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard f.count == 3 else { continue }
      let path = String(f[2])
      let v2 = f[0] == "0" && f[1].isEmpty
      let v1 = f[1].split(separator: ",").contains("memory")
      guard v2 || v1 else { continue }
      let root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory"
      let (limitFile, usageFile, inactiveKey) =
        v2 ? ("memory.max", "memory.current", "inactive_file") : ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
      // the process's own cgroup when it is visible, else the root of the namespace
      for dir in [root + path, root] {
        guard let limitText = readSmallFile(dir + "/" + limitFile) else { continue }
        guard let limit = Int(limitText.trimmingSpaces), limit < 1 << 60 else { return nil }  // "max" or huge: none
        let usage = readSmallFile(dir + "/" + usageFile).flatMap { Int($0.trimmingSpaces) } ?? 0
        var inactive = 0
        if let stat = readSmallFile(dir + "/memory.stat") {
          for l in stat.split(separator: "\n") where l.hasPrefix(inactiveKey + " ") {
            inactive = Int(l.split(separator: " ").last ?? "") ?? 0
          }
        }
        return MemoryBudget(bytes: max(0, limit - max(0, usage - inactive)), source: "the room under the cgroup memory limit")
      }
    }
    return nil
  }

  /// The room under RLIMIT_AS (`ulimit -v`, `prlimit --as`): the limit minus the address space in use.
  static func addressSpaceRoom() -> MemoryBudget? {
    var r = rlimit()
    guard getrlimit(RLIMIT_AS_VALUE, &r) == 0, r.rlim_cur != rlim_t.max else { return nil }
    var used = 0
    if let status = readSmallFile("/proc/self/status") {
      for line in status.split(separator: "\n") where line.hasPrefix("VmSize:") {
        used = (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
      }
    }
    let limit = r.rlim_cur > UInt64(Int.max) ? Int.max : Int(r.rlim_cur)
    return MemoryBudget(bytes: max(0, limit - used), source: "the room under the address-space limit (ulimit -v)")
  }
}

#if canImport(Glibc)
private let RLIMIT_AS_VALUE = Int32(RLIMIT_AS.rawValue)
#else
private let RLIMIT_AS_VALUE = RLIMIT_AS
#endif

/// "1.5 GiB", "512 MiB", "12 KiB", "100 B".
public func formatBytes(_ n: Int) -> String {
  let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
  var x = Double(n)
  var u = 0
  while x >= 1024 && u < units.count - 1 {
    x /= 1024
    u += 1
  }
  if u == 0 { return "\(n) B" }
  let rounded = (x * 10).rounded() / 10
  return (rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)) + " " + units[u]
}

/// The contents of a small text file (a /proc or /sys entry), or nil.
private func readSmallFile(_ path: String) -> String? {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var out = [UInt8]()
  var buffer = [UInt8](repeating: 0, count: 4096)
  while out.count < 1 << 20 {
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n <= 0 { break }
    out += buffer[0..<n]
  }
  return String(decoding: out, as: UTF8.self)
}

extension StringProtocol {
  fileprivate var trimmingSpaces: String {
    String(drop { $0 == " " || $0 == "\n" || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\n" || $0 == "\t" }.reversed())
  }
}
