/// A single SQLite value, as bound to a statement parameter or read from a result column.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

extension SQLiteValue {
    public init(_ value: Int) { self = .integer(Int64(value)) }
    public init(_ value: Int64) { self = .integer(value) }
    public init(_ value: Double) { self = .real(value) }
    public init(_ value: String) { self = .text(value) }
    /// Booleans are stored as integers 0 and 1.
    public init(_ value: Bool) { self = .integer(value ? 1 : 0) }
    public init(_ value: [UInt8]) { self = .blob(value) }

    public init(_ value: Int?) { self = value.map { SQLiteValue($0) } ?? .null }
    public init(_ value: Int64?) { self = value.map { SQLiteValue($0) } ?? .null }
    public init(_ value: Double?) { self = value.map { SQLiteValue($0) } ?? .null }
    public init(_ value: String?) { self = value.map { SQLiteValue($0) } ?? .null }
    public init(_ value: Bool?) { self = value.map { SQLiteValue($0) } ?? .null }
    public init(_ value: [UInt8]?) { self = value.map { SQLiteValue($0) } ?? .null }

    public var isNull: Bool { self == .null }

    /// The integer payload; `nil` for any other case.
    public var int64Value: Int64? {
        if case .integer(let v) = self { return v }
        return nil
    }

    /// The real payload, or an integer widened to `Double`; `nil` otherwise.
    public var doubleValue: Double? {
        switch self {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }

    /// The text payload; `nil` for any other case.
    public var stringValue: String? {
        if case .text(let v) = self { return v }
        return nil
    }

    /// An integer interpreted as a boolean (non-zero is `true`); `nil` for any other case.
    public var boolValue: Bool? {
        int64Value.map { $0 != 0 }
    }

    /// The blob payload; `nil` for any other case.
    public var blobValue: [UInt8]? {
        if case .blob(let v) = self { return v }
        return nil
    }
}

extension SQLiteValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension SQLiteValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .integer(value) }
}

extension SQLiteValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .real(value) }
}

extension SQLiteValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
}

extension SQLiteValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self.init(value) }
}
