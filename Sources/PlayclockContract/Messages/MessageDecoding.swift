/// Why a payload is not the message its topic promises. Decoders never guess: a missing or
/// mistyped field is an error naming the field.
public struct MessageDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// A message of the contract: one encoding (`json`) and one decoding (`init(json:)`) each.
public protocol ContractMessage: Sendable, Equatable {
    var json: JSONValue { get }
    init(json: JSONValue) throws(MessageDecodingError)
}

extension ContractMessage {
    /// The payload as published: compact JSON with sorted keys.
    public var payload: [UInt8] { JSONCoding.encode(json) }

    public init(payload: [UInt8]) throws(MessageDecodingError) {
        guard let value = try? JSONCoding.decode(payload) else { throw MessageDecodingError("not JSON") }
        try self.init(json: value)
    }
}

/// Field readers shared by the decoders.
struct Fields {
    let object: [String: JSONValue]

    init(_ value: JSONValue, _ what: String) throws(MessageDecodingError) {
        guard let object = value.objectValue else { throw MessageDecodingError("\(what) must be a JSON object") }
        self.object = object
    }

    func string(_ key: String) throws(MessageDecodingError) -> String {
        guard let s = object[key]?.stringValue else { throw MessageDecodingError("\"\(key)\" must be a string") }
        return s
    }

    func optionalString(_ key: String) throws(MessageDecodingError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw MessageDecodingError("\"\(key)\" must be a string or null")
        }
    }

    func int(_ key: String) throws(MessageDecodingError) -> Int64 {
        guard let n = object[key]?.intValue else { throw MessageDecodingError("\"\(key)\" must be a whole number") }
        return n
    }

    func bool(_ key: String) throws(MessageDecodingError) -> Bool {
        guard let b = object[key]?.boolValue else { throw MessageDecodingError("\"\(key)\" must be true or false") }
        return b
    }

    func optionalBool(_ key: String) throws(MessageDecodingError) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw MessageDecodingError("\"\(key)\" must be true, false or null")
        }
    }

    func optionalDouble(_ key: String) throws(MessageDecodingError) -> Double? {
        switch object[key] {
        case nil, .null?: return nil
        case .int(let n)?: return Double(n)
        case .double(let d)?: return d
        default: throw MessageDecodingError("\"\(key)\" must be a number or null")
        }
    }

    func station(_ key: String = "station") throws(MessageDecodingError) -> StationID {
        guard let id = StationID(try string(key)) else { throw MessageDecodingError("\"\(key)\" is not a valid station id") }
        return id
    }

    func optionalEnumeration<T: RawRepresentable>(_ key: String, _ type: T.Type) throws(MessageDecodingError) -> T? where T.RawValue == String {
        guard let text = try optionalString(key) else { return nil }
        guard let value = T(rawValue: text) else { throw MessageDecodingError("\"\(key)\" has an unknown value") }
        return value
    }

    func enumeration<T: RawRepresentable>(_ key: String, _ type: T.Type) throws(MessageDecodingError) -> T where T.RawValue == String {
        guard let value = T(rawValue: try string(key)) else { throw MessageDecodingError("\"\(key)\" has an unknown value") }
        return value
    }
}
