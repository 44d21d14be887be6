import FP8
import Testing

@Suite struct MemoryBudgetTests {
  @Test func parsesByteCounts() {
    #expect(MemoryBudget.parseBytes("4096") == 4096)
    #expect(MemoryBudget.parseBytes("512M") == 512 << 20)
    #expect(MemoryBudget.parseBytes("1.5G") == 3 << 29)
    #expect(MemoryBudget.parseBytes("2GiB") == 2 << 30)
    #expect(MemoryBudget.parseBytes(" 3 kb ") == 3 << 10)
    for bad in ["", "0", "-1G", "G", "1X", "nan", "inf", "1e30", "0.1"] { #expect(MemoryBudget.parseBytes(bad) == nil, "\(bad)") }
  }

  @Test func estimatesSaturateInsteadOfOverflowing() {
    var e = MemoryEstimate()
    e.add("huge", shape: [1 << 40, 1 << 40], elementBytes: 4)
    e.add("more", bytes: 10)
    #expect(e.total == Int.max)
    #expect(MemoryEstimate.product([3, 0, Int.max]) == 0)
    #expect(formatBytes(1536 << 20) == "1.5 GiB" && formatBytes(100) == "100 B")
  }

  @Test func checkNamesTheFiguresAndTheLimit() {
    let budget = MemoryBudget.current(limit: 1 << 30)
    #expect(budget.bytes <= 1 << 30 && budget.bytes > 0)
    var e = MemoryEstimate()
    e.add("D", shape: [40000, 100000], elementBytes: 4)
    #expect(throws: FP8Error.self) { try budget.check(e, for: "the product") }
    do { try budget.check(e, for: "the product") } catch {
      #expect(error.description.contains("14.9 GiB") && error.description.contains("D 14.9 GiB"))
    }
    var small = MemoryEstimate()
    small.add("x", bytes: 1000)
    #expect(throws: Never.self) { try budget.check(small, for: "x") }
  }
}
