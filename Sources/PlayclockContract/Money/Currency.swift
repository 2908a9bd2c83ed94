/// The venue's currency: an ISO 4217 code and how many minor digits its amounts have.
///
/// Every amount in Playclock is an `Int64` count of minor units (cents, fils, yen), so the one
/// thing that needs the code is turning an amount into text for people: `1250` is "12.50 EUR"
/// but "1250 JPY" and "1.250 BHD".
public struct Currency: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Three upper-case ASCII letters (`EUR`, `JPY`).
    public let code: String
    /// Digits after the decimal point of the major unit: 0, 2 or 3 for the codes in use today.
    public var minorDigits: Int

    /// Codes whose amounts have no minor unit in practice (ISO 4217 exponent 0).
    static let zeroDigitCodes: Set<String> = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF",
        "XOF", "XPF",
    ]
    /// Codes with thousandths (ISO 4217 exponent 3).
    static let threeDigitCodes: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]

    /// A currency from its code, or nil unless the code is exactly three upper-case letters A-Z.
    /// Codes not in the tables above get two minor digits, which is what most currencies use.
    public init?(_ code: String) {
        let bytes = Array(code.utf8)
        guard bytes.count == 3, bytes.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else { return nil }
        self.code = code
        if Self.zeroDigitCodes.contains(code) {
            minorDigits = 0
        } else if Self.threeDigitCodes.contains(code) {
            minorDigits = 3
        } else {
            minorDigits = 2
        }
    }

    /// The amount for people: the major units, a point and `minorDigits` digits, a space and the
    /// code (`12.50 EUR`, `-0.05 EUR`, `1250 JPY`, `1.250 BHD`). No grouping separators, so the
    /// text reads the same in every locale and survives copy and paste into a spreadsheet.
    public func formatted(_ minor: Int64) -> String {
        let magnitude = minor.magnitude  // UInt64: Int64.min has no positive Int64
        let sign = minor < 0 ? "-" : ""
        guard minorDigits > 0 else { return "\(sign)\(magnitude) \(code)" }
        var scale: UInt64 = 1
        for _ in 0..<minorDigits { scale *= 10 }
        let fraction = String(magnitude % scale)
        let padded = String(repeating: "0", count: max(0, minorDigits - fraction.count)) + fraction
        return "\(sign)\(magnitude / scale).\(padded) \(code)"
    }

    public var description: String { code }
}
