import Foundation

/// Pure JSON encode/decode of `JSONValue` to and from bytes.
public enum JSONCoding {
    public enum DecodeError: Error, Equatable, Sendable {
        case malformed
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw .malformed
        }
    }

    public static func encode(_ value: JSONValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a JSONValue cannot fail except for non-finite doubles, which the hub never produces.
        guard let data = try? encoder.encode(value) else { return Array("null".utf8) }
        return Array(data)
    }
}
