/// A station id: `[A-Za-z0-9_-]{1,64}`. It becomes an MQTT topic level, so `+`, `#`, `/` and
/// anything else outside that set are refused.
public struct StationID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: String

    public init?(_ value: String) {
        guard Self.isValid(value) else { return nil }
        self.value = value
    }

    public static func isValid(_ value: String) -> Bool {
        let bytes = value.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
    }

    public var description: String { value }

    public static func < (lhs: StationID, rhs: StationID) -> Bool { lhs.value < rhs.value }
}

/// What sits at a station. Free-form lower-case word (`pc`, `console`, `vr`, `tv`, ...), 1-16 chars.
public struct StationKind: Sendable, Hashable, CustomStringConvertible {
    public let value: String
    public static let pc = StationKind(uncheckedValue: "pc")
    public static let console = StationKind(uncheckedValue: "console")

    public init?(_ value: String) {
        let bytes = value.utf8
        guard (1...16).contains(bytes.count),
            bytes.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else { return nil }
        self.value = value
    }

    private init(uncheckedValue: String) { self.value = uncheckedValue }

    /// PCs run an agent that heartbeats; other kinds are only known online once something heartbeats for them.
    public var expectsAgent: Bool { self == .pc }

    public var description: String { value }
}

/// A broker account name: 1-64 characters of `A-Za-z0-9_-.`. It becomes a topic level
/// (`R/users/<account>/...`) and an ACL `user` line, so nothing else is allowed.
public enum AccountName {
    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        guard (1...64).contains(bytes.count), name != ".", name != ".." else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D || b == 0x2E
        }
    }
}

/// Where a station sits on the floor ("PC floor", "VIP room", "Console lounge"): free text for
/// people, 1-32 characters once leading and trailing whitespace is trimmed, no control characters.
public enum StationZone {
    public static let maxLength = 32

    /// The zone as stored and shown (trimmed), or nil when `text` is not a valid zone.
    public static func normalized(_ text: String) -> String? {
        DisplayText.normalized(text, maxLength: maxLength)
    }
}

/// Text people read on a screen (zones, staff messages, the agent's texts): trimmed of leading
/// and trailing whitespace, then 1 to `maxLength` characters with no control characters (line
/// breaks only where `lineBreaks` allows them).
public enum DisplayText {
    /// The text as stored and shown (trimmed), or nil when it is not acceptable.
    public static func normalized(_ text: String, maxLength: Int, lineBreaks: Bool = false) -> String? {
        let characters = Array(text)
        guard let first = characters.firstIndex(where: { !$0.isWhitespace }),
            let last = characters.lastIndex(where: { !$0.isWhitespace })
        else { return nil }
        let trimmed = characters[first...last]
        guard trimmed.count <= maxLength,
            trimmed.allSatisfy({
                (lineBreaks && $0 == "\n") || !$0.unicodeScalars.contains { $0.properties.generalCategory == .control }
            })
        else { return nil }
        return String(trimmed)
    }
}

/// A member id (the number on a member's card, or a name the desk picks): 1-64 characters of
/// `A-Za-z0-9_-`, like a station id, so it is safe in topics, logs and file names.
public enum MemberID {
    public static func isValid(_ value: String) -> Bool { StationID.isValid(value) }
}
