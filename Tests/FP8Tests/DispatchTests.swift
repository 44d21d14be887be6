import Testing
@testable import FP8

@Suite struct DispatchTests {
  @Test func scalarIsAlwaysSupported() {
    #expect(ISA.supported.contains(.scalar))
    #expect(ISA.default.isSupported)
    #expect(ISA.default != .auto)
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
