#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FP8

/// Size checks made before allocating a result: a product of dimensions that overflows `Int`
/// throws `.sizeOverflow`; a buffer larger than the machine's physical memory throws
/// `.outOfMemory` (Swift would trap on the overflow, and the allocation would fail or swap the
/// machine to a halt). Callers pass the byte size's factors, e.g. `[m, n, elementBytes]`.
package enum ResourceLimits {
  /// Physical memory in bytes (sysconf), or `Int.max` where unknown.
  package static var physicalMemory: Int {
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
    guard pages > 0, size > 0 else { return Int.max }
    let (bytes, overflow) = pages.multipliedReportingOverflow(by: size)
    return overflow ? Int.max : bytes
  }

  /// The product of `factors` (all >= 0) in bytes, checked against overflow and physical memory.
  package static func checkedBytes(_ factors: [Int], what: @autoclosure () -> String) throws(FP8Error) -> Int {
    var total = 1
    for f in factors {
      guard f >= 0 else { throw .badShape("\(what()): negative size \(f)") }
      let (p, overflow) = total.multipliedReportingOverflow(by: f)
      guard !overflow else { throw .sizeOverflow("\(what()): \(factors.map(String.init).joined(separator: " × ")) bytes overflow Int") }
      total = p
    }
    guard total <= physicalMemory else {
      throw .outOfMemory("\(what()) needs \(total) bytes, more than the \(physicalMemory) bytes of physical memory")
    }
    return total
  }
}
