import DataParallel
import Foundation
import Testing
import _TestSupport

/// Runs a program and returns its exit status, combined output and wall time.
func runProcess(_ path: String, _ args: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String, seconds: Double) {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = args
  if let environment { p.environment = environment }
  let pipe = Pipe()
  p.standardOutput = pipe
  p.standardError = pipe
  let start = Date()
  try p.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return (p.terminationStatus, String(decoding: data, as: UTF8.self), Date().timeIntervalSince(start))
}

/// Open MPI's launcher, if installed.
let mpirun: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
  ?? (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/mpirun" }
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// The test driver, built beside the test bundle.
let checkDriver: String = {
  let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("DataParallelCheck").path
  if FileManager.default.isExecutableFile(atPath: beside) { return beside }
  return packageRoot() + "/.build/debug/DataParallelCheck"
}()

func launch(_ ranks: Int, _ args: [String]) throws -> (status: Int32, output: String, seconds: Double) {
  var flags = ["--oversubscribe", "-np", "\(ranks)"]
  if geteuid() == 0 { flags.insert("--allow-run-as-root", at: 0) }
  return try runProcess(mpirun!, flags + [checkDriver] + args)
}

@Suite(.serialized, .enabled(if: mpirun != nil, "Open MPI's mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev): real multi-process runs skipped"))
struct MPIRunTests {
  @Test(arguments: [1, 2, 4])
  func exchangeOverMPIEqualsTheInProcessSums(ranks: Int) throws {
    let r = try launch(ranks, ["exchange"])
    #expect(r.status == 0, "\(r.output)")
    for f in ExchangeFormat.allCases { #expect(r.output.contains("ok \(f): \(ranks) ranks"), "\(r.output)") }
  }

  @Test func sharesThatAreNotNodesEndTheJobWithOneLine() throws {
    let r = try launch(3, ["exchange", "4"])
    #expect(r.status != 0)
    #expect(r.output.contains("4 micro-batches per step (--accumulation) cannot be shared by 3 ranks"), "\(r.output)")
  }

  @Test func aStuckRankTimesOutInsteadOfHanging() throws {
    let r = try launch(2, ["hang", "2"])
    #expect(r.status == 69, "\(r.output)")
    #expect(r.output.contains("test collective did not complete within 2 s"), "\(r.output)")
    #expect(r.seconds < 30)
  }

  @Test func aKilledRankEndsTheJobWithAMessageOnTheSurvivors() throws {
    let r = try launch(4, ["crash"])
    #expect(r.status != 0)
    #expect(r.output.contains("exited on signal 9"), "\(r.output)")
    #expect(r.output.contains("stopped by SIGTERM"), "\(r.output)")
    #expect(r.seconds < 30)
  }

  @Test func placementNamesTheHostOfEveryRank() throws {
    let r = try launch(2, ["placement"])
    #expect(r.status == 0)
    #expect(r.output.contains("2 ranks on 1 host: \(ProcessInfo.processInfo.hostName) (0-1)"), "\(r.output)")
  }
}

@Suite struct LaunchTests {
  @Test func placementGroupsRanksByHost() {
    #expect(Launch.placement(["a", "a", "b", "b", "a"]) == "5 ranks on 2 hosts: a (0-1,4), b (2-3)")
    #expect(Launch.placement(["n"]) == "1 rank on 1 host: n (0)")
  }

  /// Started as a rank (mpirun's variables set) where libmpi cannot be loaded: one clear line,
  /// EX_UNAVAILABLE. Needs no Open MPI.
  @Test func aMissingLibmpiIsOneLine() throws {
    var env = ProcessInfo.processInfo.environment
    env["OMPI_COMM_WORLD_SIZE"] = "2"
    env["FP8EMU_LIBMPI"] = "/nonexistent/libmpi.so.40"
    let r = try runProcess(checkDriver, ["exchange"], environment: env)
    #expect(r.status == 69)
    #expect(r.output.split(separator: "\n").count == 1, "\(r.output)")
    #expect(r.output.contains("launched by mpirun (OMPI_COMM_WORLD_SIZE=2) but cannot load /nonexistent/libmpi.so.40"), "\(r.output)")
  }

  @Test func aPlainRunIsSingleProcess() throws {
    #expect(Launch.isMPIJob == false)
    #expect(try Launch.communicator(timeout: 1) == nil)
  }
}
