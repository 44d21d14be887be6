// What the suites that time repeated runs share: their options, the clock, the median and the
// table padding.
import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// What a suite measured by repetition says about its defaults in `--help`.
protocol RepeatedSuite {
  /// Repetitions per measurement without --quick or --reps.
  static var defaultReps: Int { get }
  /// The help of --quick: what the suite leaves out.
  static var quickHelp: String { get }
}

extension RepeatedSuite {
  static var defaultReps: Int { 5 }
  static var quickHelp: String { "Fewer sizes and repetitions." }
}

/// The options of the suites that report a median of repeated runs as a table or as JSON rows.
struct RepetitionOptions<Suite: RepeatedSuite>: ParsableArguments {
  @Flag(help: ArgumentHelp(Suite.quickHelp)) var quick = false
  @Flag(help: "One JSON object per row instead of the table.") var json = false
  @Option(help: ArgumentHelp("Repetitions per measurement (median reported); default \(Suite.defaultReps), or 3 with --quick."))
  var reps: Int?

  init() {}

  func validate() throws {
    if let reps, reps < 1 { throw ValidationError("--reps must be at least 1 (got \(reps))") }
  }

  /// --reps, or the suite's default (3 with --quick).
  var repetitions: Int { reps ?? (quick ? 3 : Suite.defaultReps) }
}

/// Wall (or process CPU) time in seconds of one run of `body`.
func seconds<E: Error>(cpu: Bool = false, _ body: () throws(E) -> Void) throws(E) -> Double {
  var t0 = timespec(), t1 = timespec()
  let clock = cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC
  clock_gettime(clock, &t0)
  try body()
  clock_gettime(clock, &t1)
  return Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9
}

/// The median; the mean of the middle two for an even count.
func medianOf(_ xs: [Double]) -> Double {
  let s = xs.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// `s` left-aligned in a column of `width`, at least one space after it.
func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
