import ArgumentParser
import FP8

@main
struct FP8Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fp8-bench",
    abstract: "Throughput tables for the FP8 emulator.",
    subcommands: [ConvertBench.self, GEMMBench.self, TensorCoreBench.self, IOBench.self, Int8Bench.self,
      TrainBench.self, NNBench.self, DataParallelBench.self,
    ]
  )
}
