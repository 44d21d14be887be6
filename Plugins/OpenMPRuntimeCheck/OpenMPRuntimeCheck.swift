// Stops the build with one line that names the missing package when LLVM's OpenMP runtime is not
// installed. Without it the C kernels still compile (Swift's clang accepts -fopenmp) and the
// failure only shows at link time, as dozens of undefined `__kmpc_*` references.
import Foundation
import PackagePlugin

@main
struct OpenMPRuntimeCheck: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    if !Self.runtimeInstalled() {
      Diagnostics.error(
        "LLVM's OpenMP runtime (libomp5.so) is not installed: run `bash scripts/setup.sh`, "
          + "or `apt-get install libomp-dev` on Debian/Ubuntu")
    }
    return []
  }

  /// The directories the linker searches for `-lomp5` on Debian-family systems, plus LIBRARY_PATH.
  static func runtimeInstalled() -> Bool {
    var directories = [
      "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
      "/usr/local/lib", "/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
    ]
    if let extra = ProcessInfo.processInfo.environment["LIBRARY_PATH"] {
      directories += extra.split(separator: ":").map(String.init)
    }
    return directories.contains { FileManager.default.fileExists(atPath: $0 + "/libomp5.so") }
  }
}
