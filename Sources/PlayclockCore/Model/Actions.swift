import PlayclockContract

/// What the runtime must do for the core. Executed in order of kind: every `save*`/`delete*`
/// of one step goes into one SQLite transaction, committed before any `publish` of that step.
public enum HubAction: Sendable, Equatable {
    case saveStation(Station)
    case deleteStation(StationID)
    case saveSession(SessionRecord)
    case saveEvent(HubEvent)
    case publish(Outbound)

    public var isStoreWrite: Bool {
        if case .publish = self { return false }
        return true
    }
}

/// A message to publish.
public struct Outbound: Sendable, Equatable {
    public enum QoS: Int, Sendable { case atMostOnce = 0, atLeastOnce = 1 }
    public var topic: String
    public var payload: [UInt8]
    public var qos: QoS
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: QoS, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    /// The payload as JSON (for tests and tools); nil when it is not JSON.
    public var json: JSONValue? { try? JSONCoding.decode(payload) }
}

/// The answer to a command, plus what it changed.
public struct CommandOutcome: Sendable {
    public var result: Result<JSONValue, CommandError>
    public var actions: [HubAction]
}
