import Testing
@testable import FP8

@Suite struct FP8ValueTests {
  @Test func specialsAndDescription() {
    #expect(Float8E4M3.greatestFiniteMagnitude.description == "448.0 (0x7E)")
    #expect(Float(Float8E5M2.greatestFiniteMagnitude) == 57344)
    #expect(Float(Float8E4M3FNUZ.greatestFiniteMagnitude) == 240)
    #expect(Float(Float8E5M2FNUZ.greatestFiniteMagnitude) == 57344)
    #expect(Float(Float8E8M0.greatestFiniteMagnitude) == 0x1p127)
    #expect(Float(Float8E4M3.leastNonzeroMagnitude) == 0x1p-9)
    #expect(Float(Float8E5M2.leastNonzeroMagnitude) == 0x1p-16)
    #expect(Float(Float8E4M3FNUZ.leastNonzeroMagnitude) == 0x1p-10)
    #expect(Float(Float8E5M2FNUZ.leastNonzeroMagnitude) == 0x1p-17)
    #expect(Float(Float8E8M0.leastNonzeroMagnitude) == 0x1p-127)
    #expect(Float(Float8E4M3.leastNormalMagnitude) == 0x1p-6)
    #expect(Float(Float8E5M2.leastNormalMagnitude) == 0x1p-14)
    #expect(Float(Float8E4M3FNUZ.leastNormalMagnitude) == 0x1p-7)
    #expect(Float(Float8E5M2FNUZ.leastNormalMagnitude) == 0x1p-15)
    #expect(Float8E5M2.infinity.isInfinite && Float8E5M2.infinity.bitPattern == 0x7C)
    #expect(Float8E4M3.nan.isNaN && Float8E5M2.nan.isNaN && Float8E4M3FNUZ.nan.isNaN && Float8E8M0.nan.isNaN)
    #expect(Float8E4M3(bitPattern: 0x01).description == "0.001953125 (0x01)")
  }

  @Test func conversionsRoundAndRespectPreset() {
    #expect(Float8E4M3(Float(1000)).bitPattern == 0x7E)                       // satfinite default
    #expect(Float8E4M3(Float(1000), preset: .mlDtypes).bitPattern == 0x7F)
    #expect(Float8E5M2(Float(1000000), preset: .cudaNosat).bitPattern == 0x7C)
    #expect(Float8E4M3(Float16(1.0625)).bitPattern == 0x38)                    // tie to even
    #expect(Float8E4M3(Float16(1.0625), rounding: .towardZero).bitPattern == 0x38)
    #expect(Float8E4M3(1.1).bitPattern == 0x39)
    #expect(Float8E8M0(Float(1.5)).bitPattern == 128)
    #expect(Float8E8M0(Float(1.5), rounding: .towardZero).bitPattern == 127)
    #expect(Float8E8M0(Float(1.25), rounding: .up).bitPattern == 128)
    #expect(Float8E8M0(-1.0).bitPattern == 0xFF)
    #expect(Double(Float8E4M3(bitPattern: 0x7E)) == 448)
  }

  @Test func ieeeComparisonAndHashing() {
    let pz = Float8E4M3(bitPattern: 0x00), nz = Float8E4M3(bitPattern: 0x80)
    #expect(pz == nz)
    #expect(pz.hashValue == nz.hashValue)
    #expect(Set([pz, nz]).count == 1)
    #expect(Float8E4M3.nan != Float8E4M3.nan)
    #expect(!(Float8E4M3.nan < pz) && !(pz < Float8E4M3.nan))
    #expect(Float8E4M3(bitPattern: 0xFE) < Float8E4M3(bitPattern: 0x01))
    #expect(Float8E5M2(bitPattern: 0xFC) < Float8E5M2(bitPattern: 0xFB))
  }

  /// nextUp/nextDown against an oracle: the sorted list of all finite (and infinite) values.
  func checkNext<T: FP8Value>(_: T.Type) {
    let vals = (0...255).map { T(bitPattern: UInt8($0)) }.filter { !$0.isNaN }
    for x in vals {
      let up = x.nextUp, down = x.nextDown
      let greater = vals.filter { Float($0) > Float(x) }.map { Float($0) }.min()
      let less = vals.filter { Float($0) < Float(x) }.map { Float($0) }.max()
      if Float(x) == .infinity { #expect(up == x) } else if let g = greater { #expect(Float(up) == g, "\(x).nextUp") } else { #expect(up.isNaN, "\(x).nextUp") }
      if Float(x) == -.infinity { #expect(down == x) } else if let l = less { #expect(Float(down) == l, "\(x).nextDown") } else { #expect(down.isNaN, "\(x).nextDown") }
    }
    #expect(T.nan.nextUp.isNaN)
  }

  @Test func nextUpNextDown() {
    checkNext(Float8E4M3.self)
    checkNext(Float8E5M2.self)
    checkNext(Float8E4M3FNUZ.self)
    checkNext(Float8E5M2FNUZ.self)
    checkNext(Float8E8M0.self)
    // IEEE: nextUp(-least) is -0; nextDown(+least) is +0.
    #expect(Float8E4M3(bitPattern: 0x81).nextUp.bitPattern == 0x80)
    #expect(Float8E4M3(bitPattern: 0x01).nextDown.bitPattern == 0x00)
    #expect(Float8E4M3(bitPattern: 0x80).nextUp.bitPattern == 0x01)
    #expect(Float8E5M2.greatestFiniteMagnitude.nextUp == Float8E5M2.infinity)
  }
}
