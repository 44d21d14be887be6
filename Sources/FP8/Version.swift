/// The release of this package, as `fp8emu --version` and `fp8-bench --version` print it.
public enum FP8EmuVersion {
  public static let current = "0.1.0"
}
