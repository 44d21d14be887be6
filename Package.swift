// swift-tools-version:6.2
// Tools 6.2 so that CFP8's unsafe -fopenmp/-O3 flags are accepted when another package depends
// on this one by version.
import PackageDescription

// The C kernels are always optimised, even in debug builds: the exhaustive sweeps in the tests
// would otherwise take minutes. ISA-specific code uses function-level target attributes and is
// chosen at run time (dispatch.c), so no -march flag appears here.
let cKernelFlags: [String] = ["-fopenmp", "-O3", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"]

let package = Package(
  name: "FP8Emu",
  products: [
    .library(name: "FP8", targets: ["FP8"]),
    .library(name: "FP8Linalg", targets: ["FP8Linalg"]),
    .library(name: "TensorCores", targets: ["TensorCores"]),
    .library(name: "FP8IO", targets: ["FP8IO"]),
    .library(name: "MixedPrecision", targets: ["MixedPrecision"]),
    .library(name: "Deployment", targets: ["Deployment"]),
    .executable(name: "fp8emu", targets: ["fp8emu"]),
    .executable(name: "fp8-bench", targets: ["FP8Bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    .target(
      name: "CFP8",
      path: "CSources/CFP8",
      cSettings: [.unsafeFlags(cKernelFlags)],
      // libomp5.so is Debian's libomp-dev (LLVM's OpenMP runtime), installed by scripts/setup.sh;
      // the plugin turns its absence into one error line before anything compiles.
      linkerSettings: [.linkedLibrary("omp5"), .linkedLibrary("m")],
      plugins: ["OpenMPRuntimeCheck"]
    ),
    .plugin(name: "OpenMPRuntimeCheck", capability: .buildTool(), path: "Plugins/OpenMPRuntimeCheck"),
    .target(name: "FP8", dependencies: ["CFP8"]),
    .target(name: "FP8Linalg", dependencies: ["FP8"]),
    .target(name: "TensorCores", dependencies: ["FP8", "FP8Linalg"]),
    .target(name: "FP8IO", dependencies: ["FP8"]),
    .target(name: "MixedPrecision", dependencies: ["FP8", "TensorCores", "FP8IO"]),
    .target(name: "Deployment", dependencies: ["FP8", "MixedPrecision"]),
    // Open MPI is loaded at run time (dlopen), never linked: everything builds and runs without it.
    .target(name: "DataParallel", dependencies: ["FP8", "FP8Linalg", "MixedPrecision"]),
    .executableTarget(
      name: "fp8emu",
      dependencies: [
        "FP8", "FP8Linalg", "TensorCores", "FP8IO", "MixedPrecision", "Deployment", "DataParallel",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(
      name: "FP8Bench",
      dependencies: [
        "FP8", "FP8Linalg", "TensorCores", "FP8IO", "MixedPrecision", "Deployment",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Benchmarks/FP8Bench"
    ),
    // Runs under mpirun for DataParallelTests: real collectives checked against in-process sums.
    .executableTarget(
      name: "DataParallelCheck", dependencies: ["DataParallel", "MixedPrecision", "FP8", "_TestSupport"], path: "Tests/DataParallelCheck"),
    .target(name: "_TestSupport", dependencies: ["FP8"], path: "Tests/_TestSupport"),
    .testTarget(name: "FP8Tests", dependencies: ["FP8", "_TestSupport"]),
    .testTarget(name: "FP8LinalgTests", dependencies: ["FP8", "FP8Linalg", "_TestSupport"]),
    .testTarget(name: "TensorCoresTests", dependencies: ["FP8", "FP8Linalg", "TensorCores", "FP8IO", "_TestSupport"]),
    .testTarget(name: "FP8IOTests", dependencies: ["FP8", "FP8IO", "_TestSupport"], exclude: ["Corpus"]),
    .testTarget(name: "DeploymentTests", dependencies: ["FP8", "Deployment", "MixedPrecision", "_TestSupport"]),
    .testTarget(name: "MixedPrecisionTests", dependencies: ["FP8", "TensorCores", "MixedPrecision", "_TestSupport"], exclude: ["Fixtures"]),
    .testTarget(name: "DataParallelTests", dependencies: ["FP8", "MixedPrecision", "DataParallel", "_TestSupport"]),
  ]
)
