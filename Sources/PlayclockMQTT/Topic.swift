/// Why a string is not a valid MQTT topic name or topic filter (MQTT 5 §4.7).
public enum MQTTTopicError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case tooLong(byteCount: Int)
    case containsNUL
    /// A topic name (used for publishing) must not contain '+' or '#'.
    case wildcardInTopicName(String)
    /// '+' must occupy a whole level of a filter.
    case misplacedSingleLevelWildcard(String)
    /// '#' must be the whole last level of a filter.
    case misplacedMultiLevelWildcard(String)

    public var description: String {
        switch self {
        case .empty:
            "MQTT topic must not be empty"
        case .tooLong(let byteCount):
            "MQTT topic is \(byteCount) bytes of UTF-8, the maximum is 65535"
        case .containsNUL:
            "MQTT topic must not contain the NUL character (U+0000)"
        case .wildcardInTopicName(let topic):
            "MQTT topic name '\(topic)' must not contain the wildcards '+' or '#'"
        case .misplacedSingleLevelWildcard(let filter):
            "MQTT topic filter '\(filter)': '+' must occupy a whole level"
        case .misplacedMultiLevelWildcard(let filter):
            "MQTT topic filter '\(filter)': '#' must be the whole last level"
        }
    }
}

/// A topic name to publish to: non-empty, at most 65535 bytes of UTF-8, no wildcards, no NUL.
/// Swift strings are always valid Unicode, so the UTF-8 requirement holds by construction.
public struct MQTTTopic: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) throws(MQTTTopicError) {
        try validateTopicCommon(value)
        if value.utf8.contains(where: { $0 == plusByte || $0 == hashByte }) {
            throw .wildcardInTopicName(value)
        }
        self.value = value
    }

    public var description: String { value }

    // MQTT compares topics byte for byte; String equality would apply Unicode canonical equivalence.
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.value.utf8.elementsEqual(rhs.value.utf8) }
    public func hash(into hasher: inout Hasher) { value.utf8.forEach { hasher.combine($0) } }
}

/// A subscription filter: a topic that may use '+' for one whole level and '#' as the whole last level.
public struct MQTTTopicFilter: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) throws(MQTTTopicError) {
        try validateTopicCommon(value)
        let levels = value.utf8.split(separator: slashByte, omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains(hashByte), !(level.elementsEqual([hashByte]) && index == levels.count - 1) {
                throw .misplacedMultiLevelWildcard(value)
            }
            if level.contains(plusByte), !level.elementsEqual([plusByte]) {
                throw .misplacedSingleLevelWildcard(value)
            }
        }
        self.value = value
    }

    public var description: String { value }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.value.utf8.elementsEqual(rhs.value.utf8) }
    public func hash(into hasher: inout Hasher) { value.utf8.forEach { hasher.combine($0) } }

    /// Whether `topic` (a topic name) matches this filter, per MQTT 3.1.1/5 §4.7.
    /// Levels are compared byte for byte; empty levels are levels; "a/#" also matches "a";
    /// a filter starting with a wildcard does not match topics starting with '$'.
    public func matches(_ topic: String) -> Bool {
        guard let first = topic.utf8.first else { return false }
        let filterLevels = value.utf8.split(separator: slashByte, omittingEmptySubsequences: false)
        if first == dollarByte, let firstLevel = filterLevels.first,
           firstLevel.elementsEqual([plusByte]) || firstLevel.elementsEqual([hashByte]) {
            return false
        }
        let topicLevels = topic.utf8.split(separator: slashByte, omittingEmptySubsequences: false)
        for (index, level) in filterLevels.enumerated() {
            if level.elementsEqual([hashByte]) { return true }
            guard index < topicLevels.count else { return false }
            if !level.elementsEqual([plusByte]), !level.elementsEqual(topicLevels[index]) { return false }
        }
        return filterLevels.count == topicLevels.count
    }
}

private let slashByte = UInt8(ascii: "/")
private let plusByte = UInt8(ascii: "+")
private let hashByte = UInt8(ascii: "#")
private let dollarByte = UInt8(ascii: "$")

private func validateTopicCommon(_ value: String) throws(MQTTTopicError) {
    let byteCount = value.utf8.count
    if byteCount == 0 { throw .empty }
    if byteCount > 65535 { throw .tooLong(byteCount: byteCount) }
    if value.utf8.contains(0) { throw .containsNUL }
}
