import Foundation
import Testing
import _TestSupport
@testable import FP8

@Suite struct DispatchTests {
  /// The path `.auto` must take on this CPU: the widest it runs (AVX-512, then AVX2, or NEON).
  static var best: ISA { [ISA.avx512, .avx2, .neon].first(where: ISA.supported.contains) ?? .scalar }

  /// `FP8EMU_ISA` is read once per process, so each setting runs in its own: `fp8emu info`, which
  /// prints the default path and why the variable was ignored, if it was.
  static func info(_ setting: String?) throws -> (defaultPath: String, note: String?) {
    let fp8emu = builtProduct("fp8emu")
    guard FileManager.default.isExecutableFile(atPath: fp8emu) else {
      throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: fp8emu + " (swift build --build-tests builds it)"])
    }
    let (out, status) = try runProcess(fp8emu, ["info"], environment: ["FP8EMU_ISA": setting])
    #expect(status == 0)
    let lines = out.split(separator: "\n").map(String.init)
    let path = lines.first?.components(separatedBy: "default: ").last ?? ""
    return (path, lines.first { $0.hasPrefix("note: ") })
  }

  @Test func unsetOrAutoTakesTheWidestPath() throws {
    for setting in [nil, "", "auto", "AUTO"] {
      let r = try Self.info(setting)
      #expect(r.defaultPath == Self.best.description && r.note == nil, "FP8EMU_ISA=\(setting ?? "(unset)")")
    }
  }

  @Test func everySupportedPathCanBeForced() throws {
    for isa in ISA.supported {
      for spelling in [isa.description, isa.description.uppercased()] {
        let r = try Self.info(spelling)
        #expect(r.defaultPath == isa.description && r.note == nil, "FP8EMU_ISA=\(spelling)")
      }
    }
  }

  @Test func unsupportedOrUnknownSettingsFallBackWithANote() throws {
    let foreign: ISA = ISA.supported.contains(.neon) ? .avx2 : .neon
    let r = try Self.info(foreign.description)
    #expect(r.defaultPath == Self.best.description)
    #expect(r.note == "note: FP8EMU_ISA=\(foreign) is not supported by this CPU; using \(Self.best)")
    let bogus = try Self.info("sse9")
    #expect(bogus.defaultPath == Self.best.description)
    #expect(bogus.note?.hasPrefix("note: FP8EMU_ISA=sse9 is not one of") == true)
  }

  /// This process: `.auto` resolves to the override it was started with, else to the widest path.
  @Test func thisProcessFollowsItsEnvironment() {
    let env = ProcessInfo.processInfo.environment["FP8EMU_ISA"].flatMap { ISA(name: $0) }
    let expected = env.map { $0 == .auto || !$0.isSupported ? Self.best : $0 } ?? Self.best
    #expect(ISA.default == expected)
    #expect(ISA.supported.contains(.scalar))
  }

  @Test func formatNamesRoundTrip() {
    for f in ElementFormat.allCases { #expect(ElementFormat(name: f.description) == f) }
    #expect(ElementFormat(name: "float8_e4m3fn") == .e4m3)
    #expect(ElementFormat(name: "e3m4") == nil)
  }

  @Test func referenceDecodeKnownValues() {
    // Values from the OCP FP8 specification's tables.
    #expect(CKernels.decodeReference(0x7E, format: ElementFormat.e4m3.rawValue) == 448)
    #expect(CKernels.decodeReference(0x01, format: ElementFormat.e4m3.rawValue) == 0x1p-9)
    #expect(CKernels.decodeReference(0x7F, format: ElementFormat.e4m3.rawValue).isNaN)
    #expect(CKernels.decodeReference(0x7B, format: ElementFormat.e5m2.rawValue) == 57344)
    #expect(CKernels.decodeReference(0x7C, format: ElementFormat.e5m2.rawValue) == .infinity)
    #expect(CKernels.decodeReference(0x7F, format: ElementFormat.e4m3fnuz.rawValue) == 240)
    #expect(CKernels.decodeReference(0x80, format: ElementFormat.e4m3fnuz.rawValue).isNaN)
    #expect(CKernels.decodeReference(0x01, format: ElementFormat.e5m2fnuz.rawValue) == 0x1p-17)
    #expect(CKernels.decodeReference(127, format: ElementFormat.e8m0.rawValue) == 1)
    #expect(CKernels.decodeReference(0xFF, format: ElementFormat.e8m0.rawValue).isNaN)
    #expect(ElementFormat.e4m3.maxFinite == 448)
  }
}
