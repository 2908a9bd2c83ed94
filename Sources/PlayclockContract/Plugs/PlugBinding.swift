/// The smart plug a station is powered from, as staff configure it (`"plug"` in `station/add`,
/// `station/update`, the venue file and the station's state). How the hub speaks to each vendor's
/// plugs is the core's `PlugDriver` for it.
public enum PlugBinding: Sendable, Equatable, Hashable {
    /// Tasmota with the default FullTopic `%prefix%/%topic%/`; relay 1-8.
    case tasmota(topic: String, relay: Int)
    /// Shelly Gen1 (`shellies/<id>/...`); relay 0-3.
    case shelly1(id: String, relay: Int)
    /// Shelly Gen2/Gen3/Plus with MQTT RPC under its `topic_prefix`; switch 0-3.
    case shelly2(prefix: String, switchID: Int)

    public var type: String {
        switch self {
        case .tasmota: return "tasmota"
        case .shelly1: return "shelly1"
        case .shelly2: return "shelly2"
        }
    }

    public var json: JSONValue {
        switch self {
        case .tasmota(let topic, let relay): return ["type": "tasmota", "topic": .string(topic), "relay": .int(Int64(relay))]
        case .shelly1(let id, let relay): return ["type": "shelly1", "id": .string(id), "relay": .int(Int64(relay))]
        case .shelly2(let prefix, let s): return ["type": "shelly2", "prefix": .string(prefix), "switch": .int(Int64(s))]
        }
    }

    /// Decodes and validates `{"type": "tasmota", "topic": ..., "relay": 1}` and the Shelly forms.
    public static func parse(_ value: JSONValue) throws(CommandError) -> PlugBinding {
        guard let fields = value.objectValue, let type = fields["type"]?.stringValue else {
            throw CommandError(.invalidPlug, "\"plug\" must be an object with a \"type\": tasmota, shelly1 or shelly2")
        }
        func index(_ key: String, _ range: ClosedRange<Int64>, default fallback: Int64) throws(CommandError) -> Int {
            guard let raw = fields[key] else { return Int(fallback) }
            guard let n = raw.intValue, range.contains(n) else {
                throw CommandError(.invalidPlug, "plug \"\(key)\" must be a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return Int(n)
        }
        func name(_ key: String, allowSlash: Bool) throws(CommandError) -> String {
            guard let text = fields[key]?.stringValue, isValidName(text, allowSlash: allowSlash) else {
                let slash = allowSlash ? " and '/' between levels" : ""
                throw CommandError(.invalidPlug, "plug \"\(key)\" must be 1-64 characters of A-Z, a-z, 0-9, '_', '-', '.'\(slash) (no '+', '#')")
            }
            return text
        }
        switch type {
        case "tasmota": return .tasmota(topic: try name("topic", allowSlash: false), relay: try index("relay", 1...8, default: 1))
        case "shelly1": return .shelly1(id: try name("id", allowSlash: false), relay: try index("relay", 0...3, default: 0))
        case "shelly2": return .shelly2(prefix: try name("prefix", allowSlash: true), switchID: try index("switch", 0...3, default: 0))
        default: throw CommandError(.invalidPlug, "unknown plug type \"\(type)\"; use tasmota, shelly1 or shelly2")
        }
    }

    private static func isValidName(_ text: String, allowSlash: Bool) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        if allowSlash, text.split(separator: "/", omittingEmptySubsequences: false).contains(where: \.isEmpty) { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
                || b == 0x2E || (allowSlash && b == 0x2F)
        }
    }
}
