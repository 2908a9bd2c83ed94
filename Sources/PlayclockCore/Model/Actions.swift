import PlayclockContract

/// What the runtime must do for the core. Executed in order of kind: every `save*`/`delete*`
/// of one step goes into one SQLite transaction, committed before any `publish` of that step.
public enum HubAction: Sendable, Equatable {
    case saveStation(Station)
    case deleteStation(StationID)
    case saveSession(SessionRecord)
    case saveEvent(HubEvent)
    /// A member's account as it is now (its cached balance moves only with `recordSale`).
    case saveMember(MemberAccount)
    /// A sale, refund or void with its ledger entries: appended, never changed.
    case recordSale(SaleRecord)
    /// The prices as they are now (kept as a new version; the old ones stay for the record).
    case savePricing(PricingCatalog, by: String?, atWallMillis: Int64)
    /// A product of the counter's catalogue as it is now (its stock moves with the sales).
    case saveProduct(Product)
    case deleteProduct(String)
    /// A cash shift as it is now. Saving a closed shift also stores its Z report, worked out by
    /// the store from the shift's ledger entries in the same transaction, never changed after.
    case saveShift(ShiftRecord)
    /// A money request's answer, kept under its `transaction` id so a retry gets it again.
    case rememberRequest(RememberedRequest)
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

/// A money request answered once, kept so that a retry with the same `transaction` id is
/// answered the same way and changes nothing.
public struct RememberedRequest: Sendable, Equatable {
    /// `<account>` or `-` for the shared request topic, then the transaction id.
    public var key: String
    public var verb: String
    /// The request body without `transaction`, as canonical JSON: a retry must match it.
    public var body: String
    /// The response as first published.
    public var response: [UInt8]
    public var atWallMillis: Int64

    public init(key: String, verb: String, body: String, response: [UInt8], atWallMillis: Int64) {
        self.key = key
        self.verb = verb
        self.body = body
        self.response = response
        self.atWallMillis = atWallMillis
    }
}
